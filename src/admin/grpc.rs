//! The `orders_testkit.admin.v1.Admin` gRPC service, and the router that
//! serves it beside the mock's stack (outside the journal, auth for
//! OrderService and the faults: admin calls are not part of what the mock
//! is testing, and a fault on every call must not lock the admin out).

use std::convert::Infallible;
use std::task::{Context, Poll};

use futures_util::TryFutureExt as _;
use futures_util::future::{BoxFuture, Either, MapOk};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tower::Service;

use super::calls::{CallFilter, request_json, to_pb};
use super::pb::admin_server::{self, AdminServer};
use super::pb::*;
use super::{Admin, AdminError, PATH_PREFIX, ResetWhat};

impl From<AdminError> for Status {
    fn from(e: AdminError) -> Self {
        match &e {
            AdminError::BadInput { what, key, .. } => {
                let field = key.clone().unwrap_or_else(|| (*what).to_string());
                Status::with_error_details(
                    tonic::Code::InvalidArgument,
                    e.to_string(),
                    ErrorDetails::with_bad_request_violation(field, e.to_string()),
                )
            }
            AdminError::NotFound(_) => Status::not_found(e.to_string()),
        }
    }
}

fn bad_filter(problem: String) -> Status {
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        format!("invalid filter: {problem}"),
        ErrorDetails::with_bad_request_violation("filter", problem),
    )
}

/// The admin gRPC service over one mock's parts.
pub(crate) fn service(admin: Admin) -> AdminServer<AdminService> {
    AdminServer::new(AdminService { admin })
}

/// Implements the generated `Admin` trait.
#[derive(Debug, Clone)]
pub(crate) struct AdminService {
    admin: Admin,
}

/// How many ended calls a slow `TailCalls` reader may fall behind by
/// before the stream waits for it.
const TAIL_BUFFER: usize = 256;

#[tonic::async_trait]
impl admin_server::Admin for AdminService {
    async fn add_stub(
        &self,
        request: Request<AddStubRequest>,
    ) -> Result<Response<AddStubResponse>, Status> {
        let (id, name) = self.admin.add_stub(&request.into_inner().stub_json)?;
        Ok(Response::new(AddStubResponse { id, name }))
    }

    async fn remove_stub(
        &self,
        request: Request<RemoveStubRequest>,
    ) -> Result<Response<RemoveStubResponse>, Status> {
        self.admin.remove_stub(request.into_inner().id)?;
        Ok(Response::new(RemoveStubResponse {}))
    }

