//! One call as the journal saw it: its metadata, deadline, messages (kept
//! as received, decoded when read), outcome and the notes attached to it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tonic::metadata::MetadataMap;

use super::{Note, Outcome};
use crate::rpc::{Method, RequestMessage, ResponseMessage, Rpc};

/// One call as the journal saw it.
#[derive(Debug, Clone)]
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mock = orders_testkit::OrderMock::start().await;
/// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
/// let call = &mock.journal().wait_for_ended(1).await[0];
/// assert_eq!(call.path, "/orders.v1.OrderService/GetOrder");
/// assert!(call.ended.unwrap() >= call.started);
/// # }
/// ```
#[non_exhaustive]
pub struct Call {
    /// Position in the journal, from 0.
    pub seq: u64,
    /// The OrderService method, `None` for other services (health, reflection).
    pub method: Option<Method>,
    /// The request path (`/orders.v1.OrderService/GetOrder`).
    pub path: String,
    /// The request metadata as sent.
    pub metadata: MetadataMap,
    /// The timeout the client sent in `grpc-timeout`; `None` when absent
    /// or malformed.
    pub deadline: Option<Duration>,
    /// Every request message, decoded, in order.
    pub requests: Vec<RequestMessage>,
    /// Request messages that could not be decoded (compressed or invalid).
    pub undecodable: usize,
    /// Every response message sent, decoded, in order.
    pub responses: Vec<ResponseMessage>,
    /// Response messages that could not be decoded (compressed or invalid).
    pub undecodable_responses: usize,
    /// What the services behind the journal said about the call, in order
    /// (the mock: who answered, the stub a miss came closest to); read
    /// them with [`Call::notes_of`].
    pub(super) notes: Vec<Arc<dyn Note>>,
    /// How the call ended.
    pub outcome: Outcome,
    /// When the call arrived.
    pub started: Instant,
    /// When it ended, if it has (the server's end: its status, or the
    /// response given up).
    pub ended: Option<Instant>,
    /// How the client's side of the call ended, when it has: a half-close
    /// (every message sent) or a cancellation (a reset, or the connection
    /// gone). The request side may settle after the server's end.
    pub client_end: Option<ClientEnd>,
    /// When the client's last request message arrived.
    pub last_request_at: Option<Instant>,
    /// The deadline the code under test was itself given when it made this
    /// call, as it told the mock (see [`GIVEN_TIMEOUT`](super::GIVEN_TIMEOUT)
    /// and [`Journal::given_deadline`](super::Journal::given_deadline)).
    pub given_deadline: Option<Duration>,
    /// Request messages as received, decoded into `requests` when read.
    pub(super) raw_requests: RawMessages,
    /// Response messages as sent, decoded into `responses` when read.
    pub(super) raw_responses: RawMessages,
    /// Request messages received past the call's cap on kept bytes:
    /// counted, not kept (see [`Journal::with_budget`](super::Journal::with_budget)).
    pub unkept_requests: usize,
    /// Response messages sent past the call's cap: counted, not kept.
    pub unkept_responses: usize,
    /// What the call holds in memory, estimated (the journal's budget).
    pub(super) weight: usize,
}

/// The memory a message held by the journal takes, estimated: the frame
/// as received, and its decoded form once read.
fn message_weight(len: usize) -> usize {
    3 * len + 68
}

/// The memory a call's record takes before any message, estimated.
fn base_weight(path: &str, metadata: &MetadataMap) -> usize {
    let headers: usize = metadata
        .iter()
        .map(|entry| match entry {
            tonic::metadata::KeyAndValueRef::Ascii(k, v) => k.as_str().len() + v.len(),
            tonic::metadata::KeyAndValueRef::Binary(k, v) => {
                k.as_str().len() + v.as_encoded_bytes().len()
            }
        })
        .sum();
    std::mem::size_of::<Call>() + path.len() + headers + 96 * metadata.len() + 128
}

/// Messages kept as received, one after the other in one buffer, each
/// behind its length (a compact copy: one allocation for a unary call, and
/// the connection's read buffers are not pinned).
#[derive(Debug, Clone, Default)]
pub(super) struct RawMessages(Vec<u8>);

