//! A tower layer that turns a panicking handler into `INTERNAL` with a
//! sanitized message (E-6): no panic text, no backtrace, no source path
//! reaches the client, and the connection keeps serving other calls.
//!
//! Works on any tonic server (`Server::builder().layer(CatchPanicLayer)`) or
//! around tonic's `Routes`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::layers::catch_panic::CatchPanicLayer;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! let svc = CatchPanicLayer.layer(service_fn(|_req: http::Request<()>| async move {
//!     if true { panic!("secret internal detail at src/db.rs:42") }
//!     Ok::<_, std::convert::Infallible>(http::Response::new(tonic::body::Body::empty()))
//! }));
//! let res = svc.oneshot(http::Request::new(())).await.unwrap();
//! let status = tonic::Status::from_header_map(res.headers()).unwrap();
//! assert_eq!(status.code(), tonic::Code::Internal);
//! assert!(!status.message().contains("secret"));
//! # }
//! ```

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use futures_util::future::CatchUnwind;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// The message every caught panic gets.
pub const PANIC_MESSAGE: &str = "internal error: the handler failed";

/// Layer that applies [`CatchPanic`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CatchPanicLayer;

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic { inner }
    }
}

/// A service whose panics (in `call` or in its future) become `INTERNAL`.
#[derive(Debug, Clone)]
pub struct CatchPanic<S> {
    inner: S,
}

impl<S, Req, ResBody> Service<Req> for CatchPanic<S>
where
    S: Service<Req, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = CatchPanicFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let fut = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req)));
        CatchPanicFuture {
            inner: fut.ok().map(|f| AssertUnwindSafe(f).catch_unwind()),
        }
    }
}

pin_project! {
    /// The future of [`CatchPanic`].
    pub struct CatchPanicFuture<F> {
        #[pin]
        inner: Option<CatchUnwind<AssertUnwindSafe<F>>>,
    }
}

impl<F> std::fmt::Debug for CatchPanicFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatchPanicFuture").finish_non_exhaustive()
    }
}

fn internal<B: Default>() -> http::Response<B> {
    tonic::Status::internal(PANIC_MESSAGE).into_http()
}

impl<F, B, E> Future for CatchPanicFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: Default,
{
    type Output = Result<http::Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.as_pin_mut() {
            // `call` itself panicked.
            None => Poll::Ready(Ok(internal())),
            Some(fut) => fut.poll(cx).map(|r| r.unwrap_or_else(|_| Ok(internal()))),
        }
    }
}
