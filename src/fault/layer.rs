//! [`FaultLayer`]: applies a [`FaultPlan`] to any HTTP/2 gRPC service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Body;
use tonic::Status;
use tower::{Layer, Service};

use super::body::{Ending, ResetBody, ShapedBody, Shaping};
use super::plan::{Decision, FaultPlan};
use super::request::{FaultRequest, read_messages};
use super::wire;
use crate::grpc::deadline::{exceeded, wait_within};
use crate::journal::Notes;
use crate::server::ConnectionControl;

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

pin_project_lite::pin_project! {
    /// The future of [`FaultService`]: the service's own when no fault
    /// fires (no allocation), else the fault's.
    #[project = FaultFutureProj]
    #[allow(missing_docs)]
    pub enum FaultFuture<F, E> {
        /// No fault: the service's answer as it comes (`inner`: its future).
        Pass { #[pin] inner: F },
        /// A fault's answer known at once (a status, a reset): nothing to
        /// wait for, nothing allocated (`answer`: taken when polled).
        Ready { answer: Option<http::Response<tonic::body::Body>> },
        /// A fault's answer that waits or calls the service (`inner`: the
        /// fault's future).
        Fault { inner: BoxFuture<Result<http::Response<tonic::body::Body>, E>> },
    }
}

impl<F, B, E> Future for FaultFuture<F, E>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<FaultBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            FaultFutureProj::Pass { inner } => inner.poll(cx).map(|r| {
                r.map(|res| {
                    // A service that asks for a reset (a live call's).
                    if res.headers().contains_key(super::RESET_MARK) {
                        return reset().map(|inner| FaultBody::Fault { inner });
                    }
                    res.map(|inner| FaultBody::Pass { inner })
                })
            }),
            FaultFutureProj::Ready { answer } => match answer.take() {
                Some(res) => Poll::Ready(Ok(res.map(|inner| FaultBody::Fault { inner }))),
                None => panic!("FaultFuture polled after it completed"),
            },
            FaultFutureProj::Fault { inner } => inner
                .as_mut()
                .poll(cx)
                .map(|r| r.map(|res| res.map(|inner| FaultBody::Fault { inner }))),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response body of [`FaultService`]: the service's own, or a
    /// fault's.
    #[project = FaultBodyProj]
    #[allow(missing_docs)]
    pub enum FaultBody<B> {
        /// The service's body, untouched.
        Pass { #[pin] inner: B },
        /// A fault's body.
        Fault { #[pin] inner: tonic::body::Body },
    }
}

impl<B> Default for FaultBody<B> {
    fn default() -> Self {
        FaultBody::Fault {
            inner: tonic::body::Body::default(),
        }
    }
}

impl<B> Body for FaultBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<tower::BoxError>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        match self.project() {
            FaultBodyProj::Pass { inner } => inner.poll_frame(cx).map(|f| {
                f.map(|r| match r {
                    // Trailers that ask for a reset (a live call's): the
                    // error makes hyper reset the stream.
                    Ok(frame)
                        if frame
                            .trailers_ref()
                            .is_some_and(|t| t.contains_key(super::RESET_MARK)) =>
                    {
                        Err(Status::cancelled("stream reset by the test"))
                    }
                    r => r.map_err(|e| Status::from_error(e.into())),
                })
            }),
            FaultBodyProj::Fault { inner } => inner.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            FaultBody::Pass { inner } => inner.is_end_stream(),
            FaultBody::Fault { inner } => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            FaultBody::Pass { inner } => inner.size_hint(),
            FaultBody::Fault { inner } => inner.size_hint(),
        }
    }
}