    async fn list_stubs(
        &self,
        _: Request<ListStubsRequest>,
    ) -> Result<Response<ListStubsResponse>, Status> {
        let stubs = self
            .admin
            .stubs
            .list()
            .into_iter()
            .map(|s| StubInfo {
                met: super::met(&s),
                id: s.id,
                rpc: s.method.name().to_string(),
                name: s.name,
                hits: s.hits as u64,
                priority: u32::from(s.priority),
                expected: s.expected.map(|t| t.to_string()).unwrap_or_default(),
                definition_json: s.definition.unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(ListStubsResponse { stubs }))
    }

    async fn inject_fault(
        &self,
        request: Request<InjectFaultRequest>,
    ) -> Result<Response<InjectFaultResponse>, Status> {
        let (id, faults) = self.admin.inject_fault(&request.into_inner().fault_json)?;
        Ok(Response::new(InjectFaultResponse {
            faults: faults as u32,
            id,
        }))
    }

    async fn list_faults(
        &self,
        _: Request<ListFaultsRequest>,
    ) -> Result<Response<ListFaultsResponse>, Status> {
        let faults = self
            .admin
            .faults_json()
            .into_iter()
            .map(|json| FaultInfo {
                id: json["id"].as_u64().unwrap_or_default(),
                fault_json: json.to_string(),
            })
            .collect();
        Ok(Response::new(ListFaultsResponse { faults }))
    }

    async fn remove_fault(
        &self,
        request: Request<RemoveFaultRequest>,
    ) -> Result<Response<RemoveFaultResponse>, Status> {
        self.admin.remove_fault(request.into_inner().id)?;
        Ok(Response::new(RemoveFaultResponse {}))
    }

    async fn drive_live(
        &self,
        request: Request<DriveLiveRequest>,
    ) -> Result<Response<DriveLiveResponse>, Status> {
        let request = request.into_inner();
        let changed = self.admin.drive_live(&request.rpc, request.stop)?;
        Ok(Response::new(DriveLiveResponse { changed }))
    }

    async fn list_live(
        &self,
        _: Request<ListLiveRequest>,
    ) -> Result<Response<ListLiveResponse>, Status> {
        let (driven, calls) = self.admin.live_calls();
        let calls = calls
            .into_iter()
            .map(|c| LiveCall {
                id: c.id,
                rpc: c.rpc.name().to_string(),
                request_json: c
                    .request
                    .as_ref()
                    .map(|r| request_json(r).to_string())
                    .unwrap_or_default(),
                received_json: c
                    .received
                    .iter()
                    .map(|r| request_json(r).to_string())
                    .collect(),
                half_closed: c.half_closed,
                sent: c.sent as u32,
            })
            .collect();
        Ok(Response::new(ListLiveResponse {
            driven: driven.into_iter().map(str::to_string).collect(),
            calls,
        }))
    }

    async fn send_live(
        &self,
        request: Request<SendLiveRequest>,
    ) -> Result<Response<SendLiveResponse>, Status> {
        let request = request.into_inner();
        self.admin
            .send_live(request.id, &request.message_json)
            .await?;
        Ok(Response::new(SendLiveResponse {}))
    }

    async fn end_live(
        &self,
        request: Request<EndLiveRequest>,
    ) -> Result<Response<EndLiveResponse>, Status> {
        let request = request.into_inner();
        let status = if request.reset {
            r#"{"reset": true}"#.to_string()
        } else {
            request.status_json
        };
        self.admin.end_live(request.id, &status).await?;
        Ok(Response::new(EndLiveResponse {}))
    }

    async fn clear_faults(
        &self,
        _: Request<ClearFaultsRequest>,
    ) -> Result<Response<ClearFaultsResponse>, Status> {
        Ok(Response::new(ClearFaultsResponse {
            cleared: self.admin.clear_faults() as u32,
        }))
    }

    async fn seed_order(
        &self,
        request: Request<SeedOrderRequest>,
    ) -> Result<Response<SeedOrderResponse>, Status> {
        let order_id = self.admin.seed_order(&request.into_inner().order_json)?;
        Ok(Response::new(SeedOrderResponse { order_id }))
    }

    async fn reset(
        &self,
        request: Request<ResetRequest>,
    ) -> Result<Response<ResetResponse>, Status> {
        let r = request.into_inner();
        let done = self.admin.reset(ResetWhat {
            orders: r.orders,
            stubs: r.stubs,
            faults: r.faults,
            journal: r.journal,
        });
        Ok(Response::new(ResetResponse {
            orders: done.orders as u32,
            stubs: done.stubs as u32,
            faults: done.faults as u32,
            calls: done.calls as u32,
        }))
    }

    async fn list_calls(
        &self,
        request: Request<ListCallsRequest>,
    ) -> Result<Response<ListCallsResponse>, Status> {
        let r = request.into_inner();
        let filter = CallFilter::from_pb(r.filter);
        filter.check().map_err(bad_filter)?;
        let mut calls: Vec<Call> = self
            .admin
            .journal
            .calls()
            .iter()
            .filter(|c| filter.matches(c))
            .map(to_pb)
            .collect();
        if r.limit > 0 && calls.len() > r.limit as usize {
            calls.drain(..calls.len() - r.limit as usize);
        }
        Ok(Response::new(ListCallsResponse {
            calls,
            dropped: self.admin.journal.dropped(),
        }))
    }

    type TailCallsStream = ReceiverStream<Result<Call, Status>>;

    async fn tail_calls(
        &self,
        request: Request<TailCallsRequest>,
    ) -> Result<Response<Self::TailCallsStream>, Status> {
        let filter = CallFilter::from_pb(request.into_inner().filter);
        filter.check().map_err(bad_filter)?;
        let mut tail = self.admin.journal.tail();
        let (tx, rx) = tokio::sync::mpsc::channel(TAIL_BUFFER);
        // Ends when the caller goes away (the send fails, or the channel
        // closes while waiting for the next call).
        tokio::spawn(async move {
            loop {
                let call = tokio::select! {
                    call = tail.next() => call,
                    _ = tx.closed() => return,
                };
                let Some(call) = call else { return };
                if filter.matches(&call) && tx.send(Ok(to_pb(&call))).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn verify(&self, _: Request<VerifyRequest>) -> Result<Response<VerifyResponse>, Status> {
        let v = self.admin.verify();
        Ok(Response::new(VerifyResponse {
            ok: v.is_ok(),
            report: v.to_string(),
            problems: super::problems(&v),
        }))
    }
}

/// Serves the admin service beside `inner` (the mock's whole stack): calls
/// to `/orders_testkit.admin.v1.Admin/…` go to the admin service, after the
/// admin token check; every other call to `inner`, untouched.
#[derive(Debug, Clone)]
pub(crate) struct AdminRouter<S> {
    inner: S,
    admin: AdminServer<AdminService>,
    tokens: crate::layers::auth::Tokens,
}

impl<S> AdminRouter<S> {
    pub(crate) fn new(inner: S, admin: Admin) -> Self {
        Self {
            inner,
            tokens: admin.tokens.clone(),
            admin: service(admin),
        }
    }
}

type Either2<B> = http_body_util::Either<B, tonic::body::Body>;

fn left<B>(res: http::Response<B>) -> http::Response<Either2<B>> {
    res.map(http_body_util::Either::Left)
}

impl<S, B, ReqBody> Service<http::Request<ReqBody>> for AdminRouter<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<B>, Error = Infallible>,
    B: Send + 'static,
    ReqBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    type Response = http::Response<Either2<B>>;
    type Error = Infallible;
    type Future = Either<
        MapOk<S::Future, fn(http::Response<B>) -> http::Response<Either2<B>>>,
        BoxFuture<'static, Result<Self::Response, Infallible>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        if !req.uri().path().starts_with(PATH_PREFIX) {
            return Either::Left(self.inner.call(req).map_ok(left as fn(_) -> _));
        }
        if let Err(status) = self.tokens.check_admin(req.headers()) {
            let res = status.into_http::<tonic::body::Body>();
            return Either::Right(Box::pin(std::future::ready(Ok(
                res.map(http_body_util::Either::Right)
            ))));
        }
        let mut admin = self.admin.clone();
        Either::Right(Box::pin(async move {
            let res = match admin.call(req).await {
                Ok(res) => res,
                Err(never) => match never {},
            };
            Ok(res.map(http_body_util::Either::Right))
        }))
    }
}
