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
