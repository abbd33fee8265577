//! Declarative matchers and the explanation of a miss: when a call matches
//! no stub, the journal's line and `verify()` name the closest stub for
//! that RPC and the field paths that differ; an unmet expectation lists
//! the calls that came near. For a unary, a client-streaming, a bidi and a
//! scenario-file stub.

use orders_testkit::mock::CallNotes as _;
use orders_testkit::mock::matching::{Matcher, Mismatch, absent, eq, present, range, regex};
use orders_testkit::pb::*;
use orders_testkit::prelude::{OrderMock, Stub};
use orders_testkit::rpc::{CreateOrder, GetOrder, ProcessOrders, SubmitLineItems};
use tonic::Request;
use tonic::metadata::MetadataMap;

fn item(product: &str, quantity: i32) -> LineItem {
    LineItem {
        product_id: product.into(),
        quantity,
        price_cents: 100,
    }
}

#[tokio::test]
async fn a_unary_miss_names_the_closest_stub_and_the_differing_fields() {
    let mock = OrderMock::start().await;
    Stub::on(CreateOrder)
        .named("far")
        .when_field("customer_id", eq("c-9"))
        .when_field("items[0].product_id", eq("p-9"))
        .when_field("items[0].quantity", range(1..=2))
        .fail(tonic::Status::aborted("far"))
        .mount(&mock);
    Stub::on(CreateOrder)
        .named("near")
        .when_field("customer_id", eq("c-1"))
        .when_field("items[0].quantity", range(1..=2))
        .fail(tonic::Status::aborted("near"))
        .mount(&mock);
    let created = mock
        .client()
        .create_order(CreateOrderRequest {
            customer_id: "c-1".into(),
            items: vec![item("p-1", 3)],
            ..Default::default()
        })
        .await;
    assert!(created.is_ok(), "no stub matched: the model answered");
    let call = &mock.journal().wait_for_ended(1).await[0];
    let miss = call.near_miss().expect("a near miss is recorded");
    assert_eq!(miss.stub, "CreateOrder \"near\"");
    let diffs: Vec<String> = miss.differences.iter().map(ToString::to_string).collect();
    assert_eq!(diffs, ["items[0].quantity: wanted 1..=2, got 3"]);
    let line = call.to_string();
    assert!(
        line.contains("closest stub CreateOrder \"near\": items[0].quantity: wanted 1..=2, got 3"),
        "{line}"
    );
    let report = mock.verify().to_string();
    assert!(report.contains("calls no stub matched:"), "{report}");
    assert!(
        report.contains("call #0: closest stub CreateOrder \"near\": items[0].quantity"),
        "{report}"
    );
}

#[tokio::test]
async fn a_client_streaming_miss_names_the_item_and_field() {
    let mock = OrderMock::start().await;
    Stub::on(SubmitLineItems)
        .named("small batches")
        .when_field("quantity", range(1..=5))
        .when_field("product_id", regex("^p-"))
        .respond(SubmitLineItemsResponse::default())
        .mount(&mock);
    let items = vec![item("p-1", 1), item("p-2", 9), item("x-3", 2)];
    let _ = mock
        .client()
        .submit_line_items(tokio_stream::iter(items))
        .await;
    let call = &mock.journal().wait_for_ended(1).await[0];
    let miss = call.near_miss().expect("a near miss is recorded");
    assert_eq!(miss.stub, "SubmitLineItems \"small batches\"");
    let diffs: Vec<String> = miss.differences.iter().map(ToString::to_string).collect();
    assert_eq!(
        diffs,
        [
            "[1].quantity: wanted 1..=5, got 9",
            "[2].product_id: wanted /^p-/, got \"x-3\""
        ]
    );
}

#[tokio::test]
async fn a_bidi_miss_names_the_action_field_and_verify_lists_near_calls() {
    let mock = OrderMock::start().await;
    Stub::on(ProcessOrders)
        .named("ship o-1")
        .when_matches(OrderAction {
            order_id: "o-1".into(),
            action: OrderActionType::Ship as i32,
        })
        .respond_with(|a| {
            Ok(OrderResult {
                order_id: a.order_id.clone(),
                success: true,
                ..Default::default()
            })
        })
        .expect(1)
        .mount(&mock);
    let actions = vec![OrderAction {
        order_id: "o-1".into(),
        action: OrderActionType::Confirm as i32,
    }];
    let results = mock
        .client()
        .process_orders(tokio_stream::iter(actions))
        .await
        .unwrap();
    let mut results = results.into_inner();
    while results.message().await.unwrap().is_some() {}
    let call = &mock.journal().wait_for_ended(1).await[0];
    let miss = call.near_miss().expect("a near miss is recorded");
    assert_eq!(miss.stub, "ProcessOrders \"ship o-1\"");
    assert_eq!(
        miss.differences[0].to_string(),
        "action: wanted \"ORDER_ACTION_TYPE_SHIP\", got \"ORDER_ACTION_TYPE_CONFIRM\""
    );
    let report = mock.verify();
    assert!(!report.is_ok());
    let text = report.to_string();
    assert!(
        text.contains("FAIL ProcessOrders \"ship o-1\": expected exactly 1, matched 0"),
        "{text}"
    );
    assert!(
        text.contains("near miss: call #0: action: wanted \"ORDER_ACTION_TYPE_SHIP\""),
        "{text}"
    );
    std::mem::forget(mock); // the unmet expectation is the point: no panic on drop
}

