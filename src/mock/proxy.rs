//! Forwarding OrderService calls to a real target, as a transparent proxy
//! does: request metadata passed through (with headers added or replaced),
//! the caller's remaining deadline sent on, and the target's response
//! metadata, messages and statuses (details and trailers included) sent
//! back unchanged. The mock forwards calls no stub matches with it
//! ([`OrderMockBuilder::proxy`](crate::OrderMockBuilder::proxy)), and
//! `orders-testkit record` forwards everything with it.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::time::Instant;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};

use crate::grpc::refused::{Refused, RefusedLayer};
use crate::pb::order_service_client::OrderServiceClient;
use crate::pb::order_service_server::OrderService;
use crate::pb::{
    CreateOrderRequest, CreateOrderResponse, GetOrderRequest, LineItem, Order, OrderAction,
    OrderResult, OrderStatusUpdate, SubmitLineItemsResponse, WatchOrderStatusRequest,
};
use crate::service::orders::BoxStream;

/// The target calls are forwarded to. A call the target turned away
/// unprocessed (a proxy before it rotating connections) is sent to it
/// again, as the caller's own stack would have ([`crate::grpc::refused`]).
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    client: OrderServiceClient<Refused<Channel>>,
    /// Set on every forwarded call, replacing what the caller sent.
    headers: Arc<Vec<(AsciiMetadataKey, AsciiMetadataValue)>>,
}

/// Headers that belong to one hop, not to the call: HTTP/2 and gRPC
/// framing (`grpc-*` is reserved for the protocol), set again by the next hop.
fn hop_by_hop(name: &str) -> bool {
    name.starts_with("grpc-")
        || matches!(
            name,
            "te" | "content-type" | "user-agent" | "date" | "content-length" | "connection"
        )
}

fn end_to_end(metadata: MetadataMap) -> MetadataMap {
    let mut headers = metadata.into_headers();
    let names: Vec<_> = headers
        .keys()
        .filter(|k| hop_by_hop(k.as_str()))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
    MetadataMap::from_headers(headers)
}

/// The target's status with only its end-to-end trailers. A status the
/// target never sent (the client made it from a transport failure: its
/// `source` is that failure) is passed on as it is, source included, so
/// that the dispatch can tell it apart ([`said_by_upstream`]).
fn passed_back(status: Status) -> Status {
    if !said_by_upstream(&status) {
        return status;
    }
    Status::with_details_and_metadata(
        status.code(),
        status.message().to_string(),
        status.details().to_vec().into(),
        end_to_end(status.metadata().clone()),
    )
}

/// Whether `status` came from the target (a received `grpc-status`), not
/// from the client's own transport (refused connection, reset, TLS).
pub(crate) fn said_by_upstream(status: &Status) -> bool {
    std::error::Error::source(status).is_none()
}

fn response<T>(res: Response<T>) -> Response<T> {
    let (metadata, message, _) = res.into_parts();
    Response::from_parts(end_to_end(metadata), message, Default::default())
}

/// A caller's stream as the target's input: a caller error (a cancel, a
/// reset) never reaches the target as a clean end of stream; the call is
/// dropped with the caller instead.
fn inbound<T: Send + 'static>(
    stream: impl futures_util::Stream<Item = Result<T, Status>> + Send + 'static,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    stream
        .map(|item| match item {
            Ok(item) => futures_util::stream::once(std::future::ready(item)).left_stream(),
            Err(_) => futures_util::stream::pending().right_stream(),
        })
        .flatten()
}

fn outbound<T: Send + 'static>(stream: Streaming<T>) -> BoxStream<T> {
    Box::pin(stream.map(|item| item.map_err(passed_back)))
}

impl Upstream {
    pub(crate) fn new(channel: Channel) -> Self {
        Self {
            client: OrderServiceClient::new(tower::Layer::layer(&RefusedLayer::default(), channel)),
            headers: Arc::default(),
        }
    }

    /// Sets `name: value` on every forwarded call.
    #[cfg(feature = "scenario")]
    pub(crate) fn with_header(mut self, name: AsciiMetadataKey, value: AsciiMetadataValue) -> Self {
        Arc::make_mut(&mut self.headers).push((name, value));
        self
    }

    /// The request to send on: the caller's metadata without its hop's
    /// headers, the headers set here, and what is left of its deadline.
    pub(crate) fn outgoing<T>(
        &self,
        metadata: MetadataMap,
        deadline: Option<Instant>,
        message: T,
    ) -> Request<T> {
        let mut metadata = end_to_end(metadata);
        for (name, value) in self.headers.iter() {
            metadata.insert(name.clone(), value.clone());
        }
        let mut request = Request::from_parts(metadata, Default::default(), message);
        if let Some(deadline) = deadline {
            request.set_timeout(deadline.saturating_duration_since(Instant::now()));
        }
        request
    }

