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

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tonic::metadata::MetadataMap;

use crate::rpc::{Method, Rpc};

mod call;
mod layer;
mod notes;
mod outcome;
mod tail;

pub use call::{Call, ClientEnd};
pub use layer::{JournalFuture, JournalLayer, JournalService, RecordingRequest, RecordingResponse};
pub use notes::Note;
pub(crate) use notes::Notes;
pub use outcome::Outcome;
pub use tail::Tail;

/// The metadata by which the code under test tells the mock the deadline
/// it was itself given, in `grpc-timeout` form (`250m`, `5S`): set it on
/// outgoing calls from your server's own layer, and the journal records it
/// as [`Call::given_deadline`], so that conduct checks compare it with the
/// deadline the call carried. For a test that calls the code directly,
/// [`Journal::given_deadline`] does the same for a scope.
pub const GIVEN_TIMEOUT: &str = "orders-testkit-given-timeout";

/// While alive, calls that arrive are recorded as made by code that was
/// given the deadline [`Journal::given_deadline`] set (what is left of it
/// at each call). Dropping it ends the scope.
#[derive(Debug)]
#[must_use = "the scope ends when this is dropped"]
pub struct GivenDeadline {
    journal: Journal,
}

impl Drop for GivenDeadline {
    fn drop(&mut self) {
        self.journal.lock_raw().given = None;
    }
}

/// [`Journal::await_calls`] waited its whole timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitTimedOut {
    /// What was awaited.
    pub wanted: String,
    /// The calls there were when the wait ended, one line each.
    pub seen: String,
}

impl std::fmt::Display for WaitTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "timed out waiting for {}; the journal has:\n{}",
            self.wanted, self.seen
        )
    }
}

impl std::error::Error for WaitTimedOut {}

/// How many calls a journal keeps unless told otherwise.
pub const DEFAULT_BOUND: usize = 100_000;

/// How much memory a journal's calls may take unless told otherwise
/// (estimated: records, metadata, messages as received and decoded): past
/// it, the earliest calls are dropped, as past [`DEFAULT_BOUND`].
pub const DEFAULT_BUDGET: usize = 64 << 20;

/// How much of that one call may take unless told otherwise: its later
/// messages are counted ([`Call::unkept_requests`],
/// [`Call::unkept_responses`]) but not kept.
pub const DEFAULT_CALL_BUDGET: usize = 1 << 20;

#[derive(Debug)]
struct State {
    calls: std::collections::VecDeque<Call>,
    next_seq: u64,
    /// At most this many calls are kept (`None`: all).
    bound: Option<usize>,
    /// How many of the earliest calls were dropped to keep the bound.
    dropped: u64,
    /// The estimated memory of the calls kept.
    bytes: usize,
    /// At most this much (`None`: no limit).
    budget: Option<usize>,
    /// At most this much per call.
    call_budget: usize,
    /// When the deadline the code under test was given passes, while a
    /// [`GivenDeadline`] scope is open.
    given: Option<Instant>,
}

impl State {
    /// The kept call `seq`, if it is kept. Calls are kept in seq order
    /// without gaps: the index is the distance from the first kept call.
    fn call_mut(&mut self, seq: u64) -> Option<&mut Call> {
        let first = self.calls.front().map_or(0, |c| c.seq);
        seq.checked_sub(first)
            .and_then(|i| self.calls.get_mut(i as usize))
            .filter(|c| c.seq == seq)
    }

