//! The `orders.v1` messages, client and server, and the encoded descriptor
//! set: the [`orders-proto`](https://docs.rs/orders-proto) crate, re-exported.
//!
//! Production code depends on `orders-proto` directly; since this module *is*
//! that crate, the messages your service builds are the ones your tests
//! stub and read back from the journal, with no conversion.
//!
//! ```
//! use orders_testkit::pb::{CreateOrderRequest, LineItem};
//!
//! let req = CreateOrderRequest {
//!     customer_id: "cust-1".into(),
//!     items: vec![LineItem { product_id: "p1".into(), quantity: 2, price_cents: 1999 }],
//!     shipping_address: None,
//! };
//! // One type, whichever path names it.
//! let same: orders_proto::CreateOrderRequest = req;
//! assert_eq!(same.items.len(), 1);
//! ```

#[doc(inline)]
pub use orders_proto::*;

pub mod bridge;