    fn forward<T>(
        &self,
        request: Request<T>,
    ) -> (Request<T>, OrderServiceClient<Refused<Channel>>) {
        let deadline = crate::grpc::deadline::deadline_of(request.metadata());
        let (metadata, _, message) = request.into_parts();
        (
            self.outgoing(metadata, deadline, message),
            self.client.clone(),
        )
    }

    /// Forwards a whole SubmitLineItems stream already read.
    pub(crate) async fn submit_items(
        &self,
        metadata: MetadataMap,
        deadline: Option<Instant>,
        items: Vec<LineItem>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        let request = self.outgoing(metadata, deadline, futures_util::stream::iter(items));
        self.client
            .clone()
            .submit_line_items(request)
            .await
            .map(response)
            .map_err(passed_back)
    }

    /// A ProcessOrders stream to the target that actions are sent into one
    /// at a time, each answered by the target's next result.
    pub(crate) fn session(&self, metadata: MetadataMap, deadline: Option<Instant>) -> Session {
        Session {
            upstream: self.clone(),
            metadata: Some(metadata),
            deadline,
            open: None,
        }
    }
}

/// One ProcessOrders stream forwarded action by action (opened at the
/// first action sent).
pub(crate) struct Session {
    upstream: Upstream,
    metadata: Option<MetadataMap>,
    deadline: Option<Instant>,
    open: Option<(
        tokio::sync::mpsc::UnboundedSender<OrderAction>,
        Streaming<OrderResult>,
    )>,
}

impl Session {
    /// Sends `action` and waits for the target's result; an `Err` ends the
    /// stream.
    pub(crate) async fn act(&mut self, action: OrderAction) -> Result<OrderResult, Status> {
        if self.open.is_none() {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            // Sent before the call is awaited: many servers answer headers
            // only with their first message.
            let _ = tx.send(action);
            let metadata = self.metadata.take().unwrap_or_default();
            let request = self.upstream.outgoing(
                metadata,
                self.deadline,
                tokio_stream::wrappers::UnboundedReceiverStream::new(rx),
            );
            let results = self
                .upstream
                .client
                .clone()
                .process_orders(request)
                .await
                .map_err(passed_back)?
                .into_inner();
            self.open = Some((tx, results));
        } else if let Some((tx, _)) = &self.open {
            let _ = tx.send(action);
        }
        let Some((_, results)) = &mut self.open else {
            return Err(Status::internal("proxy: the target's stream is not open"));
        };
        match results.next().await {
            Some(result) => result.map_err(passed_back),
            None => Err(Status::internal(
                "proxy: the target ended ProcessOrders without answering an action",
            )),
        }
    }
}

#[tonic::async_trait]
impl OrderService for Upstream {
    async fn create_order(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        let (request, mut client) = self.forward(request);
        client
            .create_order(request)
            .await
            .map(response)
            .map_err(passed_back)
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let (request, mut client) = self.forward(request);
        client
            .get_order(request)
            .await
            .map(response)
            .map_err(passed_back)
    }

    type WatchOrderStatusStream = BoxStream<OrderStatusUpdate>;

    async fn watch_order_status(
        &self,
        request: Request<WatchOrderStatusRequest>,
    ) -> Result<Response<Self::WatchOrderStatusStream>, Status> {
        let (request, mut client) = self.forward(request);
        let res = client
            .watch_order_status(request)
            .await
            .map_err(passed_back)?;
        let (metadata, stream, _) = res.into_parts();
        Ok(Response::from_parts(
            end_to_end(metadata),
            outbound(stream),
            Default::default(),
        ))
    }

    async fn submit_line_items(
        &self,
        request: Request<Streaming<LineItem>>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        let (request, mut client) = self.forward(request);
        let request = request.map(inbound);
        client
            .submit_line_items(request)
            .await
            .map(response)
            .map_err(passed_back)
    }

    type ProcessOrdersStream = BoxStream<OrderResult>;

    async fn process_orders(
        &self,
        request: Request<Streaming<OrderAction>>,
    ) -> Result<Response<Self::ProcessOrdersStream>, Status> {
        let (request, mut client) = self.forward(request);
        let request = request.map(inbound);
        let res = client.process_orders(request).await.map_err(passed_back)?;
        let (metadata, stream, _) = res.into_parts();
        Ok(Response::from_parts(
            end_to_end(metadata),
            outbound(stream),
            Default::default(),
        ))
    }
}
