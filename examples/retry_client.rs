//! A client that retries UNAVAILABLE, waiting what the server's RetryInfo
//! says (E-7) or backing off, within a bounded number of attempts.
//!
//! Run it: `cargo run --example retry_client`

use std::time::Duration;

use orders_testkit::OrderMock;
use orders_testkit::fault::Fault;
use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::{GetOrderRequest, Order};
use orders_testkit::rpc::GetOrder;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// GetOrder, retried on UNAVAILABLE up to `attempts` times in all.
pub async fn get_with_retry(
    client: &mut OrderServiceClient<Channel>,
    order_id: &str,
    attempts: u32,
) -> Result<Order, Status> {
    let mut backoff = Duration::from_millis(5);
    let mut last = Status::unavailable("no attempt made");
    for _ in 0..attempts.max(1) {
        match client
            .get_order(GetOrderRequest {
                order_id: order_id.into(),
            })
            .await
        {
            Ok(res) => return Ok(res.into_inner()),
            Err(st) if st.code() == Code::Unavailable => {
                let wait = st
                    .get_details_retry_info()
                    .and_then(|r| r.retry_delay)
                    .unwrap_or(backoff);
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(Duration::from_millis(200));
                last = st;
            }
            Err(st) => return Err(st),
        }
    }
    Err(last)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let mock = OrderMock::start().await;
    let id = mock.seed_order(Order {
        order_id: "o-1".into(),
        ..Default::default()
    });
    mock.inject(
        Fault::unavailable("warming up", Duration::from_millis(10))
            .on(GetOrder)
            .first(2),
    );
    let order = get_with_retry(&mut mock.client(), &id, 5)
        .await
        .expect("the third try succeeds");
    println!(
        "got {} after {} calls",
        order.order_id,
        mock.journal().wait_for_ended(3).await.len()
    );
}
