//! OrderMock as a test double: independent instances, connections of their
//! own, and nothing left running after drop.

mod common;

use std::time::Duration;

use common::*;
use orders_testkit::OrderMock;
use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::{GetOrderRequest, OrderAction, WatchOrderStatusRequest};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;

#[tokio::test]
async fn mocks_in_one_process_are_independent() {
    let a = OrderMock::start().await;
    let b = OrderMock::start().await;
    let id = a
        .client()
        .create_order(valid_req())
        .await
        .unwrap()
        .into_inner()
        .order_id;
    let st = b
        .client()
        .get_order(GetOrderRequest {
            order_id: id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::NotFound);
    a.set_serving(false);
    let b_health = b
        .health_client()
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(b_health.into_inner().status, 1, "b still SERVING");
    drop(a);
    // b keeps working after a is gone.
    b.client().create_order(valid_req()).await.unwrap();
}

#[tokio::test]
async fn each_new_channel_is_its_own_connection() {
    let mock = OrderMock::start().await;
    let monitor = mock.tasks();
    mock.client().create_order(valid_req()).await.unwrap();
    // The accept loop and the shared connection, once the call's own task ended.
    let one = tokio::time::timeout(GUARD, monitor.wait_for_live(|n| *n == 2))
        .await
        .expect("two tasks: accept loop and shared connection");
    let mut clients = vec![];
    for _ in 0..3 {
        let mut c = OrderServiceClient::new(mock.new_channel());
        c.get_order(GetOrderRequest {
            order_id: "x".into(),
        })
        .await
        .unwrap_err();
        clients.push(c);
    }
    // Three more connections, one task each.
    tokio::time::timeout(GUARD, monitor.wait_for_live(|n| *n == one + 3))
        .await
        .expect("one connection per new channel");
    drop(clients);
    tokio::time::timeout(GUARD, monitor.wait_for_live(|n| *n == one))
        .await
        .expect("closed connections end their tasks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_mock_stops_every_task() {
    let mock = OrderMock::start().await;
    let monitor = mock.tasks();
    let store = mock.store().clone();
    let health = mock.health().clone();
    let mut client = mock.client();
    let id = client
        .create_order(valid_req())
        .await
        .unwrap()
        .into_inner()
        .order_id;

    // Long-lived calls of every kind, still open at drop.
    let mut watch = client
        .watch_order_status(WatchOrderStatusRequest {
            order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    watch.message().await.unwrap().unwrap();
    let mut hw = mock
        .health_client()
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    hw.message().await.unwrap().unwrap();
    let (tx, rx) = mpsc::unbounded_channel::<OrderAction>();
    let mut bidi = client
        .process_orders(UnboundedReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    tx.send(action(&id, orders_testkit::pb::OrderActionType::Confirm))
        .unwrap();
    bidi.message().await.unwrap().unwrap();
    let confirmed = watch.message().await.unwrap().unwrap();
    assert_eq!(
        confirmed.status(),
        orders_testkit::pb::OrderStatus::Confirmed
    );
    assert!(monitor.live() >= 4);

    let channel_after_drop = mock.new_channel();
    drop(mock);
    tokio::time::timeout(GUARD, monitor.stopped())
        .await
        .expect("every task of the mock ends after drop");
    assert_eq!(monitor.live(), 0);
    assert_eq!(store.watcher_count(), 0);
    assert_eq!(health.watcher_count(), 0);

    // The client side sees the end, not a hang.
    let end = tokio::time::timeout(GUARD, watch.message()).await.unwrap();
    assert!(end.is_err(), "{end:?}");
    assert!(
        tokio::time::timeout(GUARD, bidi.message())
            .await
            .unwrap()
            .is_err()
    );
    // A call on the old channel fails at once: UNAVAILABLE once the channel
    // has seen the connection close, CANCELLED when it raced the close.
    let call = client.get_order(GetOrderRequest {
        order_id: id.clone(),
    });
    let st = tokio::time::timeout(GUARD, call)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(st.code(), Code::Unavailable | Code::Cancelled),
        "{st:?}"
    );
    // A new connection is refused: UNAVAILABLE.
    let st = OrderServiceClient::new(channel_after_drop)
        .get_order(GetOrderRequest { order_id: id })
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::Unavailable, "{st:?}");
    drop(tx);
}

#[tokio::test]
async fn graceful_shutdown_lets_in_flight_calls_finish_then_stops() {
    let mock = OrderMock::start().await;
    let monitor = mock.tasks();
    let mut client = mock.client();
    client.create_order(valid_req()).await.unwrap();
    tokio::time::timeout(GUARD, mock.shutdown(Duration::from_secs(5)))
        .await
        .expect("shutdown completes");
    assert_eq!(monitor.live(), 0);
}
