//! Stubs that cannot drift from the contract: each answer a stub sends is
//! checked against the rules one answer can break; a broken one fails
//! `verify()` (and the check on drop) naming the stub, the rule and the
//! answer. `off_contract()` allows it; faults are exempt; the contract's
//! own status builders pass.

use orders_testkit::fault::Fault;
use orders_testkit::pb::*;
use orders_testkit::prelude::{OrderMock, Stub};
use orders_testkit::rpc::{
    CreateOrder, GetOrder, ProcessOrders, SubmitLineItems, WatchOrderStatus,
};
use orders_testkit::service::model::FieldViolation;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

fn update(status: OrderStatus, previous: OrderStatus) -> OrderStatusUpdate {
    OrderStatusUpdate {
        order_id: "o-1".into(),
        status: status.into(),
        previous_status: previous.into(),
        updated_at: None,
    }
}

/// Calls every RPC once, so that whatever stubs are mounted answer.
async fn call_everything(mock: &OrderMock) {
    let mut c = mock.client();
    let _ = c.create_order(CreateOrderRequest::default()).await;
    let _ = c
        .get_order(GetOrderRequest {
            order_id: "o-1".into(),
        })
        .await;
    if let Ok(watch) = c
        .watch_order_status(WatchOrderStatusRequest {
            order_id: "o-1".into(),
        })
        .await
    {
        let mut watch = watch.into_inner();
        while let Ok(Some(_)) = watch.message().await {}
    }
    let item = LineItem {
        product_id: "p".into(),
        quantity: 1,
        price_cents: 1,
    };
    let _ = c.submit_line_items(tokio_stream::iter(vec![item])).await;
    let action = OrderAction {
        order_id: "o-1".into(),
        action: OrderActionType::Confirm.into(),
    };
    if let Ok(results) = c.process_orders(tokio_stream::iter(vec![action])).await {
        let mut results = results.into_inner();
        while let Ok(Some(_)) = results.message().await {}
    }
    mock.journal().wait_for_ended(5).await;
}

/// The verification text of a mock whose one stub `mount` adds, after a
/// call to every RPC; the mock is forgotten so that its drop check stays
/// quiet.
async fn report_of(mount: impl FnOnce(&OrderMock)) -> (bool, String) {
    let mock = OrderMock::start().await;
    mount(&mock);
    call_everything(&mock).await;
    let report = mock.verify();
    std::mem::forget(mock);
    (report.is_ok(), report.to_string())
}

async fn assert_drift(rule: &str, problem: &str, mount: impl FnOnce(&OrderMock)) {
    let (ok, text) = report_of(mount).await;
    assert!(!ok, "{rule} not caught:\n{text}");
    assert!(
        text.contains("\"offender\" answered off contract: ")
            && text.contains(&format!("{rule} {problem}"))
            && text.contains(&format!("CONTRACT.md#{}", rule.to_ascii_lowercase())),
        "{rule}:\n{text}"
    );
}

#[tokio::test]
async fn e1_codes_outside_the_table_and_empty_messages() {
    assert_drift("E-1", "ABORTED is not one of the contract's codes", |m| {
        Stub::on(CreateOrder)
            .named("offender")
            .fail(Status::aborted("x"))
            .mount(m);
    })
    .await;
    assert_drift("E-1", "an error without a message", |m| {
        Stub::on(CreateOrder)
            .named("offender")
            .fail(Status::unavailable(""))
            .mount(m);
    })
    .await;
}

#[tokio::test]
async fn e2_invalid_argument_needs_a_bad_request() {
    assert_drift(
        "E-2",
        "INVALID_ARGUMENT without a BadRequest violation",
        |m| {
            Stub::on(CreateOrder)
                .named("offender")
                .fail(Status::invalid_argument("bad"))
                .mount(m);
        },
    )
    .await;
}

