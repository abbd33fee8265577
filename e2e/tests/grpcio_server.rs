//! The contract suite against an OrderService that is not tonic: a correct
//! implementation written with grpc-python (`tests/grpcio/orders_server.py`),
//! which sends response headers only with the first message, enforces
//! deadlines in gRPC core, serves reflection v1alpha only and embeds no
//! source info in its descriptors. It must pass with zero false failures;
//! a variant that leaks an unhandled exception must fail E-6.
//!
//! Needs Python 3 with grpcio, grpcio-tools, grpcio-status,
//! grpcio-health-checking and grpcio-reflection (`.ci/run` installs them).
//! Without them (outside CI) the tests are reported as ignored, with the
//! reason; in CI, or when run anyway, they fail saying what to install.

mod common;

use std::time::Duration;

use common::foreign::{Foreign, runs, skipped};
use orders_testkit::contract::{Suite, Target};

const SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpcio/orders_server.py");

/// Fails, saying what to install, when grpc-python is missing (outside CI
/// build.rs marks these tests ignored instead).
fn require_grpcio() {
    let imports = "import grpc, grpc_tools, grpc_status, grpc_health, grpc_reflection";
    assert!(
        runs("python3", &["-c", imports], "."),
        "python3 with grpcio not found: pip install grpcio grpcio-tools grpcio-status \
         grpcio-health-checking grpcio-reflection, then touch e2e/build.rs"
    );
}

fn start(args: &[&str]) -> Foreign {
    let mut all = vec!["--port", "0"];
    all.extend(args);
    Foreign::start("python3", SERVER, &all)
}

fn target(server: &Foreign) -> Target {
    Target::endpoint(server.url.clone())
        .token("py-rw")
        .transient_header("x-py-transient", "1")
}

fn suite(seed: u64) -> Suite {
    Suite::default()
        .cases(16)
        .seed(seed)
        .read_token("py-read")
        .write_token("py-write")
        .deadline(Duration::from_secs(20))
}

const TOKENS: [&str; 6] = [
    "--token",
    "py-rw=rw",
    "--token",
    "py-read=read",
    "--token",
    "py-write=write",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    orders_testkit_no_grpcio,
    ignore = "grpc-python not found when built: pip install grpcio grpcio-tools grpcio-status \
              grpcio-health-checking grpcio-reflection, then touch e2e/build.rs"
)]
async fn a_correct_grpc_python_server_passes_with_its_threshold_told() {
    require_grpcio();
    let mut args = TOKENS.to_vec();
    args.extend([
        "--fail-fast-ms",
        "300",
        "--transient-header",
        "x-py-transient",
    ]);
    let server = start(&args);
    for seed in [1, 2, 3] {
        let report = suite(seed)
            .fail_fast(Duration::from_millis(300))
            .run(target(&server))
            .await;
        println!("{}", report.table());
        report.assert_passed();
        // grpc-python embeds no source info: PROTO-2 has nothing to judge.
        assert_eq!(skipped(&report), ["PROTO-2"], "seed {seed}");
    }
}

/// The server with tokens, its connections given GOAWAY at 50 ms of age.
fn aging() -> Foreign {
    let mut args = TOKENS.to_vec();
    args.extend(["--max-connection-age-ms", "50"]);
    start(&args)
}

/// grpc-python with `grpc.max_connection_age_ms` (how servers behind an L4
/// balancer spread their clients): every 50 ms a connection gets GOAWAY;
/// calls caught by it were never processed and are sent again, and a
/// draining connection closed at a call's deadline is that call's end
/// (D-1). The correct server passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    orders_testkit_no_grpcio,
    ignore = "grpc-python not found when built: pip install grpcio grpcio-tools grpcio-status \
              grpcio-health-checking grpcio-reflection, then touch e2e/build.rs"
)]
async fn a_correct_grpc_python_server_that_ages_its_connections_passes() {
    require_grpcio();
    let server = aging();
    let report = suite(1).run(target(&server)).await;
    println!("{}", report.table());
    report.assert_passed();
    assert!(
        report.sent_again > 0,
        "no call was turned away: the connections did not age"
    );
}

/// The same server with and without aging connections, compared as two
/// versions: nothing differs (a call turned away is sent again; a draining
/// connection closed at a short deadline ends that call as the deadline
/// does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    orders_testkit_no_grpcio,
    ignore = "grpc-python not found when built: pip install grpcio grpcio-tools grpcio-status \
              grpcio-health-checking grpcio-reflection, then touch e2e/build.rs"
)]
async fn aging_connections_change_no_behaviour_between_two_versions() {
    require_grpcio();
    let plain = start(&TOKENS);
    let aging = aging();
    let diff = Suite::default()
        .seed(1)
        .compare(target(&plain), target(&aging))
        .await
        .unwrap();
    let text = diff.render();
    println!("{text}");
    assert!(diff.steps > 40, "too few steps compared\n{text}");
    assert!(diff.differences.is_empty(), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    orders_testkit_no_grpcio,
    ignore = "grpc-python not found when built: pip install grpcio grpcio-tools grpcio-status \
              grpcio-health-checking grpcio-reflection, then touch e2e/build.rs"
)]
async fn a_correct_grpc_python_server_passes_with_its_threshold_not_told() {
    require_grpcio();
    let mut args = TOKENS.to_vec();
    args.extend([
        "--fail-fast-ms",
        "1000",
        "--transient-header",
        "x-py-transient",
    ]);
    let server = start(&args);
    let report = suite(1).run(target(&server)).await;
    println!("{}", report.table());
    report.assert_passed();
    assert_eq!(skipped(&report), ["PROTO-2", "D-2"]);
    let d1 = report.results.iter().find(|r| r.id == "D-1").unwrap();
    assert!(
        d1.note
            .as_deref()
            .is_some_and(|n| n.contains("--fail-fast-ms")),
        "a configuration hint, not a failure: {:?}",
        d1.note
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    orders_testkit_no_grpcio,
    ignore = "grpc-python not found when built: pip install grpcio grpcio-tools grpcio-status \
              grpcio-health-checking grpcio-reflection, then touch e2e/build.rs"
)]
async fn a_grpc_python_server_leaking_its_exceptions_breaks_e6() {
    require_grpcio();
    let mut args = TOKENS.to_vec();
    args.extend(["--transient-header", "x-py-transient", "--leak-internals"]);
    let server = start(&args);
    let report = suite(1).cases(1).run(target(&server)).await;
    assert!(
        report.broken_rules().iter().any(|r| r == "E-6"),
        "{}",
        report.table()
    );
}

/// `verify --baseline`: the grpc-python server as the baseline, the mock
/// as the new version. Two correct implementations differ only where the
/// contract leaves a choice (the words of messages and violations).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    orders_testkit_no_grpcio,
    ignore = "grpc-python not found when built: pip install grpcio grpcio-tools grpcio-status \
              grpcio-health-checking grpcio-reflection, then touch e2e/build.rs"
)]
async fn grpc_python_and_the_mock_differ_only_where_the_contract_leaves_a_choice() {
    require_grpcio();
    let server = start(&TOKENS);
    common::foreign::differs_from_the_mock_only_where_open(|| target(&server)).await;
}
