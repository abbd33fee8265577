//! SPEC §8 deadlines and cancellation (D-1 to D-4), all four patterns.

mod common;

use std::time::Duration;

use common::*;
use orders_testkit::OrderMock;
use orders_testkit::pb::{
    GetOrderRequest, LineItem, OrderAction, OrderActionType as A, OrderStatus as S,
    WatchOrderStatusRequest,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, UnboundedReceiverStream};
use tonic::{Code, Request};

/// A request carrying `grpc-timeout` in milliseconds. tonic's client also
/// enforces it and reports `CANCELLED "Timeout expired"` when its timer wins
/// before response headers arrive (see
/// `d1_tonic_client_timeout_reports_cancelled_only_after_deadline`); tests
/// of what the server says at the deadline use `raw_client` where that race
/// exists.
fn timed<T>(msg: T, ms: u64) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut()
        .insert("grpc-timeout", format!("{ms}m").parse().unwrap());
    req
}

#[tokio::test]
async fn d1_unary_with_no_time_left_is_deadline_exceeded_and_does_nothing() {
    let mock = OrderMock::start().await;
    let st = mock
        .client()
        .create_order(timed(valid_req(), 0))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded);
    assert!(!st.message().is_empty());
    assert_eq!(mock.store().order_count(), 0, "D-4: nothing half-done");
    snapshot_status("d1_deadline_exceeded", &st);
}

#[tokio::test]
async fn d1_server_stream_cut_at_deadline() {
    let mock = OrderMock::start().await;
    let id = mock
        .client()
        .create_order(valid_req())
        .await
        .unwrap()
        .into_inner()
        .order_id;
    let req = timed(WatchOrderStatusRequest { order_id: id }, 80);
    let mut s = mock
        .client()
        .watch_order_status(req)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.message().await.unwrap().unwrap().status(), S::Pending);
    let st = tokio::time::timeout(GUARD, s.message())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded, "not CANCELLED: {st:?}");
}

#[tokio::test]
async fn d1_client_stream_cut_at_deadline() {
    let mock = OrderMock::start().await;
    let (tx, rx) = mpsc::channel::<LineItem>(1);
    tx.send(item("p", 1, 1)).await.unwrap();
    // Over a bare HTTP/2 client: tonic's own client timer would race the server.
    let mut client = raw_client(&mock).await;
    let call = client.submit_line_items(timed(ReceiverStream::new(rx), 80));
    let st = tokio::time::timeout(GUARD, call)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded, "not CANCELLED: {st:?}");
    drop(tx);
}

#[tokio::test]
async fn d1_bidi_stream_cut_at_deadline() {
    let mock = OrderMock::start().await;
    let id = mock
        .client()
        .create_order(valid_req())
        .await
        .unwrap()
        .into_inner()
        .order_id;
    let (tx, rx) = mpsc::unbounded_channel::<OrderAction>();
    let mut out = mock
        .client()
        .process_orders(timed(UnboundedReceiverStream::new(rx), 80))
        .await
        .unwrap()
        .into_inner();
    tx.send(action(&id, A::Confirm)).unwrap();
    assert!(out.message().await.unwrap().unwrap().success);
    let st = tokio::time::timeout(GUARD, out.message())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded, "not CANCELLED: {st:?}");
    drop(tx);
}

#[tokio::test]
async fn d1_tonic_client_timeout_reports_cancelled_only_after_deadline() {
    // With tonic's own client timeout, a client-streaming call may end with
    // tonic's CANCELLED "Timeout expired" rather than the server's
    // DEADLINE_EXCEEDED; either way it is not before the deadline.
    let mock = OrderMock::start().await;
    let (tx, rx) = mpsc::channel::<LineItem>(1);
    let mut req = Request::new(ReceiverStream::new(rx));
    req.set_timeout(Duration::from_millis(80));
    let started = tokio::time::Instant::now();
    let mut client = mock.client();
    let st = tokio::time::timeout(GUARD, client.submit_line_items(req))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(st.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{st:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(80));
    drop(tx);
}

#[tokio::test]
async fn d2_fail_fast_below_threshold_does_nothing() {
    let mock = OrderMock::builder()
        .fail_fast(Duration::from_millis(500))
        .start()
        .await;
    let mut client = mock.client();
    let st = client
        .create_order(timed(valid_req(), 100))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded);
    assert!(st.message().contains("insufficient time remaining"));
    assert_eq!(mock.store().order_count(), 0);
    // Fail-fast comes before validation.
    let st = client
        .create_order(timed(create_req("", vec![]), 100))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded);
    // Every RPC, streams included.
    let st = client
        .watch_order_status(timed(
            WatchOrderStatusRequest {
                order_id: "x".into(),
            },
            100,
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded);
    let st = client
        .submit_line_items(timed(tokio_stream::iter(vec![item("p", 1, 1)]), 100))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded);
    let st = client
        .process_orders(timed(
            tokio_stream::iter(vec![action("x", A::Confirm)]),
            100,
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded);
    // Enough time, or no deadline at all: served.
    client
        .create_order(timed(valid_req(), 5_000))
        .await
        .unwrap();
    client.create_order(valid_req()).await.unwrap();
    assert_eq!(mock.store().order_count(), 2);
}

