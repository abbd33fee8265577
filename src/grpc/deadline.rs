//! The caller's deadline, read from `grpc-timeout`, and a stream adapter that
//! ends a response stream with `DEADLINE_EXCEEDED` when it passes (D-1).
//!
//! tonic's own server timeout reports `CANCELLED "Timeout expired"` and stops
//! at the response headers; the testkit serves without it and enforces
//! deadlines here instead, streams included.
//!
//! ```
//! use std::time::Duration;
//! use orders_testkit::grpc::deadline::parse_grpc_timeout;
//!
//! assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
//! assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
//! assert_eq!(parse_grpc_timeout("123456789n"), None); // more than 8 digits
//! ```

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tokio_stream::Stream;
use tonic::Status;
use tonic::metadata::MetadataMap;

/// The header that carries the caller's timeout.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// Parses a `grpc-timeout` value: 1 to 8 ASCII digits and a unit
/// (`H`, `M`, `S`, `m`, `u`, `n`). `None` when malformed.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    // ASCII only: splitting off the unit must not cut a character in two.
    if !value.is_ascii() {
        return None;
    }
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The timeout the caller sent in its metadata, if any and well formed.
pub fn timeout_of(metadata: &MetadataMap) -> Option<Duration> {
    timeout_in(metadata.as_ref())
}

/// The timeout a request's HTTP headers carry (`grpc-timeout`), if any and
/// well formed: what a tower layer below tonic sees.
///
/// ```
/// let mut h = http::HeaderMap::new();
/// h.insert("grpc-timeout", "250m".parse().unwrap());
/// assert_eq!(orders_testkit::grpc::deadline::timeout_in(&h), Some(std::time::Duration::from_millis(250)));
/// ```
pub fn timeout_in(headers: &http::HeaderMap) -> Option<Duration> {
    static NAME: http::HeaderName = http::HeaderName::from_static(GRPC_TIMEOUT);
    headers
        .get(&NAME)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
}

/// The instant the call's deadline passes, counted from now.
pub fn deadline_of(metadata: &MetadataMap) -> Option<Instant> {
    timeout_of(metadata).map(|t| Instant::now() + t)
}

/// The status a call gets when its deadline passes.
pub fn exceeded() -> Status {
    Status::deadline_exceeded("deadline exceeded: the caller's deadline passed")
}

/// Whether `status` says the call's deadline passed, as a client sees it:
/// `DEADLINE_EXCEEDED` from the server, or the client's own timer firing
/// first. A tonic client enforces the deadline it sends and, when its timer
/// wins the race with the server's answer, ends the call itself with
/// `CANCELLED` "Timeout expired"; which one a test sees depends on
/// scheduling, so tests of deadline handling accept both through this.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use orders_testkit::grpc::deadline::passed;
/// use orders_testkit::prelude::*;
///
/// let mock = OrderMock::start().await;
/// mock.inject(Fault::hang().on(GetOrder));
/// let mut req = tonic::Request::new(GetOrderRequest { order_id: "o".into() });
/// req.set_timeout(Duration::from_millis(20));
/// let err = mock.client().get_order(req).await.unwrap_err();
/// assert!(passed(&err), "{err:?}");
/// assert!(!passed(&tonic::Status::cancelled("the user went away")));
/// # }
/// ```
pub fn passed(status: &Status) -> bool {
    match status.code() {
        tonic::Code::DeadlineExceeded => true,
        tonic::Code::Cancelled => status.message() == "Timeout expired",
        _ => false,
    }
}

/// Waits `delay`, or until `deadline` and then fails with
/// [`exceeded`] when the deadline comes first (D-1).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use orders_testkit::grpc::deadline::wait_within;
///
/// let soon = tokio::time::Instant::now() + Duration::from_millis(5);
/// let err = wait_within(Some(Duration::from_secs(60)), Some(soon)).await.unwrap_err();
/// assert_eq!(err.code(), tonic::Code::DeadlineExceeded);
/// assert!(wait_within(Some(Duration::from_millis(1)), None).await.is_ok());
/// # }
/// ```
pub async fn wait_within(delay: Option<Duration>, deadline: Option<Instant>) -> Result<(), Status> {
    let Some(delay) = delay else { return Ok(()) };
    let until = Instant::now() + delay;
    match deadline {
        Some(deadline) if deadline < until => {
            tokio::time::sleep_until(deadline).await;
            Err(exceeded())
        }
        _ => {
            tokio::time::sleep_until(until).await;
            Ok(())
        }
    }
}

/// A response stream that ends with [`exceeded`] once `deadline` passes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::grpc::deadline::UntilDeadline;
/// use tokio_stream::StreamExt;
///
/// let never = tokio_stream::pending::<Result<u32, tonic::Status>>();
/// let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(5);
/// let mut s = UntilDeadline::new(never, Some(deadline));
/// let err = s.next().await.unwrap().unwrap_err();
/// assert_eq!(err.code(), tonic::Code::DeadlineExceeded);
/// assert!(s.next().await.is_none());
/// # }
/// ```
#[derive(Debug)]
pub struct UntilDeadline<S> {
    inner: Option<S>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<S> UntilDeadline<S> {
    /// Wraps `inner`; with no deadline it passes everything through.
    pub fn new(inner: S, deadline: Option<Instant>) -> Self {
        Self {
            inner: Some(inner),
            sleep: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
        }
    }
}

impl<S, T> Stream for UntilDeadline<S>
where
    S: Stream<Item = Result<T, Status>> + Unpin,
{
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(sleep) = this.sleep.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            // Drop the inner stream now: its work and subscriptions end here.
            this.inner = None;
            return Poll::Ready(Some(Err(exceeded())));
        }
        let next = Pin::new(inner).poll_next(cx);
        if let Poll::Ready(None) = next {
            this.inner = None;
        }
        next
    }
}
