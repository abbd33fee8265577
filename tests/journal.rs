//! The call journal: every call in order, stubbed or not, with decoded
//! requests across the four patterns, metadata, deadline, outcome, instants.

mod common;

use std::time::Duration;

use common::*;
use orders_testkit::journal::{Journal, Outcome};
use orders_testkit::pb::{
    GetOrderRequest, Order, OrderActionType as A, OrderStatus, WatchOrderStatusRequest,
};
use orders_testkit::rpc::{
    CreateOrder, GetOrder, Method, ProcessOrders, SubmitLineItems, WatchOrderStatus,
};
use orders_testkit::{OrderMock, Stub};
use tonic::{Code, Request};

#[tokio::test]
async fn journal_records_every_call_in_order_across_patterns() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .when(|r| r.order_id == "stubbed")
        .respond(Order {
            status: OrderStatus::Pending as i32,
            ..Default::default()
        })
        .mount(&mock);
    let mut c = mock.client();
    let id = create(&mock).await;
    c.get_order(GetOrderRequest {
        order_id: "stubbed".into(),
    })
    .await
    .unwrap();
    c.get_order(GetOrderRequest {
        order_id: "missing".into(),
    })
    .await
    .unwrap_err();
    c.submit_line_items(tokio_stream::iter(vec![item("a", 1, 2), item("b", 3, 4)]))
        .await
        .unwrap();
    process(&mock, vec![action(&id, A::Confirm), action(&id, A::Ship)]).await;
    let mut w = c
        .watch_order_status(WatchOrderStatusRequest {
            order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    mock.advance(&id, A::Deliver).unwrap();
    while w.message().await.unwrap().is_some() {}

    let calls = mock.journal().wait_for_ended(6).await;
    let methods: Vec<_> = calls.iter().map(|c| c.method.unwrap()).collect();
    assert_eq!(
        methods,
        [
            Method::CreateOrder,
            Method::GetOrder,
            Method::GetOrder,
            Method::SubmitLineItems,
            Method::ProcessOrders,
            Method::WatchOrderStatus
        ]
    );
    assert_eq!(
        calls.iter().map(|c| c.seq).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5]
    );
    assert_eq!(calls[0].requests_of(CreateOrder), [valid_req()]);
    assert_eq!(calls[1].requests_of(GetOrder)[0].order_id, "stubbed");
    assert_eq!(calls[1].outcome.code(), Some(Code::Ok));
    assert_eq!(calls[2].outcome.code(), Some(Code::NotFound));
    assert_eq!(
        calls[3].requests_of(SubmitLineItems),
        [item("a", 1, 2), item("b", 3, 4)]
    );
    assert_eq!(
        calls[4].requests_of(ProcessOrders),
        [action(&id, A::Confirm), action(&id, A::Ship)]
    );
    assert_eq!(calls[5].requests_of(WatchOrderStatus)[0].order_id, id);
    assert_eq!(calls[5].outcome.code(), Some(Code::Ok));
    for call in &calls {
        assert!(call.ended.unwrap() >= call.started);
    }
    // Queries by RPC.
    assert_eq!(mock.journal().calls_to(GetOrder).len(), 2);
    assert_eq!(mock.journal().requests(GetOrder).len(), 2);
}

#[tokio::test]
async fn journal_deadline_metadata_and_helpers() {
    let mock = OrderMock::start().await;
    let mut c = mock.client();
    let mut req = Request::new(GetOrderRequest {
        order_id: "x".into(),
    });
    req.set_timeout(Duration::from_millis(1500));
    req.metadata_mut()
        .insert("x-request-id", "r-1".parse().unwrap());
    c.get_order(req).await.unwrap_err();
    let calls = mock.journal().wait_for_ended(1).await;
    assert_eq!(calls[0].deadline, Some(Duration::from_millis(1500)));
    assert_eq!(calls[0].header("x-request-id"), Some("r-1"));
    assert!(mock.journal().every_call_had_deadline());
    assert!(mock.journal().every_call_had_header("x-request-id", "r-1"));

    c.get_order(GetOrderRequest {
        order_id: "y".into(),
    })
    .await
    .unwrap_err();
    let calls = mock.journal().wait_for_ended(2).await;
    assert_eq!(calls[1].deadline, None);
    assert!(!mock.journal().every_call_had_deadline());
    assert!(!mock.journal().every_call_had_header("x-request-id", "r-1"));
}

