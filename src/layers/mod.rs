//! Tower layers the mock is built of, usable around any tonic server: each
//! a `Layer`, a `Service` and a named future. Panics caught as INTERNAL
//! ([`catch_panic`]), bearer tokens ([`auth`]), E-6 sanitizing of
//! INTERNAL and UNKNOWN answers ([`sanitize`]). Faults and the journal are
//! layers too, in [`fault`](crate::fault) and [`journal`](crate::journal).

pub mod auth;
pub mod catch_panic;
pub mod sanitize;
