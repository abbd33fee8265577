//! Property tests of the model: random operations (create, act, watch,
//! cancel a watch) from several threads on one store, checked against its
//! invariants: the lifecycle table (P-2), updated_at strictly increasing
//! (P-3), every watcher's sequence whole (W-3), watchers completed after a
//! terminal status (W-4), nothing left subscribed. Fixed seed: a failure
//! prints the minimal case and replays.

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::StreamExt;
use orders_testkit::pb::{
    CreateOrderRequest, LineItem, OrderAction, OrderStatus, OrderStatusUpdate,
};
use orders_testkit::service::model::Store;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// The oracle, written here from the contract's P-2 table, independently of
/// the model's own transition function.
fn allowed(from: OrderStatus, to: OrderStatus) -> bool {
    use OrderStatus::*;
    matches!(
        (from, to),
        (Pending, Confirmed)
            | (Confirmed, Shipped)
            | (Shipped, Delivered)
            | (Pending, Cancelled)
            | (Confirmed, Cancelled)
    )
}

fn nanos(t: &prost_types::Timestamp) -> i128 {
    t.seconds as i128 * 1_000_000_000 + t.nanos as i128
}

#[derive(Debug, Clone)]
enum Op {
    Create,
    Act(usize, i32),
    Watch(usize),
    Cancel(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Create),
        6 => (0usize..8, 0i32..=5).prop_map(|(o, a)| Op::Act(o, a)),
        2 => (0usize..8).prop_map(Op::Watch),
        1 => (0usize..8).prop_map(Op::Cancel),
    ]
}

fn request() -> CreateOrderRequest {
    CreateOrderRequest {
        customer_id: "c".into(),
        items: vec![LineItem {
            product_id: "p".into(),
            quantity: 1,
            price_cents: 1,
        }],
        shipping_address: None,
    }
}

/// Drains what a watch holds now; `true` when it has ended.
fn drain(w: &mut orders_testkit::service::model::Watch, into: &mut Vec<OrderStatusUpdate>) -> bool {
    loop {
        match w.next().now_or_never() {
            Some(Some(u)) => into.push(u),
            Some(None) => return true,
            None => return false,
        }
    }
}

fn check_chain(seq: &[OrderStatusUpdate]) -> Result<(), TestCaseError> {
    for pair in seq.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        prop_assert_eq!(
            b.previous_status,
            a.status,
            "W-3: no skipped or repeated update"
        );
        let legal = allowed(a.status(), b.status());
        prop_assert!(
            legal,
            "P-2: {:?} -> {:?} is not in the table",
            a.status(),
            b.status()
        );
        prop_assert!(
            nanos(b.updated_at.as_ref().unwrap()) > nanos(a.updated_at.as_ref().unwrap()),
            "P-3"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: 64, rng_seed: RngSeed::Fixed(20261128), failure_persistence: None, ..Config::default() })]

    #[test]
    fn model_invariants_hold_under_concurrent_operations(threads in proptest::collection::vec(proptest::collection::vec(op(), 0..40), 4)) {
        let store = Store::new();
        let seeded: Vec<String> = (0..4).map(|_| store.create(&request(), None).unwrap().order_id).collect();
        let sequences = std::thread::scope(|scope| {
            let handles: Vec<_> = threads.iter().map(|ops| {
                let store = Arc::clone(&store);
                let seeded = seeded.clone();
                scope.spawn(move || {
                    let mut ids = seeded;
                    let mut watches: Vec<(orders_testkit::service::model::Watch, Vec<OrderStatusUpdate>)> = vec![];
                    let mut finished = vec![];
                    for op in ops {
                        match op {
                            Op::Create => ids.push(store.create(&request(), None).unwrap().order_id),
                            Op::Act(o, a) => {
                                let _ = store.act(&OrderAction { order_id: ids[o % ids.len()].clone(), action: *a });
                            }
                            Op::Watch(o) => {
                                if let Some(w) = store.watch(&ids[o % ids.len()]) {
                                    watches.push((w, vec![]));
                                }
                            }
                            Op::Cancel(i) => {
                                if !watches.is_empty() {
                                    let (mut w, mut seen) = watches.remove(i % watches.len());
                                    let ended = drain(&mut w, &mut seen);
                                    finished.push((seen, ended));
                                }
                            }
                        }
                        for (w, seen) in watches.iter_mut() {
                            drain(w, seen);
                        }
                    }
                    for (mut w, mut seen) in watches {
                        let ended = drain(&mut w, &mut seen);
                        finished.push((seen, ended));
                    }
                    finished
                })
            }).collect();
            handles.into_iter().flat_map(|h| h.join().unwrap()).collect::<Vec<_>>()
        });
        for (seq, ended) in &sequences {
            prop_assert!(!seq.is_empty(), "W-2: a watch starts with the current state");
            prop_assert_eq!(seq[0].previous_status, OrderStatus::Unspecified as i32);
            check_chain(seq)?;
            let last = seq.last().unwrap().status();
            let terminal = matches!(last, OrderStatus::Delivered | OrderStatus::Cancelled);
            prop_assert_eq!(*ended, terminal, "W-4: a watch ends exactly after a terminal status");
        }
        prop_assert_eq!(store.watcher_count(), 0, "every watch released");
        for order in store.orders() {
            let (c, u) = (nanos(order.created_at.as_ref().unwrap()), nanos(order.updated_at.as_ref().unwrap()));
            prop_assert!(u >= c);
            prop_assert_eq!(u == c, order.status() == OrderStatus::Pending);
        }
    }
}
