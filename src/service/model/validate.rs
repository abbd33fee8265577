//! Request validation (C-1, G-1, S-3, C-4): every violation is collected,
//! in the order E-2 prescribes, with zero-based paths.
//!
//! ```
//! use orders_testkit::service::model::validate::create_order;
//! use orders_testkit::pb::{CreateOrderRequest, LineItem};
//!
//! let req = CreateOrderRequest {
//!     customer_id: String::new(),
//!     items: vec![LineItem { product_id: "p".into(), quantity: 0, price_cents: -1 }],
//!     shipping_address: None,
//! };
//! let fields: Vec<_> = create_order(&req, None).into_iter().map(|v| v.field).collect();
//! assert_eq!(fields, ["customer_id", "items[0].quantity", "items[0].price_cents"]);
//! ```

use crate::pb::{CreateOrderRequest, LineItem};

/// The most UTF-8 bytes an id (`customer_id`, `product_id`, `order_id`) or an
/// idempotency key may have.
pub const MAX_ID_BYTES: usize = 128;
/// The most line items one order may have.
pub const MAX_ITEMS: usize = 1000;
/// The metadata key that makes CreateOrder idempotent (C-4).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// One thing wrong with a request: a path to the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path, such as `items[2].quantity` (zero-based).
    pub field: String,
    /// What is wrong, in words.
    pub description: String,
}

impl FieldViolation {
    /// A violation on `field` with `description`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Checks an id field (`customer_id`, `product_id`, `order_id`): 1 to
/// [`MAX_ID_BYTES`] UTF-8 bytes, named `field` in the violation.
///
/// ```
/// use orders_testkit::service::model::validate::id;
/// assert!(id("order_id", "ord-1").is_none());
/// assert!(id("customer_id", &"x".repeat(129)).is_some());
/// ```
pub fn id(field: &str, value: &str) -> Option<FieldViolation> {
    if value.is_empty() {
        Some(FieldViolation::new(field, "must be a non-empty string"))
    } else if value.len() > MAX_ID_BYTES {
        Some(FieldViolation::new(
            field,
            format!("must be at most {MAX_ID_BYTES} bytes, got {}", value.len()),
        ))
    } else {
        None
    }
}

/// The violations of one line item at zero-based position `index`, in the
/// order `product_id`, `quantity`, `price_cents`.
pub fn line_item(index: usize, item: &LineItem) -> Vec<FieldViolation> {
    let mut out = Vec::new();
    let id_ok = !item.product_id.is_empty() && item.product_id.len() <= MAX_ID_BYTES;
    // The field's path is only spelled out for a violation.
    if !id_ok && let Some(v) = id(&format!("items[{index}].product_id"), &item.product_id) {
        out.push(v);
    }
    if item.quantity < 1 {
        out.push(FieldViolation::new(
            format!("items[{index}].quantity"),
            format!("must be at least 1, got {}", item.quantity),
        ));
    }
    if item.price_cents < 0 {
        out.push(FieldViolation::new(
            format!("items[{index}].price_cents"),
            format!("must not be negative, got {}", item.price_cents),
        ));
    }
    out
}

/// `quantity × price_cents` of one item, exactly.
pub fn item_total(item: &LineItem) -> i128 {
    i128::from(item.quantity) * i128::from(item.price_cents)
}

/// The exact total of `items` (invalid items included), without overflow.
pub fn exact_total(items: &[LineItem]) -> i128 {
    items.iter().map(item_total).sum()
}

/// The violation for a total that does not fit int64, if it does not.
pub fn total(total: i128) -> Option<FieldViolation> {
    (i64::try_from(total).is_err())
        .then(|| FieldViolation::new("items", "order total exceeds int64"))
}

/// Checks an idempotency key's bytes (C-4): 1 to 128 bytes of 0x21 to 0x7E.
pub fn idempotency_key(key: &[u8]) -> Option<FieldViolation> {
    let description = if key.is_empty() {
        "must not be empty".to_string()
    } else if key.len() > MAX_ID_BYTES {
        format!("must be at most {MAX_ID_BYTES} bytes, got {}", key.len())
    } else if !key.iter().all(|b| (0x21..=0x7e).contains(b)) {
        "must be visible ASCII (0x21 to 0x7E)".to_string()
    } else {
        return None;
    };
    Some(FieldViolation::new(IDEMPOTENCY_KEY, description))
}

/// Every violation of a CreateOrder request (C-1), in E-2's order:
/// `customer_id`; `items` for its count; each item's fields; `items` for the
/// total; then the idempotency key, when one was sent (`key` is `Some` with
/// its bytes; a key sent more than once is passed as `Some(Err(()))`).
pub fn create_order(
    req: &CreateOrderRequest,
    key: Option<Result<&[u8], ()>>,
) -> Vec<FieldViolation> {
    let mut out = Vec::new();
    if let Some(v) = id("customer_id", &req.customer_id) {
        out.push(v);
    }
    if req.items.is_empty() {
        out.push(FieldViolation::new(
            "items",
            "at least one item is required",
        ));
    } else if req.items.len() > MAX_ITEMS {
        out.push(FieldViolation::new(
            "items",
            format!(
                "at most {MAX_ITEMS} items are allowed, got {}",
                req.items.len()
            ),
        ));
    }
    for (i, item) in req.items.iter().enumerate() {
        out.extend(line_item(i, item));
    }
    if let Some(v) = total(exact_total(&req.items)) {
        out.push(v);
    }
    match key {
        None => {}
        Some(Ok(bytes)) => out.extend(idempotency_key(bytes)),
        Some(Err(())) => out.push(FieldViolation::new(
            IDEMPOTENCY_KEY,
            "must be sent at most once",
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(p: &str, q: i32, c: i64) -> LineItem {
        LineItem {
            product_id: p.into(),
            quantity: q,
            price_cents: c,
        }
    }

    #[test]
    fn c1_overflow_and_count_are_two_violations_count_first() {
        let req = CreateOrderRequest {
            customer_id: "c".into(),
            items: vec![item("p", i32::MAX, i64::MAX); MAX_ITEMS + 1],
            shipping_address: None,
        };
        let v = create_order(&req, None);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].field, "items");
        assert!(v[0].description.contains("1000"));
        assert_eq!(v[1].description, "order total exceeds int64");
    }

    #[test]
    fn c1_total_at_the_int64_edge() {
        let ok = vec![item("p", 1, i64::MAX)];
        assert!(total(exact_total(&ok)).is_none());
        let over = vec![item("p", 1, i64::MAX), item("q", 1, 1)];
        assert!(total(exact_total(&over)).is_some());
    }

    #[test]
    fn c4_key_bytes() {
        assert!(idempotency_key(b"abc-~!").is_none());
        assert!(idempotency_key(b"").is_some());
        assert!(idempotency_key(b"a b").is_some());
        assert!(idempotency_key(&[b'k'; 128]).is_none());
        assert!(idempotency_key(&[b'k'; 129]).is_some());
    }

    #[test]
    fn ids_count_bytes_not_chars() {
        // 64 two-byte characters = 128 bytes: allowed; one more is 130.
        assert!(id("f", &"é".repeat(64)).is_none());
        assert!(id("f", &"é".repeat(65)).is_some());
    }
}
