//! Tower layers the mock is built of, usable around any tonic server: each
//! a `Layer`, a `Service` and a named future. Panics caught as INTERNAL
//! ([`catch_panic`]), calls ended at their deadline however they wait
//! ([`deadline`]), waiting streams ended at shutdown ([`shutdown`]),
//! bearer tokens ([`auth`]), E-6 sanitizing of
//! INTERNAL and UNKNOWN answers ([`sanitize`]), and the wire manners of
//! other gRPC stacks ([`behaviour`]: headers deferred, errors framed after
//! headers, seeded latency). Faults and the journal are
//! layers too, in [`fault`](crate::fault) and [`journal`](crate::journal).

pub mod auth;
pub mod behaviour;
pub mod catch_panic;
pub mod deadline;
pub mod sanitize;
pub mod shutdown;
