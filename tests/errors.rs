//! SPEC §2 errors everywhere: E-1, E-5 over every error the mock produces,
//! and E-6 (a panicking handler becomes a sanitized INTERNAL and the
//! connection keeps serving).

mod common;

use common::*;
use orders_testkit::OrderMock;
use orders_testkit::layers::catch_panic::{CatchPanicLayer, PANIC_MESSAGE};
use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::order_service_server::{OrderService, OrderServiceServer};
use orders_testkit::pb::*;
use orders_testkit::server::InProcessServer;
use orders_testkit::service::orders::BoxStream;
use prost::Message;
use tonic::{Code, Request, Response, Status, Streaming};
use tower::Layer;

/// Every error case of §2 to §7 the default service produces.
async fn every_error(mock: &OrderMock) -> Vec<Status> {
    let mut c = mock.client();
    let mut out = vec![
        c.create_order(create_req("", vec![])).await.unwrap_err(),
        c.create_order(with_key(create_req("", vec![item("", 0, -1)]), "k"))
            .await
            .unwrap_err(),
        c.get_order(GetOrderRequest {
            order_id: String::new(),
        })
        .await
        .unwrap_err(),
        c.get_order(GetOrderRequest {
            order_id: "nope".into(),
        })
        .await
        .unwrap_err(),
        c.watch_order_status(WatchOrderStatusRequest {
            order_id: "nope".into(),
        })
        .await
        .unwrap_err(),
        c.submit_line_items(tokio_stream::iter(vec![item("", 0, 0)]))
            .await
            .unwrap_err(),
        c.submit_line_items(tokio_stream::iter(vec![item("a", 2, i64::MAX)]))
            .await
            .unwrap_err(),
    ];
    c.create_order(with_key(valid_req(), "dup")).await.unwrap();
    out.push(
        c.create_order(with_key(create_req("other", vec![item("p", 1, 1)]), "dup"))
            .await
            .unwrap_err(),
    );
    out
}

#[tokio::test]
async fn e1_service_errors_have_codes_from_the_table_and_messages() {
    let mock = OrderMock::start().await;
    let table = [
        Code::InvalidArgument,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::Unauthenticated,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Unavailable,
        Code::Internal,
        Code::DeadlineExceeded,
    ];
    for st in every_error(&mock).await {
        assert!(table.contains(&st.code()), "{st:?}");
        assert!(!st.message().is_empty(), "{st:?}");
    }
}

#[tokio::test]
async fn e5_details_repeat_code_and_message() {
    let mock = OrderMock::start().await;
    for st in every_error(&mock).await {
        assert!(
            !st.details().is_empty(),
            "every service error carries details: {st:?}"
        );
        let decoded = tonic_types::pb::Status::decode(st.details()).unwrap();
        assert_eq!(decoded.code, st.code() as i32);
        assert_eq!(decoded.message, st.message());
        let payload = orders_testkit::grpc::payload::ErrorPayload::from_status(&st);
        assert!(payload.details_status.is_none());
    }
}

