//! One call the test drives: what the client sent, and the verbs that
//! answer it when the test chooses.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status, Streaming};

use super::error::LiveError;
use super::{AnswersOnce, ClientStreams, LiveRpc, OneRequest, ServerStreams};
use crate::mock::drift::{self, Drift};
use crate::pb::OrderStatusUpdate;
use crate::rpc::ResponseMessage;

/// What the test sends down a live call: a message, or its end.
pub(crate) enum Out<T> {
    Message(T),
    End(Status),
}

/// A call the test took from a [`Live`](super::Live) tap: it waits, open,
/// until the test answers it. The verbs a call has follow its RPC's
/// streaming kind: [`request`](Self::request) for one request message,
/// [`recv`](Self::recv)/[`half_closed`](Self::half_closed) for a client
/// stream, [`respond`](Self::respond) for one answer,
/// [`send`](Self::send)/[`finish`](Self::finish) for a server stream;
/// [`fail`](Self::fail), [`reset`](Self::reset) and
/// [`cancelled`](Self::cancelled) for all.
///
/// A call dropped without an end ends with `ABORTED` "the test dropped
/// its live call without ending it": end it with a verb.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::prelude::*;
///
/// let mock = OrderMock::start().await;
/// let sessions = mock.live(ProcessOrders);
/// let (tx, rx) = tokio::sync::mpsc::channel(4);
/// let mut client = mock.client();
/// let talking = tokio::spawn(async move {
///     client.process_orders(tokio_stream::wrappers::ReceiverStream::new(rx)).await
/// });
/// let mut call = sessions.next().await.unwrap();
/// tx.send(OrderAction { order_id: "o-1".into(), action: OrderActionType::Confirm.into() }).await.unwrap();
/// // The test reads the action when it chooses, and answers it.
/// let action = call.recv().await.unwrap().unwrap();
/// assert_eq!(action.order_id, "o-1");
/// call.send(OrderResult {
///     order_id: "o-1".into(), success: true, status: OrderStatus::Confirmed.into(), ..Default::default()
/// }).unwrap();
/// drop(tx); // the client half-closes
/// call.half_closed().await.unwrap();
/// call.finish().unwrap();
/// let mut results = talking.await.unwrap().unwrap().into_inner();
/// assert!(results.message().await.unwrap().unwrap().success);
/// # }
/// ```
pub struct LiveCall<R: LiveRpc> {
    id: u64,
    metadata: MetadataMap,
    request: R::Request,
    inbound: Option<Streaming<R::Request>>,
    /// Messages read ahead by `half_closed`, for `recv`.
    read: VecDeque<R::Request>,
    client_done: bool,
    out: UnboundedSender<Out<R::Response>>,
    /// The updates sent so far, for the stream-wide rules of a watch.
    updates: Vec<OrderStatusUpdate>,
    drifts: Option<Arc<Mutex<Vec<Drift>>>>,
    ended: bool,
    pub(super) within: Duration,
}

