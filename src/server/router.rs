//! The mock's router: a call goes to OrderService, health or reflection by
//! the service name in its path, with one comparison per service and no
//! allocation (tonic's `Routes` builds an axum router per mock and boxes
//! each call's body; the mock's four services need neither). A path of no
//! known service gets `UNIMPLEMENTED`, as from tonic's router.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tonic::body::Body;
use tonic::server::NamedService;
use tower::Service;

/// The mock's services, by name.
#[derive(Debug, Clone)]
pub(crate) struct ServiceRouter<O, H, R1, R2> {
    pub(crate) orders: O,
    pub(crate) health: H,
    pub(crate) reflection_v1: R1,
    pub(crate) reflection_v1alpha: R2,
}

pin_project! {
    /// The future of [`ServiceRouter`]: the chosen service's, or UNIMPLEMENTED.
    #[project = RouteProj]
    pub(crate) enum RouteFuture<O, H, R1, R2> {
        Orders { #[pin] future: O },
        Health { #[pin] future: H },
        ReflectionV1 { #[pin] future: R1 },
        ReflectionV1Alpha { #[pin] future: R2 },
        Unimplemented { response: Option<http::Response<Body>> },
    }
}

impl<O, H, R1, R2> Future for RouteFuture<O, H, R1, R2>
where
    O: Future<Output = Result<http::Response<Body>, Infallible>>,
    H: Future<Output = Result<http::Response<Body>, Infallible>>,
    R1: Future<Output = Result<http::Response<Body>, Infallible>>,
    R2: Future<Output = Result<http::Response<Body>, Infallible>>,
{
    type Output = Result<http::Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            RouteProj::Orders { future } => future.poll(cx),
            RouteProj::Health { future } => future.poll(cx),
            RouteProj::ReflectionV1 { future } => future.poll(cx),
            RouteProj::ReflectionV1Alpha { future } => future.poll(cx),
            RouteProj::Unimplemented { response } => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| tonic::Status::unimplemented("").into_http()))),
        }
    }
}

/// `path`'s service name: `/orders.v1.OrderService/GetOrder` →
/// `orders.v1.OrderService`.
fn service_of(path: &str) -> &str {
    path.strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .map_or("", |(service, _)| service)
}

impl<B, O, H, R1, R2> Service<http::Request<B>> for ServiceRouter<O, H, R1, R2>
where
    O: Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible>
        + NamedService,
    H: Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible>
        + NamedService,
    R1: Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible>
        + NamedService,
    R2: Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible>
        + NamedService,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = RouteFuture<O::Future, H::Future, R1::Future, R2::Future>;

    /// tonic's generated servers are always ready.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let service = service_of(req.uri().path());
        if service == O::NAME {
            RouteFuture::Orders {
                future: self.orders.call(req),
            }
        } else if service == H::NAME {
            RouteFuture::Health {
                future: self.health.call(req),
            }
        } else if service == R1::NAME {
            RouteFuture::ReflectionV1 {
                future: self.reflection_v1.call(req),
            }
        } else if service == R2::NAME {
            RouteFuture::ReflectionV1Alpha {
                future: self.reflection_v1alpha.call(req),
            }
        } else {
            RouteFuture::Unimplemented { response: None }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::service_of;

    #[test]
    fn the_service_is_the_first_path_segment() {
        assert_eq!(
            service_of("/orders.v1.OrderService/GetOrder"),
            "orders.v1.OrderService"
        );
        assert_eq!(
            service_of("/grpc.health.v1.Health/Watch"),
            "grpc.health.v1.Health"
        );
        assert_eq!(service_of("/orders.v1.OrderService"), "");
        assert_eq!(service_of("orders.v1.OrderService/GetOrder"), "");
        assert_eq!(service_of("/"), "");
    }
}
