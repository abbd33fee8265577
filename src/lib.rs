//! orders-testkit
#![deny(missing_docs)]
pub mod catch_panic;
pub mod deadline;
pub mod health;
pub mod mock;
pub mod model;
pub mod pb;
pub mod reflection;
pub mod service;
pub mod status;
pub mod transport;

pub use mock::{OrderMock, OrderMockBuilder};
pub mod descriptors;
pub mod payload;