impl<R: LiveRpc> fmt::Debug for LiveCall<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveCall")
            .field("rpc", &R::METHOD)
            .field("id", &self.id)
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl<R: LiveRpc> LiveCall<R> {
    pub(crate) fn new(
        id: u64,
        metadata: MetadataMap,
        request: R::Request,
        inbound: Option<Streaming<R::Request>>,
        out: UnboundedSender<Out<R::Response>>,
        drifts: Option<Arc<Mutex<Vec<Drift>>>>,
    ) -> Self {
        LiveCall {
            id,
            metadata,
            request,
            client_done: inbound.is_none(),
            inbound,
            read: VecDeque::new(),
            out,
            updates: Vec::new(),
            drifts,
            ended: false,
            within: super::DEFAULT_WAIT,
        }
    }

    /// The call's id among this mock's live calls (from 1).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use orders_testkit::prelude::*;
    /// # let mock = OrderMock::start().await;
    /// # let gets = mock.live(GetOrder);
    /// # let mut client = mock.client();
    /// # tokio::spawn(async move { client.get_order(GetOrderRequest::default()).await });
    /// assert_eq!(gets.next().await.unwrap().id(), 1);
    /// # }
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The call's metadata, as the client sent it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use orders_testkit::prelude::*;
    /// # let mock = OrderMock::start().await;
    /// # let gets = mock.live(GetOrder);
    /// # let mut client = mock.client();
    /// # tokio::spawn(async move {
    /// #     let mut req = tonic::Request::new(GetOrderRequest::default());
    /// #     req.metadata_mut().insert("x-tenant", "acme".parse().unwrap());
    /// #     client.get_order(req).await
    /// # });
    /// let call = gets.next().await.unwrap();
    /// assert_eq!(call.metadata().get("x-tenant").unwrap(), "acme");
    /// # }
    /// ```
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// Whether the client is gone (cancelled, reset, past its deadline, or
    /// its connection closed).
    pub(crate) fn is_gone(&self) -> bool {
        self.out.is_closed()
    }

    /// Checks what the test sends against the contract, as a stub's
    /// answers are checked.
    fn check(&mut self, message: Option<&R::Response>, end: Option<&Status>) {
        let Some(drifts) = &self.drifts else { return };
        let mut found = Vec::new();
        if let Some(message) = message {
            let bytes = prost::Message::encode_to_vec(message);
            if let Ok(decoded) = R::METHOD.decode_response(&bytes) {
                found.extend(drift::of_message(&decoded));
                if let ResponseMessage::OrderStatusUpdate(update) = decoded {
                    self.updates.push(update);
                    found.extend(drift::of_watch(&self.updates, None));
                }
            }
        }
        if let Some(status) = end {
            found.extend(drift::of_status(status));
            if !self.updates.is_empty() {
                found.extend(drift::of_watch(&self.updates, Some(status)));
            }
        }
        super::note(drifts, found);
    }

    fn put(&self, out: Out<R::Response>) -> Result<(), LiveError> {
        self.out.send(out).map_err(|_| LiveError::Gone {
            rpc: R::METHOD.name(),
            id: self.id,
        })
    }

    /// Whether the RPC answers with a stream.
    fn streams() -> bool {
        matches!(
            R::METHOD,
            crate::rpc::Method::WatchOrderStatus | crate::rpc::Method::ProcessOrders
        )
    }

    /// The client's stream, for a driver that reads it on its own.
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) fn take_inbound(&mut self) -> Option<Streaming<R::Request>> {
        self.inbound.take()
    }

    /// The request message (the default for client-streaming RPCs).
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) fn first_request(&self) -> &R::Request {
        &self.request
    }

    /// Resolves once the client is gone (owns what it waits on).
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) fn gone(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let out = self.out.clone();
        async move { out.closed().await }
    }

    /// Sends `message`, checked: one of a stream, or the one answer (which
    /// ends the call: then `true`).
    pub(crate) fn deliver(&mut self, message: R::Response) -> Result<bool, LiveError> {
        self.check(Some(&message), None);
        let ends = !Self::streams();
        self.ended |= ends;
        self.put(Out::Message(message))?;
        Ok(ends)
    }

    /// Ends the call with `status`, checked: OK finishes a stream.
    pub(crate) fn end_checked(&mut self, status: Status) -> Result<(), LiveError> {
        if status.code() == Code::Ok {
            if !Self::streams() {
                return Err(LiveError::NotAFailure);
            }
            return self.end_with(status);
        }
        self.check(None, Some(&status));
        self.end_with(status)
    }

    /// Ends the call with `status` (no check against the contract).
    pub(crate) fn end_with(&mut self, status: Status) -> Result<(), LiveError> {
        self.ended = true;
        self.put(Out::End(status))
    }

    /// Ends the call with `status` (not OK: a stream ends OK with
    /// [`finish`](Self::finish), a unary call with
    /// [`respond`](Self::respond)). Checked against the contract (E-1..E-6)
    /// unless the tap is off contract.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// let mock = OrderMock::start().await;
    /// let creates = mock.live(CreateOrder);
    /// let mut client = mock.client();
    /// let asking = tokio::spawn(async move { client.create_order(CreateOrderRequest::default()).await });
    /// creates.next().await.unwrap().fail(tonic::Status::unavailable("try later")).unwrap();
    /// assert_eq!(asking.await.unwrap().unwrap_err().code(), tonic::Code::Unavailable);
    /// # }
    /// ```
    pub fn fail(mut self, status: Status) -> Result<(), LiveError> {
        if status.code() == Code::Ok {
            return Err(LiveError::NotAFailure);
        }
        self.end_checked(status)
    }

    /// Resets the call's HTTP/2 stream (RST_STREAM) instead of answering:
    /// the client sees the transport fail, not a status the server chose.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// let mock = OrderMock::start().await;
    /// let gets = mock.live(GetOrder);
    /// let mut client = mock.client();
    /// let asking = tokio::spawn(async move { client.get_order(GetOrderRequest::default()).await });
    /// gets.next().await.unwrap().reset().unwrap();
    /// let err = asking.await.unwrap().unwrap_err();
    /// assert!(matches!(err.code(), tonic::Code::Internal | tonic::Code::Unknown | tonic::Code::Cancelled | tonic::Code::Unavailable));
    /// # }
    /// ```
    pub fn reset(mut self) -> Result<(), LiveError> {
        self.end_with(crate::fault::reset_status())
    }

    /// Waits until the client is gone without an answer from the test: it
    /// cancelled, reset the stream, ran out of deadline, or lost its
    /// connection.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// let mock = OrderMock::start().await;
    /// let gets = mock.live(GetOrder);
    /// let mut client = mock.client();
    /// let asking = tokio::spawn(async move { client.get_order(GetOrderRequest::default()).await });
    /// let call = gets.next().await.unwrap();
    /// asking.abort(); // the client gives up
    /// call.cancelled().await.unwrap();
    /// # }
    /// ```
    pub async fn cancelled(&self) -> Result<(), LiveError> {
        tokio::time::timeout(self.within, self.out.closed())
            .await
            .map_err(|_| LiveError::TimedOut {
                what: format!(
                    "the client of live {} call {} did not go away",
                    R::METHOD,
                    self.id
                ),
                waited: self.within,
            })
    }
}

