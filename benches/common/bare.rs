//! The physical limit: a hand-written tonic OrderService with no model, no
//! journal, no layers, answering constants of the same shape as the mock's
//! answers (same fields set, same sizes on the wire).

use orders_testkit::pb::order_service_server::{OrderService, OrderServiceServer};
use orders_testkit::pb::*;
use orders_testkit::service::orders::BoxStream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

/// How many messages a bare watch streams.
pub const STREAM_LEN: usize = 1000;

#[derive(Clone)]
pub struct Bare {
    /// How many messages a watch streams.
    watch_len: usize,
}

impl Default for Bare {
    fn default() -> Self {
        Bare {
            watch_len: STREAM_LEN,
        }
    }
}

/// A fixed time, as many bytes on the wire as the mock's "now".
fn stamp() -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: 1_796_000_000,
        nanos: 123_456_789,
    })
}

#[tonic::async_trait]
impl OrderService for Bare {
    async fn create_order(
        &self,
        _: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        // The shape of the mock's answer (an id of its length, a time), so
        // that what is compared is the work, not the payload.
        Ok(Response::new(CreateOrderResponse {
            order_id: "ord-000001".into(),
            created_at: stamp(),
        }))
    }
    async fn get_order(&self, r: Request<GetOrderRequest>) -> Result<Response<Order>, Status> {
        // As the mock answers a seeded order: the id, PENDING, two times.
        Ok(Response::new(Order {
            order_id: r.into_inner().order_id,
            status: OrderStatus::Pending as i32,
            created_at: stamp(),
            updated_at: stamp(),
            ..Default::default()
        }))
    }
    type WatchOrderStatusStream = BoxStream<OrderStatusUpdate>;
    async fn watch_order_status(
        &self,
        r: Request<WatchOrderStatusRequest>,
    ) -> Result<Response<Self::WatchOrderStatusStream>, Status> {
        let id = r.into_inner().order_id;
        let updates = (0..self.watch_len).map(move |_| {
            Ok(OrderStatusUpdate {
                order_id: id.clone(),
                status: 2,
                previous_status: 1,
                updated_at: None,
            })
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(updates))))
    }
    async fn submit_line_items(
        &self,
        r: Request<Streaming<LineItem>>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        let mut s = r.into_inner();
        let mut n = 0;
        while let Some(Ok(_)) = s.next().await {
            n += 1;
        }
        Ok(Response::new(SubmitLineItemsResponse {
            item_count: n,
            total_cents: 0,
        }))
    }
    type ProcessOrdersStream = BoxStream<OrderResult>;
    async fn process_orders(
        &self,
        r: Request<Streaming<OrderAction>>,
    ) -> Result<Response<Self::ProcessOrdersStream>, Status> {
        let s = r.into_inner().map(|a| {
            a.map(|a| OrderResult {
                order_id: a.order_id,
                success: false,
                error: "NOT_FOUND: x".into(),
                status: 0,
            })
        });
        Ok(Response::new(Box::pin(s)))
    }
}

pub fn routes() -> tonic::service::Routes {
    routes_with(STREAM_LEN)
}

/// The bare service whose watches stream `watch_len` messages.
pub fn routes_with(watch_len: usize) -> tonic::service::Routes {
    tonic::service::Routes::new(OrderServiceServer::new(Bare { watch_len })).prepare()
}
