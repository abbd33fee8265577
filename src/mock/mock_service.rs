//! The OrderService the mock serves: stubs first, then the reference model.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::stubs::{Replies, Script, SingleResponseRpc, StubTable};
use crate::deadline::{UntilDeadline, deadline_of, wait_within as wait};
use crate::pb::order_service_server::OrderService;
use crate::pb::{
    CreateOrderRequest, CreateOrderResponse, GetOrderRequest, LineItem, Order, OrderAction,
    OrderResult, OrderStatusUpdate, SubmitLineItemsResponse, WatchOrderStatusRequest,
};
use crate::rpc::{CreateOrder, GetOrder, ProcessOrders, SubmitLineItems, WatchOrderStatus};
use crate::service::{BoxStream, ReferenceService};

#[derive(Debug, Clone)]
pub(crate) struct MockService {
    pub(crate) reference: ReferenceService,
    pub(crate) stubs: Arc<StubTable>,
}

impl MockService {
    /// A stubbed answer to a unary call, or the request back to fall through.
    async fn unary<R>(
        &self,
        request: Request<R::Request>,
    ) -> Result<Result<Response<R::Response>, Status>, Request<R::Request>>
    where
        R: SingleResponseRpc<Responder = Replies<R>>,
    {
        // D-2 applies to stubbed calls as to the model's (auth came before,
        // in its layer).
        if let Err(status) = self.reference.admit(request.metadata()) {
            return Ok(Err(status));
        }
        let Some(matched) = self
            .stubs
            .slot::<R>()
            .select(request.metadata(), std::slice::from_ref(request.get_ref()))
        else {
            return Err(request);
        };
        let deadline = deadline_of(request.metadata());
        if let Err(e) = wait(matched.delay, deadline).await {
            return Ok(Err(e));
        }
        Ok(matched
            .answer
            .to(std::slice::from_ref(request.get_ref()))
            .map(Response::new))
    }
}

/// A scripted server stream: messages with optional pauses, then OK or a status.
fn scripted_stream<T: Send + 'static>(
    items: Vec<T>,
    between: Option<Duration>,
    end: Option<Status>,
) -> impl tokio_stream::Stream<Item = Result<T, Status>> + Send + 'static {
    let state = (VecDeque::from(items), end, true);
    futures_util::stream::unfold(Some(state), move |state| async move {
        let (mut items, end, first) = state?;
        match items.pop_front() {
            Some(item) => {
                if !first && let Some(pause) = between {
                    tokio::time::sleep(pause).await;
                }
                Some((Ok(item), Some((items, end, false))))
            }
            None => end.map(|status| (Err(status), None)),
        }
    })
}

#[tonic::async_trait]
impl OrderService for MockService {
    async fn create_order(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        match self.unary::<CreateOrder>(request).await {
            Ok(answer) => answer,
            Err(request) => self.reference.create_order(request).await,
        }
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        match self.unary::<GetOrder>(request).await {
            Ok(answer) => answer,
            Err(request) => self.reference.get_order(request).await,
        }
    }

    type WatchOrderStatusStream = BoxStream<OrderStatusUpdate>;

    async fn watch_order_status(
        &self,
        request: Request<WatchOrderStatusRequest>,
    ) -> Result<Response<Self::WatchOrderStatusStream>, Status> {
        self.reference.admit(request.metadata())?;
        let slot = self.stubs.slot::<WatchOrderStatus>();
        let Some(matched) =
            slot.select(request.metadata(), std::slice::from_ref(request.get_ref()))
        else {
            return self.reference.watch_order_status(request).await;
        };
        let deadline = deadline_of(request.metadata());
        wait(matched.delay, deadline).await?;
        match matched.answer {
            Script::Refuse(status) => Err(status),
            Script::Stream {
                items,
                between,
                end,
            } => Ok(Response::new(Box::pin(UntilDeadline::new(
                Box::pin(scripted_stream(items, between, end)),
                deadline,
            )))),
        }
    }

    async fn submit_line_items(
        &self,
        request: Request<Streaming<LineItem>>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        if self.stubs.slot::<SubmitLineItems>().is_empty() {
            return self.reference.submit_line_items(request).await;
        }
        // Stubs match on the whole stream: read it first.
        let deadline = self.reference.admit(request.metadata())?;
        let metadata = request.metadata().clone();
        let mut inbound = UntilDeadline::new(request.into_inner(), deadline);
        let mut items = Vec::new();
        while let Some(item) = inbound.next().await {
            items.push(item?);
        }
        match self
            .stubs
            .slot::<SubmitLineItems>()
            .select(&metadata, &items)
        {
            Some(matched) => {
                wait(matched.delay, deadline).await?;
                matched.answer.to(&items).map(Response::new)
            }
            None => self.reference.total(items).await.map(Response::new),
        }
    }

    type ProcessOrdersStream = BoxStream<OrderResult>;

    async fn process_orders(
        &self,
        request: Request<Streaming<OrderAction>>,
    ) -> Result<Response<Self::ProcessOrdersStream>, Status> {
        if self.stubs.slot::<ProcessOrders>().is_empty() {
            return self.reference.process_orders(request).await;
        }
        let deadline = self.reference.admit(request.metadata())?;
        let metadata = request.metadata().clone();
        let stubs = Arc::clone(&self.stubs);
        let reference = self.reference.clone();
        let inbound = request.into_inner();
        let results = futures_util::stream::unfold(Some(inbound), move |inbound| {
            let (stubs, reference, metadata) =
                (Arc::clone(&stubs), reference.clone(), metadata.clone());
            async move {
                let mut inbound = inbound?;
                let action = match inbound.next().await? {
                    Ok(action) => action,
                    Err(status) => return Some((Err(status), None)),
                };
                let one = std::slice::from_ref(&action);
                let Some(matched) = stubs.slot::<ProcessOrders>().select(&metadata, one) else {
                    return Some((Ok(reference.act(action)), Some(inbound)));
                };
                if let Err(status) = wait(matched.delay, deadline).await {
                    return Some((Err(status), None));
                }
                match matched.answer.to(one) {
                    Ok(result) => Some((Ok(result), Some(inbound))),
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
