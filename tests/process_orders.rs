//! SPEC §7 ProcessOrders (P-1 to P-6): bidirectional streaming.

mod common;

use common::*;
use orders_testkit::OrderMock;
use orders_testkit::pb::{OrderAction, OrderActionType as A, OrderStatus as S};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

/// Drives a fresh order to `status` and returns its id.
async fn order_in(mock: &OrderMock, status: S) -> String {
    let id = create(mock).await;
    let path: &[A] = match status {
        S::Pending => &[],
        S::Confirmed => &[A::Confirm],
        S::Shipped => &[A::Confirm, A::Ship],
        S::Delivered => &[A::Confirm, A::Ship, A::Deliver],
        S::Cancelled => &[A::Cancel],
        S::Unspecified => unreachable!(),
    };
    let results = process(mock, path.iter().map(|a| action(&id, *a)).collect()).await;
    assert!(results.iter().all(|r| r.success));
    id
}

#[tokio::test]
async fn p1_one_result_per_action_in_order_as_each_completes() {
    let mock = OrderMock::start().await;
    let ids = [create(&mock).await, create(&mock).await];
    let (tx, rx) = mpsc::unbounded_channel();
    let mut out = mock
        .client()
        .process_orders(UnboundedReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let script = [
        (&ids[0], A::Confirm),
        (&ids[1], A::Cancel),
        (&ids[0], A::Confirm),
        (&ids[1], A::Ship),
    ];
    for (id, a) in script {
        // One action at a time, the stream still open: its result must come.
        tx.send(action(id, a)).unwrap();
        let r = out
            .message()
            .await
            .unwrap()
            .expect("a result before half-close");
        assert_eq!(&r.order_id, id);
    }
    drop(tx);
    assert!(out.message().await.unwrap().is_none());
}

#[tokio::test]
async fn p2_transition_table_is_exact() {
    let mock = OrderMock::start().await;
    let all_status = [
        S::Pending,
        S::Confirmed,
        S::Shipped,
        S::Delivered,
        S::Cancelled,
    ];
    let all_actions = [A::Confirm, A::Ship, A::Deliver, A::Cancel];
    for from in all_status {
        for a in all_actions {
            let expected = match (a, from) {
                (A::Confirm, S::Pending) => Some(S::Confirmed),
                (A::Ship, S::Confirmed) => Some(S::Shipped),
                (A::Deliver, S::Shipped) => Some(S::Delivered),
                (A::Cancel, S::Pending | S::Confirmed) => Some(S::Cancelled),
                _ => None,
            };
            let id = order_in(&mock, from).await;
            let r = &process(&mock, vec![action(&id, a)]).await[0];
            assert_eq!(r.success, expected.is_some(), "{a:?} from {from:?}");
            assert_eq!(r.status(), expected.unwrap_or(from), "{a:?} from {from:?}");
            assert_eq!(mock.store().get(&id).unwrap().status(), r.status());
        }
    }
}

#[tokio::test]
async fn p3_success_moves_updated_at_forward() {
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    let mut last = nanos(&mock.store().get(&id).unwrap().updated_at);
    for a in [A::Confirm, A::Ship, A::Deliver] {
        let r = &process(&mock, vec![action(&id, a)]).await[0];
        assert!(r.success);
        assert!(r.error.is_empty());
        let now = nanos(&mock.store().get(&id).unwrap().updated_at);
        assert!(now > last, "updated_at must be strictly later");
        last = now;
    }
}

#[tokio::test]
async fn p4_failures_keep_the_stream_and_explain() {
    let mock = OrderMock::start().await;
    let confirmed = order_in(&mock, S::Confirmed).await;
    let results = process(
        &mock,
        vec![
            action("", A::Confirm),
            action(&"x".repeat(129), A::Confirm),
            action(&confirmed, A::Unspecified),
            OrderAction {
                order_id: confirmed.clone(),
                action: 99,
            },
            OrderAction {
                order_id: "ord-missing".into(),
                action: 99,
            },
            action("ord-missing", A::Confirm),
            action(&confirmed, A::Confirm),
            action(&confirmed, A::Deliver),
            action(&confirmed, A::Ship), // the stream still works
        ],
    )
    .await;
    let summary: Vec<(bool, S, &str)> = results
        .iter()
        .map(|r| (r.success, r.status(), r.error.split(':').next().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            (false, S::Unspecified, "INVALID_ARGUMENT"),
            (false, S::Unspecified, "INVALID_ARGUMENT"),
            (false, S::Confirmed, "INVALID_ARGUMENT"),
            (false, S::Confirmed, "INVALID_ARGUMENT"),
            (false, S::Unspecified, "INVALID_ARGUMENT"),
            (false, S::Unspecified, "NOT_FOUND"),
            (false, S::Confirmed, "FAILED_PRECONDITION"),
            (false, S::Confirmed, "FAILED_PRECONDITION"),
            (true, S::Shipped, ""),
        ]
    );
    for r in &results[..8] {
        let (reason, words) = r.error.split_once(": ").expect("<REASON>: <words>");
        assert!(!reason.is_empty() && !words.is_empty());
    }
    let text: String = results
        .iter()
        .map(|r| format!("{} {:?} {:?}\n", r.success, r.status(), r.error))
        .collect();
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("p4_failure_results", text.replace(&confirmed, "<order>"));
    });
}

