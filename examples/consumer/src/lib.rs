//! A checkout service's client of `orders.v1.OrderService`: places orders
//! (retrying UNAVAILABLE with one idempotency key, within the deadline it is
//! given), reads them, and turns the service's `BadRequest` details into its
//! own error. Production code: it knows `orders-proto`, not the testkit.

use std::time::Duration;

use orders_proto::order_service_client::OrderServiceClient;
use orders_proto::{CreateOrderRequest, GetOrderRequest, LineItem, Order};
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

/// What checkout reports to its own callers.
#[derive(Debug, PartialEq)]
pub enum CheckoutError {
    /// The order service rejected the cart: each offending field.
    Invalid(Vec<String>),
    /// Anything else the order service said.
    Failed(Code, String),
}

impl From<Status> for CheckoutError {
    fn from(status: Status) -> Self {
        match status.get_details_bad_request() {
            Some(bad) if status.code() == Code::InvalidArgument => {
                CheckoutError::Invalid(bad.field_violations.into_iter().map(|v| v.field).collect())
            }
            _ => CheckoutError::Failed(status.code(), status.message().to_owned()),
        }
    }
}

/// Checkout's view of the order service.
pub struct Checkout {
    orders: OrderServiceClient<Channel>,
    /// Attempts per CreateOrder, the first included.
    pub attempts: u32,
    /// The deadline of each call.
    pub deadline: Duration,
}

impl Checkout {
    /// Checkout over `channel`: three attempts, one second per call.
    pub fn new(channel: Channel) -> Self {
        Checkout {
            orders: OrderServiceClient::new(channel),
            attempts: 3,
            deadline: Duration::from_secs(1),
        }
    }

    /// Places the cart as one order; `key` makes retries safe.
    pub async fn place(
        &mut self,
        customer: &str,
        cart: &[(&str, i32, i64)],
        key: &str,
    ) -> Result<String, CheckoutError> {
        let message = CreateOrderRequest {
            customer_id: customer.into(),
            items: cart
                .iter()
                .map(|&(product, quantity, price_cents)| LineItem {
                    product_id: product.into(),
                    quantity,
                    price_cents,
                })
                .collect(),
            shipping_address: None,
        };
        let mut last = None;
        for attempt in 0..self.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
            }
            let mut request = Request::new(message.clone());
            request.set_timeout(self.deadline);
            request.metadata_mut().insert(
                "idempotency-key",
                key.parse()
                    .map_err(|_| CheckoutError::Failed(Code::InvalidArgument, "bad key".into()))?,
            );
            match self.orders.create_order(request).await {
                Ok(created) => return Ok(created.into_inner().order_id),
                Err(status) if status.code() == Code::Unavailable => last = Some(status),
                Err(status) => return Err(status.into()),
            }
        }
        Err(last.map_or(
            CheckoutError::Failed(Code::Unknown, "no attempt".into()),
            Into::into,
        ))
    }

    /// The order `id` as the order service has it.
    pub async fn order(&mut self, id: &str) -> Result<Order, CheckoutError> {
        let mut request = Request::new(GetOrderRequest {
            order_id: id.into(),
        });
        request.set_timeout(self.deadline);
        Ok(self.orders.get_order(request).await?.into_inner())
    }
}
