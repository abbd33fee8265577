//! Helpers shared by the integration tests.
#![allow(dead_code)]

use orders_testkit::payload::ErrorPayload;
use orders_testkit::pb::{CreateOrderRequest, LineItem, OrderAction, OrderActionType};
use tonic::Request;

pub fn item(product: &str, quantity: i32, price_cents: i64) -> LineItem {
    LineItem {
        product_id: product.into(),
        quantity,
        price_cents,
    }
}

pub fn create_req(customer: &str, items: Vec<LineItem>) -> CreateOrderRequest {
    CreateOrderRequest {
        customer_id: customer.into(),
        items,
        shipping_address: None,
    }
}

pub fn valid_req() -> CreateOrderRequest {
    create_req("cust-1", vec![item("p1", 2, 1999), item("p2", 1, 500)])
}

pub fn action(order_id: &str, action: OrderActionType) -> OrderAction {
    OrderAction {
        order_id: order_id.into(),
        action: action as i32,
    }
}

pub fn with_key<T>(msg: T, key: &str) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut().insert(
        "idempotency-key",
        key.parse().expect("test keys are valid metadata"),
    );
    req
}

/// Snapshots an error payload into the top-level `snapshots/` folder.
pub fn snapshot_status(name: &str, status: &tonic::Status) {
    let rendered = ErrorPayload::from_status(status).render();
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, rendered);
    });
}

/// Asserts the E-2 shape: INVALID_ARGUMENT with a BadRequest listing exactly
/// these fields, in this order, each with a non-empty description.
pub fn assert_violations(status: &tonic::Status, fields: &[&str]) {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(!status.message().is_empty());
    let bad = status
        .get_details_bad_request()
        .expect("INVALID_ARGUMENT carries a BadRequest (E-2)");
    let got: Vec<&str> = bad
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(got, fields);
    assert!(
        bad.field_violations
            .iter()
            .all(|v| !v.description.is_empty())
    );
}

/// A timestamp field as nanoseconds since the epoch (panics when absent).
pub fn nanos(ts: &Option<prost_types::Timestamp>) -> i128 {
    orders_testkit::model::time::to_nanos(ts.as_ref().expect("timestamp is set"))
}
