//! Coverage by construction (issue 19): with `--cases 1`, the contract
//! suite sends every member of every finite domain of CONTRACT.md and every
//! limit at both sides of its edge. Read from what the suite actually sent:
//! the journal of a mock it ran against. Each coverage test is shown able
//! to fail on a run that leaves members out.
#![cfg(feature = "contract")]

use std::collections::BTreeSet;
use std::time::Duration;

use orders_testkit::OrderMock;
use orders_testkit::contract::{Suite, Target};
use orders_testkit::journal::{Call, Journal};
use orders_testkit::layers::auth::Permission;
use orders_testkit::pb::{OrderActionType, OrderStatus};
use orders_testkit::rpc::{self, Method};

const RW: &str = "cov-rw";
const READ: &str = "cov-read";
const WRITE: &str = "cov-write";
const THRESHOLD: Duration = Duration::from_millis(100);

/// Runs the suite (seed 1, one case, only `only` when given) against a
/// mock with tokens and a fail-fast threshold; returns every call it made.
async fn suite_calls(only: Option<&[&str]>) -> Vec<Call> {
    let mock = OrderMock::builder()
        .token(RW, Permission::ReadWrite)
        .token(READ, Permission::Read)
        .token(WRITE, Permission::Write)
        .fail_fast(THRESHOLD)
        .journal(Journal::unbounded())
        .start()
        .await;
    let mut suite = Suite::default()
        .cases(1)
        .seed(1)
        .fail_fast(THRESHOLD)
        .read_token(READ)
        .write_token(WRITE);
    if let Some(ids) = only {
        suite = suite.only(ids.iter().copied());
    }
    let report = suite.run(Target::channel(mock.channel()).token(RW)).await;
    report.assert_passed();
    mock.journal().calls()
}

// ---- The finite domains -------------------------------------------------

/// The status an action found, from its result: a failure leaves the
/// status as it was; a success came from the one status P-2 allows, or for
/// CANCEL from CONFIRMED when the order was confirmed before.
fn lifecycle_pairs(calls: &[Call]) -> BTreeSet<(i32, i32)> {
    let results: Vec<_> = calls
        .iter()
        .filter(|c| c.method == Some(Method::ProcessOrders))
        .flat_map(|c| {
            c.requests_of(rpc::ProcessOrders)
                .into_iter()
                .zip(c.responses_of(rpc::ProcessOrders))
        })
        .collect();
    let confirmed: BTreeSet<_> = results
        .iter()
        .filter(|(a, r)| r.success && a.action == OrderActionType::Confirm as i32)
        .map(|(a, _)| a.order_id.clone())
        .collect();
    use OrderStatus::*;
    results
        .iter()
        .filter(|(_, r)| r.status != Unspecified as i32)
        .map(|(a, r)| {
            let from = if !r.success {
                r.status
            } else {
                match OrderActionType::try_from(a.action) {
                    Ok(OrderActionType::Confirm) => Pending as i32,
                    Ok(OrderActionType::Ship) => Confirmed as i32,
                    Ok(OrderActionType::Deliver) => Shipped as i32,
                    Ok(OrderActionType::Cancel) if confirmed.contains(&a.order_id) => {
                        Confirmed as i32
                    }
                    _ => Pending as i32,
                }
            };
            (from, a.action)
        })
        .collect()
}

/// The statuses an order can be in and the action values P-4 names, read
/// from the proto's enums (and one value no version defines).
fn lifecycle_domain() -> BTreeSet<(i32, i32)> {
    let statuses = (1..=10).filter(|v| OrderStatus::try_from(*v).is_ok());
    let actions: Vec<i32> = (0..=10)
        .filter(|v| OrderActionType::try_from(*v).is_ok())
        .chain([9])
        .collect();
    statuses
        .flat_map(|s| actions.iter().map(move |a| (s, *a)))
        .collect()
}

/// How an `authorization` header a call carried relates to the tokens.
fn token_form(call: &Call) -> &'static str {
    let Some(value) = call.metadata.get("authorization") else {
        return "none";
    };
    let value = value.to_str().unwrap_or("");
    let Some((scheme, token)) = value.split_once(' ') else {
        return "malformed";
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return "malformed";
    }
    match token {
        RW => "read-write",
        READ => "read",
        WRITE => "write",
        _ => "malformed",
    }
}

