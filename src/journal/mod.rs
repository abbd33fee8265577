//! The call journal: every call the mock receives, in order, stubbed,
//! faulted or not, with its decoded request messages, metadata, the
//! deadline the client sent, the final status and start and end instants.
//!
//! It is recorded at the HTTP/2 level by [`JournalLayer`] (outermost in
//! the mock, and on the contract suite's client side), so it sees what the
//! client really sent and what it really got back, and it ends every call:
//! one abandoned before its response headers ends as
//! [`Outcome::Cancelled`]. It keeps the latest 100,000 calls by default
//! ([`Journal::bounded`], [`Journal::unbounded`]) and says how many earlier
//! ones it dropped.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::OrderMock;
//! use orders_testkit::pb::GetOrderRequest;
//! use orders_testkit::rpc::GetOrder;
//!
//! let mock = OrderMock::start().await;
//! let mut req = tonic::Request::new(GetOrderRequest { order_id: "o-1".into() });
//! req.set_timeout(std::time::Duration::from_secs(2));
//! let _ = mock.client().get_order(req).await;
//!
//! let journal = mock.journal();
//! journal.wait_for_ended(1).await;
//! let calls = journal.calls_to(GetOrder);
//! assert_eq!(calls[0].requests_of(GetOrder)[0].order_id, "o-1");
//! assert_eq!(calls[0].deadline, Some(std::time::Duration::from_secs(2)));
//! assert_eq!(calls[0].outcome.code(), Some(tonic::Code::NotFound));
//! assert!(journal.every_call_had_deadline());
//! # }
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tonic::Code;
use tonic::metadata::MetadataMap;

use crate::rpc::{Method, RequestMessage, ResponseMessage, Rpc};

mod layer;
mod notes;
mod tail;

pub use layer::{JournalFuture, JournalLayer, JournalService, RecordingRequest, RecordingResponse};
pub use notes::Note;
pub(crate) use notes::Notes;
pub use tail::Tail;

/// How many calls a journal keeps unless told otherwise.
pub const DEFAULT_BOUND: usize = 100_000;

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mock = orders_testkit::OrderMock::start().await;
/// use orders_testkit::journal::Outcome;
/// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
/// let call = &mock.journal().wait_for_ended(1).await[0];
/// assert!(matches!(call.outcome, Outcome::Status { code: tonic::Code::NotFound, .. }));
/// # }
/// ```
pub enum Outcome {
    /// Not ended yet.
    InFlight,
    /// Ended with this status (OK included).
    Status {
        /// The status code.
        code: Code,
        /// The status message.
        message: String,
        /// The encoded `google.rpc.Status` of `grpc-status-details-bin`
        /// (empty when none was sent).
        details: bytes::Bytes,
    },
    /// Ended after its response headers with no status sent: the client
    /// cancelled, or the connection or server went away mid-response.
    NoStatus,
    /// Ended before any response headers: the client's deadline passed, it
    /// dropped the call, or the connection went away.
    Cancelled,
}

impl Outcome {
    /// The outcome the status in `headers` says, if there is one.
    pub(crate) fn from_headers(headers: &http::HeaderMap) -> Option<Self> {
        let (code, message, details) = crate::grpc::status_repair::parts_of(headers)?;
        Some(Outcome::Status {
            code,
            message,
            details,
        })
    }

    /// The status the call ended with (details included), if any.
    ///
    /// ```
    /// use orders_testkit::journal::Outcome;
    /// assert!(Outcome::NoStatus.status().is_none());
    /// ```
    pub fn status(&self) -> Option<tonic::Status> {
        match self {
            Outcome::Status {
                code,
                message,
                details,
            } => Some(tonic::Status::with_details(
                *code,
                message.clone(),
                details.clone(),
            )),
            _ => None,
        }
    }