#[tokio::test]
async fn d2_fail_fast_payload() {
    let mock = OrderMock::builder()
        .fail_fast(Duration::from_millis(60_000))
        .start()
        .await;
    let st = mock
        .client()
        .get_order(timed(
            GetOrderRequest {
                order_id: "x".into(),
            },
            1,
        ))
        .await
        .unwrap_err();
    // The remaining milliseconds vary; redact them for the snapshot.
    let rendered = tonic::Status::new(
        st.code(),
        st.message().replace(|c: char| c.is_ascii_digit(), "#"),
    );
    snapshot_status("d2_fail_fast", &rendered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d3_cancelled_calls_leave_no_work_and_connection_carries_on() {
    let mock = OrderMock::start().await;
    let monitor = mock.tasks();
    let mut client = mock.client();
    let id = client
        .create_order(valid_req())
        .await
        .unwrap()
        .into_inner()
        .order_id;
    // Idle: the accept loop and the one connection (the create call's own
    // task may take a moment to end).
    let baseline = tokio::time::timeout(GUARD, monitor.wait_for_live(|n| *n == 2))
        .await
        .expect("idle");

    // One call of each streaming pattern, left open, then cancelled.
    let mut watch = client
        .watch_order_status(WatchOrderStatusRequest {
            order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    watch.message().await.unwrap().unwrap();
    let (item_tx, item_rx) = mpsc::channel::<LineItem>(1);
    item_tx.send(item("p", 1, 1)).await.unwrap();
    let mut c2 = client.clone();
    let submit =
        tokio::spawn(async move { c2.submit_line_items(ReceiverStream::new(item_rx)).await });
    let (act_tx, act_rx) = mpsc::unbounded_channel::<OrderAction>();
    let mut bidi = client
        .process_orders(UnboundedReceiverStream::new(act_rx))
        .await
        .unwrap()
        .into_inner();
    act_tx.send(action(&id, A::Confirm)).unwrap();
    assert!(bidi.message().await.unwrap().unwrap().success);
    let busy = tokio::time::timeout(GUARD, monitor.wait_for_live(|n| *n >= baseline + 3))
        .await
        .expect("three calls running");
    assert!(busy >= baseline + 3);
    assert_eq!(mock.store().watcher_count(), 1);

    drop(watch);
    submit.abort();
    drop(bidi);
    drop(act_tx);
    let _ = submit.await;
    tokio::time::timeout(GUARD, monitor.wait_for_live(|n| *n <= baseline))
        .await
        .expect("every cancelled call released");
    tokio::time::timeout(GUARD, mock.store().wait_for_watchers(|n| *n == 0))
        .await
        .expect("the watcher released");
    drop(item_tx);

    // The same connection keeps serving.
    let order = client
        .get_order(GetOrderRequest { order_id: id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(order.status(), S::Confirmed);
}

#[tokio::test]
async fn d4_state_changes_are_whole_or_absent() {
    let mock = OrderMock::start().await;
    let mut client = mock.client();
    let id = client
        .create_order(valid_req())
        .await
        .unwrap()
        .into_inner()
        .order_id;
    let created = mock.store().get(&id).unwrap();
    // An action sent, then the call cancelled before reading its result.
    let (tx, rx) = mpsc::unbounded_channel::<OrderAction>();
    let out = client
        .process_orders(UnboundedReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    tx.send(action(&id, A::Confirm)).unwrap();
    drop(out);
    drop(tx);
    tokio::time::timeout(GUARD, mock.tasks().wait_for_live(|n| *n <= 2))
        .await
        .expect("the call ended");
    let after = mock.store().get(&id).unwrap();
    match after.status() {
        S::Pending => assert_eq!(after.updated_at, created.updated_at),
        S::Confirmed => assert!(nanos(&after.updated_at) > nanos(&created.updated_at)),
        other => panic!("half a change: {other:?}"),
    }
    // A cut-off CreateOrder creates nothing.
    let before = mock.store().order_count();
    let _ = client
        .create_order(timed(valid_req(), 0))
        .await
        .unwrap_err();
    assert_eq!(mock.store().order_count(), before);
}
