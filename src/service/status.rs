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

/// The most bytes of `grpc-status-details-bin` (base64) a status carries:
/// grpc-java and grpc-js clients refuse more than 8 KiB of metadata by
/// default, and a client that refuses the trailers never sees the error
/// (its call ends at its deadline). 7 KiB leaves room for the other
/// trailers (E-2).
pub const MAX_DETAILS_BYTES: usize = 7 * 1024;

/// `INVALID_ARGUMENT` with a `BadRequest` listing every violation (E-2).
/// The message names the first violation and how many there are.
///
/// When the list would make the details larger than
/// [`MAX_DETAILS_BYTES`], it stops early, in order, and ends with one more
/// violation whose `field` is the path of the first one left out and whose
/// description says how many were left out (CONTRACT.md, E-2).
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
///
/// // 3,000 violations do not fit in 8 KiB of metadata: a prefix and a summary.
/// let many: Vec<_> = (0..3000)
///     .map(|i| FieldViolation::new(format!("items[{i}].quantity"), "must be at least 1"))
///     .collect();
/// let st = invalid_argument(&many);
/// let listed = st.get_details_bad_request().unwrap().field_violations;
/// let last = listed.last().unwrap();
/// assert_eq!(last.field, format!("items[{}].quantity", listed.len() - 1));
/// assert!(last.description.contains(&format!("{} more", 3000 - (listed.len() - 1))));
/// assert!(st.details().len() * 4 / 3 <= 7 * 1024);
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
    let build = |listed: usize| {
        let mut list: Vec<_> = violations[..listed]
            .iter()
            .map(|v| tonic_types::FieldViolation::new(&v.field, &v.description))
            .collect();
        if let Some(first_left_out) = violations.get(listed) {
            let left = violations.len() - listed;
            list.push(tonic_types::FieldViolation::new(
                &first_left_out.field,
                format!(
                    "and {left} more violations from this one on, left out to keep the \
                     details within 8 KiB of metadata"
                ),
            ));
        }
        Status::with_error_details(
            Code::InvalidArgument,
            &message,
            ErrorDetails::with_bad_request(list),
        )
    };
    let fits = |st: &Status| st.details().len().div_ceil(3) * 4 <= MAX_DETAILS_BYTES;
    let whole = build(violations.len());
    if fits(&whole) {
        return whole;
    }
    // The longest prefix that fits with its summary (sizes grow with it).
    let (mut lo, mut hi) = (0, violations.len());
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if fits(&build(mid)) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    build(lo)
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
