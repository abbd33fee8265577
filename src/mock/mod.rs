//! The in-process OrderService: [`OrderMock`] and its builder.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::OrderMock;
//! use orders_testkit::pb::GetOrderRequest;
//!
//! let mock = OrderMock::start().await;
//! let mut client = mock.client();
//! let err = client.get_order(GetOrderRequest { order_id: "nope".into() }).await.unwrap_err();
//! assert_eq!(err.code(), tonic::Code::NotFound);
//! # }
//! ```

mod beside;
mod builder;
pub mod cluster;
mod dispatch;
pub mod drift;
pub mod live;
pub mod matching;
mod notes;
mod order_mock;
pub(crate) mod proxy;
mod scripted;
pub mod stubs;
mod times;
pub mod verification;
mod warehouse;

// What serves beside a mock (the admin surface, a feature) builds on these.
#[cfg_attr(not(feature = "admin"), allow(unused_imports))]
pub(crate) use beside::{Beside, Parts};
pub use builder::OrderMockBuilder;
pub use notes::{Answerer, CallNotes, NearMiss, UpstreamFailure};
pub use order_mock::OrderMock;
pub use stubs::{Stub, StubHandle};
pub use times::Times;
pub use verification::Verification;
pub use warehouse::Warehouse;