impl RawMessages {
    pub(super) fn push(&mut self, message: &[u8]) {
        self.0.reserve(4 + message.len());
        // A gRPC message length fits in u32 by the protocol.
        self.0
            .extend_from_slice(&(message.len() as u32).to_le_bytes());
        self.0.extend_from_slice(message);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every message, in order; the buffer is emptied.
    pub(super) fn drain(&mut self) -> Vec<Vec<u8>> {
        let buffer = std::mem::take(&mut self.0);
        let mut out = Vec::new();
        let mut rest = buffer.as_slice();
        while let Some((len, tail)) = rest.split_first_chunk::<4>() {
            let len = (u32::from_le_bytes(*len) as usize).min(tail.len());
            out.push(tail[..len].to_vec());
            rest = &tail[len..];
        }
        out
    }
}

impl Call {
    /// A call that has just arrived, in flight.
    pub(super) fn arrived(
        seq: u64,
        path: &str,
        metadata: MetadataMap,
        deadline: Option<Duration>,
    ) -> Self {
        let weight = base_weight(path, &metadata);
        Call {
            weight,
            unkept_requests: 0,
            unkept_responses: 0,
            seq,
            method: Method::from_path(path),
            path: path.to_string(),
            metadata,
            deadline,
            requests: Vec::new(),
            undecodable: 0,
            responses: Vec::new(),
            undecodable_responses: 0,
            notes: Vec::new(),
            outcome: Outcome::InFlight,
            started: Instant::now(),
            ended: None,
            client_end: None,
            last_request_at: None,
            given_deadline: None,
            raw_requests: RawMessages::default(),
            raw_responses: RawMessages::default(),
        }
    }

    /// Decodes the messages recorded since the last read (off the call
    /// path: a call only stores its frames).
    pub(super) fn settle(&mut self) {
        let Some(method) = self.method else {
            return;
        };
        for raw in self.raw_requests.drain() {
            match method.decode_request(&raw) {
                Ok(m) => self.requests.push(m),
                Err(_) => self.undecodable += 1,
            }
        }
        for raw in self.raw_responses.drain() {
            match method.decode_response(&raw) {
                Ok(m) => self.responses.push(m),
                Err(_) => self.undecodable_responses += 1,
            }
        }
    }

    /// Whether some of the call's messages were counted but not kept.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// # let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest::default()).await;
    /// let call = &mock.journal().wait_for_ended(1).await[0];
    /// assert!(!call.truncated());
    /// # }
    /// ```
    pub fn truncated(&self) -> bool {
        self.unkept_requests + self.unkept_responses > 0
    }

    /// Records a request message as received (`None`: not decodable),
    /// kept while the call is under `cap`; the weight it added.
    pub(crate) fn push_request(&mut self, message: Option<bytes::Bytes>, cap: usize) -> usize {
        self.last_request_at = Some(Instant::now());
        let known = self.method.is_some();
        let side = (
            &mut self.raw_requests,
            &mut self.unkept_requests,
            &mut self.undecodable,
        );
        keep(side, &mut self.weight, known, message, cap)
    }

    /// Records a response message as sent (`None`: not decodable), kept
    /// while the call is under `cap`; the weight it added.
    pub(crate) fn push_response(&mut self, message: Option<bytes::Bytes>, cap: usize) -> usize {
        let known = self.method.is_some();
        let side = (
            &mut self.raw_responses,
            &mut self.unkept_responses,
            &mut self.undecodable_responses,
        );
        keep(side, &mut self.weight, known, message, cap)
    }
}

/// One side of a call (its messages kept, those counted past the cap, and
/// those not decodable) takes a message; the weight it added to `weight`.
fn keep(
    (kept, unkept, undecodable): (&mut RawMessages, &mut usize, &mut usize),
    weight: &mut usize,
    known: bool,
    message: Option<bytes::Bytes>,
    cap: usize,
) -> usize {
    match message {
        Some(raw) if known && *weight + message_weight(raw.len()) <= cap => {
            kept.push(&raw);
            *weight += message_weight(raw.len());
            message_weight(raw.len())
        }
        Some(_) if known => {
            *unkept += 1;
            0
        }
        Some(_) => 0,
        None => {
            *undecodable += 1;
            0
        }
    }
}

impl Call {
    /// The typed request messages of `rpc`, when this call is one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::rpc::GetOrder;
    /// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
    /// let calls = mock.journal().wait_for_ended(1).await;
    /// assert_eq!(calls[0].requests_of(GetOrder)[0].order_id, "x");
    /// # }
    /// ```
    pub fn requests_of<R: Rpc>(&self, _rpc: R) -> Vec<R::Request> {
        self.requests
            .iter()
            .filter_map(R::request)
            .cloned()
            .collect()
    }

    /// The typed response messages of `rpc`, when this call is one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::rpc::CreateOrder;
    /// let created = mock.client().create_order(orders_testkit::pb::CreateOrderRequest {
    ///     customer_id: "c".into(),
    ///     items: vec![orders_testkit::pb::LineItem { product_id: "p".into(), quantity: 1, price_cents: 5 }],
    ///     ..Default::default()
    /// }).await.unwrap().into_inner();
    /// let calls = mock.journal().wait_for_ended(1).await;
    /// assert_eq!(calls[0].responses_of(CreateOrder), vec![created]);
    /// # }
    /// ```
    pub fn responses_of<R: Rpc>(&self, _rpc: R) -> Vec<R::Response> {
        self.responses
            .iter()
            .filter_map(R::response)
            .cloned()
            .collect()
    }

