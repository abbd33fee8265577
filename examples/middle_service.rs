//! Deadline propagation in a middle service: A calls B, B calls C.
//!
//! B (`MiddleService`) serves GetOrder by doing some work of its own and
//! then asking C (here the mock) for the order. It gives C no more time than
//! it has left itself, less a safety margin, and fails fast with
//! DEADLINE_EXCEEDED when too little is left, so that C is never called in
//! vain.
//!
//! Run it: `cargo run --example middle_service`

use std::time::Duration;

use orders_testkit::OrderMock;
use orders_testkit::grpc::propagation::{Budget, Propagation};
use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::order_service_server::{OrderService, OrderServiceServer};
use orders_testkit::pb::*;
use orders_testkit::service::orders::BoxStream;
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};

/// Service B: GetOrder goes through to C with a propagated deadline.
#[derive(Clone)]
pub struct MiddleService {
    /// The client of C.
    pub downstream: OrderServiceClient<Channel>,
    /// Margin and fail-fast threshold.
    pub rules: Propagation,
    /// B's own work before it calls C.
    pub work: Duration,
}

#[tonic::async_trait]
impl OrderService for MiddleService {
    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let budget = Budget::from_request(&request);
        tokio::time::sleep(self.work).await; // B's own work
        let mut outgoing = Request::new(request.into_inner());
        self.rules.apply(&budget, &mut outgoing)?; // fail fast, or pass the deadline on
        self.downstream.clone().get_order(outgoing).await
    }

    async fn create_order(
        &self,
        _: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        Err(Status::unimplemented("B only proxies GetOrder"))
    }

    type WatchOrderStatusStream = BoxStream<OrderStatusUpdate>;

    async fn watch_order_status(
        &self,
        _: Request<WatchOrderStatusRequest>,
    ) -> Result<Response<Self::WatchOrderStatusStream>, Status> {
        Err(Status::unimplemented("B only proxies GetOrder"))
    }

    async fn submit_line_items(
        &self,
        _: Request<Streaming<LineItem>>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        Err(Status::unimplemented("B only proxies GetOrder"))
    }

    type ProcessOrdersStream = BoxStream<OrderResult>;

    async fn process_orders(
        &self,
        _: Request<Streaming<OrderAction>>,
    ) -> Result<Response<Self::ProcessOrdersStream>, Status> {
        Err(Status::unimplemented("B only proxies GetOrder"))
    }
}

/// Starts B in process in front of `c`; returns A's client of B (and B's server).
pub fn start_b(
    c: &OrderMock,
    rules: Propagation,
    work: Duration,
) -> (
    OrderServiceClient<Channel>,
    orders_testkit::server::InProcessServer,
) {
    let b = MiddleService {
        downstream: c.client(),
        rules,
        work,
    };
    let server = orders_testkit::server::InProcessServer::start(
        tonic::service::Routes::new(OrderServiceServer::new(b)).prepare(),
    );
    (OrderServiceClient::new(server.channel()), server)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let c = OrderMock::start().await;
    let id = c.seed_order(Order {
        order_id: "o-1".into(),
        ..Default::default()
    });
    let rules = Propagation::new(Duration::from_millis(20), Duration::from_millis(100));
    let (mut a, _b) = start_b(&c, rules, Duration::from_millis(50));

    let mut req = Request::new(GetOrderRequest { order_id: id });
    req.set_timeout(Duration::from_millis(500));
    let order = a.get_order(req).await.expect("enough time");
    let calls = c.journal().wait_for_ended(1).await;
    println!(
        "A gave B 500 ms; B gave C {:?}; got {}",
        calls[0].deadline,
        order.into_inner().order_id
    );

    let mut req = Request::new(GetOrderRequest {
        order_id: "o-1".into(),
    });
    req.set_timeout(Duration::from_millis(120));
    let err = a.get_order(req).await.expect_err("too little time");
    println!(
        "A gave B 120 ms: {:?} {:?}; C still saw only {} call",
        err.code(),
        err.message(),
        c.journal().len()
    );
}
