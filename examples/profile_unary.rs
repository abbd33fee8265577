//! A fixed workload for instruction-count profiling of the unary path:
//! `valgrind --tool=callgrind target/release/examples/profile_unary mock`
//! (or `bare`): 2,000 GetOrder calls on one current-thread runtime. With
//! `mock-start` or `bare-start`: 200 start-ups, each with its first call.

#[path = "../benches/common/bare.rs"]
#[allow(dead_code)]
mod bare;

use orders_testkit::OrderMock;
use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::{GetOrderRequest, Order};
use orders_testkit::transport::InProcessServer;

const CALLS: usize = 2_000;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "mock".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (_mock, _server, mut client) = if which == "bare" {
            let server = InProcessServer::start(bare::routes());
            let client = OrderServiceClient::new(server.channel());
            (None, Some(server), client)
        } else {
            let mock = OrderMock::start().await;
            mock.seed_order(Order {
                order_id: "o-1".into(),
                ..Default::default()
            });
            let client = mock.client();
            (Some(mock), None, client)
        };
        for _ in 0..CALLS {
            client
                .get_order(GetOrderRequest {
                    order_id: "o-1".into(),
                })
                .await
                .unwrap();
        }
        println!("{which}: {CALLS} calls");
    });
}