    /// When the client cancelled (reset the stream, or its connection went
    /// away): how many request messages it had sent by then.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
    /// let call = &mock.journal().wait_for_ended(1).await[0];
    /// assert_eq!(call.cancelled_after(), None);
    /// # }
    /// ```
    pub fn cancelled_after(&self) -> Option<usize> {
        matches!(self.client_end, Some(ClientEnd::Cancelled { .. }))
            .then_some(self.requests.len() + self.undecodable)
    }

    /// When the client went quiet on a call it neither half-closed nor
    /// cancelled, if the server was still waiting on it at least `idle`
    /// after that: an abandoned stream (the time of the client's last
    /// message, or of the call's start if it sent none).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
    /// let call = &mock.journal().wait_for_ended(1).await[0];
    /// assert_eq!(call.abandoned(std::time::Duration::ZERO), None);
    /// # }
    /// ```
    pub fn abandoned(&self, idle: Duration) -> Option<Instant> {
        if self.client_end.is_some() || self.outcome != Outcome::InFlight {
            return None;
        }
        let quiet = self.last_request_at.unwrap_or(self.started);
        (quiet.elapsed() >= idle).then_some(quiet)
    }

    /// The first value of a metadata key, as text.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let mut req = tonic::Request::new(orders_testkit::pb::GetOrderRequest { order_id: "x".into() });
    /// req.metadata_mut().insert("x-request-id", "r-1".parse().unwrap());
    /// let _ = mock.client().get_order(req).await;
    /// assert_eq!(mock.journal().wait_for_ended(1).await[0].header("x-request-id"), Some("r-1"));
    /// # }
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.metadata.get(name).and_then(|v| v.to_str().ok())
    }

    /// The notes of type `T` attached to the call, in order (the mock's
    /// are [`Answerer`](crate::mock::Answerer) and
    /// [`NearMiss`](crate::mock::NearMiss); its `CallNotes` reads them by
    /// name).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// use orders_testkit::mock::Answerer;
    ///
    /// let mock = OrderMock::start().await;
    /// let _ = mock.client().get_order(GetOrderRequest { order_id: "o-1".into() }).await;
    /// let call = &mock.journal().wait_for_ended(1).await[0];
    /// assert_eq!(call.notes_of::<Answerer>().collect::<Vec<_>>(), [&Answerer::Model]);
    /// # }
    /// ```
    pub fn notes_of<T: Note>(&self) -> impl Iterator<Item = &T> {
        self.notes
            .iter()
            .filter_map(|note| (&**note as &dyn std::any::Any).downcast_ref::<T>())
    }
}

/// How the client's side of a call ended.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mock = orders_testkit::OrderMock::start().await;
/// use orders_testkit::journal::ClientEnd;
/// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
/// let calls = mock.journal().wait_until(|c| c.first().is_some_and(|c| c.client_end.is_some())).await;
/// assert!(matches!(calls[0].client_end, Some(ClientEnd::HalfClosed { .. })));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEnd {
    /// The client sent everything and closed its side.
    HalfClosed {
        /// When.
        at: Instant,
    },
    /// The client reset the stream, or its connection went away.
    Cancelled {
        /// When.
        at: Instant,
    },
}

/// Shows a call on one line, with `authorization` values redacted (A-3).
impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.method {
            Some(m) => m.name(),
            None => self.path.as_str(),
        };
        write!(f, "#{} {name}", self.seq)?;
        let mut headers: Vec<String> = self
            .metadata
            .clone()
            .into_headers()
            .iter()
            .filter(|(k, _)| {
                !k.as_str().starts_with("grpc-")
                    && *k != "te"
                    && *k != "content-type"
                    && *k != "user-agent"
            })
            .map(|(k, v)| {
                if k == "authorization" {
                    format!("{k}: <redacted>")
                } else {
                    format!("{k}: {}", String::from_utf8_lossy(v.as_bytes()))
                }
            })
            .collect();
        headers.sort();
        if !headers.is_empty() {
            write!(f, " [{}]", headers.join(", "))?;
        }
        if let Some(d) = self.deadline {
            write!(f, " deadline={}ms", d.as_millis())?;
        }
        for r in &self.requests {
            write!(f, " {r:?}")?;
        }
        // A run of notes under one heading: " answered by a, b".
        let mut heading = None;
        for note in &self.notes {
            if heading == Some(note.heading()) {
                write!(f, ", {note}")?;
            } else {
                heading = Some(note.heading());
                write!(f, " {} {note}", note.heading())?;
            }
        }
        match self.client_end {
            Some(ClientEnd::Cancelled { .. }) => write!(f, " (client cancelled)")?,
            None if self.outcome == Outcome::InFlight && self.last_request_at.is_some() => {
                write!(f, " (client stream open)")?
            }
            _ => {}
        }
        match &self.outcome {
            Outcome::InFlight => write!(f, " -> in flight"),
            Outcome::NoStatus => write!(f, " -> ended without status"),
            Outcome::Cancelled => write!(f, " -> cancelled before response headers"),
            Outcome::Status { code, message, .. } => write!(f, " -> {code:?} {message:?}"),
        }
    }
}
