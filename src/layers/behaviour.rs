//! [`ServerBehaviour`] and [`BehaviourLayer`]: make any tonic server behave
//! on the wire as other gRPC stacks and networks do, to test that clients
//! (and the contract suite) do not depend on tonic's habits.
//!
//! - response headers deferred until the first response message, as
//!   grpc-go, grpc-java and grpc-python send them;
//! - errors framed as trailers-only responses, or after response headers;
//! - latency per call with seeded jitter, as a remote endpoint has;
//! - unknown extra metadata in headers and trailers;
//! - `grpc-status-details-bin` on every error.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use prost::Message;
use tower::{Layer, Service};

/// How errors are framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ErrorFraming {
    /// As the server produced them.
    #[default]
    AsServed,
    /// Every error that ends a call before any message goes out as a
    /// trailers-only response (`grpc-status` in the response headers).
    TrailersOnly,
    /// Every error goes out as response headers, then trailers with the
    /// status (what many servers do once a handler has started).
    AfterHeaders,
}

/// How a server behaves on the wire, beyond what it answers.
///
/// ```
/// use std::time::Duration;
/// use orders_testkit::layers::behaviour::{BehaviourLayer, ServerBehaviour};
///
/// // Like a grpc-go service on a remote staging host.
/// let grpc_go_far_away = ServerBehaviour::new()
///     .defer_headers()
///     .errors_after_headers()
///     .latency(Duration::from_millis(20), Duration::from_millis(80))
///     .seed(7);
/// let layer = BehaviourLayer::new(grpc_go_far_away);
/// // tonic::transport::Server::builder().layer(layer).add_service(..)
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ServerBehaviour {
    defer_headers: bool,
    errors: ErrorFraming,
    latency: Option<(Duration, Duration)>,
    seed: u64,
    extra_metadata: bool,
    details_on_every_error: bool,
}

impl ServerBehaviour {
    /// tonic's own behaviour: nothing changed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds the response headers until the first response message (or
    /// the end of the call) is ready, and sends them together.
    pub fn defer_headers(mut self) -> Self {
        self.defer_headers = true;
        self
    }

    /// Sends an error that comes before any message as a trailers-only
    /// response.
    pub fn errors_trailers_only(mut self) -> Self {
        self.errors = ErrorFraming::TrailersOnly;
        self
    }

    /// Sends every error as response headers, then trailers.
    pub fn errors_after_headers(mut self) -> Self {
        self.errors = ErrorFraming::AfterHeaders;
        self
    }

    /// Delays each call's response headers by a duration between `min` and
    /// `max`, drawn from the seed.
    pub fn latency(mut self, min: Duration, max: Duration) -> Self {
        self.latency = Some((min, max.max(min)));
        self
    }

    /// The seed of the latency draws: the same seed, the same delays.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Adds unknown metadata to response headers and trailers
    /// (`x-behaviour-extra`, `x-behaviour-trailer`), as proxies and
    /// tracing middleware do.
    pub fn extra_metadata(mut self) -> Self {
        self.extra_metadata = true;
        self
    }

    /// Adds `grpc-status-details-bin` (a `google.rpc.Status` with the
    /// call's code and message) to every error that has none.
    pub fn details_on_every_error(mut self) -> Self {
        self.details_on_every_error = true;
        self
    }
}

/// A tower layer giving any gRPC server a [`ServerBehaviour`].
///
/// ```
/// use tower::Layer;
/// use orders_testkit::layers::behaviour::{BehaviourLayer, ServerBehaviour};
///
/// let layer = BehaviourLayer::new(ServerBehaviour::new().defer_headers());
/// let _svc = layer.layer(tonic::service::Routes::default());
/// ```
#[derive(Debug, Clone)]
pub struct BehaviourLayer {
    behaviour: Arc<ServerBehaviour>,
    calls: Arc<AtomicU64>,
}

impl BehaviourLayer {
    /// A layer with this behaviour.
    pub fn new(behaviour: ServerBehaviour) -> Self {
        Self {
            behaviour: Arc::new(behaviour),
            calls: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl<S> Layer<S> for BehaviourLayer {
    type Service = BehaviourService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BehaviourService {
            inner,
            behaviour: self.behaviour.clone(),
            calls: self.calls.clone(),
        }
    }
}

/// The service of [`BehaviourLayer`].
///
/// ```
/// use tower::Layer;
/// use orders_testkit::layers::behaviour::{BehaviourLayer, ServerBehaviour};
///
/// let _svc: orders_testkit::layers::behaviour::BehaviourService<tonic::service::Routes> =
///     BehaviourLayer::new(ServerBehaviour::new()).layer(tonic::service::Routes::default());
/// ```
#[derive(Debug, Clone)]
pub struct BehaviourService<S> {
    inner: S,
    behaviour: Arc<ServerBehaviour>,
    calls: Arc<AtomicU64>,
}

use tower::BoxError;
type Res = http::Response<tonic::body::Body>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for BehaviourService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Res;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Res, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let b = self.behaviour.clone();
        let delay = b.latency.map(|(min, max)| {
            let span = (max - min).as_micros() as u64;
            let draw = crate::grpc::seed::mix(b.seed ^ crate::grpc::seed::mix(n));
            min + Duration::from_micros(if span == 0 { 0 } else { draw % (span + 1) })
        });
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await?.map(tonic::body::Body::new);
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            Ok(reshape(&b, res).await)
        })
    }
}