#[tokio::test]
async fn journal_redacts_authorization_when_printed() {
    let mock = OrderMock::start().await;
    let mut req = Request::new(GetOrderRequest {
        order_id: "x".into(),
    });
    req.metadata_mut()
        .insert("authorization", "Bearer top-secret".parse().unwrap());
    mock.client().get_order(req).await.unwrap_err();
    let calls = mock.journal().wait_for_ended(1).await;
    // The value is there for asserts...
    assert_eq!(calls[0].header("authorization"), Some("Bearer top-secret"));
    // ...but never printed.
    let line = calls[0].to_string();
    assert!(line.contains("authorization: <redacted>"), "{line}");
    assert!(!line.contains("top-secret"));
    assert!(!mock.journal().render().contains("top-secret"));
}

#[tokio::test]
async fn journal_marks_cancelled_calls_without_status() {
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    let mut w = mock
        .client()
        .watch_order_status(WatchOrderStatusRequest { order_id: id })
        .await
        .unwrap()
        .into_inner();
    w.message().await.unwrap().unwrap();
    drop(w);
    let calls = mock
        .journal()
        .wait_until(|calls| calls.len() == 2 && calls[1].ended.is_some())
        .await;
    assert_eq!(calls[1].outcome, Outcome::NoStatus);
}

#[tokio::test]
async fn journal_sees_health_and_reflection_calls_too() {
    let mock = OrderMock::start().await;
    mock.health_client()
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
    let calls = mock.journal().wait_for_ended(1).await;
    assert_eq!(calls[0].method, None);
    assert_eq!(calls[0].path, "/grpc.health.v1.Health/Check");
    // Helpers about OrderService calls ignore other services.
    assert!(mock.journal().every_call_had_deadline());
}

/// A GetOrder that hangs (no deadline sent) until the client gives up.
async fn hanging_mock() -> OrderMock {
    let mock = OrderMock::start().await;
    mock.inject(orders_testkit::fault::Fault::hang().on(GetOrder));
    mock
}

async fn in_flight(mock: &OrderMock) {
    mock.journal()
        .wait_until(|calls| calls.iter().any(|c| c.outcome == Outcome::InFlight))
        .await;
}

#[tokio::test]
async fn journal_ends_a_call_the_clients_own_deadline_cut_before_headers() {
    let mock = hanging_mock().await;
    // A deadline the client keeps to itself (no grpc-timeout sent).
    let mut client = mock.client();
    let cut = tokio::time::timeout(
        Duration::from_millis(50),
        client.get_order(GetOrderRequest {
            order_id: "x".into(),
        }),
    )
    .await;
    assert!(cut.is_err(), "no answer before the client's deadline");
    let calls = mock.journal().wait_for_ended(1).await;
    assert_eq!(calls[0].outcome, Outcome::Cancelled);
    assert!(calls[0].ended.is_some());
}

#[tokio::test]
async fn journal_ends_a_call_whose_future_the_client_dropped() {
    let mock = hanging_mock().await;
    let mut client = mock.client();
    let call = tokio::spawn(async move {
        client
            .get_order(GetOrderRequest {
                order_id: "x".into(),
            })
            .await
    });
    in_flight(&mock).await;
    call.abort();
    let calls = mock.journal().wait_for_ended(1).await;
    assert_eq!(calls[0].outcome, Outcome::Cancelled);
}

