//! A tower layer that ends every call whose response has not started by
//! its `grpc-timeout` with `DEADLINE_EXCEEDED` (D-1), whatever the service
//! behind is waiting for. Without it, a unary call whose request message
//! never arrives stays open forever: tonic decodes the message before the
//! handler runs, so a deadline enforced in the handler never starts.
//! Streams already answering are cut by the mock's own response streams.
//!
//! Works around any tonic server or `Routes`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::layers::deadline::DeadlineLayer;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! let never = DeadlineLayer.layer(service_fn(|_req: http::Request<()>| async move {
//!     std::future::pending::<()>().await;
//!     Ok::<_, std::convert::Infallible>(http::Response::new(tonic::body::Body::empty()))
//! }));
//! let req = http::Request::builder().header("grpc-timeout", "20m").body(()).unwrap();
//! let res = never.oneshot(req).await.unwrap();
//! let status = tonic::Status::from_header_map(res.headers()).unwrap();
//! assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::{Layer, Service};

use crate::grpc::deadline::{exceeded, timeout_in};

/// Layer that applies [`Deadline`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineLayer;

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline { inner }
    }
}

/// A service whose calls answer `DEADLINE_EXCEEDED` when their response
/// has not started by the request's `grpc-timeout`.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Deadline<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let sleep = timeout_in(req.headers()).map(tokio::time::sleep);
        DeadlineFuture {
            inner: self.inner.call(req),
            sleep,
        }
    }
}

pin_project! {
    /// The future of [`Deadline`].
    pub struct DeadlineFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Option<Sleep>,
    }
}

impl<F> std::fmt::Debug for DeadlineFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadlineFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: Default,
{
    type Output = Result<http::Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(answer) = this.inner.poll(cx) {
            return Poll::Ready(answer);
        }
        match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Ok(exceeded().into_http())),
            _ => Poll::Pending,
        }
    }
}
