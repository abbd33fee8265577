//! # orders-testkit
//!
//! A faithful, scriptable `orders.v1.OrderService` for tests, served in
//! process over `tokio::io::duplex` (no port, no container), with
//! `grpc.health.v1` and server reflection beside it; and the same service
//! over TCP for clients in other languages (`orders-testkit serve`).
//!
//! The default behaviour is the whole contract of CONTRACT.md: validation that
//! reports every violation with rich `google.rpc` details, idempotency keys,
//! the order lifecycle, lossless status watchers, deadlines enforced on
//! streams too (`DEADLINE_EXCEEDED`, never tonic's `CANCELLED`), and a
//! health service that follows the protocol.
//!
//! ## Quick start
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::OrderMock;
//! use orders_testkit::pb::{CreateOrderRequest, LineItem, WatchOrderStatusRequest, OrderStatus};
//!
//! let mock = OrderMock::start().await;           // in process; dropped = stopped
//! let mut orders = mock.client();                // OrderServiceClient<Channel>
//!
//! let created = orders
//!     .create_order(CreateOrderRequest {
//!         customer_id: "cust-1".into(),
//!         items: vec![LineItem { product_id: "p1".into(), quantity: 2, price_cents: 1999 }],
//!         shipping_address: None,
//!     })
//!     .await
//!     .unwrap()
//!     .into_inner();
//!
//! let mut watch = orders
//!     .watch_order_status(WatchOrderStatusRequest { order_id: created.order_id })
//!     .await
//!     .unwrap()
//!     .into_inner();
//! let first = watch.message().await.unwrap().unwrap();
//! assert_eq!(first.status(), OrderStatus::Pending);
//! # }
//! ```
//!
//! ## Layout
//!
//! - [`pb`]: the generated messages, client and server, and the descriptor set;
//! - [`model`]: the order domain, free of tonic;
//! - [`service`]: the reference OrderService over the model;
//! - [`mock`]: [`OrderMock`], the in-process server;
//! - [`journal`]: every call recorded (the mock's and the suite's);
//! - [`health`], [`reflection`]: the side services;
//! - [`transport`], [`deadline`], [`catch_panic`]: serving plumbing usable
//!   with any tonic service;
//! - [`status`], [`payload`], [`descriptors`]: error construction and a
//!   stable rendering of error payloads for snapshots;
//! - [`rpc`], [`fault`], [`auth`], `scenario` (feature): scripting, fault injection,
//!   bearer tokens and declarative scenarios;
//! - `contract` (feature): the property-based contract suite;
//! - [`cluster`], [`propagation`], [`sanitize`], [`wire`]: replicas and
//!   balancing, deadline propagation, E-6 and malformed-status guards.
//!
//! ## Features
//!
//! With `default-features = false` the crate is the mock, faults, the
//! journal, health and reflection. Each of these adds one part:
//! `contract` (the contract suite and the embedded target: proptest, JUnit
//! reports), `scenario` (TOML scenarios), `tls` (`https://` endpoints for
//! the suite), `admin` (the admin gRPC service, HTTP API and live page of
//! `serve --admin`), `cli` (the `orders-testkit` binary; all of the above,
//! on by default).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "admin")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin")))]
pub mod admin;
pub mod auth;
pub mod bridge;
pub mod catch_panic;
pub mod cluster;
#[cfg(feature = "contract")]
#[cfg_attr(docsrs, doc(cfg(feature = "contract")))]
pub mod contract;
pub mod deadline;
pub mod descriptors;
#[cfg(feature = "contract")]
#[cfg_attr(docsrs, doc(cfg(feature = "contract")))]
pub mod embedded;
pub mod fault;
#[doc(hidden)]
pub mod grpc_frame;
mod header_match;
pub mod health;
pub mod journal;
pub mod json;
pub mod matching;
pub mod mock;
pub mod model;
pub mod payload;
pub mod pb;
pub mod prelude;
pub mod propagation;
mod proxy;
pub mod reflection;
mod router;
pub mod rpc;
pub mod sanitize;
#[cfg(feature = "scenario")]
#[cfg_attr(docsrs, doc(cfg(feature = "scenario")))]
pub mod scenario;
mod seed;
pub mod service;
pub mod status;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
pub mod transport;
pub mod wire;

pub use mock::{OrderMock, OrderMockBuilder, Stub};

/// The README's examples, compiled as doc tests.
#[cfg(all(
    doctest,
    feature = "contract",
    feature = "scenario",
    feature = "tls",
    feature = "admin"
))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
