//! For teams that generate their own `orders.v1` types from a copy of the
//! proto instead of depending on `orders-proto`: one call converts any
//! message to and from the testkit's type ([`pb`](crate::pb)) through the
//! wire encoding, so stubs take and the journal gives your types with one
//! [`convert`] on the way.
//!
//! ```
//! use orders_testkit::pb::bridge::convert;
//! use orders_testkit::pb;
//!
//! // Your own generated message (here written out by hand): the same
//! // fields and tags as orders.v1.GetOrderRequest.
//! #[derive(Clone, PartialEq, prost::Message)]
//! struct MyGetOrderRequest {
//!     #[prost(string, tag = "1")]
//!     order_id: String,
//! }
//!
//! let mine = MyGetOrderRequest { order_id: "o-1".into() };
//! let theirs: pb::GetOrderRequest = convert(&mine).unwrap();
//! assert_eq!(theirs.order_id, "o-1");
//! let back: MyGetOrderRequest = convert(&theirs).unwrap();
//! assert_eq!(back, mine);
//!
//! // A message that is not the same one says so, naming both.
//! let order = pb::Order { items: vec![pb::LineItem::default()], ..Default::default() };
//! let err = convert::<_, pb::LineItem>(&order).unwrap_err();
//! assert!(err.to_string().contains("orders_proto::Order"));
//! ```
//!
//! Prefer depending on `orders-proto` (the README's set-up): then there is
//! nothing to convert.

use std::any::type_name;
use std::fmt;

/// Why a message did not convert: the two types are not the same message
/// (a field's wire type differs, or a field of the source has no place in
/// the target and would be lost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeError {
    from: &'static str,
    to: &'static str,
    reason: String,
}

impl BridgeError {
    /// The Rust type converted from.
    pub fn from_type(&self) -> &'static str {
        self.from
    }

    /// The Rust type converted into.
    pub fn to_type(&self) -> &'static str {
        self.to
    }
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot convert {} into {}: {} (are both generated from the same message of orders.v1?)",
            self.from, self.to, self.reason
        )
    }
}

impl std::error::Error for BridgeError {}

/// Converts `from` into the message type `To` through its wire encoding,
/// and checks that nothing was lost: decoding the result back into `From`
/// must give `from` again (so a field `To` does not know is an error, not
/// silently dropped).
///
/// # Errors
///
/// [`BridgeError`] naming both types when `To` cannot decode `from`'s
/// encoding, or when a field does not survive the round trip.
pub fn convert<From, To>(from: &From) -> Result<To, BridgeError>
where
    From: prost::Message + Default + PartialEq,
    To: prost::Message + Default,
{
    let error = |reason: String| BridgeError {
        from: type_name::<From>(),
        to: type_name::<To>(),
        reason,
    };
    let to = To::decode(from.encode_to_vec().as_slice())
        .map_err(|e| error(format!("its encoding does not decode: {e}")))?;
    let back = From::decode(to.encode_to_vec().as_slice())
        .map_err(|e| error(format!("the result does not decode back: {e}")))?;
    if back != *from {
        return Err(error(
            "a field does not survive the round trip (the target has no field with its tag, or reads it differently)".into(),
        ));
    }
    Ok(to)
}
