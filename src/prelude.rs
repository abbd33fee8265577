//! The everyday names in one `use`:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::prelude::*;
//!
//! let mock = OrderMock::start().await;
//! Stub::on(GetOrder)
//!     .when(|req| req.order_id == "o-1")
//!     .respond(Order { order_id: "o-1".into(), status: OrderStatus::Pending.into(), ..Default::default() })
//!     .expect(1..=1) // or a `Times`
//!     .mount(&mock);
//! mock.inject(Fault::fail(tonic::Status::unavailable("warming up")).on(CreateOrder).first(1));
//! let order = mock.client().get_order(GetOrderRequest { order_id: "o-1".into() }).await.unwrap();
//! assert_eq!(order.into_inner().order_id, "o-1");
//! assert_eq!(mock.journal().calls_to(GetOrder).len(), 1);
//! # }
//! ```

pub use crate::fault::{Fault, FaultLayer, FaultPlan};
pub use crate::journal::{Call, Journal, Outcome};
pub use crate::layers::behaviour::ServerBehaviour;
pub use crate::mock::CallNotes as _;
pub use crate::mock::{OrderMock, OrderMockBuilder, Stub, Times};
pub use crate::pb::order_service_client::OrderServiceClient;
pub use crate::pb::{
    Address, CreateOrderRequest, CreateOrderResponse, GetOrderRequest, LineItem, Order,
    OrderAction, OrderActionType, OrderResult, OrderStatus, OrderStatusUpdate,
    SubmitLineItemsResponse, WatchOrderStatusRequest,
};
pub use crate::rpc::{CreateOrder, GetOrder, ProcessOrders, SubmitLineItems, WatchOrderStatus};

#[cfg(feature = "contract")]
pub use crate::contract::{Suite, Target};
