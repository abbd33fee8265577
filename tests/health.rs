//! SPEC §9 health (H-1 to H-3).

mod common;

use orders_testkit::OrderMock;
use orders_testkit::service::health::ServingStatus;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;

fn check(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.into(),
    }
}

#[tokio::test]
async fn h1_serving_while_ready_not_serving_when_set() {
    let mock = OrderMock::start().await;
    let mut health = mock.health_client();
    for name in ["", "orders.v1.OrderService"] {
        let res = health.check(check(name)).await.unwrap().into_inner();
        assert_eq!(res.status(), ServingStatus::Serving, "{name:?}");
    }
    mock.set_serving(false);
    for name in ["", "orders.v1.OrderService"] {
        let res = health.check(check(name)).await.unwrap().into_inner();
        assert_eq!(res.status(), ServingStatus::NotServing, "{name:?}");
    }
    mock.set_serving(true);
    let res = health.check(check("")).await.unwrap().into_inner();
    assert_eq!(res.status(), ServingStatus::Serving);
}

#[tokio::test]
async fn h1_not_serving_once_shutting_down() {
    let mock = OrderMock::start().await;
    let health = mock.health().clone();
    mock.shutdown(std::time::Duration::from_secs(5)).await;
    assert_eq!(health.status(""), Some(ServingStatus::NotServing));
    assert_eq!(
        health.status("orders.v1.OrderService"),
        Some(ServingStatus::NotServing)
    );
}

#[tokio::test]
async fn h2_unknown_service_not_found() {
    let mock = OrderMock::start().await;
    let st = mock
        .health_client()
        .check(check("no.such.Service"))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::NotFound);
    assert!(!st.message().is_empty());
    common::snapshot_status("h2_unknown_service", &st);
}

#[tokio::test]
async fn h3_watch_sends_current_then_every_change() {
    let mock = OrderMock::start().await;
    let mut s = mock
        .health_client()
        .watch(check("orders.v1.OrderService"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        s.message().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );
    // Flipping quickly: every change arrives, in order.
    mock.set_serving(false);
    mock.set_serving(true);
    mock.set_serving(false);
    for expected in [
        ServingStatus::NotServing,
        ServingStatus::Serving,
        ServingStatus::NotServing,
    ] {
        assert_eq!(s.message().await.unwrap().unwrap().status(), expected);
    }
    // Setting the same status again is no change: nothing is sent for it.
    mock.set_serving(false);
    mock.set_serving(true);
    assert_eq!(
        s.message().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );
}

#[tokio::test]
async fn h3_watch_unknown_service_streams_service_unknown_and_stays_open() {
    let mock = OrderMock::start().await;
    let mut s = mock
        .health_client()
        .watch(check("later.Service"))
        .await
        .expect("not NOT_FOUND: the protocol says stream SERVICE_UNKNOWN")
        .into_inner();
    assert_eq!(
        s.message().await.unwrap().unwrap().status(),
        ServingStatus::ServiceUnknown
    );
    // Still open: when the service appears, the watcher hears of it.
    mock.health()
        .set_status("later.Service", ServingStatus::Serving);
    assert_eq!(
        s.message().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );
    assert_eq!(mock.health().watcher_count(), 1);
    drop(s);
}

#[tokio::test]
async fn h3_scripted_health_per_service_name_seen_by_watchers() {
    let mock = OrderMock::start().await;
    mock.health()
        .set_status("payments.v1.Payments", ServingStatus::Serving);
    let mut payments = mock
        .health_client()
        .watch(check("payments.v1.Payments"))
        .await
        .unwrap()
        .into_inner();
    let mut orders = mock
        .health_client()
        .watch(check("orders.v1.OrderService"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        payments.message().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );
    assert_eq!(
        orders.message().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );
    mock.health()
        .set_status("payments.v1.Payments", ServingStatus::NotServing);
    assert_eq!(
        payments.message().await.unwrap().unwrap().status(),
        ServingStatus::NotServing
    );
    let st = mock
        .health_client()
        .check(check("payments.v1.Payments"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.status(), ServingStatus::NotServing);
    // The order service's watcher heard nothing of it: its next message is its own change.
    mock.health()
        .set_status("orders.v1.OrderService", ServingStatus::NotServing);
    assert_eq!(
        orders.message().await.unwrap().unwrap().status(),
        ServingStatus::NotServing
    );
}