#[tokio::test]
async fn e3_and_e4_need_a_resource_info() {
    assert_drift("E-3", "NOT_FOUND without a ResourceInfo", |m| {
        Stub::on(GetOrder)
            .named("offender")
            .fail(Status::not_found("gone"))
            .mount(m);
    })
    .await;
    assert_drift("E-4", "ALREADY_EXISTS without a ResourceInfo", |m| {
        Stub::on(CreateOrder)
            .named("offender")
            .fail(Status::already_exists("dup"))
            .mount(m);
    })
    .await;
}

#[tokio::test]
async fn e5_details_must_repeat_code_and_message() {
    assert_drift(
        "E-5",
        "grpc-status-details-bin does not repeat the code and message",
        |m| {
            let inner = Status::with_error_details(
                Code::Unavailable,
                "something else",
                ErrorDetails::with_retry_info(None),
            );
            let status =
                Status::with_details(Code::Unavailable, "down", inner.details().to_vec().into());
            Stub::on(GetOrder).named("offender").fail(status).mount(m);
        },
    )
    .await;
}

#[tokio::test]
async fn e6_internal_messages_must_not_leak() {
    assert_drift("E-6", "the message leaks internals", |m| {
        let leak = Status::internal("thread 'main' panicked at src/orders.rs:42:7");
        Stub::on(SubmitLineItems)
            .named("offender")
            .fail(leak)
            .mount(m);
    })
    .await;
}

#[tokio::test]
async fn c2_created_ids_keep_their_format() {
    assert_drift("C-2", "order_id is not 1 to 128 bytes", |m| {
        let bad = CreateOrderResponse {
            order_id: "has space".into(),
            created_at: None,
        };
        Stub::on(CreateOrder)
            .named("offender")
            .respond(bad)
            .mount(m);
    })
    .await;
}

#[tokio::test]
async fn g3_orders_have_a_status() {
    assert_drift("G-3", "an Order with status UNSPECIFIED", |m| {
        Stub::on(GetOrder)
            .named("offender")
            .respond(Order::default())
            .mount(m);
    })
    .await;
}

#[tokio::test]
async fn w2_to_w4_watch_streams_keep_their_shape() {
    assert_drift("W-2", "the first message is not the current state", |m| {
        Stub::on(WatchOrderStatus)
            .named("offender")
            .stream([update(OrderStatus::Shipped, OrderStatus::Confirmed)])
            .mount(m);
    })
    .await;
    assert_drift(
        "W-3",
        "previous_status is not the status of the message before",
        |m| {
            Stub::on(WatchOrderStatus)
                .named("offender")
                .stream([
                    update(OrderStatus::Pending, OrderStatus::Unspecified),
                    update(OrderStatus::Shipped, OrderStatus::Confirmed),
                ])
                .mount(m);
        },
    )
    .await;
    assert_drift("W-4", "a message after a terminal status", |m| {
        Stub::on(WatchOrderStatus)
            .named("offender")
            .stream([
                update(OrderStatus::Delivered, OrderStatus::Unspecified),
                update(OrderStatus::Cancelled, OrderStatus::Delivered),
            ])
            .mount(m);
    })
    .await;
}

#[tokio::test]
async fn p3_and_p4_results_keep_their_shape() {
    assert_drift("P-4", "a failure whose error is not", |m| {
        Stub::on(ProcessOrders)
            .named("offender")
            .respond_with(|a| {
                Ok(OrderResult {
                    order_id: a.order_id.clone(),
                    success: false,
                    error: "nope".into(),
                    status: 0,
                })
            })
            .mount(m);
    })
    .await;
    assert_drift("P-3", "a success with an error", |m| {
        Stub::on(ProcessOrders)
            .named("offender")
            .respond_with(|a| {
                Ok(OrderResult {
                    order_id: a.order_id.clone(),
                    success: true,
                    error: "x".into(),
                    status: 2,
                })
            })
            .mount(m);
    })
    .await;
}

