//! The admin HTTP/JSON API (`serve --admin-addr`): every route, the bad
//! input each refuses with the right status and a message naming the line
//! and field at fault, and the admin token.
#![cfg(feature = "admin")]

mod common;

use std::net::SocketAddr;

use common::GUARD;
use common::http1::{admin_api, delete, get, open, post, send};
use http_body_util::BodyExt as _;
use orders_testkit::OrderMock;
use orders_testkit::layers::auth::Permission;
use orders_testkit::pb::GetOrderRequest;
use orders_testkit::pb::OrderStatus;
use serde_json::json;
use tonic::Code;

async fn mock_with_api() -> (OrderMock, SocketAddr) {
    admin_api(OrderMock::builder()).await
}

fn get_req(id: &str) -> tonic::Request<GetOrderRequest> {
    let mut req = tonic::Request::new(GetOrderRequest {
        order_id: id.into(),
    });
    req.metadata_mut()
        .insert("x-test", "admin-http".parse().unwrap());
    req
}

#[tokio::test]
async fn stubs_routes_add_list_count_and_remove() {
    let (mock, api) = mock_with_api().await;
    let added = post(
        api,
        "/api/stubs",
        r#"{"rpc": "GetOrder", "name": "shipped", "when": {"orderId": "o-1"},
            "respond": {"orderId": "o-1", "status": "ORDER_STATUS_SHIPPED"}, "expect": 1}"#,
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.content_type, "application/json");
    let id = added.json()["id"].as_u64().unwrap();
    assert_eq!(added.json()["name"], "GetOrder \"shipped\"");

    let order = mock.client().get_order(get_req("o-1")).await.unwrap();
    assert_eq!(order.into_inner().status(), OrderStatus::Shipped);
    let listed = get(api, "/api/stubs").await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.json()["stubs"],
        json!([{ "id": id, "rpc": "GetOrder", "name": "GetOrder \"shipped\"", "hits": 1,
                 "priority": 5, "expected": "exactly 1", "met": true,
                 "definition": { "rpc": "GetOrder", "name": "shipped", "when": {"orderId": "o-1"},
                                 "respond": {"orderId": "o-1", "status": "ORDER_STATUS_SHIPPED"}, "expect": 1 } }])
    );

    let removed = delete(api, &format!("/api/stubs/{id}")).await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(get(api, "/api/stubs").await.json()["stubs"], json!([]));
    // The model answers again.
    let err = mock.client().get_order(get_req("o-1")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let again = delete(api, &format!("/api/stubs/{id}")).await;
    assert_eq!(again.status, 404);
    assert_eq!(again.json()["error"], format!("no stub has id {id}"));
    let not_a_number = delete(api, "/api/stubs/first").await;
    assert_eq!(not_a_number.status, 400);
}

