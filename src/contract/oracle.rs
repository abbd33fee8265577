//! The suite's own reading of CONTRACT.md: expected violations, the lifecycle
//! table, the reference state machine. Written independently of
//! [`crate::service::model`] (no shared code), so that a bug in one cannot hide the
//! same bug in the other.

use std::collections::HashMap;

use crate::pb::{CreateOrderRequest, LineItem, OrderActionType, OrderStatus};

/// The field paths of the violations C-1/E-2 expects, in order.
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
    /// Applies one action as P-2/P-4 say, returning the expected result.
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

/// Text that must never reach a client in an INTERNAL or UNKNOWN message
/// (E-6), whatever the server's language: panics, stack traces and
/// exception text of Python, Go, Java, Node and Rust, source paths with line
/// numbers, and line breaks (a one-line status message has none).
pub(crate) fn leaks_internals(message: &str) -> Option<&'static str> {
    if message.contains(['\n', '\r']) {
        return Some("a line break");
    }
    let lower = message.to_ascii_lowercase();
    const NEEDLES: &[(&str, &str)] = &[
        // Rust
        ("panicked at", "a panic message"),
        ("stack backtrace", "a backtrace"),
        ("rust_backtrace", "a backtrace hint"),
        ("called `result::unwrap()`", "a panic message"),
        ("called `option::unwrap()`", "a panic message"),
        ("error {", "the text of an internal error"),
        // Python
        ("traceback (most recent call last)", "a Python traceback"),
        ("\", line ", "a Python stack frame"),
        // Go
        ("goroutine ", "a Go stack trace"),
        ("panic: ", "a Go panic"),
        ("runtime error:", "a Go runtime error"),
        ("nil pointer dereference", "a Go runtime error"),
        // Java
        ("exception in thread", "a Java exception"),
        ("caused by:", "a Java exception chain"),
        ("java.lang.", "a Java exception"),
        ("\tat ", "a stack frame"),
        // Node
        ("at object.<anonymous>", "a Node stack frame"),
        ("node:internal", "a Node stack frame"),
        ("at process.processticksandrejections", "a Node stack frame"),
        ("cannot read properties of undefined", "a Node TypeError"),
    ];
    if let Some((_, what)) = NEEDLES.iter().find(|(needle, _)| lower.contains(needle)) {
        return Some(what);
    }
    if has_source_location(&lower) {
        return Some("a source path with a line number");
    }
    if has_exception_name(message) {
        return Some("an exception or error type name");
    }
    None
}

/// `name.ext:123` or `name.ext", line 123` (or `(name.ext:12:5)`) for a
/// source file extension.
fn has_source_location(lower: &str) -> bool {
    const EXTS: &[&str] = &[
        "rs", "py", "go", "java", "kt", "scala", "js", "mjs", "cjs", "ts", "rb", "cs", "cc", "cpp",
        "c", "h", "php", "ex", "exs",
    ];
    lower.match_indices('.').any(|(i, _)| {
        let rest = &lower[i + 1..];
        EXTS.iter().any(|ext| {
            rest.strip_prefix(ext).is_some_and(|after| {
                let line = after
                    .strip_prefix(':')
                    .or_else(|| after.strip_prefix("\", line "));
                let before_ok = lower[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
                before_ok && line.is_some_and(|l| l.starts_with(|c: char| c.is_ascii_digit()))
            })
        })
    })
}

/// A word such as `ValueError:`, `IllegalStateException:` or
/// `java.io.IOException` naming the type of an internal error.
fn has_exception_name(message: &str) -> bool {
    message
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '$'))
        .filter(|w| w.len() > "Error".len())
        .any(|w| {
            let last = w.rsplit('.').next().unwrap_or(w);
            last.starts_with(|c: char| c.is_ascii_uppercase())
                && (last.ends_with("Exception") || last.ends_with("Error"))
                && last.len() > "Error".len()
        })
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
    fn e6_leaks_are_recognised_in_every_language() {
        let leaks = [
            "thread 'x' panicked at src/lib.rs:3:5",
            "Traceback (most recent call last):   File \"/srv/app.py\", line 12, in create",
            "ValueError: invalid literal for int()",
            "panic: runtime error: index out of range [3] with length 3",
            "goroutine 7 [running]: main.handler(...)",
            "/home/svc/orders/handler.go:42 +0x1d",
            "java.lang.NullPointerException: Cannot invoke \"String.length()\"",
            "IllegalStateException: order store closed",
            "TypeError: Cannot read properties of undefined (reading 'id')",
            "    at Object.<anonymous> (/app/server.js:10:15)",
            "failed\nsecond line",
        ];
        for leak in leaks {
            assert!(leaks_internals(leak).is_some(), "{leak:?} not recognised");
        }
        for clean in [
            "internal error",
            "internal error (ref 8f3a)",
            "the service failed; try again",
            "order store unavailable",
            "Internal server error",
        ] {
            assert_eq!(leaks_internals(clean), None, "{clean:?} flagged");
        }
    }
}
