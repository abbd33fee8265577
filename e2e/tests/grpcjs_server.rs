//! The contract suite against an OrderService written with @grpc/grpc-js
//! (`tests/grpcjs/orders_server.js`): proto-loader's plain objects, int64
//! as strings, rich error details written by hand, deadlines enforced by
//! grpc-js, reflection from `@grpc/reflection`. The correct server must pass
//! with zero false failures under seeds 1, 2 and 3; each variant
//! (`--variant NAME`) breaks one rule the way JavaScript code gets it wrong
//! (a plain object as a map, `trim()`, `encodeURIComponent`, `s.length`,
//! `split(' ')`…) and must be caught, with that rule named, by a run of one
//! case under each of those seeds.
//!
//! Needs Node.js with the packages of `tests/grpcjs/package.json`
//! (`npm ci --prefix e2e/tests/grpcjs`; `.ci/run` does it). Without them
//! (outside CI) the tests are reported as ignored, with the reason; in CI,
//! or when run anyway, they fail saying what to install.

mod common;

use std::time::Duration;

use common::foreign::{Foreign, runs, skipped};
use orders_testkit::contract::{Suite, Target};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpcjs");
const SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpcjs/orders_server.js");

/// Fails, saying what to install, when grpc-js is missing (outside CI
/// build.rs marks these tests ignored instead).
fn require_grpcjs() {
    assert!(
        runs("node", &["-e", "require('@grpc/grpc-js')"], DIR),
        "node with @grpc/grpc-js not found: npm ci --prefix e2e/tests/grpcjs, \
         then touch e2e/build.rs"
    );
}

const TOKENS: [&str; 6] = [
    "--token",
    "js-rw=rw",
    "--token",
    "js-read=read",
    "--token",
    "js-write=write",
];

/// The server with tokens, a fail-fast threshold of 300 ms and a transient
/// header, and `extra` arguments.
fn start(extra: &[&str]) -> Foreign {
    let mut args = TOKENS.to_vec();
    args.extend([
        "--fail-fast-ms",
        "300",
        "--transient-header",
        "x-js-transient",
    ]);
    args.extend(extra);
    Foreign::start("node", SERVER, &args)
}

fn target(server: &Foreign) -> Target {
    Target::endpoint(server.url.clone())
        .token("js-rw")
        .transient_header("x-js-transient", "1")
}

fn suite(seed: u64) -> Suite {
    Suite::default()
        .seed(seed)
        .read_token("js-read")
        .write_token("js-write")
        .fail_fast(Duration::from_millis(300))
        .deadline(Duration::from_secs(20))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    orders_testkit_no_grpcjs,
    ignore = "grpc-js not found when built: npm ci --prefix e2e/tests/grpcjs, then touch e2e/build.rs"
)]
async fn a_correct_grpc_js_server_passes_under_seeds_1_2_3() {
    require_grpcjs();
    let server = start(&[]);
    for seed in [1, 2, 3] {
        let report = suite(seed).cases(16).run(target(&server)).await;
        println!("{}", report.table());
        report.assert_passed();
        // proto-loader's descriptors carry no source info: PROTO-2 has
        // nothing to judge.
        assert_eq!(skipped(&report), ["PROTO-2"], "seed {seed}");
    }
}

/// grpc-js with `grpc.max_connection_age_ms` (how servers behind an L4
/// balancer spread their clients): every 50 ms a connection gets GOAWAY,
/// and calls caught by it were never processed. The suite sends those
/// again rather than judging them, and the correct server passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    orders_testkit_no_grpcjs,
    ignore = "grpc-js not found when built: npm ci --prefix e2e/tests/grpcjs, then touch e2e/build.rs"
)]
async fn a_correct_grpc_js_server_that_ages_its_connections_passes() {
    require_grpcjs();
    let server = start(&["--max-connection-age-ms", "50"]);
    let report = suite(1).cases(16).run(target(&server)).await;
    println!("{}", report.table());
    report.assert_passed();
    assert_eq!(skipped(&report), ["PROTO-2"]);
    assert!(
        report.sent_again > 0,
        "no call was turned away: the connections did not age"
    );
}

/// Each variant, the rule it breaks, and that a run of one case catches it
/// under every seed (naming that rule).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    orders_testkit_no_grpcjs,
    ignore = "grpc-js not found when built: npm ci --prefix e2e/tests/grpcjs, then touch e2e/build.rs"
)]
async fn every_grpc_js_variant_is_caught_with_its_rule_named() {
    require_grpcjs();
    let variants = [
        ("object-store", "G-2"),
        ("trims-strings", "C-3"),
        ("uri-encoded-message", "G-2"),
        ("utf16-lengths", "C-1"),
        ("split-bearer", "A-1"),
        ("cancel-from-shipped", "P-2"),
        ("fail-fast-at-first-message", "D-2"),
        ("keys-per-token", "C-4"),
    ];
    let mut missed = vec![];
    for (variant, rule) in variants {
        let server = start(&["--variant", variant]);
        for seed in [1, 2, 3] {
            let report = suite(seed).cases(1).run(target(&server)).await;
            let broken = report.broken_rules();
            if !broken.iter().any(|r| r == rule) {
                missed.push(format!(
                    "{variant} (seed {seed}): {rule} not broken, got {broken:?}"
                ));
            }
        }
    }
    assert!(
        missed.is_empty(),
        "variants not caught:\n{}",
        missed.join("\n")
    );
}

/// `verify --baseline`: the grpc-js server as the baseline, the mock as the
/// new version: they differ only where the contract leaves a choice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    orders_testkit_no_grpcjs,
    ignore = "grpc-js not found when built: npm ci --prefix e2e/tests/grpcjs, then touch e2e/build.rs"
)]
async fn grpc_js_and_the_mock_differ_only_where_the_contract_leaves_a_choice() {
    require_grpcjs();
    let server = start(&[]);
    common::foreign::differs_from_the_mock_only_where_open(|| target(&server)).await;
}
