//! A layer that sanitizes `INTERNAL` and `UNKNOWN` statuses (E-6) on
//! any tonic server: messages that carry a panic message, a backtrace, a
//! source path or a debug-printed internal error are replaced by a generic
//! one (details dropped, since they would repeat the message, E-5). With
//! [`SanitizeLayer::strict`], every such message is replaced.
//!
//! ```
//! use orders_testkit::layers::sanitize::{SanitizeLayer, leaks_internals};
//!
//! assert!(leaks_internals("thread 'main' panicked at src/db.rs:42:9"));
//! assert!(!leaks_internals("database unavailable"));
//! let _layer = SanitizeLayer::default(); // Server::builder().layer(_layer)
//! ```

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame};
use pin_project_lite::pin_project;
use tonic::{Code, Status};
use tower::{Layer, Service};

/// The message sanitized statuses get.
pub const SANITIZED_MESSAGE: &str = "internal error";

/// Whether a message shows something a client must not see.
pub fn leaks_internals(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    [
        "panicked at",
        "backtrace",
        ".rs:",
        "src/",
        "error {",
        "unwrap()",
        "(os error",
        "at line ",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// Layer of [`Sanitize`].
#[derive(Debug, Clone, Copy)]
pub struct SanitizeLayer {
    mode: Mode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Leaks,
    Strict,
    Off,
}

impl Default for SanitizeLayer {
    fn default() -> Self {
        Self { mode: Mode::Leaks }
    }
}

impl SanitizeLayer {
    /// Replaces every `INTERNAL`/`UNKNOWN` message, leaky or not.
    pub fn strict() -> Self {
        Self { mode: Mode::Strict }
    }

    /// Passes every status on as it is (a recorder keeps what the target
    /// said), with the same service type as the other modes.
    pub(crate) fn off() -> Self {
        Self { mode: Mode::Off }
    }
}

impl<S> Layer<S> for SanitizeLayer {
    type Service = Sanitize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Sanitize {
            inner,
            mode: self.mode,
        }
    }
}

/// The service of [`SanitizeLayer`].
#[derive(Debug, Clone)]
pub struct Sanitize<S> {
    inner: S,
    mode: Mode,
}

/// Rewrites the status in `headers` (response headers or trailers) when
/// it must be sanitized.
fn clean(headers: &mut HeaderMap, mode: Mode) {
    if mode == Mode::Off {
        return;
    }
    let strict = mode == Mode::Strict;
    // Most statuses are not INTERNAL or UNKNOWN: look at the code first.
    let code = match crate::grpc::status_repair::code_of(headers) {
        Some(code @ (Code::Internal | Code::Unknown)) => code,
        _ => return,
    };
    if !strict
        && !crate::grpc::status_repair::parts_of(headers)
            .is_some_and(|(_, message, _)| leaks_internals(&message))
    {
        return;
    }
    headers.remove(&crate::grpc::status_repair::GRPC_MESSAGE);
    headers.remove(&crate::grpc::status_repair::GRPC_DETAILS);
    let _ = Status::new(code, SANITIZED_MESSAGE).add_header(headers);
}

impl<S, B, ResBody> Service<http::Request<B>> for Sanitize<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    ResBody: Body<Data = Bytes>,
{
    type Response = http::Response<CleanTrailers<ResBody>>;
    type Error = S::Error;
    type Future = SanitizeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        SanitizeFuture {
            inner: self.inner.call(req),
            mode: self.mode,
        }
    }
}

pin_project! {
    /// The future of [`Sanitize`]: cleans the response headers (a
    /// trailers-only status) and wraps the body to clean its trailers.
    pub struct SanitizeFuture<F> {
        #[pin]
        inner: F,
        mode: Mode,
    }
}

impl<F, B, E> std::future::Future for SanitizeFuture<F>
where
    F: std::future::Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<CleanTrailers<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mode = *this.mode;
        let mut res = ready!(this.inner.poll(cx))?;
        clean(res.headers_mut(), mode);
        Poll::Ready(Ok(res.map(|inner| CleanTrailers { inner, mode })))
    }
}

pin_project! {
    /// A response body whose trailers are sanitized.
    pub struct CleanTrailers<B> {
        #[pin]
        inner: B,
        mode: Mode,
    }
}

impl<B: Default> Default for CleanTrailers<B> {
    fn default() -> Self {
        Self {
            inner: B::default(),
            mode: Mode::Off,
        }
    }
}

impl<B: Body<Data = Bytes>> Body for CleanTrailers<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        Poll::Ready(frame.map(|f| {
            f.map(|frame| match frame.into_trailers() {
                Ok(mut trailers) => {
                    clean(&mut trailers, *this.mode);
                    Frame::trailers(trailers)
                }
                Err(frame) => frame,
            })
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