#[tokio::test]
async fn faults_routes_inject_list_and_clear() {
    let (mock, api) = mock_with_api().await;
    let injected = post(
        api,
        "/api/faults",
        r#"{"kind": "status", "rpc": "GetOrder", "code": "UNAVAILABLE", "message": "maintenance"}"#,
    )
    .await;
    assert_eq!(injected.status, 201, "{}", injected.body);
    assert_eq!(injected.json()["faults"], 1);
    let err = mock.client().get_order(get_req("o-1")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(err.message(), "maintenance");
    let listed = get(api, "/api/faults").await.json();
    assert_eq!(
        listed["faults"],
        json!([{
            "id": injected.json()["id"], "kind": "status", "rpc": "GetOrder",
            "code": "UNAVAILABLE", "message": "maintenance", "details": []
        }])
    );
    let cleared = delete(api, "/api/faults").await;
    assert_eq!(cleared.json()["cleared"], 1);
    let err = mock.client().get_order(get_req("o-1")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn orders_route_seeds_and_reset_clears_what_it_selects() {
    let (mock, api) = mock_with_api().await;
    let seeded = post(
        api,
        "/api/orders",
        r#"{"orderId": "o-9", "customerId": "c-1", "status": "ORDER_STATUS_CONFIRMED"}"#,
    )
    .await;
    assert_eq!(seeded.status, 201, "{}", seeded.body);
    assert_eq!(seeded.json()["orderId"], "o-9");
    let order = mock.client().get_order(get_req("o-9")).await.unwrap();
    assert_eq!(order.into_inner().status(), OrderStatus::Confirmed);
    post(
        api,
        "/api/stubs",
        r#"{"rpc": "CreateOrder", "fail": {"code": "UNAVAILABLE", "message": "x"}}"#,
    )
    .await;

    // Only the journal: orders and stubs stay.
    let reset = post(api, "/api/reset", r#"{"journal": true}"#).await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert_eq!(
        reset.json(),
        json!({ "orders": 0, "stubs": 0, "faults": 0, "calls": 1 })
    );
    assert!(mock.journal().is_empty());
    assert!(mock.store().get("o-9").is_some());
    assert_eq!(mock.stubs().len(), 1);

    // An empty body: everything.
    let reset = post(api, "/api/reset", "").await.json();
    assert_eq!(reset["orders"], 1);
    assert_eq!(reset["stubs"], 1);
    assert!(mock.store().get("o-9").is_none());
    assert!(mock.stubs().is_empty());
}

#[tokio::test]
async fn calls_route_filters_by_method_outcome_metadata_and_limit() {
    let (mock, api) = mock_with_api().await;
    let mut client = mock.client();
    let _ = client.get_order(get_req("o-1")).await;
    let _ = client.get_order(GetOrderRequest::default()).await;
    let _ = client.create_order(common::valid_req()).await.unwrap();
    mock.journal().wait_for_ended(3).await;

    let all = get(api, "/api/calls").await.json();
    assert_eq!(all["calls"].as_array().unwrap().len(), 3);
    let first = &all["calls"][0];
    assert_eq!(first["method"], "GetOrder");
    assert_eq!(first["requests"], json!([{ "orderId": "o-1" }]));
    assert_eq!(first["outcome"], "NOT_FOUND");
    assert_eq!(first["answeredBy"], json!(["model"]));
    assert_eq!(first["metadata"]["x-test"], "admin-http");

    let by_method = get(api, "/api/calls?method=CreateOrder").await.json();
    assert_eq!(by_method["calls"].as_array().unwrap().len(), 1);
    assert_eq!(by_method["calls"][0]["outcome"], "OK");
    assert_eq!(
        by_method["calls"][0]["responses"][0]["orderId"]
            .as_str()
            .unwrap()
            .len(),
        10
    );
    let errors = get(api, "/api/calls?outcome=ERROR").await.json();
    assert_eq!(errors["calls"].as_array().unwrap().len(), 2);
    let invalid = get(api, "/api/calls?outcome=INVALID_ARGUMENT").await.json();
    assert_eq!(invalid["calls"].as_array().unwrap().len(), 1);
    let tagged = get(api, "/api/calls?metadata=x-test%3Aadmin-http")
        .await
        .json();
    assert_eq!(tagged["calls"].as_array().unwrap().len(), 1);
    let latest = get(api, "/api/calls?limit=1").await.json();
    assert_eq!(latest["calls"][0]["method"], "CreateOrder");
}

#[tokio::test]
async fn calls_stream_sends_each_call_as_it_ends() {
    let (mock, api) = mock_with_api().await;
    let res = open(api, "GET", "/api/calls/stream?method=GetOrder", &[], "").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();
    // The stream is open once its first comment arrives.
    let mut text = String::new();
    while !text.contains("\n\n") {
        let frame = tokio::time::timeout(GUARD, body.frame()).await.unwrap();
        text.push_str(std::str::from_utf8(frame.unwrap().unwrap().data_ref().unwrap()).unwrap());
    }
    let mut client = mock.client();
    let _ = client.create_order(common::valid_req()).await; // filtered out
    let _ = client.get_order(get_req("o-404")).await;
    while !text.contains("event: call") || !text.ends_with("\n\n") {
        let frame = tokio::time::timeout(GUARD, body.frame()).await.unwrap();
        text.push_str(std::str::from_utf8(frame.unwrap().unwrap().data_ref().unwrap()).unwrap());
    }
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("an event with data");
    let call: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(call["method"], "GetOrder");
    assert_eq!(call["requests"], json!([{ "orderId": "o-404" }]));
    assert_eq!(call["outcome"], "NOT_FOUND");
    assert!(!text.contains("CreateOrder"), "{text}");
}

#[tokio::test]
async fn verify_route_reports_unmet_expectations_like_the_rust_verify() {
    let (mock, api) = mock_with_api().await;
    post(
        api,
        "/api/stubs",
        r#"{"rpc": "GetOrder", "name": "never", "when": {"orderId": "o-1"}, "fail": {"code": "UNAVAILABLE", "message": "x"}, "expect": 1}"#,
    )
    .await;
    let _ = mock.client().get_order(get_req("o-2")).await;
    mock.journal().wait_for_ended(1).await;
    let v = get(api, "/api/verify").await.json();
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["problems"],
        json!(["GetOrder \"never\": expected exactly 1, matched 0"])
    );
    assert_eq!(v["report"], mock.verify().to_string());
    assert!(
        v["report"]
            .as_str()
            .unwrap()
            .contains("orderId: wanted \"o-1\", got \"o-2\""),
        "{}",
        v["report"]
    );
    mock.clear_stubs();
    assert_eq!(get(api, "/api/verify").await.json()["ok"], true);
}

#[tokio::test]
async fn the_page_is_served_at_the_root() {
    let (_mock, api) = mock_with_api().await;
    let page = get(api, "/").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert!(page.body.contains("<table id=\"calls\">"));
    assert!(page.body.contains("/api/calls/stream"));
}

#[tokio::test]
async fn bad_input_gets_400_with_the_line_and_field_at_fault() {
    let (mock, api) = mock_with_api().await;
    // Malformed JSON: the line (and column) of the syntax error.
    let r = post(
        api,
        "/api/stubs",
        "{\n  \"rpc\": \"GetOrder\",\n  \"respond\": {\n}",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["line"], 4);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid stub: line 4: "),
        "{}",
        r.body
    );
    // An unknown RPC name.
    let r = post(
        api,
        "/api/stubs",
        "{\n  \"rpc\": \"GetOrders\",\n  \"respond\": {}\n}",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["field"], "rpc");
    assert_eq!(r.json()["line"], 2);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("unknown rpc \"GetOrders\": expected one of CreateOrder")
    );
    // An invalid message: the key and its line.
    let r = post(
        api,
        "/api/stubs",
        "{\n  \"rpc\": \"GetOrder\",\n  \"when\": {\"orderId\": \"o-1\"},\n  \"respond\": {\"stauts\": \"ORDER_STATUS_SHIPPED\"}\n}",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["field"], "respond");
    assert_eq!(r.json()["line"], 4);
    assert!(
        r.json()["error"].as_str().unwrap().contains("stauts"),
        "{}",
        r.body
    );
    // An unknown key of the schema.
    let r = post(api, "/api/stubs", r#"{"rpc": "GetOrder", "respnd": {}}"#).await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `respnd`"),
        "{}",
        r.body
    );
    // A bad status code in a fault, a bad order field.
    let r = post(
        api,
        "/api/faults",
        r#"{"kind": "status", "code": "UNAVAILABEL", "message": "x"}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("UNAVAILABEL"),
        "{}",
        r.body
    );
    let r = post(
        api,
        "/api/orders",
        "{\"orderId\": \"o-1\",\n \"status\": \"SHIPPED\"}",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["field"], "status");
    assert_eq!(r.json()["line"], 2);
    let r = post(api, "/api/reset", r#"{"order": true}"#).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["field"], "order");
    // Bad filters.
    for q in [
        "method=GetOrders",
        "outcome=BROKEN",
        "limit=ten",
        "metadata=novalue",
        "colour=red",
    ] {
        let r = get(api, &format!("/api/calls?{q}")).await;
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        assert!(r.json()["error"].is_string());
    }
    // Wrong method, unknown route, oversized body.
    assert_eq!(send(api, "PUT", "/api/stubs", &[], "").await.status, 405);
    assert_eq!(send(api, "POST", "/api/verify", &[], "").await.status, 405);
    assert_eq!(get(api, "/api/nothing").await.status, 404);
    let big = format!(
        "{{\"rpc\": \"GetOrder\", \"name\": \"{}\"}}",
        "x".repeat(2 << 20)
    );
    assert_eq!(post(api, "/api/stubs", &big).await.status, 413);
    // Nothing was mounted, and the server still answers.
    assert!(mock.stubs().is_empty());
    assert_eq!(get(api, "/api/stubs").await.status, 200);
}

#[tokio::test]
async fn with_tokens_the_api_needs_an_admin_token() {
    let (mock, api) = admin_api(
        OrderMock::builder()
            .token("ops-secret", Permission::Admin)
            .token("app-secret", Permission::ReadWrite),
    )
    .await;
    let none = get(api, "/api/stubs").await;
    assert_eq!(none.status, 401);
    let app = send(
        api,
        "GET",
        "/api/stubs",
        &[("authorization", "Bearer app-secret")],
        "",
    )
    .await;
    assert_eq!(app.status, 403);
    let unknown = send(
        api,
        "GET",
        "/api/stubs",
        &[("authorization", "Bearer guess")],
        "",
    )
    .await;
    assert_eq!(unknown.status, 401);
    for r in [&none, &app, &unknown] {
        assert!(!r.body.contains("secret"), "{}", r.body);
    }
    let ops = send(
        api,
        "GET",
        "/api/stubs",
        &[("authorization", "Bearer ops-secret")],
        "",
    )
    .await;
    assert_eq!(ops.status, 200, "{}", ops.body);
    // The page's event stream cannot send headers: a query parameter.
    let by_query = get(api, "/api/calls?access_token=ops-secret").await;
    assert_eq!(by_query.status, 200, "{}", by_query.body);
    // The page itself holds no data and no token.
    let page = get(api, "/").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("ops-secret"));
    // An admin token does not call OrderService.
    let mut req = tonic::Request::new(GetOrderRequest {
        order_id: "o-1".into(),
    });
    req.metadata_mut()
        .insert("authorization", "Bearer ops-secret".parse().unwrap());
    let err = mock.client().get_order(req).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn faults_have_ids_and_delete_by_id_removes_only_that_one() {
    let (mock, api) = mock_with_api().await;
    let down = post(
        api,
        "/api/faults",
        r#"{"kind": "status", "rpc": "GetOrder", "code": "UNAVAILABLE", "message": "down"}"#,
    )
    .await
    .json();
    let slow = post(
        api,
        "/api/faults",
        r#"{"kind": "delay", "rpc": "CreateOrder", "delay_ms": 5, "first": 2}"#,
    )
    .await
    .json();
    assert_eq!(
        (down["id"].as_u64(), slow["id"].as_u64()),
        (Some(1), Some(2))
    );
    let removed = delete(api, "/api/faults/1").await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let listed = get(api, "/api/faults").await.json();
    assert_eq!(
        listed["faults"],
        json!([{"id": 2, "kind": "delay", "rpc": "CreateOrder", "delay_ms": 5, "jitter_ms": 0, "first": 2}])
    );
    // GetOrder is answered by the model again; the delay fault stays.
    let err = mock.client().get_order(get_req("o-1")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(mock.faults().len(), 1);
    let again = delete(api, "/api/faults/1").await;
    assert_eq!(again.status, 404);
    assert_eq!(again.json()["error"], "no fault has id 1");
    assert_eq!(delete(api, "/api/faults/one").await.status, 400);
}

#[tokio::test]
async fn a_json_not_found_stub_gets_canonical_details_and_passes_verify() {
    let (mock, api) = mock_with_api().await;
    let added = post(
        api,
        "/api/stubs",
        r#"{"rpc": "GetOrder", "fail": {"code": "NOT_FOUND"}}"#,
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.body);
    let err = mock.client().get_order(get_req("o-1")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let payload = orders_testkit::grpc::payload::ErrorPayload::from_status(&err);
    assert_eq!(payload.message, "order unknown not found");
    assert_eq!(payload.details[0]["resourceType"], "orders.v1.Order");
    // The contract holds: E-3 wants the ResourceInfo, and it is there.
    mock.verify().assert_ok();
    let verdict = get(api, "/api/verify").await.json();
    assert_eq!(verdict["ok"], true, "{verdict}");
}

#[tokio::test]
async fn json_details_with_at_type_round_trip_through_the_stub_list() {
    let (mock, api) = mock_with_api().await;
    let details = json!([{
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": "customer_id", "description": "must not be empty"}]
    }]);
    let stub = json!({
        "rpc": "CreateOrder",
        "fail": {"code": "INVALID_ARGUMENT", "message": "bad customer", "details": details}
    });
    let added = post(api, "/api/stubs", &stub.to_string()).await;
    assert_eq!(added.status, 201, "{}", added.body);
    let listed = get(api, "/api/stubs").await.json();
    let fail = &listed["stubs"][0]["definition"]["fail"];
    assert_eq!(fail["code"], "INVALID_ARGUMENT");
    assert_eq!(fail["details"], details);
    // What the client gets carries the same detail.
    let err = mock
        .client()
        .create_order(orders_testkit::pb::CreateOrderRequest::default())
        .await
        .unwrap_err();
    let payload = orders_testkit::grpc::payload::ErrorPayload::from_status(&err);
    assert_eq!(json!(payload.details), details);
    mock.verify().assert_ok();
    // An unknown @type is refused, naming the way out.
    let bad = post(
        api,
        "/api/stubs",
        r#"{"rpc": "GetOrder", "fail": {"code": "NOT_FOUND", "details": [{"@type": "type.googleapis.com/acme.Nope"}]}}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("give these details as base64"),
        "{}",
        bad.body
    );
    // INVALID_ARGUMENT without details needs the field its BadRequest names.
    let bad = post(
        api,
        "/api/stubs",
        r#"{"rpc": "CreateOrder", "fail": {"code": "INVALID_ARGUMENT"}}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("INVALID_ARGUMENT needs field"),
        "{}",
        bad.body
    );
}

#[tokio::test]
async fn off_contract_json_stubs_are_not_held_to_the_contract() {
    let (mock, api) = mock_with_api().await;
    // details [] asks for none: E-3 is broken, on purpose.
    let added = post(
        api,
        "/api/stubs",
        r#"{"rpc": "GetOrder", "fail": {"code": "NOT_FOUND", "message": "gone", "details": []}, "off_contract": true}"#,
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.body);
    let err = mock.client().get_order(get_req("o-1")).await.unwrap_err();
    assert!(err.details().is_empty());
    mock.verify().assert_ok();
    // Without off_contract the same stub fails verify.
    let strict = OrderMock::start().await;
    orders_testkit::scenario::StubDefinition::from_json(
        r#"{"rpc": "GetOrder", "fail": {"code": "NOT_FOUND", "message": "gone", "details": []}}"#,
    )
    .unwrap()
    .mount(&strict);
    let _ = strict.client().get_order(get_req("o-1")).await;
    assert!(strict.verify().to_string().contains("E-3"));
    std::mem::forget(strict);
}

#[tokio::test]
async fn live_routes_drive_a_watch_from_http() {
    use tokio_stream::StreamExt as _;
    let (mock, api) = mock_with_api().await;
    let driving = post(api, "/api/live", r#"{"rpc": "WatchOrderStatus"}"#).await;
    assert_eq!(driving.status, 201, "{}", driving.body);
    let mut client = mock.client();
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let req = orders_testkit::pb::WatchOrderStatusRequest {
            order_id: "o-1".into(),
        };
        let mut stream = client.watch_order_status(req).await.unwrap().into_inner();
        while let Some(item) = stream.next().await {
            let _ = seen_tx.send(item.map(|u| u.status()).map_err(|s| s.code()));
        }
    });
    // The call is listed once it arrived (the journal says when).
    mock.journal()
        .await_calls(orders_testkit::rpc::WatchOrderStatus, 1, GUARD)
        .await
        .unwrap();
    let mut listed = json!(null);
    for _ in 0..1000 {
        listed = get(api, "/api/live").await.json();
        if listed["calls"].as_array().is_some_and(|c| !c.is_empty()) {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(listed["driven"], json!(["WatchOrderStatus"]));
    let id = listed["calls"][0]["id"].as_u64().unwrap();
    assert_eq!(listed["calls"][0]["request"], json!({"orderId": "o-1"}));
    let send_path = format!("/api/live/calls/{id}/send");
    let send = |body: &'static str| post(api, &send_path, body);
    assert_eq!(
        send(r#"{"orderId": "o-1", "status": "ORDER_STATUS_PENDING"}"#)
            .await
            .status,
        200
    );
    assert_eq!(seen.recv().await, Some(Ok(OrderStatus::Pending)));
    assert!(seen.try_recv().is_err(), "nothing before the next push");
    let shipped = send(
        r#"{"orderId": "o-1", "previousStatus": "ORDER_STATUS_PENDING", "status": "ORDER_STATUS_SHIPPED"}"#,
    )
    .await;
    assert_eq!(shipped.status, 200, "{}", shipped.body);
    assert_eq!(seen.recv().await, Some(Ok(OrderStatus::Shipped)));
    // A message of the wrong shape is refused, and the call stays open.
    let bad = send(r#"{"nope": 1}"#).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let ended = post(
        api,
        &format!("/api/live/calls/{id}/end"),
        r#"{"code": "UNAVAILABLE", "message": "going away"}"#,
    )
    .await;
    assert_eq!(ended.status, 200, "{}", ended.body);
    assert_eq!(seen.recv().await, Some(Err(Code::Unavailable)));
    let gone = post(
        api,
        &format!("/api/live/calls/{id}/end"),
        r#"{"code": "OK"}"#,
    )
    .await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    let stopped = delete(api, "/api/live/WatchOrderStatus").await;
    assert_eq!(stopped.json()["changed"], true);
    mock.verify().assert_ok();
}

#[tokio::test]
async fn listed_faults_are_taken_back_as_they_are_listed() {
    let (_mock, api) = mock_with_api().await;
    for fault in [
        r#"{"kind": "wire", "rpc": "GetOrder", "wire": "rst_stream", "http2_code": 8}"#,
        r#"{"kind": "wire", "wire": "trailers_only", "code": "UNAVAILABLE", "message": "down"}"#,
        r#"{"kind": "lose_answer", "rpc": "CreateOrder", "then": "reset", "every": 3}"#,
        r#"{"kind": "status", "code": "NOT_FOUND", "resource": "o-1", "probability": 0.5}"#,
    ] {
        assert_eq!(post(api, "/api/faults", fault).await.status, 201, "{fault}");
    }
    let listed = get(api, "/api/faults").await.json();
    let listed = listed["faults"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 4);
    assert_eq!(listed[0]["wire"], "rst_stream");
    assert_eq!(listed[0]["http2_code"], 8);
    assert_eq!(listed[1]["wire"], "trailers_only");
    assert_eq!(delete(api, "/api/faults").await.status, 200);
    // Each listing, its id left out, is a fault the API takes, and lists alike.
    for mut fault in listed.clone() {
        fault.as_object_mut().unwrap().remove("id");
        let again = post(api, "/api/faults", &fault.to_string()).await;
        assert_eq!(again.status, 201, "{fault}: {}", again.body);
    }
    let relisted = get(api, "/api/faults").await.json();
    let strip = |faults: &[serde_json::Value]| -> Vec<serde_json::Value> {
        faults
            .iter()
            .map(|f| {
                let mut f = f.clone();
                f.as_object_mut().unwrap().remove("id");
                f
            })
            .collect()
    };
    assert_eq!(
        strip(relisted["faults"].as_array().unwrap()),
        strip(&listed)
    );
}