/// Every member of the four domains the suite must cover, and whether the
/// calls cover it: status × action, permission × RPC × token form, RPC ×
/// metadata rule, the watch's terminal states.
fn domains(calls: &[Call]) -> Vec<(String, bool)> {
    let mut members = vec![];
    let pairs = lifecycle_pairs(calls);
    for (from, action) in lifecycle_domain() {
        let name = format!(
            "P-2: {:?} × action {action}",
            OrderStatus::try_from(from).unwrap()
        );
        members.push((name, pairs.contains(&(from, action))));
    }
    for method in Method::ALL {
        let of = |c: &&Call| c.method == Some(method);
        for form in ["none", "malformed", "read", "write", "read-write"] {
            let seen = calls.iter().filter(of).any(|c| token_form(c) == form);
            members.push((format!("A-1: {method:?} × {form}"), seen));
        }
        let fail_fast = calls
            .iter()
            .filter(of)
            .any(|c| c.deadline.is_some_and(|d| d < THRESHOLD));
        members.push((
            format!("D-2: {method:?} × a deadline below the threshold"),
            fail_fast,
        ));
    }
    let creates = || {
        calls
            .iter()
            .filter(|c| c.method == Some(Method::CreateOrder))
    };
    for (what, valid) in [("a valid key", true), ("an invalid key", false)] {
        let seen = creates().any(|c| {
            c.metadata.get("idempotency-key").is_some_and(|k| {
                let b = k.as_bytes();
                let ok =
                    !b.is_empty() && b.len() <= 128 && b.iter().all(|b| (0x21..=0x7e).contains(b));
                ok == valid
            })
        });
        members.push((format!("C-4: CreateOrder × {what}"), seen));
    }
    for terminal in [OrderStatus::Delivered, OrderStatus::Cancelled] {
        let seen = calls
            .iter()
            .filter(|c| c.method == Some(Method::WatchOrderStatus))
            .any(|c| {
                c.responses_of(rpc::WatchOrderStatus)
                    .first()
                    .is_some_and(|u| u.status == terminal as i32)
            });
        members.push((format!("W-4: a watch opened on a {terminal:?} order"), seen));
    }
    members
}

fn missing(members: Vec<(String, bool)>) -> Vec<String> {
    members
        .into_iter()
        .filter(|(_, seen)| !seen)
        .map(|(m, _)| m)
        .collect()
}

