//! The admin gRPC service from Rust: auth with the admin permission, the
//! rich INVALID_ARGUMENT for a bad definition, `TailCalls`, and the admin
//! standing outside what the mock tests (not journaled, no faults).
#![cfg(feature = "admin")]

mod common;

use common::GUARD;
use orders_testkit::admin::pb::admin_client::AdminClient;
use orders_testkit::admin::pb::*;
use orders_testkit::layers::auth::Permission;
use orders_testkit::pb::GetOrderRequest;
use orders_testkit::{OrderMock, admin};
use tonic::Code;
use tonic_types::StatusExt;

fn bearer<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

#[tokio::test]
async fn admin_calls_need_a_token_with_admin_permission() {
    let mock = admin::start(
        OrderMock::builder()
            .token("ops", Permission::Admin)
            .token("app", Permission::ReadWrite),
    )
    .await;
    let mut admin = AdminClient::new(mock.channel());
    let none = admin.list_stubs(ListStubsRequest {}).await.unwrap_err();
    assert_eq!(none.code(), Code::Unauthenticated);
    let app = admin
        .list_stubs(bearer(ListStubsRequest {}, "app"))
        .await
        .unwrap_err();
    assert_eq!(app.code(), Code::PermissionDenied);
    assert!(!app.message().contains("app"), "{}", app.message());
    admin
        .list_stubs(bearer(ListStubsRequest {}, "ops"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bad_definition_is_invalid_argument_with_a_bad_request_naming_the_key() {
    let mock = admin::start(OrderMock::builder()).await;
    let mut admin = AdminClient::new(mock.channel());
    let st = admin
        .add_stub(AddStubRequest {
            stub_json:
                "{\"rpc\": \"GetOrder\",\n \"fail\": {\"code\": \"GONE\", \"message\": \"x\"}}"
                    .into(),
        })
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument);
    assert!(
        st.message()
            .starts_with("invalid stub: line 2: fail: unknown status code \"GONE\""),
        "{}",
        st.message()
    );
    let details = st.get_error_details();
    let violations = &details
        .bad_request()
        .expect("a BadRequest")
        .field_violations;
    assert_eq!(violations[0].field, "fail");
    let st = admin
        .remove_stub(RemoveStubRequest { id: 99 })
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::NotFound);
    let st = admin
        .list_calls(ListCallsRequest {
            filter: Some(CallFilter {
                method: "GetOrders".into(),
                ..Default::default()
            }),
            limit: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn tail_calls_streams_each_matching_call_as_it_ends() {
    let mock = admin::start(OrderMock::builder()).await;
    let mut admin = AdminClient::new(mock.channel());
    let mut tail = admin
        .tail_calls(TailCallsRequest {
            filter: Some(CallFilter {
                outcome: "NOT_FOUND".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let mut client = mock.client();
    client.create_order(common::valid_req()).await.unwrap(); // OK: filtered out
    for id in ["o-1", "o-2"] {
        let _ = client
            .get_order(GetOrderRequest {
                order_id: id.into(),
            })
            .await;
    }
    for id in ["o-1", "o-2"] {
        let call = tokio::time::timeout(GUARD, tail.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(call.method, "GetOrder");
        assert_eq!(call.requests_json, [format!("{{\"orderId\":\"{id}\"}}")]);
        assert_eq!(call.outcome, "NOT_FOUND");
        assert_eq!(call.answered_by, ["model"]);
    }
}

#[tokio::test]
async fn admin_calls_are_not_journaled_and_faults_do_not_reach_them() {
    let mock = admin::start(OrderMock::builder()).await;
    let mut admin = AdminClient::new(mock.channel());
    // A fault on every call: the admin can still clear it.
    admin
        .inject_fault(InjectFaultRequest {
            fault_json: r#"{"kind": "status", "code": "UNAVAILABLE", "message": "all down"}"#
                .into(),
        })
        .await
        .unwrap();
    let err = mock
        .client()
        .get_order(GetOrderRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let cleared = admin
        .clear_faults(ClearFaultsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cleared.cleared, 1);
    let calls = admin
        .list_calls(ListCallsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .calls;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].method, "GetOrder");
}

#[tokio::test]
async fn faults_are_listed_as_json_with_ids_and_removed_one_at_a_time() {
    let mock = admin::start(OrderMock::builder()).await;
    let mut admin = AdminClient::new(mock.channel());
    let down = admin
        .inject_fault(InjectFaultRequest {
            fault_json:
                r#"{"kind": "status", "rpc": "GetOrder", "code": "NOT_FOUND", "resource": "o-9"}"#
                    .into(),
        })
        .await
        .unwrap()
        .into_inner();
    let hang = admin
        .inject_fault(InjectFaultRequest {
            fault_json: r#"{"kind": "hang", "rpc": "CreateOrder", "first": 1}"#.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((down.id, hang.id, hang.faults), (1, 2, 2));
    let listed = admin
        .list_faults(ListFaultsRequest {})
        .await
        .unwrap()
        .into_inner();
    let first: serde_json::Value = serde_json::from_str(&listed.faults[0].fault_json).unwrap();
    assert_eq!(listed.faults[0].id, 1);
    assert_eq!(first["code"], "NOT_FOUND");
    // The canonical ResourceInfo names the resource given.
    assert_eq!(first["details"][0]["resourceName"], "o-9");
    admin
        .remove_fault(RemoveFaultRequest { id: down.id })
        .await
        .unwrap();
    let left = admin
        .list_faults(ListFaultsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        left.faults.iter().map(|f| f.id).collect::<Vec<_>>(),
        [hang.id]
    );
    let again = admin
        .remove_fault(RemoveFaultRequest { id: down.id })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
    // GetOrder goes to the model again.
    let err = mock
        .client()
        .get_order(GetOrderRequest {
            order_id: "o-9".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), "order o-9 not found");
}
