//! A fixed workload for instruction-count profiling, bare tonic against the
//! mock on the same in-process transport:
//! `valgrind --tool=callgrind target/release/examples/profile_unary MODE`
//! where MODE is `bare`/`mock` (2,000 GetOrder calls), `bare-create`/
//! `mock-create` (2,000 CreateOrder calls) or `bare-start`/`mock-start`
//! (200 start-ups, each with its first GetOrder) or `bare-stream`/
//! `mock-stream` (20 WatchOrderStatus streams of 1,000 messages), or
//! `bare-fault` (2,000 GetOrder calls to the bare service behind a
//! FaultLayer with no matching fault, against `bare`), all on one
//! current-thread runtime.

#[path = "../benches/common/bare.rs"]
#[allow(dead_code)]
mod bare;

use orders_testkit::OrderMock;
use orders_testkit::Stub;
use orders_testkit::fault::{Fault, FaultLayer, FaultPlan};
use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::{
    CreateOrderRequest, GetOrderRequest, LineItem, Order, OrderStatus, OrderStatusUpdate,
    WatchOrderStatusRequest,
};
use orders_testkit::rpc::{CreateOrder, WatchOrderStatus};
use orders_testkit::server::InProcessServer;
use tonic::transport::Channel;
use tower::Layer;

const CALLS: usize = 2_000;
const STARTS: usize = 200;
const STREAMS: usize = 20;

/// A server of the kind `mock` says, with one order, and a client to it.
async fn serve(
    mock: bool,
    fault_layer: bool,
) -> (
    Option<OrderMock>,
    Option<InProcessServer>,
    OrderServiceClient<Channel>,
) {
    if mock {
        let mock = OrderMock::start().await;
        mock.seed_order(Order {
            order_id: "o-1".into(),
            status: OrderStatus::Pending.into(),
            ..Default::default()
        });
        let client = mock.client();
        (Some(mock), None, client)
    } else if fault_layer {
        // The bare service behind a FaultLayer whose one fault never
        // matches a GetOrder: the layer's idle cost.
        let plan = FaultPlan::new().with(Fault::hang().on(CreateOrder).when_header("x-never", "1"));
        let server = InProcessServer::start(FaultLayer::new(plan).layer(bare::routes()));
        let client = OrderServiceClient::new(server.channel());
        (None, Some(server), client)
    } else {
        let server = InProcessServer::start(bare::routes());
        let client = OrderServiceClient::new(server.channel());
        (None, Some(server), client)
    }
}

fn get() -> GetOrderRequest {
    GetOrderRequest {
        order_id: "o-1".into(),
    }
}

fn create(i: usize) -> CreateOrderRequest {
    CreateOrderRequest {
        customer_id: format!("c-{i}"),
        items: vec![LineItem {
            product_id: "p-1".into(),
            quantity: 2,
            price_cents: 1999,
        }],
        ..Default::default()
    }
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "mock".into());
    let mock = which.starts_with("mock");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if which.ends_with("-start") {
            for _ in 0..STARTS {
                let (_mock, _server, mut client) = serve(mock, which == "bare-fault").await;
                client.get_order(get()).await.unwrap();
            }
            println!("{which}: {STARTS} start-ups");
            return;
        }
        let (_mock, _server, mut client) = serve(mock, which == "bare-fault").await;
        if which.ends_with("-stream") {
            // As the server-stream bench: the same update 1,000 times from
            // a stub (the journal off), against the bare server's 1,000.
            if let Some(mock) = &_mock {
                mock.journal().set_enabled(false);
                let update = OrderStatusUpdate {
                    order_id: "s".into(),
                    status: 2,
                    previous_status: 1,
                    updated_at: None,
                };
                Stub::on(WatchOrderStatus)
                    .stream(vec![update; bare::STREAM_LEN])
                    .off_contract()
                    .mount(mock);
            }
            for _ in 0..STREAMS {
                let mut s = client
                    .watch_order_status(WatchOrderStatusRequest {
                        order_id: "s".into(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                while s.message().await.unwrap().is_some() {}
            }
            println!(
                "{which}: {STREAMS} streams of {} messages",
                bare::STREAM_LEN
            );
            return;
        }
        for i in 0..CALLS {
            if which.ends_with("-create") {
                client.create_order(create(i)).await.unwrap();
            } else {
                client.get_order(get()).await.unwrap();
            }
        }
        println!("{which}: {CALLS} calls");
    });
}
