//! [`FaultLayer`]: applies a [`FaultPlan`] to any HTTP/2 gRPC service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Body;
use tonic::Status;
use tower::{Layer, Service};

use super::body::{ResetBody, ShapedBody, Shaping};
use super::plan::{Decision, FaultPlan};
use super::wire;
use crate::deadline::{exceeded, wait_within};
use crate::transport::ConnectionControl;

/// A tower layer that injects the faults of a [`FaultPlan`] into any tonic
/// server: `Server::builder().layer(FaultLayer::new(plan))`, or around
/// `Routes` served in process. Reads like `tower::timeout`: a layer, a
/// service, and the plan it consults on every call.
///
/// ```
/// use orders_testkit::fault::{Fault, FaultLayer, FaultPlan};
/// use orders_testkit::rpc::GetOrder;
///
/// let plan = FaultPlan::seeded(1).with(Fault::hang().on(GetOrder).first(1));
/// let layer = FaultLayer::new(plan.clone());
/// // tonic::transport::Server::builder().layer(layer).add_service(my_service)...
/// # let _ = layer;
/// plan.add(Fault::reset().every(100)); // the plan can change while serving
/// ```
#[derive(Debug, Clone)]
pub struct FaultLayer {
    plan: FaultPlan,
}

impl FaultLayer {
    /// A layer consulting `plan` (shared: changes to it apply at once).
    ///
    /// ```
    /// let _layer = orders_testkit::fault::FaultLayer::new(orders_testkit::fault::FaultPlan::new());
    /// ```
    pub fn new(plan: FaultPlan) -> Self {
        Self { plan }
    }
}

impl<S> Layer<S> for FaultLayer {
    type Service = FaultService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FaultService {
            inner,
            plan: self.plan.clone(),
        }
    }
}

/// The service of [`FaultLayer`].
#[derive(Debug, Clone)]
///
/// ```
/// use tower::Layer;
/// let layer = orders_testkit::fault::FaultLayer::new(orders_testkit::fault::FaultPlan::new());
/// let _svc = layer.layer(tonic::service::Routes::default());
/// ```
pub struct FaultService<S> {
    inner: S,
    plan: FaultPlan,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

fn respond(status: Status) -> http::Response<tonic::body::Body> {
    status.into_http()
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for FaultService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        // The ready service handles this call; a fresh clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let deadline =
            crate::deadline::timeout_in(req.headers()).map(|t| tokio::time::Instant::now() + t);
        let decision = self.plan.decide(req.uri().path(), req.headers());
        let boxed = |res: http::Response<ResBody>| res.map(tonic::body::Body::new);
        match decision {
            Decision::Pass => Box::pin(async move { inner.call(req).await.map(boxed) }),
            Decision::Respond(status) => Box::pin(async move { Ok(respond(status)) }),
            Decision::Delay(delay) => Box::pin(async move {
                if wait_within(Some(delay), deadline).await.is_err() {
                    return Ok(respond(exceeded()));
                }
                inner.call(req).await.map(boxed)
            }),
            Decision::Hang => Box::pin(async move {
                match deadline {
                    Some(deadline) => {
                        tokio::time::sleep_until(deadline).await;
                        Ok(respond(exceeded()))
                    }
                    // No deadline: hang until the caller gives up.
                    None => std::future::pending().await,
                }
            }),
            Decision::DelayBetween { base, jitter, seed } => {
                let shaping = Shaping {
                    between: Some((base, jitter, seed)),
                    abort: None,
                    deadline,
                };
                Box::pin(async move { inner.call(req).await.map(|r| shape(r, shaping)) })
            }
            Decision::Abort { after, status } => {
                let shaping = Shaping {
                    between: None,
                    abort: Some((after, status)),
                    deadline,
                };
                Box::pin(async move { inner.call(req).await.map(|r| shape(r, shaping)) })
            }
            Decision::Reset => Box::pin(async move { Ok(reset()) }),
            Decision::Wire(fault) => {
                let control = req.extensions().get::<ConnectionControl>().cloned();
                // Only the faults that rewrite the service's answer call it.
                let answer = fault.passes_through().then(|| inner.call(req));
                Box::pin(async move {
                    let answer = match answer {
                        Some(fut) => Some(fut.await.map(boxed)?),
                        None => None,
                    };
                    Ok(wire::apply(fault, answer, control).await)
                })
            }
            Decision::DropConnection => {
                let control = req.extensions().get::<ConnectionControl>().cloned();
                Box::pin(async move {
                    match control {
                        Some(control) => {
                            control.drop_connection();
                            // The connection and this call go away together.
                            std::future::pending().await
                        }
                        None => Ok(reset()),
                    }
                })
            }
        }
    }
}

fn reset() -> http::Response<tonic::body::Body> {
    let mut res = http::Response::new(tonic::body::Body::new(ResetBody));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    res
}

fn shape<B>(res: http::Response<B>, shaping: Shaping) -> http::Response<tonic::body::Body>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // A trailers-only response (an error at once) has nothing to shape.
    if res.headers().contains_key("grpc-status") {
        return res.map(tonic::body::Body::new);
    }
    res.map(|b| tonic::body::Body::new(ShapedBody::new(tonic::body::Body::new(b), shaping)))
}
