//! The contract suite against a matrix of correct servers that behave on
//! the wire as other stacks and networks do: zero false failures. Each
//! entry is the mock (a correct implementation) with tokens of every
//! permission, a switch for a transient failure, and one way of differing
//! from tonic; every check must pass, and the only skips allowed are what
//! the entry cannot show (D-2 when its threshold is not told), each with
//! its reason.
#![cfg(feature = "contract")]

use std::time::Duration;

use orders_testkit::OrderMock;
use orders_testkit::contract::{CheckStatus, Report, Suite, Target};
use orders_testkit::fault::{Fault, FaultPlan};
use orders_testkit::layers::auth::Permission;
use orders_testkit::layers::behaviour::ServerBehaviour;

const RW: &str = "matrix-rw";
const READ: &str = "matrix-read";
const WRITE: &str = "matrix-write";
const TRANSIENT: (&str, &str) = ("x-matrix-transient", "1");

/// A correct server with tokens, a transient switch, and this behaviour.
async fn server(behaviour: ServerBehaviour, fail_fast: Option<Duration>) -> OrderMock {
    let transient = Fault::unavailable("transient, on request", Duration::from_millis(25))
        .when_header(TRANSIENT.0, TRANSIENT.1);
    let mut b = OrderMock::builder()
        .token(RW, Permission::ReadWrite)
        .token(READ, Permission::Read)
        .token(WRITE, Permission::Write)
        .faults(FaultPlan::seeded(11).with(transient))
        .behaviour(behaviour);
    if let Some(t) = fail_fast {
        b = b.fail_fast(t);
    }
    b.start().await
}

fn suite(told: Option<Duration>, cases: u32) -> Suite {
    let s = Suite::default()
        .cases(cases)
        .read_token(READ)
        .write_token(WRITE);
    match told {
        Some(t) => s.fail_fast(t),
        None => s,
    }
}

fn target(mock: &OrderMock) -> Target {
    Target::channel(mock.new_channel())
        .token(RW)
        .transient_header(TRANSIENT.0, TRANSIENT.1)
}

/// Every check passed; skipped only those in `may_skip`, each with a reason.
fn assert_clean(entry: &str, report: &Report, may_skip: &[&str]) {
    println!("{entry}:\n{}", report.table());
    assert!(
        report.passed(),
        "{entry}: a correct server failed:\n{}",
        report.failure_text()
    );
    for r in &report.results {
        if r.status == CheckStatus::Skipped {
            assert!(
                may_skip.contains(&r.id.as_str()),
                "{entry}: {} skipped ({:?})",
                r.id,
                r.note
            );
            assert!(
                r.note.as_deref().is_some_and(|n| !n.is_empty()),
                "{entry}: {} skipped without a reason",
                r.id
            );
        }
    }
}

async fn run(entry: &str, behaviour: ServerBehaviour, fail_fast: Option<Duration>, told: bool) {
    let mock = server(behaviour, fail_fast).await;
    let report = suite(fail_fast.filter(|_| told), 8)
        .run(target(&mock))
        .await;
    let may_skip: &[&str] = if told || fail_fast.is_none() {
        &[]
    } else {
        &["D-2"]
    };
    assert_clean(entry, &report, may_skip);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_tonic_defaults() {
    run(
        "tonic defaults",
        ServerBehaviour::new(),
        Some(Duration::from_millis(100)),
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_headers_deferred_to_the_first_message() {
    run(
        "headers deferred (grpc-go/java/python)",
        ServerBehaviour::new().defer_headers(),
        Some(Duration::from_millis(100)),
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_errors_after_headers() {
    run(
        "errors after headers, headers deferred",
        ServerBehaviour::new()
            .defer_headers()
            .errors_after_headers(),
        Some(Duration::from_millis(100)),
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_errors_trailers_only() {
    run(
        "errors trailers-only",
        ServerBehaviour::new().errors_trailers_only(),
        Some(Duration::from_millis(100)),
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_latency_with_jitter() {
    let mock = server(
        ServerBehaviour::new()
            .defer_headers()
            .latency(Duration::from_millis(20), Duration::from_millis(80))
            .seed(5),
        // A threshold whose half is above the largest latency: D-2 can
        // tell a fail-fast answer from a slow one.
        Some(Duration::from_millis(300)),
    )
    .await;
    let report = suite(Some(Duration::from_millis(300)), 2)
        .run(target(&mock))
        .await;
    assert_clean("latency 20-80 ms, headers deferred", &report, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_fail_fast_300ms_told() {
    let t = Some(Duration::from_millis(300));
    run("fail-fast 300 ms, told", ServerBehaviour::new(), t, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_fail_fast_1s_told() {
    let t = Some(Duration::from_secs(1));
    run("fail-fast 1 s, told", ServerBehaviour::new(), t, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_fail_fast_300ms_not_told() {
    let t = Some(Duration::from_millis(300));
    run(
        "fail-fast 300 ms, not told",
        ServerBehaviour::new(),
        t,
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_fail_fast_1s_not_told_gives_a_hint() {
    let mock = server(ServerBehaviour::new(), Some(Duration::from_secs(1))).await;
    let report = suite(None, 8).run(target(&mock)).await;
    assert_clean("fail-fast 1 s, not told", &report, &["D-2"]);
    let d1 = report.results.iter().find(|r| r.id == "D-1").unwrap();
    assert!(
        d1.note
            .as_deref()
            .is_some_and(|n| n.contains("--fail-fast-ms")),
        "D-1 says how to tell the threshold: {:?}",
        d1.note
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_unknown_extra_metadata() {
    run(
        "extra metadata",
        ServerBehaviour::new().extra_metadata(),
        Some(Duration::from_millis(100)),
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_details_on_every_error() {
    run(
        "details on every error",
        ServerBehaviour::new().details_on_every_error(),
        Some(Duration::from_millis(100)),
        true,
    )
    .await;
}
