//! Calls the test drives live (`OrderMock::live`): a watch whose next
//! status the test pushes when it chooses, a bidi session answered action
//! by action, the client's half-close and cancellation observed, a reset,
//! clear errors on timeouts, and what the test sends held to the contract.
//! On tokio's paused clock: "not before" is checked in virtual time.

use std::time::Duration;

use orders_testkit::mock::Answerer;
use orders_testkit::mock::live::LiveError;
use orders_testkit::prelude::*;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

fn update(from: OrderStatus, to: OrderStatus) -> OrderStatusUpdate {
    OrderStatusUpdate {
        order_id: "o-1".into(),
        previous_status: from.into(),
        status: to.into(),
        ..Default::default()
    }
}

/// The client forwards what it sees to a channel the test can look into.
fn watch_into_channel(
    mock: &OrderMock,
) -> tokio::sync::mpsc::UnboundedReceiver<Result<OrderStatus, tonic::Code>> {
    let (seen_tx, seen) = tokio::sync::mpsc::unbounded_channel();
    let mut client = mock.client();
    tokio::spawn(async move {
        let req = WatchOrderStatusRequest {
            order_id: "o-1".into(),
        };
        let mut stream = match client.watch_order_status(req).await {
            Ok(res) => res.into_inner(),
            Err(st) => {
                let _ = seen_tx.send(Err(st.code()));
                return;
            }
        };
        while let Some(item) = stream.next().await {
            let _ = seen_tx.send(item.map(|u| u.status()).map_err(|st| st.code()));
        }
    });
    seen
}

#[tokio::test(start_paused = true)]
async fn live_watch_shows_shipped_when_the_test_pushes_it_and_not_before() {
    let mock = OrderMock::start().await;
    let watches = mock.live(WatchOrderStatus);
    let mut seen = watch_into_channel(&mock);
    let mut call = watches.next().await.expect("the watch arrives");
    assert_eq!(call.request().order_id, "o-1");
    call.send(update(OrderStatus::Unspecified, OrderStatus::Pending))
        .unwrap();
    assert_eq!(seen.recv().await, Some(Ok(OrderStatus::Pending)));

    // An hour of virtual time: the client sees nothing the test did not send.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(
        seen.try_recv().is_err(),
        "nothing before the test pushes it"
    );

    call.send(update(OrderStatus::Pending, OrderStatus::Shipped))
        .unwrap();
    assert_eq!(seen.recv().await, Some(Ok(OrderStatus::Shipped)));
    call.send(update(OrderStatus::Shipped, OrderStatus::Delivered))
        .unwrap();
    call.finish().unwrap();
    assert_eq!(seen.recv().await, Some(Ok(OrderStatus::Delivered)));
    assert_eq!(seen.recv().await, None, "the stream ended OK");

    let calls = mock.journal().wait_for_ended(1).await;
    assert_eq!(calls[0].answered_by(), [Answerer::Live]);
    mock.verify().assert_ok();
}

#[tokio::test(start_paused = true)]
async fn live_bidi_answers_each_action_when_the_test_decides() {
    let mock = OrderMock::start().await;
    let sessions = mock.live(ProcessOrders);
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let mut client = mock.client();
    let mut results = client
        .process_orders(ReceiverStream::new(rx))
        .await
        .map(tonic::Response::into_inner);
    let mut call = sessions.next().await.unwrap();
    for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
        tx.send(OrderAction {
            order_id: id.into(),
            action: OrderActionType::Confirm.into(),
        })
        .await
        .unwrap();
        let action = call.recv().await.unwrap().expect("an action");
        assert_eq!(action.order_id, id);
        // The answer waits for the test, however long.
        tokio::time::sleep(Duration::from_secs(60)).await;
        call.send(OrderResult {
            order_id: action.order_id.clone(),
            success: i != 1,
            error: if i == 1 {
                "FAILED_PRECONDITION: b is shipped".into()
            } else {
                String::new()
            },
            status: OrderStatus::Confirmed.into(),
        })
        .unwrap();
        let got = results.as_mut().unwrap().message().await.unwrap().unwrap();
        assert_eq!((got.order_id.as_str(), got.success), (id, i != 1));
    }
    drop(tx);
    call.half_closed().await.unwrap();
    assert!(call.recv().await.unwrap().is_none());
    call.finish().unwrap();
    assert!(results.unwrap().message().await.unwrap().is_none());
    mock.verify().assert_ok();
}

