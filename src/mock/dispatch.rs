//! The mock's OrderService: one dispatch path for every RPC. A call is
//! admitted once (D-2, whoever answers it), the stubs choose, and what no
//! stub matches falls through to the model, a real target, or a refusal.
//! Who answered is noted in the journal here, once per call (per action for
//! ProcessOrders).
//!
//! The path is written once; each RPC gives only its leaves ([`Route`]):
//! how a stub's answer becomes the call's answer, and how the call falls
//! through to the model and to the upstream. The streaming kind decides
//! what the stubs match on: the one request (unary, server stream), every
//! item read (client stream), or each action (bidi).

use std::future::Future;
use std::sync::Arc;

use tokio::time::Instant;
use tokio_stream::StreamExt;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use super::live::serve::{self as live, offer};
use super::live::{LiveBoard, LiveRpc, Out};
use super::notes::{Answerer, NearMiss, UpstreamFailure};
use super::proxy::{Session, Upstream, said_by_upstream};
use super::scripted::scripted_stream;
use super::stubs::{Matched, Script, StubSlot, StubTable};
use crate::grpc::deadline::{UntilDeadline, wait_within as wait};
use crate::journal::Notes;
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

/// One RPC's leaves of the dispatch path.
pub(crate) trait Route {
    /// The RPC, as refusals name it.
    const METHOD: Method;
    /// What falls through: the call, or what was read of it.
    type Fall: Send;
    /// The answer the generated server trait wants.
    type Answer: Send;
    /// The model's answer (the call is admitted already).
    fn model(
        model: &ReferenceService,
        fall: Self::Fall,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Self::Answer, Status>> + Send;
    /// The real target's answer; `session` is the call's own ProcessOrders
    /// session, opened by the first action forwarded.
    fn upstream(
        upstream: &Upstream,
        session: &mut Option<Session>,
        fall: Self::Fall,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Self::Answer, Status>> + Send;
}

/// Sends the call (or what was read of it) on to its `Route`.
#[derive(Debug, Clone)]
pub(crate) struct MockService {
    pub(crate) reference: ReferenceService,
    pub(crate) stubs: Arc<StubTable>,
    pub(crate) live: Arc<LiveBoard>,
    pub(crate) fallthrough: Fallthrough,
}

/// A live call as handed over: its metadata, its request message (the
/// default for client streams) and the client's stream, if it streams.
type LiveParts<R> = (
    MetadataMap,
    <R as crate::rpc::Rpc>::Request,
    Option<Streaming<<R as crate::rpc::Rpc>::Request>>,
);

/// A client-streaming call's parts, for the test to drive.
fn streamed<T: Default>(request: Request<Streaming<T>>) -> (MetadataMap, T, Option<Streaming<T>>) {
    let (metadata, _, inbound) = request.into_parts();
    (metadata, T::default(), Some(inbound))
}

/// How a live call's answer becomes the call's answer (one message or a
/// stream).
pub(crate) trait LiveRoute: LiveRpc + Route {
    fn live(
        sent: Sent<Self::Response>,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Self::Answer, Status>> + Send;
}

type Sent<T> = tokio::sync::mpsc::UnboundedReceiver<Out<T>>;

/// The one message the test sends answers the call.
async fn answered_once<T>(sent: Sent<T>, deadline: Option<Instant>) -> Result<Response<T>, Status> {
    live::answer(sent, deadline).await.map(Response::new)
}

/// What the test sends is the call's answer stream.
async fn answered_by_stream<T: Send + 'static>(
    sent: Sent<T>,
    deadline: Option<Instant>,
) -> Result<Response<BoxStream<T>>, Status> {
    Ok(Response::new(live::stream(sent, deadline)))
}

macro_rules! live_route {
    ($answered:ident: $($rpc:ty),*) => {$(
        impl LiveRoute for $rpc {
            async fn live(
                sent: Sent<Self::Response>,
                deadline: Option<Instant>,
            ) -> Result<Self::Answer, Status> {
                $answered(sent, deadline).await
            }
        }
    )*};
}
live_route!(answered_once: CreateOrder, GetOrder, SubmitLineItems);
live_route!(answered_by_stream: WatchOrderStatus, ProcessOrders);

impl MockService {
    /// A call of an RPC the test drives live: handed to the test, and
    /// answered by what it sends.
    async fn live<R: LiveRoute>(
        &self,
        tap: Arc<super::live::Tap<R>>,
        notes: Option<&Notes>,
        (metadata, request, inbound): LiveParts<R>,
        deadline: Option<Instant>,
    ) -> Result<R::Answer, Status> {
        if let Some(notes) = notes {
            notes.add_unless_repeated(Answerer::Live);
        }
        let sent = offer(&self.live, &tap, metadata, request, inbound);
        // The tap lives while the test holds it, not while calls wait.
        drop(tap);
        R::live(sent, deadline).await
    }

    /// The stub that takes a call (or one action) carrying `requests`,
    /// noted as its answerer; none: the closest miss is noted.
    fn choose<R: StubSlot>(
        &self,
        notes: Option<&Notes>,
        metadata: &MetadataMap,
        requests: &[R::Request],
    ) -> Option<Matched<R>> {
        match self.stubs.slot::<R>().select(metadata, requests) {
            Ok(matched) => {
                if let Some(notes) = notes {
                    notes.add_unless_repeated(Answerer::Stub(matched.name.clone()));
                }
                Some(matched)
            }
            Err(near) => {
                if let (Some(notes), Some(near)) = (notes, near) {
                    notes.add_first::<NearMiss>(near);
                }
                None
            }
        }
    }

    /// What no stub took: the model, the real target, or a refusal, noted
    /// as its answerer. The one place that choice is made.
    async fn fall<R: Route>(
        &self,
        notes: Option<&Notes>,
        session: &mut Option<Session>,
        fall: R::Fall,
        deadline: Option<Instant>,
    ) -> Result<R::Answer, Status> {
        if let Some(notes) = notes {
            notes.add_unless_repeated(self.fallthrough.answerer());
        }
        match &self.fallthrough {
            Fallthrough::Model => R::model(&self.reference, fall, deadline).await,
            Fallthrough::Proxy(upstream) => {
                let answer = R::upstream(upstream, session, fall, deadline).await;
                if let (Err(st), Some(notes)) = (&answer, notes)
                    && !said_by_upstream(st)
                {
                    notes.add_first(UpstreamFailure(format!("{:?} {}", st.code(), st.message())));
                }
                answer
            }
            Fallthrough::Refuse => Err(Status::unimplemented(format!(
                "no stub matched this {} call, and this mock answers unmatched calls with UNIMPLEMENTED",
                R::METHOD
            ))),
        }
    }

    /// A call of one request message (unary and server-streaming): the
    /// stub that matches it, or the fall-through.
    async fn one<R>(
        &self,
        request: Request<R::Request>,
        answer: impl FnOnce(Matched<R>, &R::Request, Option<Instant>) -> Result<R::Answer, Status>,
    ) -> Result<R::Answer, Status>
    where
        R: StubSlot + LiveRoute + Route<Fall = Request<<R as crate::rpc::Rpc>::Request>>,
    {
        let deadline = self.reference.admit(request.metadata())?;
        let notes = Notes::of(request.extensions()).cloned();
        if let Some(tap) = self.live.tap::<R>() {
            let (metadata, _, message) = request.into_parts();
            let parts = (metadata, message, None);
            return self.live(tap, notes.as_ref(), parts, deadline).await;
        }
        let one = std::slice::from_ref(request.get_ref());
        match self.choose::<R>(notes.as_ref(), request.metadata(), one) {
            Some(matched) => {
                wait(matched.delay, deadline).await?;
                answer(matched, request.get_ref(), deadline)
            }
            None => {
                self.fall::<R>(notes.as_ref(), &mut None, request, deadline)
                    .await
            }
        }
    }
}

impl Route for CreateOrder {
    const METHOD: Method = Method::CreateOrder;
    type Fall = Request<CreateOrderRequest>;
    type Answer = Response<CreateOrderResponse>;

    async fn model(
        model: &ReferenceService,
        fall: Self::Fall,
        _: Option<Instant>,
    ) -> Result<Self::Answer, Status> {
        model.create(fall)
    }

    async fn upstream(
        upstream: &Upstream,
        _: &mut Option<Session>,
        fall: Self::Fall,
        _: Option<Instant>,
    ) -> Result<Self::Answer, Status> {
        upstream.create_order(fall).await
    }
}

impl Route for GetOrder {
    const METHOD: Method = Method::GetOrder;
    type Fall = Request<GetOrderRequest>;
    type Answer = Response<Order>;

    async fn model(
        model: &ReferenceService,
        fall: Self::Fall,
        _: Option<Instant>,
    ) -> Result<Self::Answer, Status> {
        model.get(fall)
    }

    async fn upstream(
        upstream: &Upstream,
        _: &mut Option<Session>,
        fall: Self::Fall,
        _: Option<Instant>,
    ) -> Result<Self::Answer, Status> {
        upstream.get_order(fall).await
    }
}

impl Route for WatchOrderStatus {
    const METHOD: Method = Method::WatchOrderStatus;
    type Fall = Request<WatchOrderStatusRequest>;
    type Answer = Response<BoxStream<OrderStatusUpdate>>;

    async fn model(
        model: &ReferenceService,
        fall: Self::Fall,
        deadline: Option<Instant>,
    ) -> Result<Self::Answer, Status> {
        model.watch(fall, deadline)
    }

    async fn upstream(
        upstream: &Upstream,
        _: &mut Option<Session>,
        fall: Self::Fall,
        _: Option<Instant>,
    ) -> Result<Self::Answer, Status> {
        upstream.watch_order_status(fall).await
    }
}

/// A SubmitLineItems call as it falls through: whole, when no stub was
/// mounted (the items were not read), or the items read for the stubs.
// Built once per call and moved straight to its route: boxing the call
// would allocate on every call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum SubmitFall {
    Call(Request<Streaming<LineItem>>),
    Read(MetadataMap, Vec<LineItem>),
}

impl Route for SubmitLineItems {
    const METHOD: Method = Method::SubmitLineItems;
    type Fall = SubmitFall;
    type Answer = Response<SubmitLineItemsResponse>;