#[tokio::test]
async fn e7_transient_errors_carry_retry_info() {
    use tonic_types::StatusExt;
    // The default service never fails transiently on its own; its transient
    // failures come from faults: UNAVAILABLE and the rate limit's
    // RESOURCE_EXHAUSTED, both saying when to retry.
    let mock = OrderMock::start().await;
    for st in every_error(&mock).await {
        assert!(
            !matches!(st.code(), Code::Unavailable | Code::ResourceExhausted),
            "{st:?}"
        );
    }
    mock.inject(
        orders_testkit::fault::Fault::unavailable("draining", std::time::Duration::from_millis(40))
            .on(orders_testkit::rpc::CreateOrder),
    );
    mock.inject(
        orders_testkit::fault::Fault::rate_limit(1, std::time::Duration::from_secs(30))
            .on(orders_testkit::rpc::GetOrder),
    );
    let mut c = mock.client();
    let unavailable = c.create_order(valid_req()).await.unwrap_err();
    let _first = c
        .get_order(GetOrderRequest {
            order_id: "x".into(),
        })
        .await;
    let limited = c
        .get_order(GetOrderRequest {
            order_id: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unavailable.code(), Code::Unavailable);
    assert_eq!(limited.code(), Code::ResourceExhausted);
    for st in [unavailable, limited] {
        let delay = st.get_details_retry_info().and_then(|r| r.retry_delay);
        assert!(
            delay.is_some_and(|d| d > std::time::Duration::ZERO),
            "{st:?}"
        );
    }
}

/// A user-style service whose handlers panic with internal detail.
#[derive(Clone)]
struct Panicky;

#[tonic::async_trait]
impl OrderService for Panicky {
    async fn create_order(
        &self,
        _: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        panic!("database password=hunter2 at src/db.rs:42");
    }
    async fn get_order(&self, r: Request<GetOrderRequest>) -> Result<Response<Order>, Status> {
        Ok(Response::new(Order {
            order_id: r.into_inner().order_id,
            ..Default::default()
        }))
    }
    type WatchOrderStatusStream = BoxStream<OrderStatusUpdate>;
    async fn watch_order_status(
        &self,
        _: Request<WatchOrderStatusRequest>,
    ) -> Result<Response<Self::WatchOrderStatusStream>, Status> {
        panic!("watch exploded: Error {{ source: Io(ConnectionReset) }}");
    }
    async fn submit_line_items(
        &self,
        _: Request<Streaming<LineItem>>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        panic!("index out of bounds: the len is 0 but the index is 3");
    }
    type ProcessOrdersStream = BoxStream<OrderResult>;
    async fn process_orders(
        &self,
        _: Request<Streaming<OrderAction>>,
    ) -> Result<Response<Self::ProcessOrdersStream>, Status> {
        panic!("unreachable code reached in /home/ci/src/orders.rs");
    }
}

#[tokio::test]
async fn e6_panic_is_sanitized_internal_and_connection_keeps_serving() {
    let routes = tonic::service::Routes::new(OrderServiceServer::new(Panicky)).prepare();
    let server = InProcessServer::start(CatchPanicLayer.layer(routes));
    let mut client = OrderServiceClient::new(server.channel());
    let errors = vec![
        client.create_order(valid_req()).await.unwrap_err(),
        client
            .watch_order_status(WatchOrderStatusRequest {
                order_id: "o".into(),
            })
            .await
            .unwrap_err(),
        client
            .submit_line_items(tokio_stream::iter(vec![item("a", 1, 1)]))
            .await
            .unwrap_err(),
        client
            .process_orders(tokio_stream::iter(vec![action(
                "o",
                OrderActionType::Confirm,
            )]))
            .await
            .unwrap_err(),
    ];
    for st in &errors {
        assert_eq!(st.code(), Code::Internal);
        assert_eq!(st.message(), PANIC_MESSAGE);
        for leak in [
            "hunter2",
            "src/",
            ".rs",
            "panicked",
            "Error {",
            "index out of bounds",
        ] {
            assert!(!st.message().contains(leak), "{st:?}");
        }
        // The same connection serves the next call.
        let ok = client
            .get_order(GetOrderRequest {
                order_id: "after".into(),
            })
            .await
            .unwrap();
        assert_eq!(ok.into_inner().order_id, "after");
    }
    snapshot_status("e6_panic_internal", &errors[0]);
}

/// E-2's size reading: 1001 invalid items make thousands of violations;
/// a client that accepts 8 KiB of metadata, the default of grpc-java and
/// grpc-js, still gets the INVALID_ARGUMENT and its BadRequest: a prefix
/// in the contract's order, ended by a summary naming the first violation
/// left out and how many were.
#[tokio::test]
async fn e2_details_fit_in_eight_kib_of_metadata() {
    use tonic_types::StatusExt;
    let mock = OrderMock::start().await;
    let connector = mock.connector().clone();
    let channel = tonic::transport::Endpoint::from_static("http://in-process")
        .http2_max_header_list_size(8 * 1024)
        .connect_with_connector_lazy(tower::service_fn(move |_: http::Uri| {
            let conn = connector.connect();
            async move { conn.map(hyper_util::rt::TokioIo::new) }
        }));
    let items = (0..1001)
        .map(|i| LineItem {
            product_id: String::new(),
            quantity: 0,
            price_cents: -1 - i,
        })
        .collect::<Vec<_>>();
    let req = CreateOrderRequest {
        customer_id: String::new(),
        items,
        shipping_address: None,
    };
    let st = OrderServiceClient::new(channel)
        .create_order(req)
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument, "{st:?}");
    let listed = st.get_details_bad_request().unwrap().field_violations;
    // customer_id, items (count), then three per item: 3005 in all.
    let total = 2 + 3 * 1001;
    assert!(
        listed.len() >= 50 && listed.len() < total,
        "{}",
        listed.len()
    );
    assert_eq!(listed[0].field, "customer_id");
    assert_eq!(listed[1].field, "items");
    assert_eq!(listed[2].field, "items[0].product_id");
    let k = listed.len() - 1;
    // The summary names the first violation left out: index k in the list.
    let first_left_out = ["product_id", "quantity", "price_cents"][(k - 2) % 3];
    let summary = listed.last().unwrap();
    assert_eq!(
        summary.field,
        format!("items[{}].{first_left_out}", (k - 2) / 3)
    );
    assert!(
        summary.description.contains(&format!("{} more", total - k)),
        "{summary:?}"
    );
}
