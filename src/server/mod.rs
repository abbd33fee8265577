//! Serving: any tonic service in process over `tokio::io::duplex` (no
//! port), over TCP or TLS, and the channels that reach it.
//!
//! Connections are served by hyper's HTTP/2 server directly, without tonic's
//! `Server`: tonic's server-side timeout answers `CANCELLED` and never cuts a
//! stream, while the testkit enforces deadlines itself and says
//! `DEADLINE_EXCEEDED` (D-1).
//!
//! - [`duplex_connector`], [`InProcessServer`]: the in-process transport;
//! - [`ServerTasks`], [`TaskMonitor`]: every task a server started, and
//!   stopping them (gracefully or at once);
//! - [`ConnectionControl`]: what a call can do to its own connection (drop
//!   it, send GOAWAY);
//! - [`endpoint`], [`ClientTls`]: the client side for URLs; [`reach`]: what
//!   answers at one, told in a line before a run or a recording;
//!   [`check_health`]: whether it is serving;
//! - `tls` (feature `tls`): serving over TLS, mutual TLS too.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::server::{ServerTasks, duplex_connector};
//! use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
//!
//! let health = orders_testkit::service::health::HealthReporter::new();
//! health.set_status("", orders_testkit::service::health::ServingStatus::Serving);
//! let routes = tonic::service::Routes::new(health.service());
//!
//! let tasks = ServerTasks::new();
//! let (connector, incoming) = duplex_connector();
//! tasks.serve(incoming, routes);
//! let mut client = HealthClient::new(connector.channel());
//! let res = client.check(HealthCheckRequest { service: String::new() }).await.unwrap();
//! assert_eq!(res.into_inner().status, 1); // SERVING
//! tasks.abort();
//! # }
//! ```

use std::convert::Infallible;

use hyper::body::Incoming;

mod connection;
#[cfg(feature = "contract")]
mod dial;
mod duplex;
mod endpoint;
mod health_check;
mod reach;
pub(crate) mod router;
mod tasks;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;

pub use connection::ConnectionControl;
#[cfg(feature = "contract")]
pub(crate) use dial::{Dial, dial_duplex, dial_url};
pub(crate) use duplex::lazy_channel;
pub use duplex::{DuplexConnector, DuplexIncoming, InProcessServer, duplex_connector};
pub(crate) use endpoint::error_chain;
pub use endpoint::{ClientTls, endpoint};
pub use health_check::check_health;
pub use reach::reach;
pub use tasks::{ServerTasks, TaskMonitor};

/// What the testkit serves on a connection: any cloneable HTTP service
/// that answers every request (tonic's `Routes`, or a layer around them),
/// with any response body.
pub trait HttpService:
    tower::Service<
        http::Request<Incoming>,
        Response = http::Response<<Self as HttpService>::ResBody>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
    /// The response body.
    type ResBody: http_body::Body<Data = bytes::Bytes, Error: Into<tower::BoxError>>
        + Send
        + 'static;
}

impl<S, B> HttpService for S
where
    S: tower::Service<
            http::Request<Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static,
    B: http_body::Body<Data = bytes::Bytes, Error: Into<tower::BoxError>> + Send + 'static,
{
    type ResBody = B;
}

/// Bytes buffered in each direction of an in-process connection.
pub const DUPLEX_BUFFER: usize = 256 * 1024;

/// The largest header list in-process channels accept (hyper's default is
/// 16 KiB, which a `BadRequest` of a few hundred violations outgrows).
pub const MAX_HEADER_LIST_SIZE: u32 = 16 * 1024 * 1024;

/// Concurrent streams one connection may carry (hyper's default is 200);
/// a client with more calls open keeps the rest waiting for a free stream.
pub const MAX_CONCURRENT_STREAMS: u32 = 2048;

/// The HTTP/2 connection window of served connections (16 MiB): large
/// enough that h2's budget of unread small DATA frames (half the window)
/// never closes a connection before [`MAX_CONCURRENT_STREAMS`] is reached.
pub const CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;

/// The authority in-process channels use; it never reaches a resolver.
pub const IN_PROCESS_URI: &str = "http://in-process.orders-testkit.invalid";