    async fn model(
        model: &ReferenceService,
        fall: Self::Fall,
        deadline: Option<Instant>,
    ) -> Result<Self::Answer, Status> {
        match fall {
            SubmitFall::Call(request) => model.submit(request, deadline).await,
            SubmitFall::Read(_, items) => model.total(items).await.map(Response::new),
        }
    }

    async fn upstream(
        upstream: &Upstream,
        _: &mut Option<Session>,
        fall: Self::Fall,
        deadline: Option<Instant>,
    ) -> Result<Self::Answer, Status> {
        match fall {
            SubmitFall::Call(request) => upstream.submit_line_items(request).await,
            SubmitFall::Read(metadata, items) => {
                upstream.submit_items(metadata, deadline, items).await
            }
        }
    }
}

impl Route for ProcessOrders {
    const METHOD: Method = Method::ProcessOrders;
    type Fall = Request<Streaming<OrderAction>>;
    type Answer = Response<BoxStream<OrderResult>>;

    async fn model(
        model: &ReferenceService,
        fall: Self::Fall,
        deadline: Option<Instant>,
    ) -> Result<Self::Answer, Status> {
        Ok(model.process(fall, deadline))
    }

    async fn upstream(
        upstream: &Upstream,
        _: &mut Option<Session>,
        fall: Self::Fall,
        _: Option<Instant>,
    ) -> Result<Self::Answer, Status> {
        upstream.process_orders(fall).await
    }
}

/// One ProcessOrders action no stub took, when stubs are mounted (they
/// match the actions one by one): the model acts on it, or the call's own
/// session with the real target forwards it.
pub(crate) struct Action;

impl Route for Action {
    const METHOD: Method = Method::ProcessOrders;
    type Fall = (MetadataMap, OrderAction);
    type Answer = OrderResult;

