//! Failover: one replica drained (NOT_SERVING), one stopped; the
//! health-aware client sends everything to the one left.
//!
//! Run it: `cargo run --example failover`

use orders_testkit::mock::cluster::{MockCluster, Policy};
use orders_testkit::pb::{CreateOrderRequest, LineItem};
use orders_testkit::rpc::CreateOrder;

/// Drains replica 0, stops replica 1, then creates `calls` orders; returns
/// how many each replica served and how many calls failed.
pub async fn fail_over(cluster: &MockCluster, calls: usize) -> (Vec<usize>, usize) {
    let balanced = cluster.balanced(Policy::PowerOfTwoChoices);
    balanced.wait_for_serving(cluster.len()).await;
    cluster.set_serving(0, false);
    cluster.stop(1);
    balanced.wait_for_serving(cluster.len() - 2).await;
    let mut client = balanced.client();
    let mut failed = 0;
    for _ in 0..calls {
        let req = CreateOrderRequest {
            customer_id: "c".into(),
            items: vec![LineItem {
                product_id: "p".into(),
                quantity: 1,
                price_cents: 1,
            }],
            shipping_address: None,
        };
        if client.create_order(req).await.is_err() {
            failed += 1;
        }
    }
    let served = (0..cluster.len())
        .map(|i| {
            cluster
                .journal(i)
                .map_or(0, |j| j.calls_to(CreateOrder).len())
        })
        .collect();
    (served, failed)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let cluster = MockCluster::start(3).await;
    let (served, failed) = fail_over(&cluster, 20).await;
    println!("served per replica: {served:?}; failed: {failed}");
}
