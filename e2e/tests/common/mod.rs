//! Helpers shared by the end-to-end tests: the library tests' own helpers
//! (`tests/common` at the root), and the command line as a child process.
#![allow(dead_code, unused_imports)]

// Its `http1` is gated on the root package's `admin` feature, which this
// package does not have; it is included below on its own.
#[allow(unexpected_cfgs)]
#[path = "../../../tests/common/mod.rs"]
mod shared;
pub use shared::*;

pub mod foreign;
#[path = "../../../tests/common/http1.rs"]
pub mod http1;
pub mod process;
