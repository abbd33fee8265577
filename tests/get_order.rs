//! SPEC §4 GetOrder (G-1 to G-3) and E-3.

mod common;

use common::*;
use orders_testkit::OrderMock;
use orders_testkit::pb::{GetOrderRequest, OrderActionType, OrderStatus};
use tonic::Code;
use tonic_types::StatusExt;

fn get(id: &str) -> GetOrderRequest {
    GetOrderRequest {
        order_id: id.into(),
    }
}

#[tokio::test]
async fn g1_empty_or_too_long_id_invalid_argument() {
    let mock = OrderMock::start().await;
    let mut client = mock.client();
    let st = client.get_order(get("")).await.unwrap_err();
    assert_violations(&st, &["order_id"]);
    snapshot_status("g1_empty_order_id", &st);
    let st = client.get_order(get(&"x".repeat(129))).await.unwrap_err();
    assert_violations(&st, &["order_id"]);
    snapshot_status("g1_order_id_too_long", &st);
    // 128 bytes is a valid id (just unknown).
    let st = client.get_order(get(&"x".repeat(128))).await.unwrap_err();
    assert_eq!(st.code(), Code::NotFound);
}

#[tokio::test]
async fn g2_unknown_id_not_found_with_resource_info() {
    let mock = OrderMock::start().await;
    let st = mock
        .client()
        .get_order(get("ord-missing"))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::NotFound);
    assert_eq!(st.message(), "order ord-missing not found");
    let info = st.get_details_resource_info().expect("E-3 ResourceInfo");
    assert_eq!(info.resource_type, "orders.v1.Order");
    assert_eq!(info.resource_name, "ord-missing");
    snapshot_status("g2_not_found", &st);
}

#[tokio::test]
async fn g3_reflects_latest_successful_action() {
    let mock = OrderMock::start().await;
    let mut client = mock.client();
    let created = client.create_order(valid_req()).await.unwrap().into_inner();
    let id = created.order_id.clone();
    let actions = [
        action(&id, OrderActionType::Confirm),
        action(&id, OrderActionType::Deliver), // fails: not shipped
        action(&id, OrderActionType::Ship),
    ];
    let mut results = client
        .process_orders(tokio_stream::iter(actions))
        .await
        .unwrap()
        .into_inner();
    let mut last_success_status = OrderStatus::Unspecified;
    while let Some(r) = results.message().await.unwrap() {
        if r.success {
            last_success_status = r.status();
        }
    }
    let order = client.get_order(get(&id)).await.unwrap().into_inner();
    assert_eq!(order.status(), OrderStatus::Shipped);
    assert_eq!(order.status(), last_success_status);
    assert_eq!(order.created_at, created.created_at);
    assert!(nanos(&order.updated_at) > nanos(&order.created_at));
    assert_eq!(order.items, valid_req().items);
}
