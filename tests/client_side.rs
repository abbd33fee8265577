//! What a fault sweep and a conduct verdict stand on: the journal sees
//! everything the client did (its messages whoever answered, its
//! half-close, its cancellation, streams it abandoned, the deadline it was
//! itself given), and faults reach every place a call can fail (a lost
//! answer, a client stream cut after k messages applied or not, one action
//! failed in band). One awaiting style for queries, and a warehouse handle
//! a spawned task can own.

mod common;

use std::time::Duration;

use common::{item, valid_req};
use orders_testkit::fault::{FaultFired, Lost};
use orders_testkit::journal::{Call, ClientEnd};
use orders_testkit::prelude::*;
use orders_testkit::service::model::FailureReason;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

const PATIENCE: Duration = Duration::from_secs(10);

fn fired(call: &Call) -> Vec<String> {
    call.notes_of::<FaultFired>().map(|f| f.0.clone()).collect()
}

/// The call `seq` once its client side has ended.
async fn settled(mock: &OrderMock, seq: u64) -> Call {
    let calls = mock
        .journal()
        .await_where(
            "the client's side ended",
            PATIENCE,
            |c| c.seq == seq && c.client_end.is_some() && c.ended.is_some(),
            1,
        )
        .await
        .unwrap();
    calls.into_iter().next().unwrap()
}

fn action(order_id: &str, action: OrderActionType) -> OrderAction {
    OrderAction {
        order_id: order_id.into(),
        action: action as i32,
    }
}