impl<R: OneRequest> LiveCall<R> {
    /// The call's request message.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use orders_testkit::prelude::*;
    /// # let mock = OrderMock::start().await;
    /// let gets = mock.live(GetOrder);
    /// # let mut client = mock.client();
    /// # tokio::spawn(async move { client.get_order(GetOrderRequest { order_id: "o-1".into() }).await });
    /// assert_eq!(gets.next().await.unwrap().request().order_id, "o-1");
    /// # }
    /// ```
    pub fn request(&self) -> &R::Request {
        &self.request
    }
}

impl<R: ClientStreams> LiveCall<R> {
    /// The next message the client sent; `None` once it half-closed.
    /// Fails with [`LiveError::ClientGone`] when the client cancelled or
    /// reset, [`LiveError::TimedOut`] when nothing came in time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// let mock = OrderMock::start().await;
    /// let submits = mock.live(SubmitLineItems);
    /// let mut client = mock.client();
    /// let items = vec![LineItem { product_id: "p".into(), quantity: 2, price_cents: 5 }];
    /// let asking = tokio::spawn(async move { client.submit_line_items(tokio_stream::iter(items)).await });
    /// let mut call = submits.next().await.unwrap();
    /// assert_eq!(call.recv().await.unwrap().unwrap().quantity, 2);
    /// assert!(call.recv().await.unwrap().is_none()); // half-closed
    /// call.respond(SubmitLineItemsResponse { item_count: 1, total_cents: 10 }).unwrap();
    /// assert_eq!(asking.await.unwrap().unwrap().into_inner().total_cents, 10);
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Result<Option<R::Request>, LiveError> {
        if let Some(message) = self.read.pop_front() {
            return Ok(Some(message));
        }
        self.read_one().await
    }

