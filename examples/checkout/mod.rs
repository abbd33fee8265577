//! The checkout client of the worked example and its own test, shared by
//! `examples/checkout_sweep.rs` and `tests/sweep.rs`.
#![allow(dead_code)]

mod client;

use std::sync::Arc;
use std::time::Duration;

use client::Checkout;
use orders_testkit::OrderMock;
use orders_testkit::pb::LineItem;
use orders_testkit::sweep::{Sweep, SweepReport};

/// The checkout's own test: two carts placed; whatever fails, no cart may
/// become two orders.
pub async fn checkout_test(mock: Arc<OrderMock>, fixed: bool) {
    let mut checkout = if fixed {
        Checkout::fixed(mock.client())
    } else {
        Checkout::buggy(mock.client())
    };
    let cart = |p: &str| {
        vec![LineItem {
            product_id: p.into(),
            quantity: 1,
            price_cents: 1250,
        }]
    };
    let mut placed = 0;
    for (customer, product) in [("alice", "book"), ("bob", "lamp")] {
        if checkout.place(customer, cart(product)).await.is_ok() {
            placed += 1;
        }
    }
    let stored = mock.store().order_count();
    assert!(
        stored <= 2 && stored >= placed,
        "{placed} orders placed, {stored} in the store: a cart became two orders"
    );
}

/// The sweep of the README.
pub async fn sweep(fixed: bool) -> SweepReport {
    Sweep::new()
        .seed(7)
        .schedules(24)
        .run_timeout(Duration::from_secs(60))
        .run(move |mock| checkout_test(mock, fixed))
        .await
}
