//! An OrderService of another stack (grpc-python, grpc-js) as a child
//! process: started with `--port 0`-style arguments, its first line names
//! the address, stopped (stdin closed, then killed) on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

/// A running server of another stack.
pub struct Foreign {
    child: Child,
    stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Foreign {
    /// Runs `program script args…` and waits for its `listening on ADDR`
    /// line (bounded: the read ends when the process does).
    pub fn start(program: &str, script: &str, args: &[&str]) -> Self {
        let mut child = Command::new(program)
            .arg(script)
            .args(args)
            // grpc-js logs every header it drops (the suite sends some).
            .env("GRPC_VERBOSITY", "NONE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} {script} does not start: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the server's first line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{script}: unexpected first line {line:?}"))
            .to_string();
        Foreign {
            child,
            stdin,
            url: format!("http://{addr}"),
        }
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `program args…` runs and exits with success.
pub fn runs(program: &str, args: &[&str], dir: &str) -> bool {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The ids of the checks a report skipped.
pub fn skipped(report: &orders_testkit::contract::Report) -> Vec<&str> {
    report
        .results
        .iter()
        .filter(|r| r.status == orders_testkit::contract::CheckStatus::Skipped)
        .map(|r| r.id.as_str())
        .collect()
}

/// `verify --baseline` with a correct server of another stack as the
/// baseline and the mock as the new version, under seeds 1, 2, 3: no
/// difference is breaking, and what differs is only what the contract
/// leaves open (the words of messages, of violations, of failed actions).
/// Prints seed 1's diff for review.
#[allow(dead_code)] // Each test binary uses its own part of this module.
pub async fn differs_from_the_mock_only_where_open(
    baseline: impl Fn() -> orders_testkit::contract::Target,
) {
    use orders_testkit::contract::{Suite, Target};
    for seed in [1, 2, 3] {
        let diff = Suite::default()
            .seed(seed)
            .compare(baseline(), Target::embedded())
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let text = diff.render();
        if seed == 1 {
            println!("{text}");
        }
        diff.assert_no_breaking();
        assert!(
            diff.steps > 40,
            "seed {seed}: too few steps compared\n{text}"
        );
        for d in &diff.differences {
            assert!(
                d.facet.ends_with("message")
                    || d.facet.ends_with("words")
                    || d.facet.ends_with("descriptions"),
                "seed {seed}: {} differs:\n{text}",
                d.facet
            );
        }
    }
}