#[tokio::test(start_paused = true)]
async fn live_call_observes_the_clients_half_close() {
    let mock = OrderMock::start().await;
    let submits = mock.live(SubmitLineItems);
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let mut client = mock.client();
    let asking =
        tokio::spawn(async move { client.submit_line_items(ReceiverStream::new(rx)).await });
    let mut call = submits.next().await.unwrap();
    let item = LineItem {
        product_id: "p".into(),
        quantity: 2,
        price_cents: 150,
    };
    tx.send(item.clone()).await.unwrap();
    assert_eq!(call.recv().await.unwrap(), Some(item));
    drop(tx);
    call.half_closed().await.expect("the client half-closed");
    call.respond(SubmitLineItemsResponse {
        item_count: 1,
        total_cents: 300,
    })
    .unwrap();
    let answer = asking.await.unwrap().unwrap().into_inner();
    assert_eq!(answer.total_cents, 300);
    let calls = mock.journal().wait_for_ended(1).await;
    assert!(
        matches!(
            calls[0].client_end,
            Some(orders_testkit::journal::ClientEnd::HalfClosed { .. })
        ),
        "{:?}",
        calls[0].client_end
    );
}

#[tokio::test(start_paused = true)]
async fn live_call_observes_the_clients_cancellation() {
    let mock = OrderMock::start().await;
    let watches = mock.live(WatchOrderStatus);
    let mut client = mock.client();
    let watching = tokio::spawn(async move {
        let req = WatchOrderStatusRequest {
            order_id: "o-1".into(),
        };
        let mut stream = client.watch_order_status(req).await.unwrap().into_inner();
        stream.next().await
    });
    let mut call = watches.next().await.unwrap();
    call.send(update(OrderStatus::Unspecified, OrderStatus::Pending))
        .unwrap();
    assert!(watching.await.unwrap().is_some());
    // The client task ended: its stream was dropped, the call cancelled.
    call.cancelled().await.expect("the client cancelled");
    let err = call
        .send(update(OrderStatus::Pending, OrderStatus::Shipped))
        .unwrap_err();
    assert!(matches!(err, LiveError::Gone { .. }), "{err}");
}

