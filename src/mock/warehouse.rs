//! [`Warehouse`]: a handle on the mock's orders that a spawned task can
//! own, to act on them as the rest of the world would (ship what was
//! confirmed, cancel, seed) while the code under test watches.

use std::sync::Arc;

use crate::pb::{Order, OrderAction, OrderActionType, OrderStatus};
use crate::service::model::{ActionFailure, Store};

/// The mock's orders, acted on from outside the calls: cheap to clone,
/// `Send + 'static`, so a spawned task can play the warehouse. Actions go
/// through the model as ProcessOrders would: watchers get each change.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::prelude::*;
///
/// let mock = OrderMock::start().await;
/// let id = mock.seed_order(Order::default());
/// let warehouse = mock.warehouse();
/// let shipping = tokio::spawn({
///     let id = id.clone();
///     async move {
///         warehouse.advance(&id, OrderActionType::Confirm).unwrap();
///         warehouse.advance(&id, OrderActionType::Ship)
///     }
/// });
/// assert_eq!(shipping.await.unwrap(), Ok(OrderStatus::Shipped));
/// assert_eq!(mock.warehouse().status(&id), Some(OrderStatus::Shipped));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Warehouse {
    store: Arc<Store>,
}

impl Warehouse {
    pub(crate) fn new(store: Arc<Store>) -> Self {
        Self { store }
    }

    /// Applies `action` to the order, as ProcessOrders would (P-2's table);
    /// the new status, or why it failed.
    pub fn advance(
        &self,
        order_id: &str,
        action: OrderActionType,
    ) -> Result<OrderStatus, ActionFailure> {
        self.store.act(&OrderAction {
            order_id: order_id.to_string(),
            action: action as i32,
        })
    }

    /// Adds an order (an id is made when it has none); returns its id.
    pub fn seed(&self, order: Order) -> String {
        self.store.insert(order)
    }

    /// The order as stored now.
    pub fn order(&self, order_id: &str) -> Option<Order> {
        self.store.get(order_id)
    }

    /// The order's status now.
    pub fn status(&self, order_id: &str) -> Option<OrderStatus> {
        self.order(order_id).map(|o| o.status())
    }
}