#[test]
fn the_domains_are_those_of_contract_md() {
    let contract = include_str!("../CONTRACT.md");
    for name in [
        "PENDING",
        "CONFIRMED",
        "SHIPPED",
        "DELIVERED",
        "CANCELLED",
        "CONFIRM",
        "SHIP",
        "DELIVER",
        "CANCEL",
        "UNSPECIFIED",
    ] {
        assert!(contract.contains(name), "CONTRACT.md names {name}");
    }
    assert_eq!(
        lifecycle_domain().len(),
        5 * 6,
        "five statuses × six action values"
    );
    assert_eq!(Method::ALL.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_finite_domain_is_covered_with_one_case() {
    let calls = suite_calls(None).await;
    let missing = missing(domains(&calls));
    assert!(missing.is_empty(), "members without a case: {missing:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_domain_coverage_test_fails_on_a_run_that_leaves_members_out() {
    // Only C-3 and G-3: no illegal transition, no auth form, no fail-fast.
    let calls = suite_calls(Some(&["C-3", "G-3"])).await;
    let missing = missing(domains(&calls));
    for member in [
        "P-2: Shipped × action 4",
        "A-1: GetOrder × malformed",
        "D-2: SubmitLineItems × a deadline below the threshold",
    ] {
        assert!(
            missing.iter().any(|m| m == member),
            "{member} reported missing: {missing:#?}"
        );
    }
}

// ---- The limits ---------------------------------------------------------

/// One limit of CONTRACT.md on one RPC: the values just inside and just
/// outside each of its edges, and how to read the measured quantity from a
/// call.
struct Limit {
    name: &'static str,
    method: Method,
    edges: &'static [i128],
    measure: fn(&Call) -> Vec<i128>,
}

fn lens(v: impl IntoIterator<Item = usize>) -> Vec<i128> {
    v.into_iter().map(|n| n as i128).collect()
}

fn create_items(c: &Call) -> Vec<orders_testkit::pb::LineItem> {
    c.requests_of(rpc::CreateOrder)
        .into_iter()
        .flat_map(|r| r.items)
        .collect()
}

fn submit_items(c: &Call) -> Vec<orders_testkit::pb::LineItem> {
    c.requests_of(rpc::SubmitLineItems)
}

fn total(items: &[orders_testkit::pb::LineItem]) -> i128 {
    items
        .iter()
        .map(|i| i.quantity as i128 * i.price_cents as i128)
        .sum()
}

const MAX: i128 = i64::MAX as i128;

/// Every limit CONTRACT.md states, on every RPC that carries it.
fn limits() -> Vec<Limit> {
    vec![
        Limit {
            name: "customer_id bytes",
            method: Method::CreateOrder,
            edges: &[0, 1, 128, 129],
            measure: |c| {
                lens(
                    c.requests_of(rpc::CreateOrder)
                        .iter()
                        .map(|r| r.customer_id.len()),
                )
            },
        },
        Limit {
            name: "product_id bytes",
            method: Method::CreateOrder,
            edges: &[0, 1, 128, 129],
            measure: |c| lens(create_items(c).iter().map(|i| i.product_id.len())),
        },
        Limit {
            name: "product_id bytes",
            method: Method::SubmitLineItems,
            edges: &[0, 1, 128, 129],
            measure: |c| lens(submit_items(c).iter().map(|i| i.product_id.len())),
        },
        Limit {
            name: "order_id bytes",
            method: Method::GetOrder,
            edges: &[0, 1, 128, 129],
            measure: |c| {
                lens(
                    c.requests_of(rpc::GetOrder)
                        .iter()
                        .map(|r| r.order_id.len()),
                )
            },
        },
        Limit {
            name: "order_id bytes",
            method: Method::WatchOrderStatus,
            edges: &[0, 1, 128, 129],
            measure: |c| {
                lens(
                    c.requests_of(rpc::WatchOrderStatus)
                        .iter()
                        .map(|r| r.order_id.len()),
                )
            },
        },
        Limit {
            name: "order_id bytes",
            method: Method::ProcessOrders,
            edges: &[0, 1, 128, 129],
            measure: |c| {
                lens(
                    c.requests_of(rpc::ProcessOrders)
                        .iter()
                        .map(|r| r.order_id.len()),
                )
            },
        },
        Limit {
            name: "idempotency-key bytes",
            method: Method::CreateOrder,
            edges: &[0, 1, 128, 129],
            measure: |c| {
                lens(
                    c.metadata
                        .get("idempotency-key")
                        .map(|k| k.as_bytes().len()),
                )
            },
        },
        // 0x7F cannot be sent: HTTP/2 header values exclude DEL. The edge
        // outside above is 0x80 (a byte some stacks drop).
        Limit {
            name: "idempotency-key byte values",
            method: Method::CreateOrder,
            edges: &[0x20, 0x21, 0x7e, 0x80],
            measure: |c| {
                c.metadata
                    .get("idempotency-key")
                    .map(|k| k.as_bytes().iter().map(|b| *b as i128).collect())
                    .unwrap_or_default()
            },
        },
        Limit {
            name: "item count",
            method: Method::CreateOrder,
            edges: &[0, 1, 1000, 1001],
            measure: |c| {
                lens(
                    c.requests_of(rpc::CreateOrder)
                        .iter()
                        .map(|r| r.items.len()),
                )
            },
        },
        Limit {
            name: "quantity",
            method: Method::CreateOrder,
            edges: &[0, 1],
            measure: |c| create_items(c).iter().map(|i| i.quantity as i128).collect(),
        },
        Limit {
            name: "quantity",
            method: Method::SubmitLineItems,
            edges: &[0, 1],
            measure: |c| submit_items(c).iter().map(|i| i.quantity as i128).collect(),
        },
        Limit {
            name: "price_cents",
            method: Method::CreateOrder,
            edges: &[-1, 0],
            measure: |c| {
                create_items(c)
                    .iter()
                    .map(|i| i.price_cents as i128)
                    .collect()
            },
        },
        Limit {
            name: "price_cents",
            method: Method::SubmitLineItems,
            edges: &[-1, 0],
            measure: |c| {
                submit_items(c)
                    .iter()
                    .map(|i| i.price_cents as i128)
                    .collect()
            },
        },
        Limit {
            name: "order total",
            method: Method::CreateOrder,
            edges: &[MAX, MAX + 1],
            measure: |c| {
                c.requests_of(rpc::CreateOrder)
                    .iter()
                    .map(|r| total(&r.items))
                    .collect()
            },
        },
        Limit {
            name: "running total",
            method: Method::SubmitLineItems,
            edges: &[MAX, MAX + 1],
            measure: |c| {
                let items = submit_items(c);
                (1..=items.len()).map(|n| total(&items[..n])).collect()
            },
        },
    ]
}

/// Every (limit, RPC, edge value) and whether a call sent it.
fn limit_cases(calls: &[Call]) -> Vec<(String, bool)> {
    limits()
        .into_iter()
        .flat_map(|l| {
            let seen: BTreeSet<i128> = calls
                .iter()
                .filter(|c| c.method == Some(l.method))
                .flat_map(|c| (l.measure)(c))
                .collect();
            l.edges
                .iter()
                .map(|e| {
                    (
                        format!("{} on {:?} = {e}", l.name, l.method),
                        seen.contains(e),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_limits_are_those_of_contract_md() {
    let contract = include_str!("../CONTRACT.md");
    for phrase in [
        "`customer_id`, `product_id`, `order_id`",
        "`idempotency-key`",
        "1 to 128 **bytes**",
        "1\nto 1000 items",
        "`quantity < 1`",
        "`price_cents < 0`",
        "outside int64",
        "A running total that no longer fits int64",
        "0x21–0x7E",
    ] {
        assert!(contract.contains(phrase), "CONTRACT.md states {phrase:?}");
    }
    let names: BTreeSet<_> = limits().iter().map(|l| l.name).collect();
    assert_eq!(names.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_limit_is_sent_at_its_edges_with_one_case() {
    let calls = suite_calls(None).await;
    let missing = missing(limit_cases(&calls));
    assert!(missing.is_empty(), "edges never sent: {missing:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limits_test_fails_on_a_run_that_leaves_edges_out() {
    let calls = suite_calls(Some(&["C-3", "G-3"])).await;
    let missing = missing(limit_cases(&calls));
    for edge in [
        "item count on CreateOrder = 1001",
        "running total on SubmitLineItems = 9223372036854775808",
        "order_id bytes on ProcessOrders = 129",
    ] {
        assert!(
            missing.iter().any(|m| m == edge),
            "{edge} reported missing: {missing:#?}"
        );
    }
}
