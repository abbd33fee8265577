//! Serving: any tonic service in process over `tokio::io::duplex` (no
//! port), over TCP or TLS, with the channels that reach it ([`transport`]),
//! and the router the mock's port uses.

pub(crate) mod router;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
pub mod transport;
