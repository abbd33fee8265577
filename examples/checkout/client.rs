//! A small checkout client, as a service team would write it: it places an
//! order with CreateOrder and retries what looks transient. `Checkout::buggy`
//! has two bugs planted, the kind a fault sweep finds: each retry makes a
//! new idempotency key (after a lost answer, the order is created twice),
//! and the wait before a retry ignores the server's RetryInfo.

use std::time::Duration;

use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::{CreateOrderRequest, LineItem};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Places orders, retrying transient failures.
pub struct Checkout {
    client: OrderServiceClient<Channel>,
    fixed: bool,
    keys: u64,
}

impl Checkout {
    /// The client with both bugs.
    pub fn buggy(client: OrderServiceClient<Channel>) -> Self {
        Self {
            client,
            fixed: false,
            keys: 0,
        }
    }

    /// The client with both bugs fixed.
    pub fn fixed(client: OrderServiceClient<Channel>) -> Self {
        Self {
            client,
            fixed: true,
            keys: 0,
        }
    }

    fn new_key(&mut self) -> String {
        self.keys += 1;
        format!("checkout-{}", self.keys)
    }

    /// Places one order for `items`: at most 4 attempts of 2 s each, waits
    /// doubling from 100 ms.
    pub async fn place(&mut self, customer: &str, items: Vec<LineItem>) -> Result<String, Status> {
        let mut key = self.new_key();
        let mut backoff = Duration::from_millis(100);
        for attempt in 1..=4 {
            let mut req = tonic::Request::new(CreateOrderRequest {
                customer_id: customer.into(),
                items: items.clone(),
                shipping_address: None,
            });
            req.set_timeout(Duration::from_secs(2));
            req.metadata_mut()
                .insert("idempotency-key", key.parse().expect("ASCII key"));
            match self.client.create_order(req).await {
                Ok(res) => return Ok(res.into_inner().order_id),
                Err(st) if transient(&st) && attempt < 4 => {
                    let wait = if self.fixed {
                        // Never sooner than the server asked.
                        let asked = st
                            .get_details_retry_info()
                            .and_then(|r| r.retry_delay)
                            .unwrap_or_default();
                        backoff.max(asked)
                    } else {
                        backoff // planted bug: RetryInfo ignored
                    };
                    tokio::time::sleep(wait).await;
                    backoff = wait * 2;
                    if !self.fixed {
                        key = self.new_key(); // planted bug: a new key per attempt
                    }
                }
                Err(st) => return Err(st),
            }
        }
        unreachable!("the fourth attempt returns")
    }
}

/// What the checkout retries.
fn transient(st: &Status) -> bool {
    matches!(st.code(), Code::Unavailable | Code::ResourceExhausted)
        || orders_testkit::grpc::deadline::passed(st)
}
