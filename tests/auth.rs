//! SPEC §10 authentication on the mock and the order of
//! checks (auth, then fail-fast, then validation: D-2).

mod common;

use std::time::Duration;

use common::*;
use orders_testkit::OrderMock;
use orders_testkit::layers::auth::Permission;
use orders_testkit::pb::{CreateOrderRequest, GetOrderRequest, WatchOrderStatusRequest};
use tonic::{Code, Request};

async fn mock() -> OrderMock {
    OrderMock::builder()
        .token("reader-s3cret", Permission::Read)
        .token("writer-s3cret", Permission::Write)
        .token("admin-s3cret", Permission::ReadWrite)
        .fail_fast(Duration::from_millis(500))
        .start()
        .await
}

fn authed<T>(msg: T, value: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", value.parse().unwrap());
    r
}

fn get() -> GetOrderRequest {
    GetOrderRequest {
        order_id: "x".into(),
    }
}

#[tokio::test]
async fn a1_missing_malformed_unknown_are_unauthenticated() {
    let mock = mock().await;
    let mut c = mock.client();
    let st = c.get_order(get()).await.unwrap_err();
    assert_eq!(st.code(), Code::Unauthenticated);
    snapshot_status("a1_missing_token", &st);
    for bad in [
        "reader-s3cret",
        "Basic reader-s3cret",
        "Bearer",
        "Bearer ",
        "Bearer wrong-token",
    ] {
        let st = c.get_order(authed(get(), bad)).await.unwrap_err();
        assert_eq!(st.code(), Code::Unauthenticated, "{bad:?}");
        assert!(!st.message().is_empty());
    }
    let st = c
        .get_order(authed(get(), "Bearer wrong-token"))
        .await
        .unwrap_err();
    snapshot_status("a1_unknown_token", &st);
}

#[tokio::test]
async fn a1_scheme_is_case_insensitive() {
    let mock = mock().await;
    let mut c = mock.client();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let st = c
            .get_order(authed(get(), &format!("{scheme} reader-s3cret")))
            .await
            .unwrap_err();
        assert_eq!(
            st.code(),
            Code::NotFound,
            "{scheme}: authenticated, then the model answers"
        );
    }
}

#[tokio::test]
async fn a1_permissions_per_method() {
    let mock = mock().await;
    let mut c = mock.client();
    // read: GetOrder, WatchOrderStatus, SubmitLineItems; write: CreateOrder, ProcessOrders.
    let st = c
        .create_order(authed(valid_req(), "Bearer reader-s3cret"))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::PermissionDenied);
    snapshot_status("a1_permission_denied_write", &st);
    let st = c
        .process_orders(authed(
            tokio_stream::iter(vec![action(
                "x",
                orders_testkit::pb::OrderActionType::Confirm,
            )]),
            "Bearer reader-s3cret",
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::PermissionDenied);
    let st = c
        .get_order(authed(get(), "Bearer writer-s3cret"))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::PermissionDenied);
    let st = c
        .watch_order_status(authed(
            WatchOrderStatusRequest {
                order_id: "x".into(),
            },
            "Bearer writer-s3cret",
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::PermissionDenied);
    let st = c
        .submit_line_items(authed(
            tokio_stream::iter(vec![item("a", 1, 1)]),
            "Bearer writer-s3cret",
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::PermissionDenied);
    // The right permissions pass.
    let created = c
        .create_order(authed(valid_req(), "Bearer writer-s3cret"))
        .await
        .unwrap()
        .into_inner();
    let got = c
        .get_order(authed(
            GetOrderRequest {
                order_id: created.order_id.clone(),
            },
            "Bearer reader-s3cret",
        ))
        .await
        .unwrap();
    assert_eq!(got.into_inner().order_id, created.order_id);
    c.submit_line_items(authed(
        tokio_stream::iter(vec![item("a", 1, 1)]),
        "Bearer admin-s3cret",
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn a2_health_and_reflection_need_no_token() {
    let mock = mock().await;
    let res = mock
        .health_client()
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(res.into_inner().status, 1);
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_request::MessageRequest,
    };
    let mut r = ServerReflectionClient::new(mock.channel());
    let mut out = r
        .server_reflection_info(tokio_stream::iter([ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        }]))
        .await
        .unwrap()
        .into_inner();
    assert!(out.message().await.unwrap().is_some());
}

#[tokio::test]
async fn a3_tokens_never_in_messages_or_journal_output() {
    let mock = mock().await;
    let mut c = mock.client();
    let mut statuses = vec![];
    for value in [
        "Bearer reader-s3cret",
        "Bearer writer-s3cret",
        "Bearer not-a-s3cret",
        "reader-s3cret",
    ] {
        statuses.push(c.create_order(authed(valid_req(), value)).await.err());
        statuses.push(c.get_order(authed(get(), value)).await.err());
    }
    for st in statuses.into_iter().flatten() {
        assert!(!st.message().contains("s3cret"), "{st:?}");
        let rendered = orders_testkit::grpc::payload::ErrorPayload::from_status(&st).render();
        assert!(!rendered.contains("s3cret"));
    }
    let report = mock.verify().to_string();
    assert!(!report.contains("s3cret"), "{report}");
    assert!(!mock.journal().render().contains("s3cret"));
}

#[tokio::test]
async fn d2_order_of_checks_auth_then_fail_fast_then_validation() {
    let mock = mock().await;
    let mut c = mock.client();
    let invalid = || CreateOrderRequest {
        customer_id: String::new(),
        items: vec![],
        shipping_address: None,
    };
    let timed = |mut r: Request<CreateOrderRequest>, ms: u64| {
        r.metadata_mut()
            .insert("grpc-timeout", format!("{ms}m").parse().unwrap());
        r
    };
    // No token, too little time, invalid: auth wins.
    let st = c
        .create_order(timed(Request::new(invalid()), 100))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::Unauthenticated);
    // Token, too little time, invalid: fail-fast wins.
    let st = c
        .create_order(timed(authed(invalid(), "Bearer admin-s3cret"), 100))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded);
    // Token, enough time, invalid: validation.
    let st = c
        .create_order(timed(authed(invalid(), "Bearer admin-s3cret"), 5000))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument);
}