#[tokio::test]
async fn p5_empty_stream_ok_no_results() {
    let mock = OrderMock::start().await;
    assert!(process(&mock, vec![]).await.is_empty());
}

#[tokio::test]
async fn p5_ends_ok_after_half_close_and_all_results() {
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    let results = process(&mock, vec![action(&id, A::Confirm), action(&id, A::Ship)]).await;
    assert_eq!(results.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p6_racing_confirms_exactly_one_succeeds() {
    const ORDERS: usize = 150;
    let mock = OrderMock::start().await;
    let mut ids = vec![];
    for _ in 0..ORDERS {
        ids.push(create(&mock).await);
    }
    // Two streams on two connections, each confirming every order.
    let race = |channel: tonic::transport::Channel, ids: Vec<String>| {
        tokio::spawn(async move {
            let mut client =
                orders_testkit::pb::order_service_client::OrderServiceClient::new(channel);
            let actions: Vec<_> = ids.iter().map(|id| action(id, A::Confirm)).collect();
            let mut out = client
                .process_orders(tokio_stream::iter(actions))
                .await
                .unwrap()
                .into_inner();
            let mut results = vec![];
            while let Some(r) = out.message().await.unwrap() {
                results.push(r);
            }
            results
        })
    };
    let a = race(mock.new_channel(), ids.clone());
    let b = race(mock.new_channel(), ids.clone());
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!((a.len(), b.len()), (ORDERS, ORDERS));
    for (i, id) in ids.iter().enumerate() {
        let (ra, rb) = (&a[i], &b[i]);
        assert_eq!((&ra.order_id, &rb.order_id), (id, id));
        assert!(
            ra.success ^ rb.success,
            "exactly one CONFIRM of {id} succeeds"
        );
        let loser = if ra.success { rb } else { ra };
        assert!(loser.error.starts_with("FAILED_PRECONDITION"));
        assert_eq!(loser.status(), S::Confirmed);
        assert_eq!(mock.store().get(id).unwrap().status(), S::Confirmed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p6_cancel_and_confirm_race_is_serializable() {
    // CANCEL vs CONFIRM on a PENDING order: either order is a serial history.
    // CONFIRM first → CANCEL also succeeds (CONFIRMED → CANCELLED);
    // CANCEL first → CONFIRM fails. Never: CONFIRM succeeds and the order ends CONFIRMED
    // while CANCEL also succeeded.
    let mock = OrderMock::start().await;
    for _ in 0..100 {
        let id = create(&mock).await;
        let c1 = mock.new_channel();
        let c2 = mock.new_channel();
        let (i1, i2) = (id.clone(), id.clone());
        let confirm = tokio::spawn(async move {
            let mut client = orders_testkit::pb::order_service_client::OrderServiceClient::new(c1);
            let mut out = client
                .process_orders(tokio_stream::iter([action(&i1, A::Confirm)]))
                .await
                .unwrap()
                .into_inner();
            out.message().await.unwrap().unwrap()
        });
        let cancel = tokio::spawn(async move {
            let mut client = orders_testkit::pb::order_service_client::OrderServiceClient::new(c2);
            let mut out = client
                .process_orders(tokio_stream::iter([action(&i2, A::Cancel)]))
                .await
                .unwrap()
                .into_inner();
            out.message().await.unwrap().unwrap()
        });
        let (confirm, cancel) = (confirm.await.unwrap(), cancel.await.unwrap());
        assert!(
            cancel.success,
            "CANCEL succeeds from PENDING and from CONFIRMED"
        );
        assert_eq!(cancel.status(), S::Cancelled);
        if confirm.success {
            assert_eq!(confirm.status(), S::Confirmed);
        } else {
            assert_eq!(confirm.status(), S::Cancelled);
        }
        assert_eq!(mock.store().get(&id).unwrap().status(), S::Cancelled);
    }
}
