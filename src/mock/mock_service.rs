//! The OrderService the mock serves: stubs first, then what unmatched calls
//! fall through to (the reference model, a real target, or UNIMPLEMENTED).
//! Each call is marked in the journal with who answered it.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::notes::{self, Answerer, NearMiss};
use super::stubs::{Matched, Replies, Script, SingleResponseRpc, StubSlot, StubTable};
use crate::grpc::deadline::{UntilDeadline, deadline_of, wait_within as wait};
use crate::journal::Notes;
use crate::mock::proxy::Upstream;
use crate::pb::order_service_server::OrderService;
use crate::pb::{
    CreateOrderRequest, CreateOrderResponse, GetOrderRequest, LineItem, Order, OrderAction,
    OrderResult, OrderStatusUpdate, SubmitLineItemsResponse, WatchOrderStatusRequest,
};
use crate::rpc::{CreateOrder, GetOrder, Method, ProcessOrders, SubmitLineItems, WatchOrderStatus};
use crate::service::orders::{BoxStream, ReferenceService};

/// What answers a call no stub matches.
#[derive(Debug, Clone, Default)]
pub(crate) enum Fallthrough {
    /// The reference model (the default).
    #[default]
    Model,
    /// A real target, through a transparent proxy.
    Proxy(Upstream),
    /// Nobody: `UNIMPLEMENTED`.
    Refuse,
}

impl Fallthrough {
    fn answerer(&self) -> Answerer {
        match self {
            Fallthrough::Model => Answerer::Model,
            Fallthrough::Proxy(_) => Answerer::Proxy,
            Fallthrough::Refuse => Answerer::NoStub,
        }
    }
}

/// The status of a call no stub matched when the mock refuses those.
fn unmatched(method: Method) -> Status {
    Status::unimplemented(format!(
        "no stub matched this {method} call, and this mock answers unmatched calls with UNIMPLEMENTED"
    ))
}

#[derive(Debug, Clone)]
pub(crate) struct MockService {
    pub(crate) reference: ReferenceService,
    pub(crate) stubs: Arc<StubTable>,
    pub(crate) fallthrough: Fallthrough,
}

fn mark_stub<R: StubSlot>(extensions: &http::Extensions, matched: &Matched<R>) {
    notes::answered(extensions, Answerer::Stub(matched.name.clone()));
}

/// Records the stub a call that no stub matched came closest to.
fn mark_missed(extensions: &http::Extensions, near: Option<NearMiss>) {
    if let Some(near) = near {
        notes::missed(extensions, near);
    }
}

impl MockService {
    /// Marks the call as falling through; the fallthrough to use.
    fn fall(&self, extensions: &http::Extensions) -> &Fallthrough {
        notes::answered(extensions, self.fallthrough.answerer());
        &self.fallthrough
    }

    /// A stubbed answer to a unary call, or the request back to fall through.
    async fn unary<R>(
        &self,
        request: Request<R::Request>,
    ) -> Result<Result<Response<R::Response>, Status>, Request<R::Request>>
    where
        R: SingleResponseRpc<Responder = Replies<R>>,
    {
        let slot = self.stubs.slot::<R>();
        // No stub to try and the model answering: the model admits the
        // call itself (D-2), once.
        if matches!(self.fallthrough, Fallthrough::Model) && slot.is_empty() {
            return Err(request);
        }
        // D-2 applies to stubbed calls as to the model's (auth came before,
        // in its layer).
        if let Err(status) = self.reference.admit(request.metadata()) {
            return Ok(Err(status));
        }
        let matched = match slot.select(request.metadata(), std::slice::from_ref(request.get_ref()))
        {
            Ok(matched) => matched,
            Err(near) => {
                mark_missed(request.extensions(), near);
                return Err(request);
            }
        };
        mark_stub(request.extensions(), &matched);
        let deadline = deadline_of(request.metadata());
        if let Err(e) = wait(matched.delay, deadline).await {
            return Ok(Err(e));
        }
        Ok(matched
            .reply(std::slice::from_ref(request.get_ref()))
            .map(Response::new))
    }
}

