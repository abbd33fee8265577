//! `orders-testkit verify` as a process: exit codes, the JUnit and JSON
//! reports read back, and the snapshot review flow.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn verify(args: &[&str]) -> Output {
    Command::new(orders_testkit_e2e::cli_binary())
        .arg("verify")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "orders-testkit-verify-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Served(std::process::Child, String);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(extra: &[&str]) -> Served {
    let mut child = Command::new(orders_testkit_e2e::cli_binary())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.split_whitespace().last().unwrap().to_string();
    Served(child, format!("http://{addr}"))
}

#[test]
fn verify_without_endpoint_passes_and_writes_reports() {
    let dir = tmp("reports");
    let junit = dir.join("junit.xml");
    let json = dir.join("report.json");
    let out = verify(&[
        "--cases",
        "8",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    // Progress went to stderr as plain lines (not a terminal).
    assert!(String::from_utf8_lossy(&out.stderr).contains("] C-1 pass"));

    let report =
        quick_junit::Report::deserialize_from_str(&std::fs::read_to_string(&junit).unwrap())
            .unwrap();
    assert_eq!(report.test_suites.len(), 1);
    let cases = &report.test_suites[0].test_cases;
    assert_eq!(
        cases.len(),
        orders_testkit::contract::Suite::known_ids().len(),
        "one testcase per check"
    );
    assert!(cases.iter().any(|c| c.name.as_str().starts_with("C-1 ")));
    assert!(
        cases
            .iter()
            .all(|c| !matches!(c.status, quick_junit::TestCaseStatus::NonSuccess { .. }))
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(json["seed"], 1);
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    assert!(results.iter().all(|r| r["status"] != "failed"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verify_exits_one_on_a_failed_check_with_its_counterexample() {
    // The server has no fail-fast threshold; claiming one makes D-2 fail.
    let served = serve(&[]);
    let dir = tmp("fail");
    let junit = dir.join("junit.xml");
    let out = verify(&[
        "--endpoint",
        &served.1,
        "--fail-fast-ms",
        "200",
        "--only",
        "D-2",
        "--junit",
        junit.to_str().unwrap(),
        "--seed",
        "77",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILED D-2"), "{stdout}");
    assert!(stdout.contains("replay with: --seed 77"), "{stdout}");
    let report =
        quick_junit::Report::deserialize_from_str(&std::fs::read_to_string(&junit).unwrap())
            .unwrap();
    let failed: Vec<_> = report.test_suites[0]
        .test_cases
        .iter()
        .filter(|c| matches!(c.status, quick_junit::TestCaseStatus::NonSuccess { .. }))
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].name.as_str().starts_with("D-2"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verify_exits_two_on_usage_and_connection_errors() {
    let out = verify(&["--endpoint", "http://127.0.0.1:1", "--cases", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing answers at 127.0.0.1:1"));
    let out = verify(&["--only", "Z-9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown rule id or group \"Z-9\""));
    let out = verify(&["-H", "no-colon-here"]);
    assert_eq!(out.status.code(), Some(2));
    let out = verify(&["--endpoint", "localhost:50051"]);
    assert_eq!(out.status.code(), Some(2));
    let out = verify(&["--cases", "many"]);
    assert_eq!(out.status.code(), Some(2), "clap usage errors exit 2 too");
    let out = verify(&["--cases", "0"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no case at all is a usage error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cases"));
}

#[test]
fn verify_against_served_endpoint_with_tokens_and_fail_fast() {
    let served = serve(&[
        "--token",
        "full-t=rw",
        "--token",
        "read-t=read",
        "--token",
        "write-t=write",
        "--fail-fast-ms",
        "200",
    ]);
    let out = verify(&[
        "--endpoint",
        &served.1,
        "--token",
        "full-t",
        "--read-token",
        "read-t",
        "--write-token",
        "write-t",
        "--fail-fast-ms",
        "200",
        "--cases",
        "8",
        "-H",
        "x-team: contract",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // Every check ran but E-7: `serve` has no switch for a transient
    // failure, and no call of the run met one; it says so.
    assert!(
        stdout.contains(" 0 failed, 1 skipped"),
        "every check ran: {stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("E-7") && l.contains("skip") && l.contains("no UNAVAILABLE")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("full-t") && !stdout.contains("read-t"),
        "A-3: tokens never printed"
    );
}

#[test]
fn verify_snapshots_are_written_then_reviewed() {
    let dir = tmp("snapshots");
    let run = || verify(&["--cases", "8", "--snapshots", dir.to_str().unwrap()]);
    let first = run();
    assert_eq!(first.status.code(), Some(0));
    let snaps: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(snaps.len() >= 10, "{snaps:?}");
    let g2 = dir.join("G-2_not_found.snap");
    let text = std::fs::read_to_string(&g2).unwrap();
    assert!(
        text.starts_with("---\nsource: orders-testkit verify\n"),
        "{text}"
    );
    assert!(text.contains("\"code\": \"NOT_FOUND\""));
    assert!(
        text.contains("[run]") && !text.contains("ct-"),
        "ids redacted: {text}"
    );
    // The same target again: nothing changed.
    let second = run();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("0 new") && stderr.contains("0 changed"),
        "{stderr}"
    );
    // An accepted snapshot that differs from what the target now says: a
    // .snap.new waits for review.
    std::fs::write(&g2, text.replace("NOT_FOUND", "UNAVAILABLE")).unwrap();
    let third = run();
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert!(stderr.contains("1 changed"), "{stderr}");
    let pending = std::fs::read_to_string(dir.join("G-2_not_found.snap.new")).unwrap();
    assert!(pending.contains("NOT_FOUND"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `verify --baseline`, `--record-behaviour` and `--against-behaviour`:
/// the same service twice shows nothing (exit 0); a version whose
/// SubmitLineItems answers a fixed count is breaking under S-1 (exit 1),
/// from a live baseline and from a recorded one alike.
#[test]
fn verify_baseline_and_recorded_behaviour_flag_a_changed_version() {
    let dir = tmp("baseline");
    let scenario = dir.join("changed.toml");
    std::fs::write(
        &scenario,
        "[[stubs]]\nrpc = \"SubmitLineItems\"\noff_contract = true\n\
         respond = { itemCount = 1, totalCents = 100 }\n",
    )
    .unwrap();
    let old = serve(&[]);
    let changed = serve(&["--scenario", scenario.to_str().unwrap()]);

    let same = verify(&["--baseline", &old.1, "--endpoint", &old.1]);
    let stdout = String::from_utf8_lossy(&same.stdout);
    assert_eq!(same.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("ok: 0 breaking, 0 risky"), "{stdout}");

    let broken = verify(&["--baseline", &old.1, "--endpoint", &changed.1]);
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("BREAKING response (S-1)"), "{stdout}");
    assert!(stdout.contains("SubmitLineItems"), "{stdout}");

    let file = dir.join("old.json");
    let rec = verify(&[
        "--endpoint",
        &old.1,
        "--record-behaviour",
        file.to_str().unwrap(),
        "--seed",
        "4",
    ]);
    assert_eq!(
        rec.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rec.stderr)
    );
    let against = |url: &str| {
        verify(&[
            "--endpoint",
            url,
            "--against-behaviour",
            file.to_str().unwrap(),
        ])
    };
    let out = against(&old.1);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = against(&changed.1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("seed 4"),
        "the recording's seed is used: {stdout}"
    );
    assert!(stdout.contains("BREAKING response (S-1)"), "{stdout}");

    // A file that is not a recording is a usage error, said plainly.
    std::fs::write(&file, "{}").unwrap();
    let out = against(&old.1);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a behaviour recording"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