#[tokio::test]
async fn a_metadata_miss_is_explained_too() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .named("acme")
        .when_metadata("x-tenant", regex("^acme"))
        .when_metadata("x-debug", absent())
        .when_metadata("x-request-id", present())
        .respond(Order {
            status: OrderStatus::Pending as i32,
            ..Default::default()
        })
        .mount(&mock);
    let mut req = Request::new(GetOrderRequest {
        order_id: "o-1".into(),
    });
    req.metadata_mut()
        .insert("x-tenant", "globex".parse().unwrap());
    req.metadata_mut().insert("x-debug", "1".parse().unwrap());
    let _ = mock.client().get_order(req).await;
    let call = &mock.journal().wait_for_ended(1).await[0];
    let diffs: Vec<String> = call
        .near_miss()
        .unwrap()
        .differences
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        diffs,
        [
            "metadata x-tenant: wanted /^acme/, got \"globex\"",
            "metadata x-debug: wanted absent, got \"1\"",
            "metadata x-request-id: wanted present, got absent",
        ]
    );
}

#[cfg(feature = "scenario")]
#[tokio::test]
async fn a_scenario_file_stub_miss_is_explained() {
    let scenario = orders_testkit::scenario::Scenario::parse(
        "s.toml",
        r#"
[[stubs]]
name = "legacy"
rpc = "GetOrder"
when = { orderId = "o-legacy" }
respond = { orderId = "o-legacy" }

[[stubs]]
name = "bulk"
rpc = "CreateOrder"
when_fields = { "items[0].quantity" = { min = 100 }, customer_id = { regex = "^b2b-" } }
fail = { code = "RESOURCE_EXHAUSTED", message = "bulk queue full" }
"#,
    )
    .unwrap();
    let mock = scenario.start().await;
    let mut client = mock.client();
    let _ = client
        .get_order(GetOrderRequest {
            order_id: "o-legasy".into(),
        })
        .await;
    let _ = client
        .create_order(CreateOrderRequest {
            customer_id: "b2b-7".into(),
            items: vec![item("p", 3)],
            ..Default::default()
        })
        .await;
    let calls = mock.journal().wait_for_ended(2).await;
    assert_eq!(
        calls[0].near_miss().unwrap().to_string(),
        "closest stub GetOrder \"legacy\": orderId: wanted \"o-legacy\", got \"o-legasy\""
    );
    assert_eq!(
        calls[1].near_miss().unwrap().to_string(),
        "closest stub CreateOrder \"bulk\": items[0].quantity: wanted 100.., got 3"
    );
}

#[tokio::test]
async fn when_matches_compares_only_the_fields_it_sets() {
    let mock = OrderMock::start().await;
    let stub = Stub::on(CreateOrder)
        .when_matches(CreateOrderRequest {
            customer_id: "c-1".into(),
            ..Default::default()
        })
        .respond(CreateOrderResponse {
            order_id: "stubbed".into(),
            created_at: None,
        })
        .mount(&mock);
    let got = mock
        .client()
        .create_order(CreateOrderRequest {
            customer_id: "c-1".into(),
            items: vec![item("anything", 7)],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(got.into_inner().order_id, "stubbed");
    assert_eq!(stub.hits(), 1);
}

/// A matcher of one's own explains its misses like the built-in ones.
struct Vip;

impl Matcher<GetOrderRequest> for Vip {
    fn mismatches(&self, req: &GetOrderRequest, _: &MetadataMap) -> Vec<Mismatch> {
        if req.order_id.starts_with("vip-") {
            Vec::new()
        } else {
            vec![Mismatch::new(
                "order_id",
                "a vip- id",
                format!("{:?}", req.order_id),
            )]
        }
    }
}

#[tokio::test]
async fn a_custom_matcher_matches_and_explains() {
    let mock = OrderMock::start().await;
    let stub = Stub::on(GetOrder)
        .named("vip")
        .matching(Vip)
        .respond(Order {
            status: OrderStatus::Pending as i32,
            ..Default::default()
        })
        .mount(&mock);
    let mut client = mock.client();
    assert!(
        client
            .get_order(GetOrderRequest {
                order_id: "vip-1".into()
            })
            .await
            .is_ok()
    );
    let _ = client
        .get_order(GetOrderRequest {
            order_id: "o-2".into(),
        })
        .await;
    assert_eq!(stub.hits(), 1);
    let calls = mock.journal().wait_for_ended(2).await;
    assert!(calls[0].near_miss().is_none());
    assert_eq!(
        calls[1].near_miss().unwrap().to_string(),
        "closest stub GetOrder \"vip\": order_id: wanted a vip- id, got \"o-2\""
    );
}

#[cfg(feature = "scenario")]
#[test]
fn a_bad_check_in_a_scenario_is_refused_with_its_line() {
    let err = orders_testkit::scenario::Scenario::parse(
        "s.toml",
        "[[stubs]]\nrpc = \"GetOrder\"\nwhen_fields = { order_id = { regex = \"(\" } }\nrespond = {}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("s.toml: line 1: when_fields \"order_id\": invalid regex"),
        "{err}"
    );
}
