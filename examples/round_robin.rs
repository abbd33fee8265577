//! Round robin across three replicas of one service, counted from their
//! journals.
//!
//! Run it: `cargo run --example round_robin`

use orders_testkit::mock::cluster::{MockCluster, Policy};
use orders_testkit::pb::GetOrderRequest;
use orders_testkit::rpc::GetOrder;

/// Sends `calls` GetOrders through a round-robin client; returns the calls
/// each replica received.
pub async fn spread(cluster: &MockCluster, calls: usize) -> Vec<usize> {
    let balanced = cluster.balanced(Policy::RoundRobin);
    balanced.wait_for_serving(cluster.len()).await;
    let mut client = balanced.client();
    for i in 0..calls {
        let _ = client
            .get_order(GetOrderRequest {
                order_id: format!("o-{i}"),
            })
            .await;
    }
    (0..cluster.len())
        .map(|i| cluster.journal(i).map_or(0, |j| j.calls_to(GetOrder).len()))
        .collect()
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let cluster = MockCluster::start(3).await;
    println!("calls per replica: {:?}", spread(&cluster, 30).await);
}
