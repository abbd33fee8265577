//! The order domain, free of tonic: limits and validation, the lifecycle
//! table, the store with idempotency keys and per-watcher lossless delivery.
//!
//! The model speaks in the generated prost messages ([`crate::pb`]) but knows
//! nothing of gRPC transport or statuses: errors are plain values that
//! [`crate::service::orders`] turns into statuses.
//!
//! ```
//! use orders_testkit::service::model::{lifecycle, validate};
//! use orders_testkit::pb::{OrderActionType, OrderStatus};
//!
//! assert_eq!(
//!     lifecycle::next_status(OrderStatus::Pending, OrderActionType::Confirm),
//!     Some(OrderStatus::Confirmed)
//! );
//! assert!(validate::id("order_id", "").is_some());
//! ```

pub mod lifecycle;
pub mod store;
pub(crate) mod subscribers;
pub(crate) mod time;
pub mod validate;

pub use store::{ActionFailure, CreateError, FailureReason, Store, Watch};
pub use time::Clock;
pub use validate::FieldViolation;