#[tokio::test(start_paused = true)]
async fn live_bidi_read_fails_clearly_when_the_client_cancels() {
    let mock = OrderMock::start().await;
    let sessions = mock.live(ProcessOrders);
    let (tx, rx) = tokio::sync::mpsc::channel::<OrderAction>(8);
    let mut client = mock.client();
    let talking = tokio::spawn(async move { client.process_orders(ReceiverStream::new(rx)).await });
    let mut call = sessions.next().await.unwrap();
    talking.abort();
    let _ = talking.await;
    drop(tx);
    call.cancelled().await.expect("the cancel is seen");
    // Not a half-close: the read says the client ended its stream.
    match call.recv().await {
        Err(err @ LiveError::ClientGone { .. }) => {
            assert!(err.to_string().contains("ended its stream"), "{err}");
        }
        other => panic!("a read after the cancel gives {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn live_waits_fail_clearly_instead_of_hanging() {
    let mock = OrderMock::start().await;
    let watches = mock
        .live(WatchOrderStatus)
        .within(Duration::from_millis(300));
    let err = watches.next().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "no WatchOrderStatus call arrived within 300ms (wait longer with Live::within, or check that the client made the call)"
    );
    let _seen = watch_into_channel(&mock);
    let call = watches.next().await.unwrap();
    let err = call.cancelled().await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the client of live WatchOrderStatus call 1 did not go away within 300ms"),
        "{err}"
    );
    let submits = mock
        .live(SubmitLineItems)
        .within(Duration::from_millis(300));
    let (_tx, rx) = tokio::sync::mpsc::channel::<LineItem>(1);
    let mut client = mock.client();
    tokio::spawn(async move { client.submit_line_items(ReceiverStream::new(rx)).await });
    let mut call = submits.next().await.unwrap();
    let err = call.half_closed().await.unwrap_err();
    assert!(
        err.to_string().contains("sent nothing within 300ms"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn live_reset_reaches_the_client_as_a_transport_failure() {
    let mock = OrderMock::start().await;
    let watches = mock.live(WatchOrderStatus);
    let mut seen = watch_into_channel(&mock);
    let mut call = watches.next().await.unwrap();
    call.send(update(OrderStatus::Unspecified, OrderStatus::Pending))
        .unwrap();
    assert_eq!(seen.recv().await, Some(Ok(OrderStatus::Pending)));
    call.reset().unwrap();
    let end = seen.recv().await.expect("the stream ends with an error");
    let code = end.unwrap_err();
    // tonic reports a RST_STREAM as one of these, never as a status the
    // server wrote (it wrote none).
    assert!(
        matches!(
            code,
            tonic::Code::Internal | tonic::Code::Unknown | tonic::Code::Cancelled
        ),
        "{code:?}"
    );
    let calls = mock.journal().wait_for_ended(1).await;
    // No status was sent: the journal says so.
    assert_eq!(calls[0].outcome, orders_testkit::journal::Outcome::NoStatus);
}

#[tokio::test(start_paused = true)]
async fn live_sends_are_held_to_the_contract_unless_off_contract() {
    let mock = OrderMock::start().await;
    {
        let gets = mock.live(GetOrder);
        let mut client = mock.client();
        let asking =
            tokio::spawn(async move { client.get_order(GetOrderRequest::default()).await });
        // NOT_FOUND without its ResourceInfo breaks E-3.
        gets.next()
            .await
            .unwrap()
            .fail(tonic::Status::not_found("gone"))
            .unwrap();
        assert_eq!(
            asking.await.unwrap().unwrap_err().code(),
            tonic::Code::NotFound
        );
    }
    let report = mock.verify();
    assert!(!report.is_ok());
    let text = report.to_string();
    assert!(
        text.contains("live GetOrder call answered off contract: E-3"),
        "{text}"
    );

    let other = OrderMock::start().await;
    let gets = other.live(GetOrder).off_contract();
    let mut client = other.client();
    let asking = tokio::spawn(async move { client.get_order(GetOrderRequest::default()).await });
    gets.next()
        .await
        .unwrap()
        .fail(tonic::Status::not_found("gone"))
        .unwrap();
    let _ = asking.await;
    other.verify().assert_ok();
    std::mem::forget(mock); // its failing verify was the point
}

#[tokio::test(start_paused = true)]
async fn calls_go_back_to_the_model_when_the_tap_is_dropped() {
    let mock = OrderMock::start().await;
    let gets = mock.live(GetOrder);
    let mut client = mock.client();
    let waiting = tokio::spawn({
        let mut client = client.clone();
        async move { client.get_order(GetOrderRequest::default()).await }
    });
    // Let the call reach the tap, then stop driving GetOrder.
    for _ in 0..10_000 {
        if gets.waiting() > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(gets.waiting(), 1, "the call reached the tap");
    drop(gets);
    let err = waiting.await.unwrap().unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert!(
        err.message().contains("stopped driving"),
        "{}",
        err.message()
    );
    // The model answers again: an unknown order is NOT_FOUND.
    let err = client
        .get_order(GetOrderRequest {
            order_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
}