fn respond(status: Status) -> http::Response<tonic::body::Body> {
    status.into_http()
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for FaultService<S>
where
    S: Service<http::Request<FaultRequest<ReqBody>>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Body<Data = Bytes> + Send + 'static,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<FaultBody<ResBody>>;
    type Error = S::Error;
    type Future = FaultFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let Some(decision) = self.plan.decide(req.uri().path(), req.headers()) else {
            return FaultFuture::Pass {
                inner: self.inner.call(req.map(FaultRequest::pass)),
            };
        };
        // The ready service goes into the fault's future; a fresh clone
        // takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let deadline = crate::grpc::deadline::timeout_in(req.headers())
            .map(|t| tokio::time::Instant::now() + t);
        let notes = Notes::of(req.extensions()).cloned();
        let control = req.extensions().get::<ConnectionControl>().cloned();
        let boxed = |res: http::Response<ResBody>| res.map(tonic::body::Body::new);
        let fault = |f: BoxFuture<Result<http::Response<tonic::body::Body>, S::Error>>| {
            FaultFuture::Fault { inner: f }
        };
        let ready = |res| FaultFuture::Ready { answer: Some(res) };
        let pass = |req: http::Request<ReqBody>| req.map(FaultRequest::pass);
        fault(match decision {
            Decision::Respond(status) => return ready(respond(status)),
            Decision::Delay(delay) => Box::pin(async move {
                if wait_within(Some(delay), deadline).await.is_err() {
                    return Ok(respond(exceeded()));
                }
                inner.call(pass(req)).await.map(boxed)
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
                    deadline,
                    ..Shaping::default()
                };
                Box::pin(async move { inner.call(pass(req)).await.map(|r| shape(r, shaping)) })
            }
            Decision::Abort { after, status } => {
                let shaping = Shaping {
                    abort: Some((after, Ending::Status(status))),
                    deadline,
                    ..Shaping::default()
                };
                Box::pin(async move { inner.call(pass(req)).await.map(|r| shape(r, shaping)) })
            }
            Decision::LostAnswer { after, then } => {
                note(
                    notes.as_ref(),
                    format!("answer lost after {after} messages: {then:?}"),
                );
                let shaping = Shaping {
                    abort: Some((after, Ending::lost(then, control))),
                    deadline,
                    ..Shaping::default()
                };
                Box::pin(async move { inner.call(pass(req)).await.map(|r| shape(r, shaping)) })
            }
            Decision::Cut {
                after,
                status,
                applied: false,
            } => Box::pin(async move {
                read_messages(req.into_body(), after).await;
                note(
                    notes.as_ref(),
                    format!("cut after reading {after} request messages, none applied"),
                );
                Ok(respond(status))
            }),
            Decision::Cut {
                after,
                status,
                applied: true,
            } => Box::pin(async move {
                let (parts, body) = req.into_parts();
                let (body, mut reached) = FaultRequest::cut(body, after);
                let answer = inner.call(http::Request::from_parts(parts, body));
                let mut answer = std::pin::pin!(answer);
                let cut = format!("cut after {after} request messages applied");
                tokio::select! {
                    res = &mut answer => {
                        // Streaming answers end at the cut, after what
                        // the service sent for the messages it read.
                        let shaping = Shaping {
                            cut: Some((reached, status)),
                            deadline,
                            ..Shaping::default()
                        };
                        res.map(|r| shape(r, shaping))
                    }
                    signal = &mut reached => match signal {
                        Ok(()) => {
                            note(notes.as_ref(), cut);
                            Ok(respond(status))
                        }
                        // The client ended first: no cut.
                        Err(_) => answer.await.map(boxed),
                    },
                }
            }),
            Decision::FailAction { index, reason } => {
                note(
                    notes.as_ref(),
                    format!("action {index} failed in band: {}", reason.as_str()),
                );
                let shaping = Shaping {
                    fail: Some((index, reason)),
                    deadline,
                    ..Shaping::default()
                };
                let (parts, body) = req.into_parts();
                let body = FaultRequest::neutralize(body, index);
                let req = http::Request::from_parts(parts, body);
                Box::pin(async move { inner.call(req).await.map(|r| shape(r, shaping)) })
            }
            Decision::Reset => return ready(reset()),
            Decision::Wire(fault) => {
                // Only the faults that rewrite the service's answer call it.
                let answer = fault.passes_through().then(|| inner.call(pass(req)));
                Box::pin(async move {
                    let answer = match answer {
                        Some(fut) => Some(fut.await.map(boxed)?),
                        None => None,
                    };
                    Ok(wire::apply(fault, answer, control).await)
                })
            }
            Decision::DropConnection => Box::pin(async move {
                match control {
                    Some(control) => {
                        control.drop_connection();
                        // The connection and this call go away together.
                        std::future::pending().await
                    }
                    None => Ok(reset()),
                }
            }),
        })
    }
}

/// Tells the journal what a fault did to a call.
fn note(notes: Option<&Notes>, what: String) {
    if let Some(notes) = notes {
        notes.add_first(super::FaultFired(what));
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
