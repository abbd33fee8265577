//! SPEC §3 CreateOrder (C-1 to C-5), with E-2 and E-4 payload snapshots.

mod common;

use common::*;
use orders_testkit::OrderMock;
use orders_testkit::pb::{Address, GetOrderRequest, OrderStatus};
use tonic::Code;
use tonic_types::StatusExt;

async fn create_err(
    mock: &OrderMock,
    req: impl tonic::IntoRequest<orders_testkit::pb::CreateOrderRequest>,
) -> tonic::Status {
    mock.client()
        .create_order(req)
        .await
        .expect_err("the request is invalid")
}

#[tokio::test]
async fn c1_empty_customer_id() {
    let mock = OrderMock::start().await;
    let st = create_err(&mock, create_req("", vec![item("p", 1, 1)])).await;
    assert_violations(&st, &["customer_id"]);
    let bad = st.get_details_bad_request().unwrap();
    assert_eq!(
        bad.field_violations[0].description,
        "must be a non-empty string"
    );
    snapshot_status("c1_empty_customer_id", &st);
}

#[tokio::test]
async fn c1_customer_id_128_bytes_ok_129_rejected() {
    let mock = OrderMock::start().await;
    let mut client = mock.client();
    client
        .create_order(create_req(&"c".repeat(128), vec![item("p", 1, 1)]))
        .await
        .expect("128 bytes is allowed");
    let st = create_err(&mock, create_req(&"c".repeat(129), vec![item("p", 1, 1)])).await;
    assert_violations(&st, &["customer_id"]);
    snapshot_status("c1_customer_id_too_long", &st);
}

#[tokio::test]
async fn c1_no_items() {
    let mock = OrderMock::start().await;
    let st = create_err(&mock, create_req("c", vec![])).await;
    assert_violations(&st, &["items"]);
    assert_eq!(
        st.get_details_bad_request().unwrap().field_violations[0].description,
        "at least one item is required"
    );
    snapshot_status("c1_no_items", &st);
}

#[tokio::test]
async fn c1_1000_items_ok_1001_rejected() {
    let mock = OrderMock::start().await;
    mock.client()
        .create_order(create_req("c", vec![item("p", 1, 1); 1000]))
        .await
        .expect("1000 items is allowed");
    let st = create_err(&mock, create_req("c", vec![item("p", 1, 1); 1001])).await;
    assert_violations(&st, &["items"]);
    snapshot_status("c1_too_many_items", &st);
}

#[tokio::test]
async fn c1_item_fields_zero_based_paths() {
    let mock = OrderMock::start().await;
    let items = vec![
        item("ok", 1, 1),
        item("", 0, -1),
        item(&"p".repeat(129), 1, 0),
    ];
    let st = create_err(&mock, create_req("c", items)).await;
    assert_violations(
        &st,
        &[
            "items[1].product_id",
            "items[1].quantity",
            "items[1].price_cents",
            "items[2].product_id",
        ],
    );
    snapshot_status("c1_item_fields", &st);
}

#[tokio::test]
async fn c1_total_overflow_int64() {
    let mock = OrderMock::start().await;
    // Exactly i64::MAX is fine.
    mock.client()
        .create_order(create_req("c", vec![item("p", 1, i64::MAX)]))
        .await
        .expect("a total of exactly i64::MAX fits");
    let st = create_err(&mock, create_req("c", vec![item("p", 2, i64::MAX / 2 + 1)])).await;
    assert_violations(&st, &["items"]);
    assert_eq!(
        st.get_details_bad_request().unwrap().field_violations[0].description,
        "order total exceeds int64"
    );
    snapshot_status("c1_total_overflow", &st);
}

#[tokio::test]
async fn c1_count_and_total_are_two_violations_count_first() {
    let mock = OrderMock::start().await;
    let st = create_err(
        &mock,
        create_req("c", vec![item("p", i32::MAX, i64::MAX); 1001]),
    )
    .await;
    assert_violations(&st, &["items", "items"]);
    snapshot_status("c1_count_and_total", &st);
}

