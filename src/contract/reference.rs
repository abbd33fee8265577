//! The suite's own reading of SPEC.md: expected violations, the lifecycle
//! table, the reference state machine. Written independently of
//! [`crate::model`] (no shared code), so that a bug in one cannot hide the
//! same bug in the other.

use std::collections::HashMap;

use crate::pb::{CreateOrderRequest, LineItem, OrderActionType, OrderStatus};

/// The field paths of the violations SPEC C-1/E-2 expects, in order.
pub(crate) fn expected_create_violations(req: &CreateOrderRequest) -> Vec<String> {
    let mut fields = Vec::new();
    let id_bad = |s: &str| s.is_empty() || s.len() > 128;
    if id_bad(&req.customer_id) {
        fields.push("customer_id".to_string());
    }
    let n = req.items.len();
    if n == 0 || n > 1000 {
        fields.push("items".to_string());
    }
    for (i, it) in req.items.iter().enumerate() {
        fields.extend(expected_item_violations(i, it));
    }
    let sum: i128 = req
        .items
        .iter()
        .map(|it| it.quantity as i128 * it.price_cents as i128)
        .sum();
    if sum > i64::MAX as i128 || sum < i64::MIN as i128 {
        fields.push("items".to_string());
    }
    fields
}

/// The violations of one line item at position `i` (C-1, S-3).
pub(crate) fn expected_item_violations(i: usize, it: &LineItem) -> Vec<String> {
    let mut fields = Vec::new();
    if it.product_id.is_empty() || it.product_id.len() > 128 {
        fields.push(format!("items[{i}].product_id"));
    }
    if it.quantity < 1 {
        fields.push(format!("items[{i}].quantity"));
    }
    if it.price_cents < 0 {
        fields.push(format!("items[{i}].price_cents"));
    }
    fields
}

/// What SubmitLineItems must answer for a stream (S-1 to S-3): the count
/// and total, or the violation fields of the first bad item / the overflow.
pub(crate) fn expected_submit(items: &[LineItem]) -> Result<(i32, i64), Vec<String>> {
    let mut total: i128 = 0;
    for (i, it) in items.iter().enumerate() {
        let bad = expected_item_violations(i, it);
        if !bad.is_empty() {
            return Err(bad);
        }
        total += it.quantity as i128 * it.price_cents as i128;
        if total > i64::MAX as i128 {
            return Err(vec!["items".to_string()]);
        }
    }
    Ok((items.len() as i32, total as i64))
}

/// P-2, written as a table lookup.
pub(crate) fn transition(from: OrderStatus, action: OrderActionType) -> Option<OrderStatus> {
    const TABLE: [(OrderActionType, OrderStatus, OrderStatus); 5] = [
        (
            OrderActionType::Confirm,
            OrderStatus::Pending,
            OrderStatus::Confirmed,
        ),
        (
            OrderActionType::Ship,
            OrderStatus::Confirmed,
            OrderStatus::Shipped,
        ),
        (
            OrderActionType::Deliver,
            OrderStatus::Shipped,
            OrderStatus::Delivered,
        ),
        (
            OrderActionType::Cancel,
            OrderStatus::Pending,
            OrderStatus::Cancelled,
        ),
        (
            OrderActionType::Cancel,
            OrderStatus::Confirmed,
            OrderStatus::Cancelled,
        ),
    ];
    TABLE
        .iter()
        .find(|(a, f, _)| *a == action && *f == from)
        .map(|(_, _, to)| *to)
}

/// Whether a status ends the lifecycle (W-4).
pub(crate) fn terminal(s: OrderStatus) -> bool {
    s == OrderStatus::Delivered || s == OrderStatus::Cancelled
}

/// What one OrderResult must say (P-4): success and the status, or the
/// reason prefix and the unchanged status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExpectedResult {
    pub success: bool,
    pub status: OrderStatus,
    pub reason: &'static str,
}

/// The reference state machine: the statuses of the suite's own orders.
#[derive(Debug, Default, Clone)]
pub(crate) struct Machine {
    pub orders: HashMap<String, OrderStatus>,
}

impl Machine {
    /// Applies one action as SPEC P-2/P-4 say, returning the expected result.
    pub(crate) fn apply(&mut self, order_id: &str, action: i32) -> ExpectedResult {
        let existing = self.orders.get(order_id).copied();
        if order_id.is_empty() || order_id.len() > 128 {
            return ExpectedResult {
                success: false,
                status: OrderStatus::Unspecified,
                reason: "INVALID_ARGUMENT",
            };
        }
        let action = match OrderActionType::try_from(action) {
            Ok(a) if a != OrderActionType::Unspecified => a,
            _ => {
                return ExpectedResult {
                    success: false,
                    status: existing.unwrap_or(OrderStatus::Unspecified),
                    reason: "INVALID_ARGUMENT",
                };
            }
        };
        let Some(current) = existing else {
            return ExpectedResult {
                success: false,
                status: OrderStatus::Unspecified,
                reason: "NOT_FOUND",
            };
        };
        match transition(current, action) {
            Some(next) => {
                self.orders.insert(order_id.to_string(), next);
                ExpectedResult {
                    success: true,
                    status: next,
                    reason: "",
                }
            }
            None => ExpectedResult {
                success: false,
                status: current,
                reason: "FAILED_PRECONDITION",
            },
        }
    }
}

/// Text that must never reach a client in an INTERNAL or UNKNOWN message (E-6).
pub(crate) fn leaks_internals(message: &str) -> Option<&'static str> {
    let lower = message.to_ascii_lowercase();
    [
        ("panicked at", "a panic message"),
        ("stack backtrace", "a backtrace"),
        ("rust_backtrace", "a backtrace hint"),
        (".rs:", "a source path"),
        ("src/", "a source path"),
        ("error {", "the text of an internal error"),
        ("called `result::unwrap()`", "a panic message"),
        ("called `option::unwrap()`", "a panic message"),
    ]
    .iter()
    .find(|(needle, _)| lower.contains(needle))
    .map(|(_, what)| *what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_follows_p4_check_order() {
        let mut m = Machine::default();
        m.orders.insert("o".into(), OrderStatus::Confirmed);
        assert_eq!(m.apply("", 1).reason, "INVALID_ARGUMENT");
        assert_eq!(m.apply("o", 0).status, OrderStatus::Confirmed);
        assert_eq!(m.apply("x", 0).reason, "INVALID_ARGUMENT");
        assert_eq!(m.apply("x", 1).reason, "NOT_FOUND");
        assert_eq!(m.apply("o", 1).reason, "FAILED_PRECONDITION");
        assert!(m.apply("o", 2).success);
    }

    #[test]
    fn leaks_are_recognised() {
        assert!(leaks_internals("thread 'x' panicked at src/lib.rs:3").is_some());
        assert!(leaks_internals("internal error").is_none());
    }
}