    async fn model(
        model: &ReferenceService,
        (_, action): Self::Fall,
        _: Option<Instant>,
    ) -> Result<Self::Answer, Status> {
        Ok(model.act(action))
    }

    async fn upstream(
        upstream: &Upstream,
        session: &mut Option<Session>,
        (metadata, action): Self::Fall,
        deadline: Option<Instant>,
    ) -> Result<Self::Answer, Status> {
        let session = session.get_or_insert_with(|| upstream.session(metadata, deadline));
        session.act(action).await
    }
}

#[tonic::async_trait]
impl OrderService for MockService {
    async fn create_order(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        self.one::<CreateOrder>(request, |matched, request, _| {
            matched
                .reply(std::slice::from_ref(request))
                .map(Response::new)
        })
        .await
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        self.one::<GetOrder>(request, |matched, request, _| {
            matched
                .reply(std::slice::from_ref(request))
                .map(Response::new)
        })
        .await
    }

    type WatchOrderStatusStream = BoxStream<OrderStatusUpdate>;

    async fn watch_order_status(
        &self,
        request: Request<WatchOrderStatusRequest>,
    ) -> Result<Response<Self::WatchOrderStatusStream>, Status> {
        self.one::<WatchOrderStatus>(request, |matched, _, deadline| match matched.script() {
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
        })
        .await
    }