    async fn read_one(&mut self) -> Result<Option<R::Request>, LiveError> {
        if self.client_done {
            return Ok(None);
        }
        let Some(inbound) = self.inbound.as_mut() else {
            return Ok(None);
        };
        let read = tokio::time::timeout(self.within, inbound.message()).await;
        match read {
            Err(_) => Err(LiveError::TimedOut {
                what: format!(
                    "the client of live {} call {} sent nothing",
                    R::METHOD,
                    self.id
                ),
                waited: self.within,
            }),
            Ok(Ok(Some(message))) => Ok(Some(message)),
            // A reset can end the client's stream as quietly as a
            // half-close; a client already gone did not half-close.
            Ok(Ok(None)) if self.is_gone() => {
                self.client_done = true;
                Err(LiveError::ClientGone {
                    rpc: R::METHOD.name(),
                    id: self.id,
                    status: Box::new(Status::cancelled("the client went away")),
                })
            }
            Ok(Ok(None)) => {
                self.client_done = true;
                Ok(None)
            }
            Ok(Err(status)) => {
                self.client_done = true;
                Err(LiveError::ClientGone {
                    rpc: R::METHOD.name(),
                    id: self.id,
                    status: Box::new(status),
                })
            }
        }
    }

    /// Waits until the client half-closes (ends its stream of messages);
    /// the messages it sends meanwhile stay for [`recv`](Self::recv).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// let mock = OrderMock::start().await;
    /// let submits = mock.live(SubmitLineItems);
    /// let mut client = mock.client();
    /// let items = vec![LineItem { product_id: "p".into(), quantity: 1, price_cents: 5 }];
    /// tokio::spawn(async move { client.submit_line_items(tokio_stream::iter(items)).await });
    /// let mut call = submits.next().await.unwrap();
    /// call.half_closed().await.unwrap();
    /// assert_eq!(call.recv().await.unwrap().unwrap().product_id, "p"); // kept
    /// # }
    /// ```
    pub async fn half_closed(&mut self) -> Result<(), LiveError> {
        while let Some(message) = self.read_one().await? {
            self.read.push_back(message);
        }
        Ok(())
    }
}

impl<R: AnswersOnce> LiveCall<R> {
    /// Answers the call with `message` (status OK). Checked against the
    /// contract unless the tap is off contract.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// let mock = OrderMock::start().await;
    /// let creates = mock.live(CreateOrder);
    /// let mut client = mock.client();
    /// let asking = tokio::spawn(async move { client.create_order(CreateOrderRequest::default()).await });
    /// creates.next().await.unwrap()
    ///     .respond(CreateOrderResponse { order_id: "o-7".into(), created_at: None })
    ///     .unwrap();
    /// assert_eq!(asking.await.unwrap().unwrap().into_inner().order_id, "o-7");
    /// # }
    /// ```
    pub fn respond(mut self, message: R::Response) -> Result<(), LiveError> {
        self.deliver(message).map(drop)
    }
}

impl<R: ServerStreams> LiveCall<R> {
    /// Sends `message` now; the client sees it as soon as it reads.
    /// Checked against the contract unless the tap is off contract.
    /// Fails with [`LiveError::Gone`] when the client is gone.
    ///
    /// (See the example on [`LiveCall`].)
    pub fn send(&mut self, message: R::Response) -> Result<(), LiveError> {
        self.deliver(message).map(drop)
    }

    /// Ends the stream with status OK.
    ///
    /// (See the example on [`LiveCall`].)
    pub fn finish(mut self) -> Result<(), LiveError> {
        self.end_with(Status::new(Code::Ok, ""))
    }
}

impl<R: LiveRpc> Drop for LiveCall<R> {
    fn drop(&mut self) {
        if !self.ended {
            let _ = self.out.send(Out::End(Status::aborted(
                "the test dropped its live call without ending it",
            )));
        }
    }
}