#[tokio::test]
async fn c1_reports_every_violation_in_spec_order() {
    let mock = OrderMock::start().await;
    let items = vec![item("", 0, i64::MAX), item("p", i32::MAX, i64::MAX)];
    let req = with_key(create_req("", items), "bad key");
    let st = create_err(&mock, req).await;
    assert_violations(
        &st,
        &[
            "customer_id",
            "items[0].product_id",
            "items[0].quantity",
            "items",
            "idempotency-key",
        ],
    );
    snapshot_status("c1_every_violation", &st);
}

#[tokio::test]
async fn c1_every_item_invalid_in_a_1001_item_order_is_reported() {
    // 2 + 3 × 1001 violations: listed in order up to E-2's 8 KiB bound,
    // then one summary naming the first left out and how many were.
    let mock = OrderMock::start().await;
    let st = create_err(&mock, create_req("", vec![item("", 0, -1); 1001])).await;
    let bad = st
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("{:?} {}", st.code(), st.message()));
    let all: Vec<String> = ["customer_id".to_string(), "items".to_string()]
        .into_iter()
        .chain((0..1001).flat_map(|i| {
            ["product_id", "quantity", "price_cents"].map(|f| format!("items[{i}].{f}"))
        }))
        .collect();
    let fields: Vec<_> = bad
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    let k = fields.len();
    assert!(k < all.len(), "{k}");
    assert_eq!(
        fields[..],
        all[..k],
        "a prefix in order; the summary on the first left out"
    );
    let summary = bad.field_violations.last().unwrap();
    assert!(
        summary
            .description
            .contains(&format!("{} more", all.len() - (k - 1))),
        "{summary:?}"
    );
}

#[tokio::test]
async fn c2_ids_are_unique_and_well_formed() {
    let mock = OrderMock::start().await;
    let mut client = mock.client();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let res = client.create_order(valid_req()).await.unwrap().into_inner();
        assert!(!res.order_id.is_empty() && res.order_id.len() <= 128);
        assert!(
            res.order_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
        );
        assert!(seen.insert(res.order_id));
        assert!(res.created_at.is_some());
    }
}

#[tokio::test]
async fn c2_created_at_is_server_time() {
    let mock = OrderMock::start().await;
    let before = std::time::SystemTime::now();
    let res = mock
        .client()
        .create_order(valid_req())
        .await
        .unwrap()
        .into_inner();
    let after = std::time::SystemTime::now();
    let created: std::time::SystemTime = res.created_at.unwrap().try_into().unwrap();
    assert!(before <= created && created <= after);
}

