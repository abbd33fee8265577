//! # orders-proto
//!
//! The `orders.v1` contract as Rust types: the prost messages, the tonic
//! client ([`order_service_client::OrderServiceClient`]) and server trait
//! ([`order_service_server::OrderService`]), and the encoded descriptor set.
//!
//! Production code depends on this crate; its tests depend on
//! `orders-testkit`, which re-exports this crate as `orders_testkit::pb`. So
//! the messages a service builds in `src/` *are* the messages its tests stub
//! and read back from the mock's journal:
//!
//! ```toml
//! [dependencies]
//! orders-proto = "0.1"
//! [dev-dependencies]
//! orders-testkit = { version = "0.1", default-features = false }
//! ```
//!
//! Built on tonic 0.14 and prost 0.14 (the versions your service must use
//! for the types to be the same); it has no build script and needs no
//! protoc.
//!
//! ```
//! use orders_proto::{CreateOrderRequest, LineItem};
//!
//! let req = CreateOrderRequest {
//!     customer_id: "cust-1".into(),
//!     items: vec![LineItem { product_id: "p1".into(), quantity: 2, price_cents: 1999 }],
//!     shipping_address: None,
//! };
//! assert_eq!(req.items.len(), 1);
//! assert_eq!(orders_proto::SERVICE_NAME, "orders.v1.OrderService");
//! ```
#![deny(missing_docs)]
#![allow(clippy::all)]

include!("generated/orders.v1.rs");

/// The encoded `FileDescriptorSet` of `orders/v1/orders.proto` and its
/// imports, with source info (doc comments), as served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/orders_descriptor.bin");

/// The fully qualified name of the order service.
pub const SERVICE_NAME: &str = "orders.v1.OrderService";