#[tokio::test]
async fn off_contract_stubs_faults_and_on_contract_answers_pass() {
    let (ok, text) = report_of(|m| {
        Stub::on(GetOrder)
            .fail(Status::not_found("gone"))
            .off_contract()
            .mount(m);
        m.inject(Fault::fail(Status::aborted("")).on(CreateOrder));
        Stub::on(SubmitLineItems)
            .fail(orders_testkit::service::status::invalid_argument(&[
                FieldViolation::new("items", "too many"),
            ]))
            .mount(m);
        Stub::on(WatchOrderStatus)
            .stream([
                update(OrderStatus::Pending, OrderStatus::Unspecified),
                update(OrderStatus::Confirmed, OrderStatus::Pending),
            ])
            .then_fail(orders_testkit::service::status::not_found("o-1"))
            .mount(m);
        Stub::on(ProcessOrders)
            .respond_with(|a| {
                Ok(OrderResult {
                    order_id: a.order_id.clone(),
                    success: false,
                    error: "NOT_FOUND: no such order".into(),
                    status: 0,
                })
            })
            .mount(m);
    })
    .await;
    assert!(ok, "{text}");
}

#[tokio::test]
#[should_panic(expected = "answered off contract: E-3")]
async fn an_off_contract_stub_fails_the_test_on_drop() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .named("offender")
        .fail(Status::not_found("gone"))
        .mount(&mock);
    let _ = mock
        .client()
        .get_order(GetOrderRequest {
            order_id: "o-1".into(),
        })
        .await;
    mock.journal().wait_for_ended(1).await;
    drop(mock);
}

#[tokio::test]
async fn a_drift_is_reported_once_per_stub_and_rule_however_often_it_answers() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .named("offender")
        .respond(Order::default())
        .mount(&mock);
    for _ in 0..20 {
        let _ = mock
            .client()
            .get_order(GetOrderRequest {
                order_id: "o-1".into(),
            })
            .await;
    }
    mock.journal().wait_for_ended(20).await;
    assert_eq!(mock.verify().drifts.len(), 1);
    std::mem::forget(mock);
}

/// The verify report, from its summary line to the calls: the summary
/// counts what the lines below list, expectations come in mount order,
/// each drift names its fix. Snapshotted for review (`mounted at` lines
/// and the calls, which carry times, are left out).
#[tokio::test]
async fn the_verify_report_agrees_with_itself_in_mount_order_with_fixes() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .named("first mounted, met")
        .when(|r| r.order_id == "o-1")
        .fail(orders_testkit::service::status::not_found("o-1"))
        .expect(1)
        .mount(&mock);
    Stub::on(CreateOrder)
        .named("second mounted, never called")
        .respond(CreateOrderResponse {
            order_id: "ord-1".into(),
            created_at: None,
        })
        .expect(1)
        .when(|r| r.customer_id == "nobody")
        .mount(&mock);
    Stub::on(GetOrder)
        .named("third mounted, off contract")
        .when(|r| r.order_id == "o-2")
        .fail(Status::invalid_argument("bad id"))
        .mount(&mock);
    let mut c = mock.client();
    let _ = c
        .get_order(GetOrderRequest {
            order_id: "o-1".into(),
        })
        .await;
    let _ = c
        .get_order(GetOrderRequest {
            order_id: "o-2".into(),
        })
        .await;
    let report = mock.verify();
    assert!(!report.is_ok());
    assert_eq!(report.expectations.len(), 2);
    assert_eq!(report.drifts.len(), 1);
    let text = report.to_string();
    let head = text.split("calls received:").next().unwrap_or_default();
    let head: String = head
        .lines()
        .map(|l| match l.find(" (mounted at ") {
            Some(at) => format!("{}\n", &l[..at]),
            None => format!("{l}\n"),
        })
        .collect();
    assert!(
        head.starts_with("FAILED: 1 of 2 stub expectations not met, 1 answer off contract\n"),
        "{head}"
    );
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("verify_report", head);
    });
    std::mem::forget(mock); // its failing verify was the point
}