#[tokio::test]
async fn c3_stored_order_matches_request() {
    let mock = OrderMock::start().await;
    let mut client = mock.client();
    let req = create_req(
        "cust-9",
        vec![item("b", 3, 7), item("a", 1, 0), item("b", 3, 7)],
    );
    let res = client.create_order(req.clone()).await.unwrap().into_inner();
    let order = client
        .get_order(GetOrderRequest {
            order_id: res.order_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(order.order_id, res.order_id);
    assert_eq!(order.customer_id, "cust-9");
    assert_eq!(order.items, req.items);
    assert_eq!(order.status(), OrderStatus::Pending);
    assert_eq!(order.created_at, res.created_at);
    assert_eq!(order.updated_at, res.created_at);
}

#[tokio::test]
async fn c4_same_key_same_request_returns_first_response() {
    let mock = OrderMock::start().await;
    let mut client = mock.client();
    let first = client
        .create_order(with_key(valid_req(), "k-1"))
        .await
        .unwrap()
        .into_inner();
    // The order changes in between: the replay still answers the first response.
    let mut stream = client
        .process_orders(tokio_stream::iter([action(
            &first.order_id,
            orders_testkit::pb::OrderActionType::Confirm,
        )]))
        .await
        .unwrap()
        .into_inner();
    assert!(stream.message().await.unwrap().unwrap().success);
    let again = client
        .create_order(with_key(valid_req(), "k-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first);
    assert_eq!(mock.store().order_count(), 1);
}

#[tokio::test]
async fn c4_same_key_different_request_already_exists() {
    let mock = OrderMock::start().await;
    let mut client = mock.client();
    let first = client
        .create_order(with_key(valid_req(), "k-2"))
        .await
        .unwrap()
        .into_inner();
    let mut other = valid_req();
    other.items[0].quantity += 1;
    let st = client
        .create_order(with_key(other, "k-2"))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::AlreadyExists);
    let info = st.get_details_resource_info().expect("E-4 ResourceInfo");
    assert_eq!(info.resource_type, "orders.v1.Order");
    assert_eq!(info.resource_name, first.order_id);
    snapshot_status("c4_key_reused_already_exists", &st);
}

#[tokio::test]
async fn c4_keys_are_global_not_per_connection() {
    let mock = OrderMock::start().await;
    let first = mock
        .client()
        .create_order(with_key(valid_req(), "g"))
        .await
        .unwrap()
        .into_inner();
    let mut other =
        orders_testkit::pb::order_service_client::OrderServiceClient::new(mock.new_channel());
    let again = other
        .create_order(with_key(valid_req(), "g"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first);
}

#[tokio::test]
async fn c4_failed_validation_records_nothing_under_key() {
    let mock = OrderMock::start().await;
    let mut client = mock.client();
    client
        .create_order(with_key(create_req("", vec![]), "k-3"))
        .await
        .unwrap_err();
    // The key is still free: a valid request under it creates an order.
    client
        .create_order(with_key(valid_req(), "k-3"))
        .await
        .unwrap();
    assert_eq!(mock.store().order_count(), 1);
}

#[tokio::test]
async fn c4_without_key_every_call_creates() {
    let mock = OrderMock::start().await;
    let mut client = mock.client();
    let a = client.create_order(valid_req()).await.unwrap().into_inner();
    let b = client.create_order(valid_req()).await.unwrap().into_inner();
    assert_ne!(a.order_id, b.order_id);
    assert_eq!(mock.store().order_count(), 2);
}

#[tokio::test]
async fn c4_invalid_keys() {
    let mock = OrderMock::start().await;
    let cases: [(&str, Vec<u8>); 3] = [
        ("c4_key_empty", vec![]),
        ("c4_key_too_long", vec![b'k'; 129]),
        ("c4_key_not_visible_ascii", b"has space".to_vec()),
    ];
    for (name, key) in cases {
        let mut req = tonic::Request::new(valid_req());
        req.metadata_mut().insert(
            "idempotency-key",
            tonic::metadata::MetadataValue::try_from(key.as_slice()).unwrap(),
        );
        let st = create_err(&mock, req).await;
        assert_violations(&st, &["idempotency-key"]);
        snapshot_status(name, &st);
    }
    // 128 visible ASCII bytes is fine.
    mock.client()
        .create_order(with_key(valid_req(), &"~".repeat(128)))
        .await
        .unwrap();
    // A key sent twice is ambiguous: rejected.
    let mut req = with_key(valid_req(), "a");
    req.metadata_mut()
        .append("idempotency-key", "b".parse().unwrap());
    let st = create_err(&mock, req).await;
    assert_violations(&st, &["idempotency-key"]);
    snapshot_status("c4_key_repeated", &st);
}

#[tokio::test]
async fn c5_shipping_address_counts_in_idempotency() {
    let mock = OrderMock::start().await;
    let mut client = mock.client();
    let mut with_addr = valid_req();
    with_addr.shipping_address = Some(Address {
        street: "1 Main St".into(),
        ..Default::default()
    });
    let first = client
        .create_order(with_key(with_addr.clone(), "addr"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        client
            .create_order(with_key(with_addr, "addr"))
            .await
            .unwrap()
            .into_inner(),
        first
    );
    // Absent and empty addresses are different messages.
    let absent = valid_req();
    let mut empty = valid_req();
    empty.shipping_address = Some(Address::default());
    client
        .create_order(with_key(absent, "addr2"))
        .await
        .unwrap();
    let st = client
        .create_order(with_key(empty, "addr2"))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn c5_any_address_is_accepted_unvalidated() {
    let mock = OrderMock::start().await;
    let mut req = valid_req();
    req.shipping_address = Some(Address {
        street: String::new(),
        city: "x".repeat(10_000),
        state: "??".into(),
        zip_code: "not a zip".into(),
        country: String::new(),
    });
    mock.client()
        .create_order(req)
        .await
        .expect("addresses are not validated");
}
