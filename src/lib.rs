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
//! The modules follow the data: a call comes in through the [`server`],
//! passes the [`journal`], the [`layers`] (panics caught, tokens, E-6
//! sanitizing) and the [`fault`]s, and is answered by the [`mock`]'s stubs or
//! falls through to the [`service`] (the order model behind a tonic
//! OrderService, with health and reflection beside it).
//!
//! - [`pb`]: the `orders.v1` types (the `orders-proto` crate) and a bridge
//!   for teams that generate their own;
//! - [`rpc`]: the five RPCs as types, the vocabulary stubs, faults and the
//!   journal share;
//! - [`mock`]: [`OrderMock`], its stubs, matchers, verification, and
//!   several mocks as a balanced cluster;
//! - [`fault`]: fault injection for the mock or any tonic server;
//! - [`journal`]: every call recorded;
//! - [`service`]: the order model (free of tonic), the reference
//!   OrderService over it, the contract's canonical statuses, health,
//!   reflection;
//! - [`layers`]: tower layers usable with any tonic server: panics caught,
//!   bearer tokens, E-6 sanitizing;
//! - [`server`]: serving any tonic service in process (duplex), over TCP or
//!   TLS, and the channels to it;
//! - [`grpc`]: gRPC on the wire: a stable rendering of error payloads for
//!   snapshots, deadlines and their propagation, frames, status headers;
//! - `contract`, `scenario`, `admin` (features): the contract suite, TOML
//!   scenarios, the admin surface of `serve --admin`.
//!
//! ## Features
//!
//! By default the crate is the mock, faults, the journal, health and
//! reflection. Each feature adds one part: `contract` (the contract suite
//! and the embedded target: proptest, JUnit reports), `scenario` (TOML
//! scenarios), `tls` (`https://` endpoints for the suite and `record`, and
//! serving over TLS), `admin` (the admin gRPC service, HTTP API and live
//! page of `serve --admin`). The `orders-testkit` command line is the
//! `orders-testkit-cli` package.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "admin")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin")))]
pub mod admin;
pub mod conduct;
#[cfg(feature = "contract")]
#[cfg_attr(docsrs, doc(cfg(feature = "contract")))]
pub mod contract;
#[cfg(feature = "contract")]
mod embedded;
pub mod fault;
pub mod grpc;
pub mod journal;
pub mod layers;
pub mod mock;
pub mod pb;
pub mod prelude;
pub mod rpc;
#[cfg(feature = "scenario")]
#[cfg_attr(docsrs, doc(cfg(feature = "scenario")))]
pub mod scenario;
pub mod server;
pub mod service;
#[cfg(feature = "sweep")]
#[cfg_attr(docsrs, doc(cfg(feature = "sweep")))]
pub mod sweep;

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