/// `n` new orders, a CONFIRM of each sent on an open ProcessOrders stream
/// (the sender kept, so the stream stays open), and the response stream.
async fn confirming(
    mock: &OrderMock,
    n: usize,
) -> (
    Vec<String>,
    mpsc::Sender<OrderAction>,
    tonic::Streaming<OrderResult>,
) {
    let ids: Vec<String> = (0..n).map(|_| mock.seed_order(Order::default())).collect();
    let (tx, rx) = mpsc::channel(n);
    for id in &ids {
        tx.send(action(id, OrderActionType::Confirm)).await.unwrap();
    }
    let stream = mock
        .client()
        .process_orders(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    (ids, tx, stream)
}

#[tokio::test]
async fn a_call_a_fault_answered_at_once_still_records_what_the_client_sent() {
    let mock = OrderMock::start().await;
    mock.inject(Fault::fail(tonic::Status::unavailable("down")).on(SubmitLineItems));
    let items = vec![item("p1", 1, 1), item("p2", 1, 1), item("p3", 1, 1)];
    let err = mock
        .client()
        .submit_line_items(tokio_stream::iter(items.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let call = settled(&mock, 0).await;
    assert_eq!(call.requests_of(SubmitLineItems), items, "{call}");
    assert!(matches!(
        call.client_end,
        Some(ClientEnd::HalfClosed { .. })
    ));
    assert_eq!(call.outcome.code(), Some(Code::Unavailable));

    // A unary call too.
    mock.inject(Fault::fail(tonic::Status::unavailable("down")).on(CreateOrder));
    let _ = mock.client().create_order(valid_req()).await.unwrap_err();
    let call = settled(&mock, 1).await;
    assert_eq!(call.requests_of(CreateOrder), [valid_req()]);
}

#[tokio::test]
async fn a_client_stream_cut_after_two_of_three_items_shows_three_sent_two_applied_and_the_status()
{
    let mock = OrderMock::start().await;
    mock.inject(Fault::cut_after_applied(2, tonic::Status::unavailable("cut")).on(SubmitLineItems));
    let items = vec![item("p1", 1, 1), item("p2", 1, 1), item("p3", 1, 1)];
    let err = mock
        .client()
        .submit_line_items(tokio_stream::iter(items.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let call = settled(&mock, 0).await;
    assert_eq!(call.requests_of(SubmitLineItems), items, "sent: {call}");
    assert_eq!(
        fired(&call),
        ["cut after 2 request messages applied"],
        "applied: {call}"
    );
    assert_eq!(call.outcome.code(), Some(Code::Unavailable));
}

#[tokio::test]
async fn process_orders_cut_after_two_actions_applies_two_or_none() {
    for applied in [true, false] {
        let mock = OrderMock::start().await;
        let ids: Vec<String> = (0..3).map(|_| mock.seed_order(Order::default())).collect();
        let status = tonic::Status::unavailable("cut");
        mock.inject(
            if applied {
                Fault::cut_after_applied(2, status)
            } else {
                Fault::cut_after_unapplied(2, status)
            }
            .on(ProcessOrders),
        );
        let actions: Vec<_> = ids
            .iter()
            .map(|id| action(id, OrderActionType::Confirm))
            .collect();
        let (tx, rx) = mpsc::channel(3);
        for a in actions {
            tx.send(a).await.unwrap();
        }
        let mut results = vec![];
        let end = match mock.client().process_orders(ReceiverStream::new(rx)).await {
            Ok(res) => {
                let mut stream = res.into_inner();
                loop {
                    match stream.next().await {
                        Some(Ok(r)) => results.push(r),
                        Some(Err(st)) => break st.code(),
                        None => break Code::Ok,
                    }
                }
            }
            Err(st) => st.code(),
        };
        drop(tx);
        assert_eq!(end, Code::Unavailable, "applied {applied}");
        let confirmed: Vec<_> = ids
            .iter()
            .map(|id| mock.warehouse().status(id) == Some(OrderStatus::Confirmed))
            .collect();
        let want = if applied { 2 } else { 0 };
        assert_eq!(results.len(), want, "results, applied {applied}");
        assert_eq!(
            confirmed,
            [want > 0, want > 1, false],
            "applied {applied}: {}",
            mock.journal().render()
        );
    }
}

#[tokio::test]
async fn one_action_fails_in_band_and_the_abandoned_stream_is_named_with_when() {
    let mock = OrderMock::start().await;
    mock.inject(Fault::fail_action(2, FailureReason::FailedPrecondition));
    let (ids, tx, mut stream) = confirming(&mock, 3).await;
    let mut results = vec![];
    for _ in 0..3 {
        results.push(stream.next().await.unwrap().unwrap());
    }
    assert!(results[0].success && results[2].success);
    assert!(!results[1].success);
    assert!(
        results[1].error.starts_with("FAILED_PRECONDITION: "),
        "{:?}",
        results[1]
    );
    assert_eq!(results[1].status(), OrderStatus::Pending, "unchanged");
    assert_eq!(mock.warehouse().status(&ids[1]), Some(OrderStatus::Pending));
    // The client stops here: it neither half-closes nor cancels.
    let abandoned = mock
        .journal()
        .await_where(
            "an abandoned call",
            PATIENCE,
            |c| c.abandoned(Duration::ZERO).is_some(),
            1,
        )
        .await
        .unwrap();
    let call = &abandoned[0];
    let when = call.abandoned(Duration::ZERO).unwrap();
    assert_eq!(Some(when), call.last_request_at, "when: its last message");
    assert_eq!(call.requests_of(ProcessOrders).len(), 3);
    assert_eq!(
        fired(call),
        ["action 2 failed in band: FAILED_PRECONDITION"]
    );
    assert!(call.to_string().contains("client stream open"), "{call}");
    drop((tx, stream));
}

#[tokio::test]
async fn a_client_that_cancels_after_two_actions_is_recorded_so() {
    let mock = OrderMock::start().await;
    let (_, tx, mut stream) = confirming(&mock, 2).await;
    for _ in 0..2 {
        stream.next().await.unwrap().unwrap();
    }
    // Cancel: drop the response stream and the request sender.
    drop((stream, tx));
    let call = settled(&mock, 0).await;
    assert!(
        matches!(call.client_end, Some(ClientEnd::Cancelled { .. })),
        "{call}"
    );
    assert_eq!(call.cancelled_after(), Some(2));
}

#[tokio::test]
async fn the_lost_answer_makes_a_retry_without_its_key_create_twice_and_with_it_once() {
    for reuse_key in [false, true] {
        let mock = OrderMock::start().await;
        mock.inject(
            Fault::lose_answer(Lost::Status(tonic::Status::unavailable("connection lost")))
                .on(CreateOrder)
                .first(1),
        );
        let mut key = 0;
        let mut attempt = || {
            if !reuse_key {
                key += 1;
            }
            let mut req = tonic::Request::new(valid_req());
            req.metadata_mut()
                .insert("idempotency-key", format!("k-{key}").parse().unwrap());
            req
        };
        let first = mock.client().create_order(attempt()).await;
        assert_eq!(first.unwrap_err().code(), Code::Unavailable);
        let retry = mock.client().create_order(attempt()).await.unwrap();
        let stored = mock.warehouse().order(&retry.get_ref().order_id);
        assert!(stored.is_some());
        let want = if reuse_key { 1 } else { 2 };
        assert_eq!(
            mock.store().order_count(),
            want,
            "reuse {reuse_key}: {}",
            mock.journal().render()
        );
        let calls = mock
            .journal()
            .await_calls(CreateOrder, 2, PATIENCE)
            .await
            .unwrap();
        assert!(fired(&calls[0])[0].starts_with("answer lost"));
    }
}

#[tokio::test]
async fn lost_answers_end_as_chosen() {
    let mock = OrderMock::start().await;
    for (then, code) in [
        (Lost::Reset, Code::Internal),
        (Lost::Silence, Code::DeadlineExceeded),
    ] {
        mock.inject(Fault::lose_answer(then).on(CreateOrder).first(1));
        let mut req = tonic::Request::new(valid_req());
        req.set_timeout(Duration::from_millis(200));
        let err = mock.client().create_order(req).await.unwrap_err();
        // A reset reads as INTERNAL or CANCELLED depending on the client;
        // silence ends at the deadline (tonic's own timer may say
        // CANCELLED first).
        let ok = err.code() == code || err.code() == Code::Cancelled;
        assert!(ok, "{err:?}");
        mock.faults().clear();
    }
    assert_eq!(mock.store().order_count(), 2, "both were created");
}

#[tokio::test]
async fn the_deadline_the_code_was_given_is_recorded_by_scope_and_by_header() {
    let mock = OrderMock::start().await;
    let scope = mock.journal().given_deadline(Duration::from_secs(2));
    let mut req = tonic::Request::new(GetOrderRequest {
        order_id: "o-1".into(),
    });
    req.set_timeout(Duration::from_secs(5));
    let _ = mock.client().get_order(req).await;
    drop(scope);
    let mut req = tonic::Request::new(GetOrderRequest {
        order_id: "o-2".into(),
    });
    req.metadata_mut().insert(
        orders_testkit::journal::GIVEN_TIMEOUT,
        "750m".parse().unwrap(),
    );
    let _ = mock.client().get_order(req).await;
    let _ = mock
        .client()
        .get_order(GetOrderRequest {
            order_id: "o-3".into(),
        })
        .await;
    let calls = mock.journal().wait_for_ended(3).await;
    let given = calls[0].given_deadline.unwrap();
    assert!(given <= Duration::from_secs(2) && given > Duration::from_secs(1));
    assert!(
        calls[0].deadline.unwrap() > given,
        "longer than it was given"
    );
    assert_eq!(calls[1].given_deadline, Some(Duration::from_millis(750)));
    assert_eq!(calls[2].given_deadline, None, "outside the scope");
}

#[tokio::test]
async fn every_rpc_can_be_awaited_with_a_count_and_a_timeout() {
    let mock = OrderMock::start().await;
    let id = mock.seed_order(Order::default());
    let warehouse = mock.warehouse();
    let client = mock.client();
    // The code under test watches in a task of its own.
    let watching = tokio::spawn({
        let (mut client, id) = (client.clone(), id.clone());
        async move {
            let mut s = client
                .watch_order_status(WatchOrderStatusRequest { order_id: id })
                .await
                .unwrap()
                .into_inner();
            let mut seen = vec![];
            while let Some(Ok(u)) = s.next().await {
                seen.push(u.status());
                if u.status() == OrderStatus::Shipped {
                    break;
                }
            }
            seen
        }
    });
    mock.journal()
        .await_calls(WatchOrderStatus, 1, PATIENCE)
        .await
        .unwrap();
    // The warehouse, in a task of its own too.
    tokio::spawn(async move {
        warehouse.advance(&id, OrderActionType::Confirm).unwrap();
        warehouse.advance(&id, OrderActionType::Ship).unwrap();
    })
    .await
    .unwrap();
    assert_eq!(
        watching.await.unwrap(),
        [
            OrderStatus::Pending,
            OrderStatus::Confirmed,
            OrderStatus::Shipped
        ]
    );
    let missing = mock
        .journal()
        .await_calls(SubmitLineItems, 1, Duration::from_millis(20))
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("1 call to SubmitLineItems"));
    assert!(missing.seen.contains("WatchOrderStatus"), "{missing}");
}

/// The same faults from a scenario file and from the admin API's JSON.
#[cfg(feature = "scenario")]
#[tokio::test]
async fn the_new_faults_are_written_in_toml_and_json_too() {
    use orders_testkit::scenario::{Scenario, fault_from_json};

    let scenario = Scenario::parse(
        "faults.toml",
        r#"
[[faults]]
kind = "lose_answer"
rpc = "CreateOrder"
then = "status"
code = "UNAVAILABLE"
first = 1

[[faults]]
kind = "fail_action"
index = 1
reason = "NOT_FOUND"
"#,
    )
    .unwrap();
    let mock = scenario.start().await;
    let lost = mock.client().create_order(valid_req()).await.unwrap_err();
    assert_eq!(lost.code(), Code::Unavailable);
    assert_eq!(mock.store().order_count(), 1, "applied, answer lost");
    let id = mock.seed_order(Order::default());
    let mut results = mock
        .client()
        .process_orders(tokio_stream::iter([action(&id, OrderActionType::Confirm)]))
        .await
        .unwrap()
        .into_inner();
    let r = results.next().await.unwrap().unwrap();
    assert!(r.error.starts_with("NOT_FOUND: "), "{r:?}");
    assert_eq!(r.status(), OrderStatus::Unspecified);

    let cut = fault_from_json(
        r#"{"kind": "cut", "rpc": "SubmitLineItems", "after_messages": 1, "applied": false}"#,
    )
    .unwrap();
    mock.inject(cut);
    let err = mock
        .client()
        .submit_line_items(tokio_stream::iter(vec![item("p", 1, 1), item("q", 1, 1)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let bad = fault_from_json(r#"{"kind": "lose_answer", "then": "later"}"#).unwrap_err();
    assert!(bad.to_string().contains("expected status, reset"), "{bad}");
}