/// A scripted server stream: messages with optional pauses, then OK, a
/// status, or held open. A hand-written stream (no future per message).
struct ScriptedStream<T> {
    items: Arc<[T]>,
    /// The next message to send.
    next: usize,
    between: Option<Duration>,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    end: Option<Status>,
    hold: bool,
    done: bool,
}

/// No field is pinned in place (the pause is boxed).
impl<T> Unpin for ScriptedStream<T> {}

fn scripted_stream<T>(
    items: Arc<[T]>,
    between: Option<Duration>,
    end: Option<Status>,
    hold: bool,
) -> ScriptedStream<T> {
    ScriptedStream {
        items,
        next: 0,
        between,
        pause: None,
        end,
        hold,
        done: false,
    }
}

impl<T: Clone> tokio_stream::Stream for ScriptedStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(item) = this.items.get(this.next) {
            // A pause between two messages: none before the first.
            if this.next > 0
                && let Some(between) = this.between
            {
                let pause = this
                    .pause
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(between)));
                ready!(pause.as_mut().poll(cx));
                this.pause = None;
            }
            this.next += 1;
            return Poll::Ready(Some(Ok(item.clone())));
        }
        if this.end.is_none() && this.hold {
            // Held open: the caller's deadline or cancel ends it.
            return Poll::Pending;
        }
        this.done = true;
        Poll::Ready(this.end.take().map(Err))
    }
}

#[tonic::async_trait]
impl OrderService for MockService {
    async fn create_order(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        let request = match self.unary::<CreateOrder>(request).await {
            Ok(answer) => return answer,
            Err(request) => request,
        };
        match self.fall(request.extensions()) {
            Fallthrough::Model => self.reference.create(request),
            Fallthrough::Proxy(upstream) => upstream.create_order(request).await,
            Fallthrough::Refuse => Err(unmatched(Method::CreateOrder)),
        }
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let request = match self.unary::<GetOrder>(request).await {
            Ok(answer) => return answer,
            Err(request) => request,
        };
        match self.fall(request.extensions()) {
            Fallthrough::Model => self.reference.get(request),
            Fallthrough::Proxy(upstream) => upstream.get_order(request).await,
            Fallthrough::Refuse => Err(unmatched(Method::GetOrder)),
        }
    }

    type WatchOrderStatusStream = BoxStream<OrderStatusUpdate>;

    async fn watch_order_status(
        &self,
        request: Request<WatchOrderStatusRequest>,
    ) -> Result<Response<Self::WatchOrderStatusStream>, Status> {
        self.reference.admit(request.metadata())?;
        let slot = self.stubs.slot::<WatchOrderStatus>();
        let selected = slot.select(request.metadata(), std::slice::from_ref(request.get_ref()));
        let Ok(matched) = selected.map_err(|near| mark_missed(request.extensions(), near)) else {
            return match self.fall(request.extensions()) {
                Fallthrough::Model => self.reference.watch_order_status(request).await,
                Fallthrough::Proxy(upstream) => upstream.watch_order_status(request).await,
                Fallthrough::Refuse => Err(unmatched(Method::WatchOrderStatus)),
            };
        };
        mark_stub(request.extensions(), &matched);
        let deadline = deadline_of(request.metadata());
        wait(matched.delay, deadline).await?;
        match matched.script() {
            Script::Refuse(status) => Err(status),
            Script::Stream {
                items,
                between,
                end,
                hold,
            } => Ok(Response::new(Box::pin(UntilDeadline::new(
                scripted_stream(items, between, end, hold),
                deadline,
            )))),
        }
    }

