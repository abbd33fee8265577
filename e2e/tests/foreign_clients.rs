//! `serve` answers clients of other stacks with their default limits
//! (CONTRACT.md, reading of E-2's size): grpc-js and grpc-python accept
//! 8 KiB of received metadata, so a BadRequest of thousands of violations
//! must be cut to a prefix and a summary, or such a client never sees the
//! INVALID_ARGUMENT (grpc-js ends the call with an error of its own,
//! grpc-python waits for its deadline).
//!
//! Needs Node.js with `tests/grpcjs`'s packages (`npm ci --prefix
//! e2e/tests/grpcjs`) and Python 3 with grpcio (see `grpcio_server.rs`);
//! without them (outside CI) the tests are reported as ignored, with the
//! reason.

mod common;

use std::process::Command;

use common::foreign::runs;
use common::process::Served;

const JS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpcjs");
const PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpcio");

/// Runs `program script address 1001` and checks its JSON line: the
/// INVALID_ARGUMENT, with a BadRequest whose violations start at item 0 in
/// order and end with the summary of those left out.
fn gets_the_summarised_bad_request(program: &str, script: &str) {
    let served = Served::start(&[]);
    let out = Command::new(program)
        .arg(script)
        .args([&served.addr.to_string(), "1001"])
        .env("GRPC_VERBOSITY", "NONE")
        .output()
        .expect("the client runs");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let got: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    assert_eq!(got["code"], 3, "INVALID_ARGUMENT: {got}");
    let n = got["violations"].as_i64().unwrap_or(-1);
    // "items" (over 1000) and three per item for at least a few items, but
    // not all 3004: the rest is summarised.
    assert!((4..3004).contains(&n), "a prefix of the violations: {got}");
    assert_eq!(got["first"]["field"], "items", "{got}");
    let last = got["last"]["description"].as_str().unwrap_or_default();
    assert!(
        last.starts_with("and ") && last.contains("more violations from this one on"),
        "the summary ends the list: {got}"
    );
}

#[test]
#[cfg_attr(
    orders_testkit_no_grpcjs,
    ignore = "grpc-js not found when built: npm ci --prefix e2e/tests/grpcjs, then touch e2e/build.rs"
)]
fn e2_a_grpc_js_client_gets_invalid_argument_for_1001_invalid_items() {
    assert!(
        runs("node", &["-e", "require('@grpc/grpc-js')"], JS),
        "node with @grpc/grpc-js not found: npm ci --prefix e2e/tests/grpcjs"
    );
    gets_the_summarised_bad_request("node", &format!("{JS}/create_invalid.js"));
}

#[test]
#[cfg_attr(
    orders_testkit_no_grpcio,
    ignore = "grpc-python not found when built: pip install grpcio grpcio-tools grpcio-status \
              grpcio-health-checking grpcio-reflection, then touch e2e/build.rs"
)]
fn e2_a_grpc_python_client_gets_invalid_argument_for_1001_invalid_items() {
    assert!(
        runs("python3", &["-c", "import grpc, grpc_status"], "."),
        "python3 with grpcio not found: pip install grpcio grpcio-tools grpcio-status"
    );
    gets_the_summarised_bad_request("python3", &format!("{PY}/create_invalid.py"));
}
