//! SPEC §5 WatchOrderStatus (W-1 to W-6): server streaming.

mod common;

use std::time::Duration;

use common::*;
use orders_testkit::OrderMock;
use orders_testkit::pb::{
    OrderActionType as A, OrderStatus as S, OrderStatusUpdate, WatchOrderStatusRequest,
};
use tonic::{Code, Streaming};

fn watch_req(id: &str) -> WatchOrderStatusRequest {
    WatchOrderStatusRequest {
        order_id: id.into(),
    }
}

/// Applies actions through ProcessOrders and returns their success flags.
async fn act(mock: &OrderMock, id: &str, actions: &[A]) -> Vec<bool> {
    let msgs = actions.iter().map(|a| action(id, *a)).collect();
    process(mock, msgs)
        .await
        .iter()
        .map(|r| r.success)
        .collect()
}

async fn drain(
    mut s: Streaming<OrderStatusUpdate>,
) -> Result<Vec<OrderStatusUpdate>, tonic::Status> {
    let mut got = vec![];
    while let Some(u) = s.message().await? {
        got.push(u);
    }
    Ok(got)
}

/// W-3: each message's previous_status is the status before it, updated_at moves forward.
/// The first message's previous_status is UNSPECIFIED (W-2) unless the
/// sequence was picked up later (`after`).
fn assert_chain(updates: &[OrderStatusUpdate], statuses: &[S]) {
    assert_chain_after(updates, S::Unspecified, statuses)
}

fn assert_chain_after(updates: &[OrderStatusUpdate], after: S, statuses: &[S]) {
    let got: Vec<S> = updates.iter().map(|u| u.status()).collect();
    assert_eq!(got, statuses);
    assert_eq!(updates[0].previous_status(), after);
    for pair in updates.windows(2) {
        assert_eq!(pair[1].previous_status, pair[0].status);
        assert!(nanos(&pair[1].updated_at) > nanos(&pair[0].updated_at));
    }
}

#[tokio::test]
async fn w1_invalid_and_unknown_ids_fail_before_any_message() {
    let mock = OrderMock::start().await;
    let mut client = mock.client();
    let st = client.watch_order_status(watch_req("")).await.unwrap_err();
    assert_violations(&st, &["order_id"]);
    snapshot_status("w1_empty_order_id", &st);
    let st = client
        .watch_order_status(watch_req(&"o".repeat(129)))
        .await
        .unwrap_err();
    assert_violations(&st, &["order_id"]);
    let st = client
        .watch_order_status(watch_req("ord-nope"))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::NotFound);
    snapshot_status("w1_not_found", &st);
}

#[tokio::test]
async fn w2_first_message_is_current_state() {
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    assert_eq!(act(&mock, &id, &[A::Confirm]).await, [true]);
    let order = mock.store().get(&id).unwrap();
    let mut s = mock
        .client()
        .watch_order_status(watch_req(&id))
        .await
        .unwrap()
        .into_inner();
    let first = s.message().await.unwrap().unwrap();
    assert_eq!(first.order_id, id);
    assert_eq!(first.status(), S::Confirmed);
    assert_eq!(first.previous_status(), S::Unspecified);
    assert_eq!(first.updated_at, order.updated_at);
}

#[tokio::test]
async fn w3_every_change_in_order_none_skipped() {
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    let s = mock
        .client()
        .watch_order_status(watch_req(&id))
        .await
        .unwrap()
        .into_inner();
    // Failed actions in between produce no message.
    let flags = act(
        &mock,
        &id,
        &[A::Confirm, A::Confirm, A::Ship, A::Cancel, A::Deliver],
    )
    .await;
    assert_eq!(flags, [true, false, true, false, true]);
    let updates = drain(s).await.unwrap();
    assert_chain(
        &updates,
        &[S::Pending, S::Confirmed, S::Shipped, S::Delivered],
    );
    let order = mock.store().get(&id).unwrap();
    assert_eq!(updates.last().unwrap().updated_at, order.updated_at);
}

#[tokio::test]
async fn w4_terminal_status_ends_with_ok() {
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    let s = mock
        .client()
        .watch_order_status(watch_req(&id))
        .await
        .unwrap()
        .into_inner();
    act(&mock, &id, &[A::Cancel]).await;
    let updates = drain(s).await.expect("the call ends with OK");
    assert_chain(&updates, &[S::Pending, S::Cancelled]);
}

#[tokio::test]
async fn w4_already_terminal_gets_one_message_then_ok() {
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    act(&mock, &id, &[A::Confirm, A::Ship, A::Deliver]).await;
    let s = mock
        .client()
        .watch_order_status(watch_req(&id))
        .await
        .unwrap()
        .into_inner();
    let updates = drain(s).await.unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].status(), S::Delivered);
    assert_eq!(mock.store().watcher_count(), 0);
}

#[tokio::test]
async fn w5_w6_many_watchers_same_sequence_one_cancelled_midway() {
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    let mut watchers = vec![];
    for _ in 0..5 {
        let mut s = mock
            .client()
            .watch_order_status(watch_req(&id))
            .await
            .unwrap()
            .into_inner();
        // Each has its first message: all five are subscribed.
        assert_eq!(s.message().await.unwrap().unwrap().status(), S::Pending);
        watchers.push(s);
    }
    assert_eq!(mock.store().watcher_count(), 5);
    act(&mock, &id, &[A::Confirm]).await;

    // Cancel one midway: the server releases it at once.
    let mut cancelled = watchers.remove(2);
    assert_eq!(
        cancelled.message().await.unwrap().unwrap().status(),
        S::Confirmed
    );
    drop(cancelled);
    mock.store().wait_for_watchers(|n| *n == 4).await;

    act(&mock, &id, &[A::Ship, A::Deliver]).await;
    let mut sequences = vec![];
    for s in watchers {
        // Slow watchers: nothing was read since the first message; nothing is lost.
        sequences.push(drain(s).await.unwrap());
    }
    for seq in &sequences {
        assert_chain_after(seq, S::Pending, &[S::Confirmed, S::Shipped, S::Delivered]);
        assert_eq!(seq, &sequences[0]);
    }
    assert_eq!(mock.store().watcher_count(), 0);
}

#[tokio::test]
async fn w6_deadline_releases_watcher_others_unaffected() {
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    let mut short = tonic::Request::new(watch_req(&id));
    short.set_timeout(Duration::from_millis(100));
    let mut short = mock
        .client()
        .watch_order_status(short)
        .await
        .unwrap()
        .into_inner();
    let long = mock
        .client()
        .watch_order_status(watch_req(&id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(short.message().await.unwrap().unwrap().status(), S::Pending);
    let st = short.message().await.unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded);
    mock.store().wait_for_watchers(|n| *n == 1).await;
    act(&mock, &id, &[A::Cancel]).await;
    assert_chain(&drain(long).await.unwrap(), &[S::Pending, S::Cancelled]);
}

#[tokio::test]
async fn w5_more_watchers_on_one_channel_than_hyper_default_stream_limit() {
    // hyper allows 200 concurrent streams per connection unless told more.
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    let mut streams = vec![];
    for _ in 0..300 {
        let mut s = tokio::time::timeout(GUARD, mock.client().watch_order_status(watch_req(&id)))
            .await
            .expect("a stream slot")
            .unwrap()
            .into_inner();
        s.message().await.unwrap().unwrap();
        streams.push(s);
    }
    act(&mock, &id, &[A::Cancel]).await;
    for s in streams {
        assert_eq!(drain(s).await.unwrap().len(), 1);
    }
}