    async fn submit_line_items(
        &self,
        request: Request<Streaming<LineItem>>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        if self.stubs.slot::<SubmitLineItems>().is_empty() {
            return match self.fall(request.extensions()) {
                Fallthrough::Model => self.reference.submit_line_items(request).await,
                Fallthrough::Proxy(upstream) => upstream.submit_line_items(request).await,
                Fallthrough::Refuse => Err(unmatched(Method::SubmitLineItems)),
            };
        }
        // Stubs match on the whole stream: read it first.
        let deadline = self.reference.admit(request.metadata())?;
        let (metadata, extensions, inbound) = request.into_parts();
        let mut inbound = UntilDeadline::new(inbound, deadline);
        let mut items = Vec::new();
        while let Some(item) = inbound.next().await {
            items.push(item?);
        }
        let selected = self
            .stubs
            .slot::<SubmitLineItems>()
            .select(&metadata, &items);
        let Ok(matched) = selected.map_err(|near| mark_missed(&extensions, near)) else {
            return match self.fall(&extensions) {
                Fallthrough::Model => self.reference.total(items).await.map(Response::new),
                Fallthrough::Proxy(upstream) => {
                    upstream.submit_items(metadata, deadline, items).await
                }
                Fallthrough::Refuse => Err(unmatched(Method::SubmitLineItems)),
            };
        };
        mark_stub(&extensions, &matched);
        wait(matched.delay, deadline).await?;
        matched.reply(&items).map(Response::new)
    }

    type ProcessOrdersStream = BoxStream<OrderResult>;

    async fn process_orders(
        &self,
        request: Request<Streaming<OrderAction>>,
    ) -> Result<Response<Self::ProcessOrdersStream>, Status> {
        if self.stubs.slot::<ProcessOrders>().is_empty() {
            return match self.fall(request.extensions()) {
                Fallthrough::Model => self.reference.process_orders(request).await,
                Fallthrough::Proxy(upstream) => upstream.process_orders(request).await,
                Fallthrough::Refuse => Err(unmatched(Method::ProcessOrders)),
            };
        }
        let deadline = self.reference.admit(request.metadata())?;
        let (metadata, extensions, inbound) = request.into_parts();
        let mark = Notes::of(&extensions).cloned();
        let session = match &self.fallthrough {
            Fallthrough::Proxy(upstream) => Some(upstream.session(metadata.clone(), deadline)),
            _ => None,
        };
        let this = self.clone();
        let results = futures_util::stream::unfold(Some((inbound, session)), move |state| {
            let (this, metadata, mark) = (this.clone(), metadata.clone(), mark.clone());
            async move {
                let (mut inbound, mut session) = state?;
                let action = match inbound.next().await? {
                    Ok(action) => action,
                    Err(status) => return Some((Err(status), None)),
                };
                let one = std::slice::from_ref(&action);
                let matched = this.stubs.slot::<ProcessOrders>().select(&metadata, one);
                let answerer = match &matched {
                    Ok(m) => Answerer::Stub(m.name.clone()),
                    Err(_) => this.fallthrough.answerer(),
                };
                if let Some(mark) = &mark {
                    mark.add_unless_repeated(answerer);
                    if let Err(Some(near)) = &matched {
                        mark.add_first(near.clone());
                    }
                }
                let result = match matched {
                    Ok(matched) => match wait(matched.delay, deadline).await {
                        Ok(()) => matched.reply(one),
                        Err(status) => Err(status),
                    },
                    Err(_) => match session.as_mut() {
                        Some(session) => session.act(action).await,
                        None if matches!(this.fallthrough, Fallthrough::Refuse) => {
                            Err(unmatched(Method::ProcessOrders))
                        }
                        None => Ok(this.reference.act(action)),
                    },
                };
                match result {
                    Ok(result) => Some((Ok(result), Some((inbound, session)))),
                    Err(status) => Some((Err(status), None)),
                }
            }
        });
        Ok(Response::new(Box::pin(UntilDeadline::new(
            Box::pin(results),
            deadline,
        ))))
    }
}