/// Applies the behaviour to one response.
pub(crate) async fn reshape(b: &ServerBehaviour, res: Res) -> Res {
    let (mut parts, body) = res.into_parts();
    if b.extra_metadata {
        parts.headers.insert(
            "x-behaviour-extra",
            HeaderValue::from_static("unknown to the client"),
        );
    }
    if parts.headers.contains_key("grpc-status") {
        // Trailers-only: an error (or OK) at once.
        complete(b, &mut parts.headers);
        if b.errors == ErrorFraming::AfterHeaders && is_error(&parts.headers) {
            let mut trailers = HeaderMap::new();
            for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
                if let Some(v) = parts.headers.remove(name) {
                    trailers.insert(name, v);
                }
            }
            if b.extra_metadata {
                trailers.insert("x-behaviour-trailer", HeaderValue::from_static("1"));
            }
            let body =
                tonic::body::Body::new(http_body_util::StreamBody::new(tokio_stream::once(Ok::<
                    _,
                    tonic::Status,
                >(
                    Frame::trailers(trailers),
                ))));
            return http::Response::from_parts(parts, body);
        }
        return http::Response::from_parts(parts, body);
    }
    let b2 = b.clone();
    let mut body =
        tonic::body::Body::new(body.map_frame(move |frame| match frame.into_trailers() {
            Ok(mut t) => {
                complete(&b2, &mut t);
                if b2.extra_metadata {
                    t.insert("x-behaviour-trailer", HeaderValue::from_static("1"));
                }
                Frame::trailers(t)
            }
            Err(frame) => frame,
        }));
    let wants_first = b.defer_headers || b.errors == ErrorFraming::TrailersOnly;
    if !wants_first {
        return http::Response::from_parts(parts, body);
    }
    // Wait for the first frame before sending the headers.
    let first = body.frame().await;
    match first {
        None => http::Response::from_parts(parts, tonic::body::Body::empty()),
        Some(Ok(frame)) if frame.is_trailers() && b.errors == ErrorFraming::TrailersOnly => {
            let trailers = frame.into_trailers().unwrap_or_default();
            if is_error(&trailers) {
                // Merge into the headers: a trailers-only response.
                for (name, value) in &trailers {
                    parts.headers.insert(name.clone(), value.clone());
                }
                http::Response::from_parts(parts, tonic::body::Body::empty())
            } else {
                let once = tokio_stream::once(Ok::<_, tonic::Status>(Frame::trailers(trailers)));
                http::Response::from_parts(
                    parts,
                    tonic::body::Body::new(http_body_util::StreamBody::new(once)),
                )
            }
        }
        Some(first) => {
            let rest = http_body_util::BodyStream::new(body);
            let all = tokio_stream::StreamExt::chain(tokio_stream::once(first), rest);
            http::Response::from_parts(
                parts,
                tonic::body::Body::new(http_body_util::StreamBody::new(all)),
            )
        }
    }
}

fn is_error(headers: &HeaderMap) -> bool {
    headers
        .get("grpc-status")
        .is_some_and(|v| v.as_bytes() != b"0")
}

/// Adds details to an error status that has none, when asked to.
fn complete(b: &ServerBehaviour, headers: &mut HeaderMap) {
    if !b.details_on_every_error
        || !is_error(headers)
        || headers.contains_key("grpc-status-details-bin")
    {
        return;
    }
    let Some(st) = crate::grpc::status_repair::status_of(headers) else {
        return;
    };
    let details = tonic_types::pb::Status {
        code: st.code() as i32,
        message: st.message().to_string(),
        details: vec![],
    }
    .encode_to_vec();
    let with = tonic::Status::with_details(st.code(), st.message(), Bytes::from(details));
    let mut fresh = HeaderMap::new();
    if with.add_header(&mut fresh).is_ok()
        && let Some(v) = fresh.get("grpc-status-details-bin")
    {
        headers.insert("grpc-status-details-bin", v.clone());
    }
}
