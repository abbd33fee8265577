//! SPEC §6 SubmitLineItems (S-1 to S-4): client streaming.

mod common;

use common::*;
use orders_testkit::OrderMock;
use orders_testkit::pb::LineItem;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

#[tokio::test]
async fn s1_count_and_total_after_half_close() {
    let mock = OrderMock::start().await;
    let items = vec![item("a", 2, 150), item("b", 1, 0), item("c", 10, 7)];
    let res = mock
        .client()
        .submit_line_items(tokio_stream::iter(items))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(res.item_count, 3);
    assert_eq!(res.total_cents, 300 + 70);
}

#[tokio::test]
async fn s1_response_only_after_half_close() {
    let mock = OrderMock::start().await;
    let (tx, rx) = mpsc::channel::<LineItem>(4);
    let mut client = mock.client();
    let call = tokio::spawn(async move { client.submit_line_items(ReceiverStream::new(rx)).await });
    tx.send(item("a", 1, 5)).await.unwrap();
    tx.send(item("b", 1, 6)).await.unwrap();
    // The stream is open: no answer may come, however long we wait (the
    // bound only limits how long the test looks).
    let mut call = call;
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(100), &mut call)
            .await
            .is_err(),
        "answered before the client half-closed"
    );
    drop(tx); // half-close
    let res = call.await.unwrap().unwrap().into_inner();
    assert_eq!((res.item_count, res.total_cents), (2, 11));
}

#[tokio::test]
async fn s2_empty_stream_is_ok_zero() {
    let mock = OrderMock::start().await;
    let res = mock
        .client()
        .submit_line_items(tokio_stream::iter(Vec::<LineItem>::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((res.item_count, res.total_cents), (0, 0));
}

#[tokio::test]
async fn s3_first_invalid_item_names_its_fields_only() {
    let mock = OrderMock::start().await;
    let items = vec![item("ok", 1, 1), item("", 0, -5), item("", 0, 0)];
    let st = mock
        .client()
        .submit_line_items(tokio_stream::iter(items))
        .await
        .unwrap_err();
    assert_violations(
        &st,
        &[
            "items[1].product_id",
            "items[1].quantity",
            "items[1].price_cents",
        ],
    );
    snapshot_status("s3_invalid_item", &st);
}

#[tokio::test]
async fn s3_more_than_1000_items_allowed() {
    let mock = OrderMock::start().await;
    let res = mock
        .client()
        .submit_line_items(tokio_stream::iter(vec![item("p", 1, 1); 2500]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((res.item_count, res.total_cents), (2500, 2500));
}

#[tokio::test]
async fn s3_total_overflow_invalid_argument_on_items() {
    let mock = OrderMock::start().await;
    let mut client = mock.client();
    let edge = client
        .submit_line_items(tokio_stream::iter(vec![
            item("a", 1, i64::MAX - 1),
            item("b", 1, 1),
        ]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(edge.total_cents, i64::MAX);
    let st = client
        .submit_line_items(tokio_stream::iter(vec![
            item("a", 1, i64::MAX),
            item("b", 1, 1),
        ]))
        .await
        .unwrap_err();
    assert_violations(&st, &["items"]);
    snapshot_status("s3_total_overflow", &st);
}

#[tokio::test]
async fn s3_answers_before_half_close() {
    let mock = OrderMock::start().await;
    let (tx, rx) = mpsc::channel::<LineItem>(4);
    tx.send(item("", 1, 1)).await.unwrap();
    // The sender stays open: the error must still arrive.
    let st = mock
        .client()
        .submit_line_items(ReceiverStream::new(rx))
        .await
        .unwrap_err();
    assert_violations(&st, &["items[0].product_id"]);
    drop(tx);
}

#[tokio::test]
async fn s4_stateless() {
    let mock = OrderMock::start().await;
    mock.client()
        .submit_line_items(tokio_stream::iter(vec![item("a", 1, 1)]))
        .await
        .unwrap();
    assert_eq!(mock.store().order_count(), 0);
}
