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
    // A call on the old channel fails at once (the guard turns a hang into a
    // failure). Which error depends on how the call races the close, all
    // client-side: UNAVAILABLE once the channel has seen the connection
    // close, CANCELLED when the stream was reset by it, UNKNOWN "transport
    // error" (broken pipe) when the request was being written as it closed.
    let call = client.get_order(GetOrderRequest {
        order_id: id.clone(),
    });
    let st = tokio::time::timeout(GUARD, call)
        .await
        .unwrap()
        .unwrap_err();
    let raced_write = st.code() == Code::Unknown && st.message() == "transport error";
    assert!(
        matches!(st.code(), Code::Unavailable | Code::Cancelled) || raced_write,
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
async fn graceful_shutdown_lets_in_flight_calls_of_every_pattern_finish_then_stops() {
    use orders_testkit::fault::Fault;
    use orders_testkit::pb::{LineItem, OrderActionType};
    use orders_testkit::rpc::GetOrder;
    use orders_testkit::service::health::ServingStatus;

    let mock = OrderMock::start().await;
    let monitor = mock.tasks();
    let health = mock.health().clone();
    let mut client = mock.client();
    let id = client
        .create_order(valid_req())
        .await
        .unwrap()
        .into_inner()
        .order_id;
    let other = client
        .create_order(valid_req())
        .await
        .unwrap()
        .into_inner()
        .order_id;
    mock.inject(Fault::delay(Duration::from_millis(300)).on(GetOrder));

    // One call of each pattern in flight.
    let unary = tokio::spawn({
        let mut c = client.clone();
        let id = id.clone();
        async move { c.get_order(GetOrderRequest { order_id: id }).await }
    });
    let mut watch = client
        .watch_order_status(WatchOrderStatusRequest {
            order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    watch.message().await.unwrap().unwrap();
    let (items_tx, items_rx) = mpsc::unbounded_channel::<LineItem>();
    let submit = tokio::spawn({
        let mut c = client.clone();
        async move {
            c.submit_line_items(UnboundedReceiverStream::new(items_rx))
                .await
        }
    });
    let (actions_tx, actions_rx) = mpsc::unbounded_channel::<OrderAction>();
    actions_tx
        .send(action(&other, OrderActionType::Confirm))
        .unwrap();
    let mut results = client
        .process_orders(UnboundedReceiverStream::new(actions_rx))
        .await
        .unwrap()
        .into_inner();
    results.message().await.unwrap().unwrap();
    mock.journal()
        .wait_until(|calls| {
            calls
                .iter()
                .filter(|c| c.outcome == orders_testkit::journal::Outcome::InFlight)
                .count()
                >= 4
        })
        .await;

    // Shutdown begins (NOT_SERVING, no new connections) with all four open.
    let mut shutdown = Box::pin(mock.shutdown(Duration::from_secs(5)));
    assert!(futures_util::poll!(shutdown.as_mut()).is_pending());
    assert_eq!(health.status(""), Some(ServingStatus::NotServing));

    // Each other call finishes normally during the grace period.
    assert!(
        unary.await.unwrap().is_ok(),
        "the delayed unary call finished"
    );
    items_tx.send(item("p", 2, 3)).unwrap();
    drop(items_tx);
    let total = submit.await.unwrap().unwrap().into_inner();
    assert_eq!((total.item_count, total.total_cents), (1, 6));
    actions_tx
        .send(action(&other, OrderActionType::Ship))
        .unwrap();
    drop(actions_tx);
    assert!(results.message().await.unwrap().unwrap().success);
    assert!(results.message().await.unwrap().is_none(), "bidi ended OK");
    // The watch, which never ends on its own, ended when shutdown began.
    let end = watch.message().await.unwrap_err();
    assert_eq!(end.code(), Code::Unavailable, "{end:?}");

    tokio::time::timeout(GUARD, shutdown)
        .await
        .expect("shutdown completes once the calls are done");
    assert_eq!(monitor.live(), 0);
}

/// Shutdown ends open watches at once with UNAVAILABLE, while a call being
/// answered finishes within the grace (virtual time: without the end, the
/// shutdown would wait its whole hour of grace).
#[tokio::test(start_paused = true)]
async fn shutdown_ends_open_watches_at_once_and_lets_answers_finish() {
    use orders_testkit::prelude::*;
    use std::time::Duration;
    use tokio_stream::StreamExt;

    let mock = OrderMock::start().await;
    let id = mock.seed_order(Order::default());
    let mut watch = mock
        .client()
        .watch_order_status(WatchOrderStatusRequest {
            order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(watch.next().await.unwrap().is_ok(), "the current status");
    mock.inject(Fault::delay(Duration::from_secs(1)).on(GetOrder));
    let mut client = mock.client();
    let slow = tokio::spawn(async move {
        client
            .get_order(GetOrderRequest { order_id: id })
            .await
            .map(|r| r.into_inner().status())
    });
    mock.journal()
        .await_calls(GetOrder, 1, Duration::from_secs(5))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    mock.shutdown(Duration::from_secs(3600)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let end = watch.next().await.unwrap().unwrap_err();
    assert_eq!(end.code(), tonic::Code::Unavailable);
    assert_eq!(end.message(), "the server is shutting down");
    assert_eq!(slow.await.unwrap().unwrap(), OrderStatus::Pending);
}
