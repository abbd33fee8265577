//! The order lifecycle (P-2): the only transitions that succeed.
//!
//! ```
//! use orders_testkit::service::model::lifecycle::{is_terminal, next_status};
//! use orders_testkit::pb::{OrderActionType as A, OrderStatus as S};
//!
//! assert_eq!(next_status(S::Confirmed, A::Cancel), Some(S::Cancelled));
//! assert_eq!(next_status(S::Shipped, A::Cancel), None);
//! assert!(is_terminal(S::Delivered));
//! ```

use crate::pb::{OrderActionType, OrderStatus};

/// The status an order moves to when `action` is applied in `from`, or
/// `None` when the transition is not in the table (P-2), including repeating
/// the action that produced the current status.
pub fn next_status(from: OrderStatus, action: OrderActionType) -> Option<OrderStatus> {
    use OrderActionType as A;
    use OrderStatus as S;
    match (action, from) {
        (A::Confirm, S::Pending) => Some(S::Confirmed),
        (A::Ship, S::Confirmed) => Some(S::Shipped),
        (A::Deliver, S::Shipped) => Some(S::Delivered),
        (A::Cancel, S::Pending | S::Confirmed) => Some(S::Cancelled),
        _ => None,
    }
}

/// Whether `status` ends an order's lifecycle (DELIVERED or CANCELLED, W-4).
pub fn is_terminal(status: OrderStatus) -> bool {
    matches!(status, OrderStatus::Delivered | OrderStatus::Cancelled)
}

/// The wire name of a status, as the proto spells it (`ORDER_STATUS_PENDING`).
pub fn status_name(status: OrderStatus) -> &'static str {
    status.as_str_name()
}
