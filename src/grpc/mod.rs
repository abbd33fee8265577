//! gRPC on the wire, for the mock, the suite and any tonic service: a
//! stable rendering of error payloads for snapshots ([`payload`]), deadlines
//! ([`deadline`]) and their propagation through a middle service
//! ([`propagation`]), message frames and malformed status headers.

pub mod deadline;
pub mod descriptors;
#[doc(hidden)]
pub mod frame;
pub(crate) mod header_match;
pub mod json;
pub mod payload;
pub mod propagation;
pub(crate) mod refused;
pub(crate) mod seed;
pub mod status_repair;