    /// Drops the earliest calls past the bound in calls or in bytes (a
    /// ring: nothing moves); the latest call is always kept.
    fn keep_bounds(&mut self) {
        let over_count = |s: &Self| s.bound.is_some_and(|b| s.calls.len() > b);
        let over_bytes = |s: &Self| s.budget.is_some_and(|b| s.bytes > b);
        while self.calls.len() > 1 && (over_count(self) || over_bytes(self)) {
            if let Some(call) = self.calls.pop_front() {
                self.bytes -= call.weight.min(self.bytes);
                self.dropped += 1;
            }
        }
    }
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
    /// When the mock's health changed, and to what (serving or not).
    serving: Mutex<Vec<(Instant, bool)>>,
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
                    bytes: 0,
                    budget: bound.map(|_| DEFAULT_BUDGET),
                    call_budget: if bound.is_some() {
                        DEFAULT_CALL_BUDGET
                    } else {
                        usize::MAX
                    },
                    given: None,
                }),
                changed: watch::Sender::new(0),
                enabled: std::sync::atomic::AtomicBool::new(true),
                serving: Mutex::new(Vec::new()),
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

    /// The same journal holding at most `total` bytes of calls
    /// (estimated), and at most `per_call` of any one call: past `total`
    /// the earliest calls are dropped; past `per_call` a call's later
    /// messages are counted, not kept. Defaults: [`DEFAULT_BUDGET`] and
    /// [`DEFAULT_CALL_BUDGET`] (an unbounded journal has no total).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::{OrderMock, journal::Journal};
    /// use orders_testkit::pb::LineItem;
    /// let journal = Journal::bounded(1_000).with_budget(1 << 20, 4 << 10);
    /// let mock = OrderMock::builder().journal(journal).start().await;
    /// let items = (0..1000).map(|i| LineItem { product_id: format!("p{i}"), quantity: 1, price_cents: 1 });
    /// mock.client().submit_line_items(tokio_stream::iter(items)).await.unwrap();
    /// let call = &mock.journal().wait_for_ended(1).await[0];
    /// assert!(call.truncated());
    /// assert_eq!(call.requests.len() + call.unkept_requests, 1000);
    /// # }
    /// ```
    pub fn with_budget(self, total: usize, per_call: usize) -> Self {
        {
            let mut state = self.lock_raw();
            state.budget = Some(total.max(1));
            state.call_budget = per_call;
        }
        self
    }

    /// The estimated memory the kept calls take.
    ///
    /// ```
    /// assert_eq!(orders_testkit::journal::Journal::new().bytes(), 0);
    /// ```
    pub fn bytes(&self) -> usize {
        self.lock_raw().bytes
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

    /// Records a message on call `seq` with `push`, given the per-call
    /// budget; keeps the journal within its budget.
    pub(crate) fn record(&self, seq: u64, push: impl FnOnce(&mut Call, usize) -> usize) {
        {
            let mut state = self.lock_raw();
            let cap = state.call_budget;
            let added = state.call_mut(seq).map_or(0, |call| push(call, cap));
            if added > 0 {
                state.bytes += added;
                state.keep_bounds();
            }
        }
        self.notify();
    }

    pub(crate) fn update(&self, seq: u64, f: impl FnOnce(&mut Call)) {
        {
            if let Some(call) = self.lock_raw().call_mut(seq) {
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

    /// Records a call that arrived; `given` is the deadline its sender says
    /// it was given (else what is left of an open scope's).
    pub(crate) fn start(
        &self,
        path: &str,
        metadata: MetadataMap,
        deadline: Option<Duration>,
        given: Option<Duration>,
    ) -> u64 {
        let seq = {
            let mut state = self.lock_raw();
            let seq = state.next_seq;
            state.next_seq += 1;
            let mut call = Call::arrived(seq, path, metadata, deadline);
            call.given_deadline = given.or_else(|| {
                state
                    .given
                    .map(|until| until.saturating_duration_since(Instant::now()))
            });
            state.bytes += call.weight;
            state.calls.push_back(call);
            state.keep_bounds();
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
        state.bytes = 0;
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

    /// Waits at most `timeout` until `n` calls to `rpc` have arrived, and
    /// returns them (every RPC; in flight or ended). The error shows the
    /// journal as it was.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use orders_testkit::rpc::{GetOrder, WatchOrderStatus};
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
    /// let calls = mock.journal().await_calls(GetOrder, 1, Duration::from_secs(5)).await.unwrap();
    /// assert_eq!(calls[0].requests_of(GetOrder)[0].order_id, "x");
    /// let none = mock.journal().await_calls(WatchOrderStatus, 1, Duration::from_millis(10)).await;
    /// assert!(none.unwrap_err().to_string().contains("1 call to WatchOrderStatus"));
    /// # }
    /// ```
    pub async fn await_calls<R: Rpc>(
        &self,
        _rpc: R,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Call>, WaitTimedOut> {
        let method = R::METHOD;
        let wanted = format!(
            "{n} call{} to {}",
            if n == 1 { "" } else { "s" },
            method.name()
        );
        self.await_where(&wanted, timeout, |c| c.method == Some(method), n)
            .await
    }

    /// Waits at most `timeout` until `n` calls match `pred`, and returns
    /// them; `wanted` names them in the error.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
    /// let ended = mock.journal()
    ///     .await_where("an ended call", Duration::from_secs(5), |c| c.ended.is_some(), 1)
    ///     .await
    ///     .unwrap();
    /// assert_eq!(ended.len(), 1);
    /// # }
    /// ```
    pub async fn await_where(
        &self,
        wanted: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Call) -> bool,
        n: usize,
    ) -> Result<Vec<Call>, WaitTimedOut> {
        let waited = tokio::time::timeout(
            timeout,
            self.wait_until(|calls| calls.iter().filter(|c| pred(c)).count() >= n),
        )
        .await;
        match waited {
            Ok(calls) => Ok(calls.into_iter().filter(|c| pred(c)).collect()),
            Err(_) => Err(WaitTimedOut {
                wanted: wanted.to_string(),
                seen: self.render(),
            }),
        }
    }

    /// Opens a scope in which calls are recorded as made by code that was
    /// given `deadline` (measured from now): for conduct checks of deadline
    /// propagation when the test calls the code under test directly. Code
    /// that serves real calls can send [`GIVEN_TIMEOUT`] instead.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let scope = mock.journal().given_deadline(Duration::from_secs(2));
    /// let mut req = tonic::Request::new(orders_testkit::pb::GetOrderRequest { order_id: "x".into() });
    /// req.set_timeout(Duration::from_secs(5)); // longer than it was given
    /// let _ = mock.client().get_order(req).await;
    /// drop(scope);
    /// let call = &mock.journal().wait_for_ended(1).await[0];
    /// assert!(call.given_deadline.unwrap() <= Duration::from_secs(2));
    /// assert!(call.deadline.unwrap() > call.given_deadline.unwrap());
    /// # }
    /// ```
    pub fn given_deadline(&self, deadline: Duration) -> GivenDeadline {
        self.lock_raw().given = Some(Instant::now() + deadline);
        GivenDeadline {
            journal: self.clone(),
        }
    }

    /// Records that the service now reports itself serving or not (for
    /// the conduct rule on calls made while NOT_SERVING).
    pub(crate) fn note_serving(&self, serving: bool) {
        self.shared
            .serving
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((Instant::now(), serving));
    }

    /// When the service's reported health changed, and to what.
    pub fn serving_log(&self) -> Vec<(Instant, bool)> {
        self.shared
            .serving
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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
