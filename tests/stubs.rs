//! Scripting the mock: stubs on all four patterns, limits, priority,
//! sequences, fall-through, metadata matchers, expectations and the model
//! helpers.

mod common;

use std::time::Duration;

use common::*;
use orders_testkit::pb::{
    CreateOrderRequest, CreateOrderResponse, GetOrderRequest, LineItem, Order, OrderAction,
    OrderActionType as A, OrderResult, OrderStatus as S, OrderStatusUpdate,
    SubmitLineItemsResponse, WatchOrderStatusRequest,
};
use orders_testkit::rpc::{
    CreateOrder, GetOrder, ProcessOrders, SubmitLineItems, WatchOrderStatus,
};
use orders_testkit::{OrderMock, Stub};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Code, Request, Status};
use tonic_types::{ErrorDetails, StatusExt};

fn get(id: &str) -> GetOrderRequest {
    GetOrderRequest {
        order_id: id.into(),
    }
}

fn order(id: &str, customer: &str) -> Order {
    Order {
        order_id: id.into(),
        customer_id: customer.into(),
        status: S::Pending as i32,
        ..Default::default()
    }
}

#[tokio::test]
async fn unary_stub_matches_request_and_falls_through_otherwise() {
    let mock = OrderMock::start().await;
    let handle = Stub::on(GetOrder)
        .when(|r| r.order_id == "o-1")
        .respond(order("o-1", "stubbed"))
        .mount(&mock);
    let mut c = mock.client();
    assert_eq!(
        c.get_order(get("o-1"))
            .await
            .unwrap()
            .into_inner()
            .customer_id,
        "stubbed"
    );
    // No stub matches: the model answers (it has no o-2).
    assert_eq!(
        c.get_order(get("o-2")).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(handle.hits(), 1);
}

#[tokio::test]
async fn unary_stub_fails_with_rich_details_and_trailers() {
    let mock = OrderMock::start().await;
    let mut status = Status::with_error_details(
        Code::Unavailable,
        "inventory down",
        ErrorDetails::with_retry_info(Some(Duration::from_millis(250))),
    );
    status
        .metadata_mut()
        .insert("x-retry-region", "eu-1".parse().unwrap());
    Stub::on(CreateOrder).fail(status).mount(&mock);
    let st = mock.client().create_order(valid_req()).await.unwrap_err();
    assert_eq!(st.code(), Code::Unavailable);
    assert_eq!(
        st.get_details_retry_info().unwrap().retry_delay,
        Some(Duration::from_millis(250))
    );
    assert_eq!(st.metadata().get("x-retry-region").unwrap(), "eu-1");
    snapshot_status("stub_unavailable_retry_info_trailer", &st);
    assert_eq!(
        mock.store().order_count(),
        0,
        "a stubbed call does not reach the model"
    );
}

#[tokio::test]
async fn respond_with_computes_from_request() {
    let mock = OrderMock::start().await;
    Stub::on(CreateOrder)
        .respond_with(|req| {
            Ok(CreateOrderResponse {
                order_id: format!("for-{}", req.customer_id),
                created_at: None,
            })
        })
        .mount(&mock);
    let res = mock
        .client()
        .create_order(valid_req())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(res.order_id, "for-cust-1");
}

#[tokio::test]
async fn metadata_matchers_equal_and_present() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .when_header("x-tenant", "acme")
        .respond(order("x", "acme"))
        .mount(&mock);
    Stub::on(GetOrder)
        .when_header_present("x-debug")
        .respond(order("x", "debug"))
        .mount(&mock);
    let mut c = mock.client();
    let with = |k: &'static str, v: &str| {
        let mut r = Request::new(get("x"));
        r.metadata_mut().insert(k, v.parse().unwrap());
        r
    };
    assert_eq!(
        c.get_order(with("x-tenant", "acme"))
            .await
            .unwrap()
            .into_inner()
            .customer_id,
        "acme"
    );
    assert_eq!(
        c.get_order(with("x-debug", "1"))
            .await
            .unwrap()
            .into_inner()
            .customer_id,
        "debug"
    );
    assert_eq!(
        c.get_order(with("x-tenant", "other"))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn up_to_limits_then_falls_through() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .respond(order("x", "limited"))
        .up_to(2)
        .mount(&mock);
    let mut c = mock.client();
    for _ in 0..2 {
        assert_eq!(
            c.get_order(get("x"))
                .await
                .unwrap()
                .into_inner()
                .customer_id,
            "limited"
        );
    }
    assert_eq!(
        c.get_order(get("x")).await.unwrap_err().code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn newest_first_unless_priority_says_otherwise() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder).respond(order("x", "old")).mount(&mock);
    Stub::on(GetOrder).respond(order("x", "new")).mount(&mock);
    let mut c = mock.client();
    assert_eq!(
        c.get_order(get("x"))
            .await
            .unwrap()
            .into_inner()
            .customer_id,
        "new"
    );
    Stub::on(GetOrder)
        .respond(order("x", "top"))
        .priority(1)
        .mount(&mock);
    Stub::on(GetOrder)
        .respond(order("x", "newest-low"))
        .priority(9)
        .mount(&mock);
    assert_eq!(
        c.get_order(get("x"))
            .await
            .unwrap()
            .into_inner()
            .customer_id,
        "top"
    );
}