    /// The code, when the call ended with a status.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
    /// let calls = mock.journal().wait_for_ended(1).await;
    /// assert_eq!(calls[0].outcome.code(), Some(tonic::Code::NotFound));
    /// # }
    /// ```
    pub fn code(&self) -> Option<Code> {
        match self {
            Outcome::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

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
    notes: Vec<Arc<dyn Note>>,
    /// How the call ended.
    pub outcome: Outcome,
    /// When the call arrived.
    pub started: Instant,
    /// When it ended, if it has.
    pub ended: Option<Instant>,
    /// Request messages as received, decoded into `requests` when read.
    raw_requests: RawMessages,
    /// Response messages as sent, decoded into `responses` when read.
    raw_responses: RawMessages,
}

/// Messages kept as received, one after the other in one buffer, each
/// behind its length (a compact copy: one allocation for a unary call, and
/// the connection's read buffers are not pinned).
#[derive(Debug, Clone, Default)]
struct RawMessages(Vec<u8>);

impl RawMessages {
    fn push(&mut self, message: &[u8]) {
        self.0.reserve(4 + message.len());
        // A gRPC message length fits in u32 by the protocol.
        self.0
            .extend_from_slice(&(message.len() as u32).to_le_bytes());
        self.0.extend_from_slice(message);
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every message, in order; the buffer is emptied.
    fn drain(&mut self) -> Vec<Vec<u8>> {
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
    /// Decodes the messages recorded since the last read (off the call
    /// path: a call only stores its frames).
    fn settle(&mut self) {
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

    /// Records a request message as received (`None`: not decodable).
    pub(crate) fn push_request(&mut self, message: Option<bytes::Bytes>) {
        match message {
            Some(raw) if self.method.is_some() => self.raw_requests.push(&raw),
            Some(_) => {}
            None => self.undecodable += 1,
        }
    }

    /// Records a response message as sent (`None`: not decodable).
    pub(crate) fn push_response(&mut self, message: Option<bytes::Bytes>) {
        match message {
            Some(raw) if self.method.is_some() => self.raw_responses.push(&raw),
            Some(_) => {}
            None => self.undecodable_responses += 1,
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
        match &self.outcome {
            Outcome::InFlight => write!(f, " -> in flight"),
            Outcome::NoStatus => write!(f, " -> ended without status"),
            Outcome::Cancelled => write!(f, " -> cancelled before response headers"),
            Outcome::Status { code, message, .. } => write!(f, " -> {code:?} {message:?}"),
        }
    }
}

#[derive(Debug)]
struct State {
    calls: std::collections::VecDeque<Call>,
    next_seq: u64,
    /// At most this many calls are kept (`None`: all).
    bound: Option<usize>,
    /// How many of the earliest calls were dropped to keep the bound.
    dropped: u64,
}

/// The journal of one mock; cheap to clone, every clone sees the same calls.
#[derive(Debug, Clone)]
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mock = orders_testkit::OrderMock::start().await;
/// let journal = mock.journal().clone(); // clones share the calls
/// assert!(journal.is_empty());
/// # }
/// ```
pub struct Journal {
    shared: Arc<Shared>,
}

/// What every clone of a [`Journal`] shares (one allocation, one reference
/// count to bump per clone).
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    enabled: std::sync::atomic::AtomicBool,
}

impl Default for Journal {
    fn default() -> Self {
        Self::with_bound(Some(DEFAULT_BOUND))
    }
}

impl Journal {
    fn with_bound(bound: Option<usize>) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    calls: std::collections::VecDeque::new(),
                    next_seq: 0,
                    bound,
                    dropped: 0,
                }),
                changed: watch::Sender::new(0),
                enabled: std::sync::atomic::AtomicBool::new(true),
            }),
        }
    }

    /// A journal that keeps the latest `n` calls (at least one) and counts
    /// the earlier ones it drops.
    ///
    /// ```
    /// use orders_testkit::journal::Journal;
    /// let journal = Journal::bounded(1_000);
    /// assert_eq!(journal.dropped(), 0);
    /// ```
    pub fn bounded(n: usize) -> Self {
        Self::with_bound(Some(n.max(1)))
    }

    /// A journal that keeps every call (memory grows with the calls).
    ///
    /// ```
    /// let journal = orders_testkit::journal::Journal::unbounded();
    /// assert!(journal.is_empty());
    /// ```
    pub fn unbounded() -> Self {
        Self::with_bound(None)
    }

    /// How many of the earliest calls were dropped to keep the bound.
    ///
    /// ```
    /// assert_eq!(orders_testkit::journal::Journal::new().dropped(), 0);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.lock_raw().dropped
    }

    /// An empty journal keeping the latest [`DEFAULT_BOUND`] calls.
    ///
    /// ```
    /// let journal = orders_testkit::journal::Journal::new();
    /// assert!(journal.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The state for readers: every call's recorded messages decoded.
    fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self.lock_raw();
        for call in state.calls.iter_mut() {
            if !call.raw_requests.is_empty() || !call.raw_responses.is_empty() {
                call.settle();
            }
        }
        state
    }

    /// The state as it is, messages not decoded: for writers on the call
    /// path and for readers that look at no message.
    fn lock_raw(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Turns recording on or off (on by default). Off, calls pass through
    /// untouched: for benchmarks, or suites that never look.
    ///
    /// ```
    /// let journal = orders_testkit::journal::Journal::new();
    /// journal.set_enabled(false);
    /// assert!(!journal.is_enabled());
    /// ```
    pub fn set_enabled(&self, on: bool) {
        self.shared
            .enabled
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether calls are being recorded.
    ///
    /// ```
    /// assert!(orders_testkit::journal::Journal::new().is_enabled());
    /// ```
    pub fn is_enabled(&self) -> bool {
        self.shared
            .enabled
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn update(&self, seq: u64, f: impl FnOnce(&mut Call)) {
        {
            let mut state = self.lock_raw();
            // Calls are kept in seq order without gaps: the index is the
            // distance from the first kept call.
            let first = state.calls.front().map_or(0, |c| c.seq);
            if let Some(call) = seq
                .checked_sub(first)
                .and_then(|i| state.calls.get_mut(i as usize))
                .filter(|c| c.seq == seq)
            {
                f(call);
            }
        }
        self.notify();
    }

    /// Wakes whoever waits on the journal (nobody, most of the time: then
    /// nothing is done).
    fn notify(&self) {
        // A waiter subscribes before it looks at the calls, so a change
        // made while nobody is subscribed needs no wake-up (and the watch's
        // lock is not taken).
        if self.shared.changed.receiver_count() > 0 {
            self.shared.changed.send_modify(|v| *v += 1);
        }
    }

    pub(crate) fn start(
        &self,
        path: &str,
        metadata: MetadataMap,
        deadline: Option<Duration>,
    ) -> u64 {
        let seq = {
            let mut state = self.lock_raw();
            let seq = state.next_seq;
            state.next_seq += 1;
            state.calls.push_back(Call {
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
                raw_requests: RawMessages::default(),
                raw_responses: RawMessages::default(),
            });
            // Past the bound, drop the earliest calls (a ring: nothing moves).
            if let Some(bound) = state.bound
                && state.calls.len() > bound
            {
                let excess = state.calls.len() - bound;
                state.calls.drain(..excess);
                state.dropped += excess as u64;
            }
            seq
        };
        self.notify();
        seq
    }

    pub(crate) fn finish(&self, seq: u64, outcome: Outcome) {
        self.update(seq, |c| {
            if c.outcome == Outcome::InFlight {
                c.outcome = outcome;
                c.ended = Some(Instant::now());
            }
        });
    }

    /// Every call so far, in arrival order.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// assert!(mock.journal().calls().is_empty());
    /// # }
    /// ```
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.iter().cloned().collect()
    }

    /// The calls to one RPC, in arrival order.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::rpc::CreateOrder;
    /// assert!(mock.journal().calls_to(CreateOrder).is_empty());
    /// # }
    /// ```
    pub fn calls_to<R: Rpc>(&self, _rpc: R) -> Vec<Call> {
        self.calls_to_method(R::METHOD)
    }

    /// The calls to one method, in arrival order.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::rpc::Method;
    /// assert!(mock.journal().calls_to_method(Method::GetOrder).is_empty());
    /// # }
    /// ```
    pub fn calls_to_method(&self, method: Method) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method == Some(method))
            .cloned()
            .collect()
    }

    /// Every request message sent to `rpc`, over all its calls, in order.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::rpc::SubmitLineItems;
    /// let items = vec![orders_testkit::pb::LineItem { product_id: "p".into(), quantity: 1, price_cents: 1 }];
    /// mock.client().submit_line_items(tokio_stream::iter(items.clone())).await.unwrap();
    /// mock.journal().wait_for_ended(1).await;
    /// assert_eq!(mock.journal().requests(SubmitLineItems), items);
    /// # }
    /// ```
    pub fn requests<R: Rpc>(&self, rpc: R) -> Vec<R::Request> {
        self.calls_to(rpc)
            .iter()
            .flat_map(|c| c.requests_of(rpc))
            .collect()
    }

    /// How many calls were received.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// assert_eq!(mock.journal().len(), 0);
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.lock_raw().calls.len()
    }

    /// Whether no call was received.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// assert!(mock.journal().is_empty());
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every call recorded so far.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
    /// mock.journal().clear();
    /// assert!(mock.journal().is_empty());
    /// # }
    /// ```
    pub fn clear(&self) {
        let mut state = self.lock_raw();
        state.calls.clear();
        state.dropped = 0;
        drop(state);
        self.notify();
    }

    /// Whether every OrderService call carried a deadline (`grpc-timeout`).
    pub fn every_call_had_deadline(&self) -> bool {
        self.lock_raw()
            .calls
            .iter()
            .filter(|c| c.method.is_some())
            .all(|c| c.deadline.is_some())
    }

    /// Whether every OrderService call carried metadata `name` with `value`
    /// (for example a propagated `x-request-id`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let mut req = tonic::Request::new(orders_testkit::pb::GetOrderRequest { order_id: "x".into() });
    /// req.metadata_mut().insert("x-request-id", "r-1".parse().unwrap());
    /// let _ = mock.client().get_order(req).await;
    /// mock.journal().wait_for_ended(1).await;
    /// assert!(mock.journal().every_call_had_header("x-request-id", "r-1"));
    /// # }
    /// ```
    pub fn every_call_had_header(&self, name: &str, value: &str) -> bool {
        self.lock_raw()
            .calls
            .iter()
            .filter(|c| c.method.is_some())
            .all(|c| {
                c.metadata
                    .get_all(name)
                    .iter()
                    .any(|v| v.as_bytes() == value.as_bytes())
            })
    }

    /// Waits until the calls satisfy `pred` (checked on every change), for
    /// tests that must not sleep. Returns the calls it saw.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
    /// let calls = mock.journal().wait_until(|c| c.len() == 1 && c[0].ended.is_some()).await;
    /// assert_eq!(calls.len(), 1);
    /// # }
    /// ```
    pub async fn wait_until(&self, mut pred: impl FnMut(&[Call]) -> bool) -> Vec<Call> {
        let mut rx = self.shared.changed.subscribe();
        loop {
            {
                let mut state = self.lock();
                if pred(state.calls.make_contiguous()) {
                    return state.calls.iter().cloned().collect();
                }
            }
            if rx.changed().await.is_err() {
                return self.calls();
            }
        }
    }

    /// Follows the journal: every call recorded from now on, each once,
    /// as it ends (see [`Tail`]).
    pub fn tail(&self) -> Tail {
        let next = self.lock_raw().next_seq;
        Tail::new(self.clone(), next)
    }

    /// Waits until at least `n` calls have ended.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
    /// assert_eq!(mock.journal().wait_for_ended(1).await.len(), 1);
    /// # }
    /// ```
    pub async fn wait_for_ended(&self, n: usize) -> Vec<Call> {
        let mut rx = self.shared.changed.subscribe();
        loop {
            {
                let state = self.lock();
                let ended = state.calls.iter().filter(|c| c.ended.is_some()).count();
                // Dropped calls count as ended: they are past.
                if ended as u64 + state.dropped >= n as u64 {
                    return state.calls.iter().cloned().collect();
                }
            }
            if rx.changed().await.is_err() {
                return self.calls();
            }
        }
    }

    /// One line per call (authorization redacted), for failure messages.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// assert_eq!(mock.journal().render(), "  (no calls)\n");
    /// # }
    /// ```
    pub fn render(&self) -> String {
        let (calls, dropped) = {
            let state = self.lock();
            (
                state.calls.iter().cloned().collect::<Vec<_>>(),
                state.dropped,
            )
        };
        let mut out = String::new();
        if dropped > 0 {
            out.push_str(&format!("  ({dropped} earlier calls dropped)\n"));
        }
        if calls.is_empty() && dropped == 0 {
            return "  (no calls)\n".to_string();
        }
        out.extend(calls.iter().map(|c| format!("  {c}\n")));
        out
    }
}
