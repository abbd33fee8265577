//! A tower layer that ends open watches when the server starts shutting
//! down: a watch (`WatchOrderStatus`, health's `Watch`) with nothing ready
//! ends with `UNAVAILABLE` "the server is shutting down" at once, while what
//! is ready still goes out; every other call (client and bidi streams
//! included, which their client can end) finishes within the grace.
//! Without it, a graceful shutdown waits its whole grace for every open
//! watch, which never ends on its own.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use http_body_util::BodyExt;
//! use orders_testkit::layers::shutdown::ShutdownLayer;
//! use tokio_util::sync::CancellationToken;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! let stopping = CancellationToken::new();
//! let svc = ShutdownLayer::new(stopping.clone()).layer(service_fn(|_req: http::Request<()>| async {
//!     // A stream that never sends anything.
//!     let body = http_body_util::StreamBody::new(futures_util::stream::pending::<
//!         Result<http_body::Frame<bytes::Bytes>, tonic::Status>,
//!     >());
//!     Ok::<_, std::convert::Infallible>(http::Response::new(tonic::body::Body::new(body)))
//! }));
//! let req = http::Request::builder().uri("/orders.v1.OrderService/WatchOrderStatus").body(()).unwrap();
//! let res = svc.oneshot(req).await.unwrap();
//! stopping.cancel();
//! let trailers = res.into_body().collect().await.unwrap().trailers().cloned().unwrap();
//! assert_eq!(trailers["grpc-status"], "14");
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame};
use pin_project_lite::pin_project;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tower::{Layer, Service};

/// The status of a stream ended by the server's shutdown.
pub fn shutting_down() -> tonic::Status {
    tonic::Status::unavailable("the server is shutting down")
}

/// Layer that applies [`Shutdown`].
#[derive(Debug, Clone)]
pub struct ShutdownLayer {
    stopping: CancellationToken,
}

impl ShutdownLayer {
    /// Ends waiting streams once `stopping` is cancelled.
    pub fn new(stopping: CancellationToken) -> Self {
        Self { stopping }
    }
}

impl<S> Layer<S> for ShutdownLayer {
    type Service = Shutdown<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Shutdown {
            inner,
            stopping: self.stopping.clone(),
        }
    }
}

/// A service whose waiting response streams end at shutdown.
#[derive(Debug, Clone)]
pub struct Shutdown<S> {
    inner: S,
    stopping: CancellationToken,
}

/// Whether `path` is a watch: a server stream that waits for changes.
fn watches(path: &str) -> bool {
    path.ends_with("/WatchOrderStatus") || path == "/grpc.health.v1.Health/Watch"
}

impl<S, ReqBody, B> Service<http::Request<ReqBody>> for Shutdown<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<B>>,
{
    type Response = http::Response<ShutdownBody<B>>;
    type Error = S::Error;
    type Future = ShutdownFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let stopping = watches(req.uri().path()).then(|| self.stopping.clone());
        ShutdownFuture {
            inner: self.inner.call(req),
            stopping,
        }
    }
}

pin_project! {
    /// The future of [`Shutdown`].
    pub struct ShutdownFuture<F> {
        #[pin]
        inner: F,
        stopping: Option<CancellationToken>,
    }
}

impl<F> std::fmt::Debug for ShutdownFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ShutdownFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<ShutdownBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = ready!(this.inner.poll(cx))?;
        let stopping = this.stopping.take();
        Poll::Ready(Ok(res.map(|inner| ShutdownBody {
            inner,
            stopping: stopping.map(|s| Box::pin(s.cancelled_owned())),
            done: false,
        })))
    }
}

pin_project! {
    /// A response body that ends with [`shutting_down`] when it has nothing
    /// ready once the server stops.
    pub struct ShutdownBody<B> {
        #[pin]
        inner: B,
        // Only watches are ended; other bodies pass through.
        stopping: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
        done: bool,
    }
}

impl<B> std::fmt::Debug for ShutdownBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownBody").finish_non_exhaustive()
    }
}

impl<B: Default> Default for ShutdownBody<B> {
    fn default() -> Self {
        Self {
            inner: B::default(),
            stopping: None,
            done: false,
        }
    }
}

impl<B> Body for ShutdownBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if let Some(stopping) = this.stopping.as_mut()
            && stopping.as_mut().poll(cx).is_ready()
        {
            *this.done = true;
            let mut trailers = http::HeaderMap::new();
            let _ = shutting_down().add_header(&mut trailers);
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }
}