#[tokio::test]
async fn sequence_answers_a_then_b_then_falls_through() {
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    Stub::on(GetOrder)
        .replies([
            Ok(order(&id, "A")),
            Err(Status::unavailable("B: try later")),
        ])
        .mount(&mock);
    let mut c = mock.client();
    assert_eq!(
        c.get_order(get(&id))
            .await
            .unwrap()
            .into_inner()
            .customer_id,
        "A"
    );
    assert_eq!(
        c.get_order(get(&id)).await.unwrap_err().code(),
        Code::Unavailable
    );
    // Then the model: the real order.
    assert_eq!(
        c.get_order(get(&id))
            .await
            .unwrap()
            .into_inner()
            .customer_id,
        "cust-1"
    );
}

#[tokio::test]
async fn server_stream_stub_with_delays_then_status() {
    let mock = OrderMock::start().await;
    let update = |s: S, p: S| OrderStatusUpdate {
        order_id: "o".into(),
        status: s as i32,
        previous_status: p as i32,
        updated_at: None,
    };
    Stub::on(WatchOrderStatus)
        .when(|r| r.order_id == "o")
        .stream([
            update(S::Pending, S::Unspecified),
            update(S::Confirmed, S::Pending),
        ])
        .delay_between(Duration::from_millis(5))
        .then_fail(Status::unavailable("watch backend restarted"))
        .mount(&mock);
    let mut s = mock
        .client()
        .watch_order_status(WatchOrderStatusRequest {
            order_id: "o".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.message().await.unwrap().unwrap().status(), S::Pending);
    assert_eq!(s.message().await.unwrap().unwrap().status(), S::Confirmed);
    let st = s.message().await.unwrap_err();
    assert_eq!(st.code(), Code::Unavailable);
    snapshot_status("stub_watch_then_fail", &st);
}

#[tokio::test]
async fn server_stream_stub_ends_ok_and_fail_fails_at_once() {
    let mock = OrderMock::start().await;
    Stub::on(WatchOrderStatus)
        .when(|r| r.order_id == "empty")
        .stream([])
        .mount(&mock);
    Stub::on(WatchOrderStatus)
        .when(|r| r.order_id == "gone")
        .fail(Status::not_found("gone"))
        .off_contract()
        .mount(&mock);
    let mut c = mock.client();
    let mut s = c
        .watch_order_status(WatchOrderStatusRequest {
            order_id: "empty".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(s.message().await.unwrap().is_none());
    let st = c
        .watch_order_status(WatchOrderStatusRequest {
            order_id: "gone".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::NotFound);
}

#[tokio::test]
async fn client_stream_stub_sees_every_message() {
    let mock = OrderMock::start().await;
    Stub::on(SubmitLineItems)
        .when_all(|items| items.len() == 3)
        .respond_with(|items| {
            Ok(SubmitLineItemsResponse {
                item_count: items.len() as i32 * 100,
                total_cents: -1,
            })
        })
        .mount(&mock);
    Stub::on(SubmitLineItems)
        .when_each(|item| item.product_id.starts_with("free-"))
        .respond(SubmitLineItemsResponse {
            item_count: 0,
            total_cents: 0,
        })
        .mount(&mock);
    let mut c = mock.client();
    let three = vec![item("a", 1, 1), item("b", 1, 1), item("c", 1, 1)];
    let res = c
        .submit_line_items(tokio_stream::iter(three))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((res.item_count, res.total_cents), (300, -1));
    let free = vec![item("free-1", 5, 100), item("free-2", 1, 100)];
    let res = c
        .submit_line_items(tokio_stream::iter(free))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((res.item_count, res.total_cents), (0, 0));
    // No stub matches: the model sums (and validates) as usual.
    let res = c
        .submit_line_items(tokio_stream::iter(vec![item("p", 2, 5)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((res.item_count, res.total_cents), (1, 10));
    let st = c
        .submit_line_items(tokio_stream::iter(vec![item("", 2, 5)]))
        .await
        .unwrap_err();
    assert_violations(&st, &["items[0].product_id"]);
}

#[tokio::test]
async fn bidi_stub_answers_matching_actions_model_the_rest() {
    let mock = OrderMock::start().await;
    let real = create(&mock).await;
    Stub::on(ProcessOrders)
        .when(|a| a.order_id.starts_with("fake-"))
        .respond_with(|a| {
            Ok(OrderResult {
                order_id: a.order_id.clone(),
                success: true,
                error: String::new(),
                status: S::Shipped as i32,
            })
        })
        .mount(&mock);
    let results = process(
        &mock,
        vec![
            action("fake-1", A::Ship),
            action(&real, A::Confirm),
            action("fake-2", A::Cancel),
        ],
    )
    .await;
    let got: Vec<_> = results
        .iter()
        .map(|r| (r.order_id.as_str(), r.success, r.status()))
        .collect();
    assert_eq!(
        got,
        [
            ("fake-1", true, S::Shipped),
            (real.as_str(), true, S::Confirmed),
            ("fake-2", true, S::Shipped)
        ]
    );
}

#[tokio::test]
async fn bidi_scripted_replies_end_with_a_status_midway() {
    let mock = OrderMock::start().await;
    let ok = |id: &str| OrderResult {
        order_id: id.into(),
        success: true,
        error: String::new(),
        status: S::Confirmed as i32,
    };
    Stub::on(ProcessOrders)
        .replies([Ok(ok("a")), Err(Status::aborted("processor crashed"))])
        .off_contract()
        .mount(&mock);
    let (tx, rx) = mpsc::unbounded_channel::<OrderAction>();
    let mut out = mock
        .client()
        .process_orders(UnboundedReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    tx.send(action("a", A::Confirm)).unwrap();
    assert_eq!(out.message().await.unwrap().unwrap().order_id, "a");
    tx.send(action("b", A::Confirm)).unwrap();
    let st = out.message().await.unwrap_err();
    assert_eq!(st.code(), Code::Aborted);
    snapshot_status("stub_bidi_aborted_midway", &st);
}

#[tokio::test]
async fn stub_delay_is_cut_at_the_deadline() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .respond(order("x", "slow"))
        .delay(Duration::from_millis(300))
        .mount(&mock);
    let mut req = Request::new(get("x"));
    req.metadata_mut()
        .insert("grpc-timeout", "40m".parse().unwrap());
    let st = raw_client(&mock).await.get_order(req).await.unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded);
}

#[tokio::test]
async fn panicking_stub_closure_is_internal_and_mock_keeps_serving() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .when(|r| r.order_id == "boom")
        .respond_with(|_| panic!("stub bug with secret s3cr3t"))
        .mount(&mock);
    let mut c = mock.client();
    let st = c.get_order(get("boom")).await.unwrap_err();
    assert_eq!(st.code(), Code::Internal);
    assert!(!st.message().contains("s3cr3t"));
    assert_eq!(
        c.get_order(get("other")).await.unwrap_err().code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn verify_reports_met_and_unmet_expectations_with_calls() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .named("get x")
        .when(|r| r.order_id == "x")
        .respond(order("x", "c"))
        .expect(1)
        .mount(&mock);
    Stub::on(CreateOrder)
        .named("never")
        .fail(Status::internal("no"))
        .expect(1..)
        .up_to(0)
        .mount(&mock);
    let mut req = Request::new(get("x"));
    req.metadata_mut()
        .insert("authorization", "Bearer sekret-token".parse().unwrap());
    mock.client().get_order(req).await.unwrap();
    mock.journal().wait_for_ended(1).await;
    let report = mock.verify();
    assert!(!report.is_ok());
    let text = report.to_string();
    assert!(
        text.contains("ok   GetOrder \"get x\": expected exactly 1, matched 1"),
        "{text}"
    );
    assert!(
        text.contains("FAIL CreateOrder \"never\": expected at least 1, matched 0"),
        "{text}"
    );
    assert!(
        text.contains("GetOrder [authorization: <redacted>]"),
        "{text}"
    );
    assert!(
        !text.contains("sekret"),
        "A-3: tokens never printed: {text}"
    );
    std::mem::forget(mock); // this test inspects the report instead of panicking on drop
}

#[tokio::test]
#[should_panic(expected = "OrderMock dropped with unmet expectations")]
async fn unmet_expectation_panics_on_drop() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .respond(order("x", "c"))
        .expect(2)
        .mount(&mock);
    mock.client().get_order(get("x")).await.unwrap();
    drop(mock);
}

#[tokio::test]
async fn met_expectations_drop_quietly() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .respond(order("x", "c"))
        .expect(1..=2)
        .mount(&mock);
    mock.client().get_order(get("x")).await.unwrap();
    mock.verify().assert_ok();
}

#[test]
fn no_drop_panic_while_already_panicking() {
    let result = std::panic::catch_unwind(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mock = OrderMock::start().await;
            Stub::on(GetOrder)
                .respond(order("x", "c"))
                .expect(1)
                .mount(&mock);
            panic!("the test's own failure");
        })
    });
    let err = result.unwrap_err();
    let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert_eq!(
        msg, "the test's own failure",
        "the original panic is the one reported"
    );
}

#[tokio::test]
async fn seed_and_advance_push_changes_to_watchers() {
    let mock = OrderMock::start().await;
    let id = mock.seed_order(Order {
        order_id: "seeded".into(),
        customer_id: "c".into(),
        status: S::Confirmed as i32,
        items: vec![LineItem {
            product_id: "p".into(),
            quantity: 1,
            price_cents: 1,
        }],
        ..Default::default()
    });
    let mut s = mock
        .client()
        .watch_order_status(WatchOrderStatusRequest {
            order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.message().await.unwrap().unwrap().status(), S::Confirmed);
    assert_eq!(mock.advance(&id, A::Ship), Ok(S::Shipped));
    let u = s.message().await.unwrap().unwrap();
    assert_eq!(
        (u.previous_status(), u.status()),
        (S::Confirmed, S::Shipped)
    );
    assert!(mock.advance(&id, A::Confirm).is_err());
    // Seeded ids never collide with created ones.
    mock.seed_order(Order {
        order_id: "ord-000001".into(),
        ..Default::default()
    });
    assert_eq!(create(&mock).await, "ord-000002");
}

/// D-2 holds whoever would answer: every RPC, with a stub mounted that
/// would take the call, fails at once with DEADLINE_EXCEEDED when less than
/// the threshold is left, and no stub answers (the mock admits each call
/// once, before the stubs choose).
#[tokio::test]
async fn d2_applies_to_stubbed_calls_of_every_rpc() {
    use orders_testkit::mock::CallNotes as _;

    let mock = OrderMock::builder()
        .fail_fast(Duration::from_millis(200))
        .start()
        .await;
    let stubs = [
        Stub::on(CreateOrder)
            .respond(CreateOrderResponse::default())
            .mount(&mock),
        Stub::on(GetOrder).respond(Order::default()).mount(&mock),
        Stub::on(WatchOrderStatus)
            .stream([OrderStatusUpdate::default()])
            .mount(&mock),
        Stub::on(SubmitLineItems)
            .respond(SubmitLineItemsResponse::default())
            .mount(&mock),
        Stub::on(ProcessOrders)
            .respond_with(|a| {
                Ok(OrderResult {
                    order_id: a.order_id.clone(),
                    success: true,
                    ..Default::default()
                })
            })
            .mount(&mock),
    ];
    fn timed<T>(msg: T) -> Request<T> {
        let mut r = Request::new(msg);
        r.set_timeout(Duration::from_millis(50));
        r
    }
    let mut client = mock.client();
    let answers = [
        client
            .create_order(timed(CreateOrderRequest::default()))
            .await
            .map(drop),
        client
            .get_order(timed(GetOrderRequest::default()))
            .await
            .map(drop),
        client
            .watch_order_status(timed(WatchOrderStatusRequest::default()))
            .await
            .map(drop),
        client
            .submit_line_items(timed(tokio_stream::iter(Vec::<LineItem>::new())))
            .await
            .map(drop),
        match client
            .process_orders(timed(tokio_stream::iter(vec![OrderAction::default()])))
            .await
        {
            Err(status) => Err(status),
            Ok(res) => res.into_inner().message().await.map(drop),
        },
    ];
    let rpcs = [
        "CreateOrder",
        "GetOrder",
        "WatchOrderStatus",
        "SubmitLineItems",
        "ProcessOrders",
    ];
    for (rpc, answer) in rpcs.iter().zip(answers) {
        let code = answer.map_err(|st| st.code());
        assert_eq!(code, Err(Code::DeadlineExceeded), "{rpc}");
    }
    for (rpc, stub) in rpcs.iter().zip(&stubs) {
        assert_eq!(stub.hits(), 0, "the {rpc} stub did nothing");
    }
    let calls = mock.journal().wait_for_ended(5).await;
    assert_eq!(calls.len(), 5);
    for call in &calls {
        assert_eq!(call.answered_by(), [], "nobody answered {call}");
    }
}

#[tokio::test]
#[should_panic(expected = "mounted without a responder")]
async fn a_stub_without_a_responder_is_refused_at_mount() {
    let mock = orders_testkit::OrderMock::start().await;
    Stub::on(orders_testkit::rpc::GetOrder)
        .when(|r| r.order_id == "x")
        .mount(&mock);
}

/// A failed expectation points at the test's own lines: the stub's report
/// names the line that mounted it, `verify().assert_ok()` the line that
/// called it, and the check on drop the mounting line too.
#[test]
fn a_failed_expectation_names_the_test_lines_that_mounted_and_verified() {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mock, mounted) = runtime.block_on(async {
        let mock = OrderMock::start().await;
        let stub = Stub::on(GetOrder).respond(Order::default()).expect(1);
        let mounted = line!() + 1;
        stub.mount(&mock);
        (mock, mounted)
    });
    let message = |panic: Box<dyn std::any::Any + Send>| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .expect("a formatted panic message")
    };
    let verified = line!() + 1;
    let failed = catch_unwind(AssertUnwindSafe(|| mock.verify().assert_ok())).unwrap_err();
    let failed = message(failed);
    assert!(
        failed.contains(&format!("verify() at {}:{verified}:", file!())),
        "{failed}"
    );
    assert!(
        failed.contains(&format!("(mounted at {}:{mounted}:", file!())),
        "{failed}"
    );
    let dropped = catch_unwind(AssertUnwindSafe(move || drop(mock))).unwrap_err();
    let dropped = message(dropped);
    assert!(
        dropped.contains(&format!("(mounted at {}:{mounted}:", file!())),
        "{dropped}"
    );
}
