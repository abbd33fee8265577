//! The generated `orders.v1` messages, client and server, and the encoded
//! descriptor set that reflection serves.
//!
//! ```
//! use orders_testkit::pb::{CreateOrderRequest, LineItem};
//!
//! let req = CreateOrderRequest {
//!     customer_id: "cust-1".into(),
//!     items: vec![LineItem { product_id: "p1".into(), quantity: 2, price_cents: 1999 }],
//!     shipping_address: None,
//! };
//! assert_eq!(req.items.len(), 1);
//! ```
#![allow(clippy::all)]

tonic::include_proto!("orders.v1");

/// The encoded `FileDescriptorSet` of `orders/v1/orders.proto` and its imports,
/// with source info (doc comments), as served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/orders_descriptor.bin"));

/// The fully qualified name of the order service.
pub const SERVICE_NAME: &str = "orders.v1.OrderService";