    async fn submit_line_items(
        &self,
        request: Request<Streaming<LineItem>>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        let deadline = self.reference.admit(request.metadata())?;
        let notes = Notes::of(request.extensions()).cloned();
        if let Some(tap) = self.live.tap::<SubmitLineItems>() {
            let parts = streamed(request);
            return self.live(tap, notes.as_ref(), parts, deadline).await;
        }
        if self.stubs.slot::<SubmitLineItems>().is_empty() {
            let fall = SubmitFall::Call(request);
            return self
                .fall::<SubmitLineItems>(notes.as_ref(), &mut None, fall, deadline)
                .await;
        }
        // Stubs match on the whole stream: read it first.
        let (metadata, _, inbound) = request.into_parts();
        let mut inbound = UntilDeadline::new(inbound, deadline);
        let mut items = Vec::new();
        while let Some(item) = inbound.next().await {
            items.push(item?);
        }
        match self.choose::<SubmitLineItems>(notes.as_ref(), &metadata, &items) {
            Some(matched) => {
                wait(matched.delay, deadline).await?;
                matched.reply(&items).map(Response::new)
            }
            None => {
                let fall = SubmitFall::Read(metadata, items);
                self.fall::<SubmitLineItems>(notes.as_ref(), &mut None, fall, deadline)
                    .await
            }
        }
    }

    type ProcessOrdersStream = BoxStream<OrderResult>;

    async fn process_orders(
        &self,
        request: Request<Streaming<OrderAction>>,
    ) -> Result<Response<Self::ProcessOrdersStream>, Status> {
        let deadline = self.reference.admit(request.metadata())?;
        let notes = Notes::of(request.extensions()).cloned();
        if let Some(tap) = self.live.tap::<ProcessOrders>() {
            let parts = streamed(request);
            return self.live(tap, notes.as_ref(), parts, deadline).await;
        }
        if self.stubs.slot::<ProcessOrders>().is_empty() {
            return self
                .fall::<ProcessOrders>(notes.as_ref(), &mut None, request, deadline)
                .await;
        }
        // Stubs match each action: choose per action, as it comes.
        let (metadata, _, inbound) = request.into_parts();
        let this = self.clone();
        let state = (inbound, None::<Session>);
        let results = futures_util::stream::unfold(Some(state), move |state| {
            let (this, metadata, notes) = (this.clone(), metadata.clone(), notes.clone());
            async move {
                let (mut inbound, mut session) = state?;
                let action = match inbound.next().await? {
                    Ok(action) => action,
                    Err(status) => return Some((Err(status), None)),
                };
                let one = std::slice::from_ref(&action);
                let result = match this.choose::<ProcessOrders>(notes.as_ref(), &metadata, one) {
                    Some(matched) => match wait(matched.delay, deadline).await {
                        Ok(()) => matched.reply(one),
                        Err(status) => Err(status),
                    },
                    None => {
                        let fall = (metadata, action);
                        this.fall::<Action>(notes.as_ref(), &mut session, fall, deadline)
                            .await
                    }
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