#[tokio::test]
async fn journal_ends_a_call_whose_connection_dropped() {
    let mock = OrderMock::start().await;
    mock.inject(orders_testkit::fault::Fault::drop_connection().on(GetOrder));
    let err = mock
        .client()
        .get_order(GetOrderRequest {
            order_id: "x".into(),
        })
        .await
        .unwrap_err();
    // tonic reports the broken connection as UNKNOWN "transport error".
    assert!(
        matches!(err.code(), Code::Unavailable | Code::Unknown),
        "{err:?}"
    );
    let calls = mock.journal().wait_for_ended(1).await;
    assert_eq!(calls[0].outcome, Outcome::Cancelled);
}

#[tokio::test]
async fn journal_records_the_internal_a_panicking_stub_became() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .respond_with(|_| panic!("stub bug"))
        .mount(&mock);
    let err = mock
        .client()
        .get_order(GetOrderRequest {
            order_id: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    let calls = mock.journal().wait_for_ended(1).await;
    assert_eq!(calls[0].outcome.code(), Some(Code::Internal));
}

#[tokio::test]
async fn a_bounded_journal_keeps_the_latest_calls_and_says_how_many_it_dropped() {
    use orders_testkit::journal::{Journal, JournalLayer};
    use tower::Layer;
    let journal = Journal::bounded(8);
    let routes = tonic::service::Routes::new(
        orders_testkit::pb::order_service_server::OrderServiceServer::new(
            orders_testkit::service::orders::ReferenceService::new(
                orders_testkit::service::model::Store::new(),
                Default::default(),
            ),
        ),
    );
    let server = orders_testkit::server::InProcessServer::start(
        JournalLayer::new(journal.clone()).layer(routes.prepare()),
    );
    let mut client =
        orders_testkit::pb::order_service_client::OrderServiceClient::new(server.channel());
    for i in 0..40 {
        let _ = client
            .get_order(GetOrderRequest {
                order_id: format!("o-{i}"),
            })
            .await;
    }
    journal.wait_for_ended(40).await;
    let calls = journal.calls();
    assert!(calls.len() <= 9, "{} kept", calls.len());
    assert_eq!(journal.dropped() as usize + calls.len(), 40);
    assert_eq!(
        calls.last().unwrap().requests_of(GetOrder)[0].order_id,
        "o-39"
    );
    assert!(journal.render().contains("earlier calls dropped"));
}

#[tokio::test]
async fn the_journal_keeps_within_its_byte_budget_and_the_latest_calls_whole() {
    use orders_testkit::pb::LineItem;
    let budget = 256 << 10;
    let journal = Journal::bounded(100_000).with_budget(budget, 64 << 10);
    let mock = OrderMock::builder().journal(journal).start().await;
    let mut client = mock.client();
    let item = |i: u32| LineItem {
        product_id: format!("p-{i}"),
        quantity: 1,
        price_cents: 5,
    };
    // 60 calls of 100 items each: far more than 256 KiB of records.
    for _ in 0..60 {
        client
            .submit_line_items(tokio_stream::iter((0..100).map(item)))
            .await
            .unwrap();
    }
    // One call far over the per-call cap.
    client
        .submit_line_items(tokio_stream::iter((0..5_000).map(item)))
        .await
        .unwrap();
    let journal = mock.journal();
    let calls = journal.wait_for_ended(journal.len()).await;
    assert!(journal.bytes() <= budget, "{} > {budget}", journal.bytes());
    assert!(journal.dropped() > 0, "the earliest calls were dropped");
    // The latest calls are kept, in order and whole but for the huge one.
    let last = calls.last().unwrap();
    assert!(last.truncated());
    assert_eq!(last.requests.len() + last.unkept_requests, 5_000);
    assert!(last.requests.len() < 5_000);
    let before = &calls[calls.len() - 2];
    assert!(!before.truncated());
    assert_eq!(before.requests.len(), 100);
    assert_eq!(calls.len() as u64 + journal.dropped(), 61);
}
