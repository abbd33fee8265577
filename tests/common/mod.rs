//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[cfg(feature = "admin")]
pub mod http1;

use orders_testkit::grpc::payload::ErrorPayload;
use orders_testkit::pb::{CreateOrderRequest, LineItem, OrderAction, OrderActionType};
use tonic::Request;

pub fn item(product: &str, quantity: i32, price_cents: i64) -> LineItem {
    LineItem {
        product_id: product.into(),
        quantity,
        price_cents,
    }
}

pub fn create_req(customer: &str, items: Vec<LineItem>) -> CreateOrderRequest {
    CreateOrderRequest {
        customer_id: customer.into(),
        items,
        shipping_address: None,
    }
}

pub fn valid_req() -> CreateOrderRequest {
    create_req("cust-1", vec![item("p1", 2, 1999), item("p2", 1, 500)])
}

pub fn action(order_id: &str, action: OrderActionType) -> OrderAction {
    OrderAction {
        order_id: order_id.into(),
        action: action as i32,
    }
}

pub fn with_key<T>(msg: T, key: &str) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut().insert(
        "idempotency-key",
        key.parse().expect("test keys are valid metadata"),
    );
    req
}

/// Snapshots an error payload into the top-level `snapshots/` folder.
pub fn snapshot_status(name: &str, status: &tonic::Status) {
    let rendered = ErrorPayload::from_status(status).render();
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, rendered);
    });
}

/// Asserts the E-2 shape: INVALID_ARGUMENT with a BadRequest listing exactly
/// these fields, in this order, each with a non-empty description.
pub fn assert_violations(status: &tonic::Status, fields: &[&str]) {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(!status.message().is_empty());
    let bad = status
        .get_details_bad_request()
        .expect("INVALID_ARGUMENT carries a BadRequest (E-2)");
    let got: Vec<&str> = bad
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(got, fields);
    assert!(
        bad.field_violations
            .iter()
            .all(|v| !v.description.is_empty())
    );
}

/// A timestamp field as nanoseconds since the epoch (panics when absent).
pub fn nanos(ts: &Option<prost_types::Timestamp>) -> i128 {
    let ts = ts.as_ref().expect("timestamp is set");
    i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos)
}

/// A bare hyper HTTP/2 connection to the mock, with no tonic `Channel` in
/// between: tonic's client enforces `grpc-timeout` itself (answering
/// `CANCELLED`), which hides what the server says at the deadline.
#[derive(Clone)]
pub struct RawH2 {
    sender: hyper::client::conn::http2::SendRequest<tonic::body::Body>,
}

impl tower::Service<http::Request<tonic::body::Body>> for RawH2 {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.sender.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.sender.send_request(req))
    }
}

pub async fn raw_client(
    mock: &orders_testkit::OrderMock,
) -> orders_testkit::pb::order_service_client::OrderServiceClient<RawH2> {
    let io = mock.connector().connect().expect("the mock is running");
    let (sender, conn) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    orders_testkit::pb::order_service_client::OrderServiceClient::with_origin(
        RawH2 { sender },
        http::Uri::from_static("http://in-process.orders-testkit.invalid"),
    )
}

/// A hang guard for awaits: a correct test finishes long before this.
pub const GUARD: std::time::Duration = std::time::Duration::from_secs(20);

/// Creates a valid order on the mock and returns its id.
pub async fn create(mock: &orders_testkit::OrderMock) -> String {
    mock.client()
        .create_order(valid_req())
        .await
        .expect("a valid order is created")
        .into_inner()
        .order_id
}

/// Sends `actions` on one ProcessOrders call, half-closes, and returns every
/// result; the call must end with OK (P-5).
pub async fn process(
    mock: &orders_testkit::OrderMock,
    actions: Vec<OrderAction>,
) -> Vec<orders_testkit::pb::OrderResult> {
    let mut out = mock
        .client()
        .process_orders(tokio_stream::iter(actions))
        .await
        .expect("ProcessOrders starts")
        .into_inner();
    let mut results = vec![];
    while let Some(r) = out.message().await.expect("the call ends with OK (P-5)") {
        results.push(r);
    }
    results
}
