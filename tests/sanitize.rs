//! E-6 layers on any tonic server: sanitizing INTERNAL/UNKNOWN messages
//! (headers and stream trailers), and on the mock.

mod common;

use common::*;
use orders_testkit::layers::sanitize::{SANITIZED_MESSAGE, SanitizeLayer};
use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::order_service_server::{OrderService, OrderServiceServer};
use orders_testkit::pb::*;
use orders_testkit::rpc::GetOrder;
use orders_testkit::server::InProcessServer;
use orders_testkit::service::orders::BoxStream;
use orders_testkit::{OrderMock, Stub};
use tonic::{Code, Request, Response, Status, Streaming};
use tower::Layer;

#[derive(Clone)]
struct Leaky;

#[tonic::async_trait]
impl OrderService for Leaky {
    async fn create_order(
        &self,
        _: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        Err(Status::internal("database unavailable"))
    }
    async fn get_order(&self, _: Request<GetOrderRequest>) -> Result<Response<Order>, Status> {
        Err(Status::internal(
            "called `Result::unwrap()` on an `Err` value: Io(Os { code: 2 }) at src/store.rs:17",
        ))
    }
    type WatchOrderStatusStream = BoxStream<OrderStatusUpdate>;
    async fn watch_order_status(
        &self,
        _: Request<WatchOrderStatusRequest>,
    ) -> Result<Response<Self::WatchOrderStatusStream>, Status> {
        let s = tokio_stream::iter(vec![
            Ok(OrderStatusUpdate::default()),
            Err(Status::unknown(
                "thread 'tokio-runtime-worker' panicked at src/watch.rs:3:5",
            )),
        ]);
        Ok(Response::new(Box::pin(s)))
    }
    async fn submit_line_items(
        &self,
        _: Request<Streaming<LineItem>>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        Err(Status::not_found("src/ not a leak for other codes"))
    }
    type ProcessOrdersStream = BoxStream<OrderResult>;
    async fn process_orders(
        &self,
        _: Request<Streaming<OrderAction>>,
    ) -> Result<Response<Self::ProcessOrdersStream>, Status> {
        Err(Status::unimplemented("no"))
    }
}

fn client(
    layer: SanitizeLayer,
) -> (
    OrderServiceClient<tonic::transport::Channel>,
    InProcessServer,
) {
    let routes = tonic::service::Routes::new(OrderServiceServer::new(Leaky)).prepare();
    let server = InProcessServer::start(layer.layer(routes));
    (OrderServiceClient::new(server.channel()), server)
}

#[tokio::test]
async fn e6_leaky_messages_are_sanitized_in_headers_and_trailers() {
    let (mut c, _server) = client(SanitizeLayer::default());
    let st = c.get_order(GetOrderRequest::default()).await.unwrap_err();
    assert_eq!(
        (st.code(), st.message()),
        (Code::Internal, SANITIZED_MESSAGE)
    );
    let mut s = c
        .watch_order_status(WatchOrderStatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(s.message().await.unwrap().is_some());
    let st = s.message().await.unwrap_err();
    assert_eq!(
        (st.code(), st.message()),
        (Code::Unknown, SANITIZED_MESSAGE)
    );
    // Plain messages and other codes pass as they are.
    assert_eq!(
        c.create_order(valid_req()).await.unwrap_err().message(),
        "database unavailable"
    );
    let st = c
        .submit_line_items(tokio_stream::iter(vec![item("a", 1, 1)]))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::NotFound);
    assert!(st.message().contains("src/"));
}

#[tokio::test]
async fn e6_strict_sanitizes_every_internal_message() {
    let (mut c, _server) = client(SanitizeLayer::strict());
    assert_eq!(
        c.create_order(valid_req()).await.unwrap_err().message(),
        SANITIZED_MESSAGE
    );
}

#[tokio::test]
async fn e6_the_mock_sanitizes_what_its_stubs_leak() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .fail(Status::internal("boom at src/lib.rs:1"))
        .off_contract()
        .mount(&mock);
    let st = mock
        .client()
        .get_order(GetOrderRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (st.code(), st.message()),
        (Code::Internal, SANITIZED_MESSAGE)
    );
}
