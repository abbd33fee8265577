//! The service behind the mock: the order domain ([`model`], free of
//! tonic), the reference OrderService over it ([`orders`]), and the side
//! services every gRPC server should have ([`health`], [`reflection`]).
//! The contract's errors, each with its canonical `google.rpc` details, are
//! in [`status`]: build a stub's failure with them and it keeps the
//! contract.

pub mod health;
pub mod model;
pub mod orders;
pub mod reflection;
pub mod status;
