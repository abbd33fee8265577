//! A Python grpcio client drives `serve --admin` through
//! `orders_testkit.admin.v1.Admin` (`tests/grpcio/admin_client.py`): a stub
//! and its answer, a fault, its own calls read back, a reset, and a failing
//! `Verify` for an unmet expectation.
//!
//! Needs Python 3 with grpcio and grpcio-tools (`.ci/run` installs them).
//! Without them (outside CI) the test is reported as ignored, with the
//! reason; in CI, or when run anyway, it fails saying what to install.

mod common;

use std::process::{Command, Stdio};

use common::process::Served;

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpcio/admin_client.py");
const LIVE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpcio/live_watch.py");

/// Runs `script` against a fresh `serve --admin`; its stdout, after
/// checking that it passed.
fn run_python(script: &'static str) -> String {
    let grpcio = Command::new("python3")
        .args(["-c", "import grpc, grpc_tools"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        grpcio,
        "python3 with grpcio not found: pip install grpcio grpcio-tools"
    );
    let served = Served::start_admin(&[]);
    let (tx, rx) = std::sync::mpsc::channel();
    let target = served.addr.to_string();
    std::thread::spawn(move || {
        let _ = tx.send(Command::new("python3").args([script, &target]).output());
    });
    let out = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the Python client finishes within 2 minutes")
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    stdout
}

#[test]
#[cfg_attr(
    orders_testkit_no_grpcio,
    ignore = "python3 with grpcio and grpcio-tools not found (pip install grpcio grpcio-tools; then touch e2e/build.rs)"
)]
fn a_python_grpcio_client_scripts_serve_through_the_admin_service() {
    let stdout = run_python(CLIENT);
    for step in [
        "ok: GetOrder got the stubbed order",
        "ok: InjectFault: the next GetOrder failed UNAVAILABLE",
        "ok: ListCalls found our 2 calls by metadata",
        "ok: after Reset the model answers: NOT_FOUND",
        "ok: Verify fails for the unmet expectation",
        "all steps passed",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
}

#[test]
#[cfg_attr(
    orders_testkit_no_grpcio,
    ignore = "python3 with grpcio and grpcio-tools not found (pip install grpcio grpcio-tools; then touch e2e/build.rs)"
)]
fn a_python_grpcio_test_drives_a_watch_live_through_the_admin_service() {
    let stdout = run_python(LIVE);
    for step in [
        "ok: the client sees PENDING once it is pushed",
        "ok: nothing reaches the client until the test pushes SHIPPED",
        "ok: the client sees SHIPPED when the test pushes it",
        "ok: DELIVERED, then the stream ends OK when the test ends it",
        "ok: ListLive shows both items and the client's half-close",
        "ok: the client gets the answer the test sent",
        "ok: Verify: what the test sent kept the contract",
        "all steps passed",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
}
