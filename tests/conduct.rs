//! The verdict on a client's conduct: each client rule of CONTRACT.md
//! (CL-1 … CL-8) broken by a deliberately misbehaving client, with the
//! rule id and the calls named, and kept by a well-behaved one.

mod common;

use std::time::Duration;

use common::valid_req;
use orders_testkit::fault::Lost;
use orders_testkit::prelude::*;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

fn timed<T>(message: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.set_timeout(Duration::from_secs(5));
    req
}

fn keyed(key: &str) -> tonic::Request<CreateOrderRequest> {
    let mut req = timed(valid_req());
    req.metadata_mut()
        .insert("idempotency-key", key.parse().unwrap());
    req
}

fn get(id: &str) -> tonic::Request<GetOrderRequest> {
    timed(GetOrderRequest {
        order_id: id.into(),
    })
}

/// The report once `n` calls ended.
async fn verdict(mock: &OrderMock, n: usize) -> orders_testkit::conduct::ConductReport {
    mock.journal().wait_for_ended(n).await;
    mock.conduct()
}

#[tokio::test]
async fn cl1_a_retry_after_a_code_that_is_not_retryable() {
    let mock = OrderMock::start().await;
    let mut bad = valid_req();
    bad.items.clear();
    for _ in 0..2 {
        let _ = mock.client().create_order(timed(bad.clone())).await;
    }
    let report = verdict(&mock, 2).await;
    assert_eq!(report.broken(), ["CL-1"], "{report}");
    assert_eq!(report.breaches[0].calls, [0, 1]);
    assert!(report.to_string().contains("InvalidArgument"), "{report}");
}

#[tokio::test]
async fn cl2_a_retried_create_order_with_a_new_key_and_with_the_same() {
    for same in [false, true] {
        let mock = OrderMock::start().await;
        mock.inject(
            Fault::lose_answer(Lost::Status(tonic::Status::unavailable("lost")))
                .on(CreateOrder)
                .first(1),
        );
        let _ = mock.client().create_order(keyed("k-1")).await;
        let retry = if same { "k-1" } else { "k-2" };
        let _ = mock.client().create_order(keyed(retry)).await;
        let report = verdict(&mock, 2).await;
        if same {
            report.assert_ok();
        } else {
            assert_eq!(report.broken(), ["CL-2"], "{report}");
            assert!(report.breaches[0].what.contains("k-2"), "{report}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn cl3_a_retry_sooner_than_retry_info_asks() {
    for wait in [Duration::from_millis(10), Duration::from_millis(250)] {
        let mock = OrderMock::start().await;
        mock.inject(
            Fault::unavailable("busy", Duration::from_millis(200))
                .on(GetOrder)
                .first(1),
        );
        let id = mock.seed_order(Order::default());
        let _ = mock.client().get_order(get(&id)).await;
        tokio::time::sleep(wait).await;
        let _ = mock.client().get_order(get(&id)).await;
        let report = verdict(&mock, 2).await;
        if wait < Duration::from_millis(200) {
            assert_eq!(report.broken(), ["CL-3"], "{report}");
            assert!(report.breaches[0].what.contains("200ms"), "{report}");
        } else {
            report.assert_ok();
        }
    }
}

#[tokio::test(start_paused = true)]
async fn cl4_retries_not_backed_off_or_not_bounded() {
    // Waits that shrink.
    let mock = OrderMock::start().await;
    mock.inject(Fault::fail(tonic::Status::unavailable("down")).on(GetOrder));
    for wait in [100, 10, 0] {
        let _ = mock.client().get_order(get("o-1")).await;
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
    let report = verdict(&mock, 3).await;
    assert_eq!(report.broken(), ["CL-4"], "{report}");
    assert!(
        report.breaches[0].what.contains("not backed off"),
        "{report}"
    );

    // Seven attempts in a row, each wait longer than the last.
    let mock = OrderMock::start().await;
    mock.inject(Fault::fail(tonic::Status::unavailable("down")).on(GetOrder));
    for i in 0..7 {
        let _ = mock.client().get_order(get("o-1")).await;
        tokio::time::sleep(Duration::from_millis(10 << i)).await;
    }
    let report = verdict(&mock, 7).await;
    assert_eq!(report.broken(), ["CL-4"], "{report}");
    assert_eq!(report.breaches[0].calls, [0, 1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn cl5_a_call_without_a_deadline() {
    let mock = OrderMock::start().await;
    let _ = mock.client().get_order(get("o-1")).await;
    let _ = mock
        .client()
        .get_order(GetOrderRequest {
            order_id: "o-2".into(),
        })
        .await;
    let report = verdict(&mock, 2).await;
    assert_eq!(report.broken(), ["CL-5"], "{report}");
    assert_eq!(report.breaches[0].calls, [1]);
}

#[tokio::test]
async fn cl6_a_propagated_deadline_longer_than_the_one_given() {
    let mock = OrderMock::start().await;
    let scope = mock.journal().given_deadline(Duration::from_secs(1));
    let _ = mock.client().get_order(get("o-1")).await; // 5 s
    drop(scope);
    let report = verdict(&mock, 1).await;
    assert_eq!(report.broken(), ["CL-6"], "{report}");
}

#[tokio::test(start_paused = true)]
async fn cl7_an_abandoned_stream() {
    let mock = OrderMock::start().await;
    let id = mock.seed_order(Order::default());
    let (tx, rx) = mpsc::channel(1);
    tx.send(OrderAction {
        order_id: id,
        action: OrderActionType::Confirm as i32,
    })
    .await
    .unwrap();
    let stream = mock
        .client()
        .process_orders(timed(ReceiverStream::new(rx)))
        .await
        .unwrap();
    // The client keeps both ends and goes quiet past the threshold.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = mock.conduct();
    assert_eq!(report.broken(), ["CL-7"], "{report}");
    assert!(report.breaches[0].what.contains("neither half-closed"));
    drop((tx, stream));
}

#[tokio::test]
async fn cl8_calls_after_health_said_not_serving() {
    use tonic_health::pb::HealthCheckRequest;
    let mock = OrderMock::start().await;
    let _ = mock.client().get_order(get("o-1")).await;
    mock.set_serving(false);
    // Not told yet: a call now is not judged.
    let _ = mock.client().get_order(get("o-2")).await;
    let said = mock
        .health_client()
        .check(HealthCheckRequest {
            service: "orders.v1.OrderService".into(),
        })
        .await
        .unwrap();
    assert_eq!(said.into_inner().status, 2, "NOT_SERVING");
    let _ = mock.client().get_order(get("o-3")).await;
    mock.set_serving(true);
    let _ = mock.client().get_order(get("o-4")).await;
    let report = verdict(&mock, 5).await;
    assert_eq!(report.broken(), ["CL-8"], "{report}");
    assert_eq!(
        report.breaches[0].calls,
        [2, 3],
        "the health call, then o-3"
    );
}
