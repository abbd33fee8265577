//! The statuses the reference service produces, with their rich details
//! (E-1 to E-5): every one has a non-empty message, and the encoded
//! `google.rpc.Status` repeats the call's code and message.
//!
//! ```
//! use orders_testkit::service::status::not_found;
//! use tonic_types::StatusExt;
//!
//! let st = not_found("ord-9");
//! assert_eq!(st.code(), tonic::Code::NotFound);
//! assert_eq!(st.message(), "order ord-9 not found");
//! assert_eq!(st.get_details_resource_info().unwrap().resource_name, "ord-9");
//! ```

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::service::model::FieldViolation;

/// The `resource_type` of every order ResourceInfo (E-3, E-4).
pub const ORDER_RESOURCE_TYPE: &str = "orders.v1.Order";

/// `INVALID_ARGUMENT` with a `BadRequest` listing every violation (E-2).
/// The message names the first violation and how many there are.
///
/// ```
/// use orders_testkit::service::model::FieldViolation;
/// use orders_testkit::service::status::invalid_argument;
/// use tonic_types::StatusExt;
///
/// let st = invalid_argument(&[
///     FieldViolation::new("customer_id", "must be a non-empty string"),
///     FieldViolation::new("items", "at least one item is required"),
/// ]);
/// assert_eq!(st.message(), "2 invalid fields; first: customer_id: must be a non-empty string");
/// assert_eq!(st.get_details_bad_request().unwrap().field_violations.len(), 2);
/// ```
pub fn invalid_argument(violations: &[FieldViolation]) -> Status {
    let message = match violations {
        [] => "invalid argument".to_string(),
        [one] => format!("invalid field {}: {}", one.field, one.description),
        [first, ..] => format!(
            "{} invalid fields; first: {}: {}",
            violations.len(),
            first.field,
            first.description
        ),
    };
    let details = ErrorDetails::with_bad_request(
        violations
            .iter()
            .map(|v| tonic_types::FieldViolation::new(&v.field, &v.description))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// `NOT_FOUND` for an order, with its `ResourceInfo` (E-3).
pub fn not_found(order_id: &str) -> Status {
    Status::with_error_details(
        Code::NotFound,
        format!("order {order_id} not found"),
        ErrorDetails::with_resource_info(ORDER_RESOURCE_TYPE, order_id, "", "no such order"),
    )
}

/// `ALREADY_EXISTS` for an idempotency key reused with another request,
/// naming the order created under it (E-4).
pub fn already_exists(order_id: &str) -> Status {
    Status::with_error_details(
        Code::AlreadyExists,
        format!(
            "idempotency-key was already used for a different request, which created order {order_id}"
        ),
        ErrorDetails::with_resource_info(
            ORDER_RESOURCE_TYPE,
            order_id,
            "",
            "the order created under this idempotency-key",
        ),
    )
}

/// `DEADLINE_EXCEEDED` for a call whose remaining time is below the server's
/// fail-fast threshold (D-2).
pub fn insufficient_time(remaining: std::time::Duration, threshold: std::time::Duration) -> Status {
    Status::deadline_exceeded(format!(
        "insufficient time remaining: {} ms left, this server needs at least {} ms",
        remaining.as_millis(),
        threshold.as_millis()
    ))
}
