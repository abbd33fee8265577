//! Fault injection: [`Fault`]s, gathered in a [`FaultPlan`], applied by
//! [`FaultLayer`], a tower layer that works on any tonic server (the mock
//! and your own service alike).
//!
//! A fault has a kind (a status with rich details and trailers, a delay, a
//! hang until the deadline, an abort after N stream messages, a stream
//! reset, a dropped connection, a rate limit) and a selection (by RPC, by
//! metadata, by schedule, by probability from a seeded RNG). Every wait is
//! deadline-aware: a delay that outlives the caller's deadline ends at the
//! deadline with `DEADLINE_EXCEEDED` (D-1), streams included.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::OrderMock;
//! use orders_testkit::fault::Fault;
//! use orders_testkit::rpc::CreateOrder;
//! use tonic::Code;
//!
//! let mock = OrderMock::start().await;
//! mock.inject(Fault::fail(tonic::Status::unavailable("try again")).on(CreateOrder).first(2));
//! # let req = || orders_testkit::pb::CreateOrderRequest { customer_id: "c".into(),
//! #     items: vec![orders_testkit::pb::LineItem { product_id: "p".into(), quantity: 1, price_cents: 1 }],
//! #     shipping_address: None };
//! let mut client = mock.client();
//! assert_eq!(client.create_order(req()).await.unwrap_err().code(), Code::Unavailable);
//! assert_eq!(client.create_order(req()).await.unwrap_err().code(), Code::Unavailable);
//! assert!(client.create_order(req()).await.is_ok());
//! # }
//! ```

mod body;
mod layer;
mod plan;
mod request;
mod wire;

pub use layer::{FaultBody, FaultFuture, FaultLayer, FaultService};
pub use plan::FaultPlan;
pub use request::FaultRequest;
pub use wire::WireFault;

/// The metadata key that makes a status a reset: a service's status
/// carrying it (a trailers-only answer or a stream's trailers) becomes a
/// reset of the stream (RST_STREAM) at the [`FaultLayer`]. How a live
/// call's `reset()` reaches the wire from inside a handler.
pub(crate) const RESET_MARK: &str = "x-orders-testkit-reset";

/// A status the [`FaultLayer`] turns into a reset of the stream.
pub(crate) fn reset_status() -> tonic::Status {
    let mut status = tonic::Status::cancelled("stream reset by the test");
    status
        .metadata_mut()
        .insert(RESET_MARK, tonic::metadata::MetadataValue::from_static("1"));
    status
}

/// What a fault did to a call, on its journal record (faults whose effect
/// a test cannot see from the answer alone: a lost answer, a cut, an
/// action failed in band).
///
/// ```
/// use orders_testkit::fault::FaultFired;
/// assert_eq!(FaultFired("x".into()).to_string(), "x");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultFired(pub String);

impl std::fmt::Display for FaultFired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl crate::journal::Note for FaultFired {
    fn heading(&self) -> &'static str {
        "fault:"
    }
}

/// The SplitMix64 mixing step the fault plan draws from, for other seeded
/// choices (the contract suite derives its proptest seeds with it).
///
/// ```
/// assert_ne!(orders_testkit::fault::mix_seed(1), orders_testkit::fault::mix_seed(2));
/// ```
#[doc(hidden)]
pub fn mix_seed(x: u64) -> u64 {
    plan::mix(x)
}

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::rpc::{Method, Rpc};

/// What a fault does to a call it selects.
#[derive(Debug, Clone)]
///
/// ```
/// use orders_testkit::fault::{Fault, FaultKind};
/// let _f = Fault::new(FaultKind::Abort { after: 2, status: tonic::Status::aborted("cut") });
/// ```
#[non_exhaustive]
pub enum FaultKind {
    /// Answers this status at once (details and custom metadata included),
    /// without calling the service.
    Status(Status),
    /// Waits before calling the service: `base` plus a uniform random
    /// `0..=jitter`. Ends with `DEADLINE_EXCEEDED` at the caller's deadline
    /// if that comes first.
    Delay {
        /// The fixed part.
        base: Duration,
        /// The upper bound of the random part.
        jitter: Duration,
    },
    /// Waits before each response message after the first (server and
    /// bidi streams), deadline-aware.
    DelayBetween {
        /// The fixed part.
        base: Duration,
        /// The upper bound of the random part.
        jitter: Duration,
    },
    /// Never answers; ends with `DEADLINE_EXCEEDED` when the caller's
    /// deadline passes (or when the caller gives up, if it set none).
    Hang,
    /// Lets `after` response messages through, then ends the call with
    /// `status` instead of the rest.
    Abort {
        /// How many messages get through.
        after: usize,
        /// The status that ends the call.
        status: Status,
    },
    /// Resets the HTTP/2 stream (RST_STREAM) instead of answering.
    Reset,
    /// Drops the whole connection (the mock and `serve`; on servers that do
    /// not offer it, resets the stream instead).
    DropConnection,
    /// A breakage of the gRPC protocol itself (see [`WireFault`]).
    Wire(WireFault),
    /// The lost answer: the service applies the call (the order exists,
    /// the action is applied, the idempotency key is recorded), then the
    /// client gets `then` instead of the rest of the answer. On response
    /// streams, `after` messages get through first. The fault for
    /// idempotency and retry tests.
    LostAnswer {
        /// Response messages that get through before the answer is lost.
        after: usize,
        /// What the client gets instead.
        then: Lost,
    },
    /// Cuts a client or bidirectional stream once the server has read
    /// `after` request messages, ending the call with `status`: the
    /// messages handed to the service and applied (`applied`), or read and
    /// dropped before the service saw any of the call.
    CutRequests {
        /// Request messages read before the cut.
        after: usize,
        /// The status that ends the call.
        status: Status,
        /// Whether the messages read were applied by the service.
        applied: bool,
    },
    /// Fails the `index`-th action of a ProcessOrders stream (from 1) in
    /// band: its result says `success = false` with `reason` (and the
    /// order's unchanged status, `UNSPECIFIED` for `NOT_FOUND`), and the
    /// action is not applied; the stream goes on.
    FailAction {
        /// Which action, from 1.
        index: usize,
        /// The reason its result gives.
        reason: crate::service::model::FailureReason,
    },
    /// Admits `limit` calls per `window`; beyond that answers
    /// `RESOURCE_EXHAUSTED` with a `RetryInfo` saying when to retry (E-7).
    RateLimit {
        /// Calls admitted per window.
        limit: usize,
        /// The sliding window.
        window: Duration,
    },
}

/// What a client gets instead of an answer the service gave
/// ([`Fault::lose_answer`]).
///
/// ```
/// use orders_testkit::fault::{Fault, Lost};
/// let _f = Fault::lose_answer(Lost::Status(tonic::Status::unavailable("connection lost")));
/// let _g = Fault::lose_answer(Lost::Silence);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Lost {
    /// This status.
    Status(Status),
    /// A reset of the stream (RST_STREAM).
    Reset,
    /// The connection dropped (on servers that cannot, a reset).
    DropConnection,
    /// Nothing more until the caller's deadline, then `DEADLINE_EXCEEDED`
    /// (without a deadline, until the caller gives up).
    Silence,
}

/// Which calls, counted among those that pass the RPC and metadata filters,
/// a fault fires on. Calls are numbered from 1 in arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
///
/// ```
/// use orders_testkit::fault::Schedule;
/// assert!(Schedule::After(2).includes(3));
/// ```
#[non_exhaustive]
pub enum Schedule {
    /// Every selected call.
    Always,
    /// Calls 1 to n.
    First(u64),
    /// Calls k, 2k, 3k…
    Every(u64),
    /// Calls after the n-th (n+1 onwards).
    After(u64),
    /// Calls from `from` to `to`, inclusive.
    Between(u64, u64),
}

impl Schedule {
    /// Whether call number `n` (from 1) is on the schedule.
    ///
    /// ```
    /// use orders_testkit::fault::Schedule;
    /// assert!(Schedule::Every(3).includes(6));
    /// assert!(!Schedule::First(2).includes(3));
    /// assert!(Schedule::Between(2, 4).includes(4));
    /// ```
    pub fn includes(self, n: u64) -> bool {
        match self {
            Schedule::Always => true,
            Schedule::First(k) => n <= k,
            Schedule::Every(k) => k > 0 && n.is_multiple_of(k),
            Schedule::After(k) => n > k,
            Schedule::Between(a, b) => (a..=b).contains(&n),
        }
    }
}

/// One fault: a kind and a selection. Build it with the constructors, then
/// narrow it with [`on`](Self::on), [`when_header`](Self::when_header), a
/// schedule and a [`probability`](Self::probability).
#[derive(Debug, Clone)]
#[must_use = "a fault does nothing until injected or added to a plan"]
///
/// ```
/// use orders_testkit::fault::Fault;
/// use orders_testkit::rpc::GetOrder;
/// let _f = Fault::fail(tonic::Status::unavailable("x")).on(GetOrder).when_header("x-canary", "1").every(2).probability(0.5);
/// ```
pub struct Fault {
    pub(crate) kind: FaultKind,
    pub(crate) paths: Vec<String>,
    pub(crate) headers: Vec<crate::grpc::header_match::HeaderMatch>,
    pub(crate) schedule: Schedule,
    pub(crate) probability: Option<f64>,
}

impl Fault {
    /// A fault of this kind, on every call until narrowed.
    ///
    /// ```
    /// use orders_testkit::fault::{Fault, FaultKind};
    /// let _f = Fault::new(FaultKind::Hang);
    /// ```
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            paths: Vec::new(),
            headers: Vec::new(),
            schedule: Schedule::Always,
            probability: None,
        }
    }

    /// Breaks the protocol in one of the ways a client must survive
    /// (GOAWAY, trailers-only errors, a missing `grpc-status`, a wrong
    /// `content-type`, bad details, a compressed flag without encoding, an
    /// oversized message, an unknown code, a malformed `grpc-message`,
    /// RST_STREAM, two messages on a unary response, deferred headers).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// use orders_testkit::fault::WireFault;
    ///
    /// let mock = OrderMock::start().await;
    /// mock.inject(Fault::wire(WireFault::RstStream(0x8)).on(GetOrder).first(1));
    /// let err = mock.client().get_order(GetOrderRequest { order_id: "o".into() }).await.unwrap_err();
    /// assert_eq!(err.code(), tonic::Code::Cancelled); // RST_STREAM(CANCEL), as tonic reads it
    /// # }
    /// ```
    pub fn wire(fault: WireFault) -> Self {
        Self::new(FaultKind::Wire(fault))
    }

    /// Answers this status as given, as [`Stub::fail`](crate::Stub::fail)
    /// does: build details with `tonic_types`
    /// (`BadRequest`, `RetryInfo`, `ErrorInfo`, `ResourceInfo`,
    /// `QuotaFailure`, `PreconditionFailure`, …) and add trailers with
    /// `Status::metadata_mut`.
    ///
    /// ```
    /// use tonic_types::{ErrorDetails, StatusExt};
    /// let status = tonic::Status::with_error_details(
    ///     tonic::Code::FailedPrecondition,
    ///     "inventory locked",
    ///     ErrorDetails::with_precondition_failure_violation("STOCK", "p1", "locked"),
    /// );
    /// let f = orders_testkit::fault::Fault::fail(status);
    /// # let _ = f;
    /// ```
    pub fn fail(status: Status) -> Self {
        Self::new(FaultKind::Status(status))
    }

    /// `UNAVAILABLE` with a `RetryInfo` of `retry_after` (E-7).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// mock.inject(Fault::unavailable("draining", std::time::Duration::from_millis(100)));
    /// # }
    /// ```
    pub fn unavailable(message: impl Into<String>, retry_after: Duration) -> Self {
        Self::fail(Status::with_error_details(
            Code::Unavailable,
            message,
            ErrorDetails::with_retry_info(Some(retry_after)),
        ))
    }

    /// Waits `delay` before the call reaches the service (deadline-aware).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// mock.inject(Fault::delay(std::time::Duration::from_millis(5)));
    /// # }
    /// ```
    pub fn delay(delay: Duration) -> Self {
        Self::new(FaultKind::Delay {
            base: delay,
            jitter: Duration::ZERO,
        })
    }

    /// Waits `base` plus a uniform `0..=jitter` (from the plan's seed).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// use std::time::Duration;
    /// mock.inject(Fault::delay_jitter(Duration::from_millis(1), Duration::from_millis(4)));
    /// # }
    /// ```
    pub fn delay_jitter(base: Duration, jitter: Duration) -> Self {
        Self::new(FaultKind::Delay { base, jitter })
    }

    /// Waits `delay` before each stream message after the first.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// use orders_testkit::rpc::WatchOrderStatus;
    /// mock.inject(Fault::delay_between(std::time::Duration::from_millis(5)).on(WatchOrderStatus));
    /// # }
    /// ```
    pub fn delay_between(delay: Duration) -> Self {
        Self::new(FaultKind::DelayBetween {
            base: delay,
            jitter: Duration::ZERO,
        })
    }

    /// Never answers; `DEADLINE_EXCEEDED` at the caller's deadline.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// use orders_testkit::rpc::GetOrder;
    /// mock.inject(Fault::hang().on(GetOrder).first(1));
    /// # }
    /// ```
    pub fn hang() -> Self {
        Self::new(FaultKind::Hang)
    }

    /// Lets `after` response messages through, then ends with `status`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// use orders_testkit::rpc::WatchOrderStatus;
    /// mock.inject(Fault::abort_after(1, tonic::Status::unavailable("lost")).on(WatchOrderStatus));
    /// # }
    /// ```
    pub fn abort_after(after: usize, status: Status) -> Self {
        Self::new(FaultKind::Abort { after, status })
    }

    /// The lost answer, for idempotency and retry tests: the service
    /// applies the call (the order is created, the action applied, the key
    /// recorded), then the client gets `then` instead of the answer. This
    /// is the failure a retry must survive without doing the work twice.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// use orders_testkit::fault::Lost;
    ///
    /// let mock = OrderMock::start().await;
    /// mock.inject(Fault::lose_answer(Lost::Status(tonic::Status::unavailable("lost"))).on(CreateOrder).first(1));
    /// let req = CreateOrderRequest {
    ///     customer_id: "c-1".into(),
    ///     items: vec![LineItem { product_id: "p".into(), quantity: 1, price_cents: 5 }],
    ///     ..Default::default()
    /// };
    /// let lost = mock.client().create_order(req).await.unwrap_err();
    /// assert_eq!(lost.code(), tonic::Code::Unavailable);
    /// assert_eq!(mock.store().order_count(), 1); // the order was created all the same
    /// # }
    /// ```
    pub fn lose_answer(then: Lost) -> Self {
        Self::new(FaultKind::LostAnswer { after: 0, then })
    }

    /// The lost answer on a response stream: `after` messages get through
    /// (their work applied), then the client gets `then`.
    ///
    /// ```
    /// use orders_testkit::fault::{Fault, Lost};
    /// use orders_testkit::rpc::ProcessOrders;
    /// let _f = Fault::lose_answer_after(2, Lost::Reset).on(ProcessOrders);
    /// ```
    pub fn lose_answer_after(after: usize, then: Lost) -> Self {
        Self::new(FaultKind::LostAnswer { after, then })
    }

    /// Cuts a client or bidirectional stream once the service has read and
    /// applied `after` request messages (for ProcessOrders: their results
    /// sent), ending the call with `status`.
    ///
    /// ```
    /// use orders_testkit::fault::Fault;
    /// use orders_testkit::rpc::SubmitLineItems;
    /// let _f = Fault::cut_after_applied(2, tonic::Status::unavailable("cut")).on(SubmitLineItems);
    /// ```
    pub fn cut_after_applied(after: usize, status: Status) -> Self {
        Self::new(FaultKind::CutRequests {
            after,
            status,
            applied: true,
        })
    }

    /// Cuts a client or bidirectional stream once the server has read
    /// `after` request messages without applying any: the service never
    /// sees the call; it ends with `status`.
    ///
    /// ```
    /// use orders_testkit::fault::Fault;
    /// use orders_testkit::rpc::ProcessOrders;
    /// let _f = Fault::cut_after_unapplied(1, tonic::Status::unavailable("cut")).on(ProcessOrders);
    /// ```
    pub fn cut_after_unapplied(after: usize, status: Status) -> Self {
        Self::new(FaultKind::CutRequests {
            after,
            status,
            applied: false,
        })
    }

    /// Fails the `index`-th action of a ProcessOrders stream (from 1) in
    /// band with `reason` (ProcessOrders only, whatever else the fault is
    /// narrowed to): the action is not applied, its result says
    /// `success = false`, `"<REASON>: failed by fault injection"`, and the
    /// stream goes on (P-4's shape).
    ///
    /// ```
    /// use orders_testkit::fault::Fault;
    /// use orders_testkit::service::model::FailureReason;
    /// let _f = Fault::fail_action(2, FailureReason::FailedPrecondition);
    /// ```
    pub fn fail_action(index: usize, reason: crate::service::model::FailureReason) -> Self {
        Self::new(FaultKind::FailAction { index, reason })
            .on_method(crate::rpc::Method::ProcessOrders)
    }

    /// Resets the stream instead of answering.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// mock.inject(Fault::reset().every(10));
    /// # }
    /// ```
    pub fn reset() -> Self {
        Self::new(FaultKind::Reset)
    }

    /// Drops the connection the call came on.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// mock.inject(Fault::drop_connection().between(5, 5));
    /// # }
    /// ```
    pub fn drop_connection() -> Self {
        Self::new(FaultKind::DropConnection)
    }

    /// At most `limit` calls per `window`, then `RESOURCE_EXHAUSTED`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// mock.inject(Fault::rate_limit(100, std::time::Duration::from_secs(1)));
    /// # }
    /// ```
    pub fn rate_limit(limit: usize, window: Duration) -> Self {
        Self::new(FaultKind::RateLimit { limit, window })
    }

    /// Only calls to this RPC (several `on` calls add RPCs).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// use orders_testkit::rpc::{CreateOrder, ProcessOrders};
    /// mock.inject(Fault::fail(tonic::Status::unavailable("write path down")).on(CreateOrder).on(ProcessOrders));
    /// # }
    /// ```
    pub fn on<R: Rpc>(self, _rpc: R) -> Self {
        self.on_method(R::METHOD)
    }

    /// Only calls to this method.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::{fault::Fault, rpc::Method};
    /// mock.inject(Fault::hang().on_method(Method::GetOrder).first(1));
    /// # }
    /// ```
    pub fn on_method(self, method: Method) -> Self {
        self.on_path(method.path())
    }

    /// Only calls to this path (`/pkg.Service/Method`), for any service.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// mock.inject(Fault::fail(tonic::Status::unavailable("x")).on_path("/grpc.health.v1.Health/Check"));
    /// # }
    /// ```
    pub fn on_path(mut self, path: impl Into<String>) -> Self {
        self.paths.push(path.into());
        self
    }

    /// Only calls whose metadata has `name` equal to `value`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// mock.inject(Fault::fail(tonic::Status::unavailable("canary")).when_header("x-canary", "1"));
    /// # }
    /// ```
    pub fn when_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push(crate::grpc::header_match::HeaderMatch {
            name: name.to_ascii_lowercase(),
            value: Some(value.to_string()),
        });
        self
    }

    /// Only calls whose metadata has `name`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// mock.inject(Fault::hang().when_header_present("x-chaos"));
    /// # }
    /// ```
    pub fn when_header_present(mut self, name: &str) -> Self {
        self.headers.push(crate::grpc::header_match::HeaderMatch {
            name: name.to_ascii_lowercase(),
            value: None,
        });
        self
    }

    /// Only the first `n` selected calls.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// mock.inject(Fault::fail(tonic::Status::unavailable("cold start")).first(3));
    /// # }
    /// ```
    pub fn first(mut self, n: u64) -> Self {
        self.schedule = Schedule::First(n);
        self
    }

    /// Every `k`-th selected call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// mock.inject(Fault::reset().every(5));
    /// # }
    /// ```
    pub fn every(mut self, k: u64) -> Self {
        self.schedule = Schedule::Every(k);
        self
    }

    /// Selected calls after the `n`-th.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// mock.inject(Fault::fail(tonic::Status::resource_exhausted("quota")).after(10));
    /// # }
    /// ```
    pub fn after(mut self, n: u64) -> Self {
        self.schedule = Schedule::After(n);
        self
    }

    /// Selected calls `from` to `to` (inclusive, from 1).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// mock.inject(Fault::fail(tonic::Status::unavailable("blip")).between(3, 4));
    /// # }
    /// ```
    pub fn between(mut self, from: u64, to: u64) -> Self {
        self.schedule = Schedule::Between(from, to);
        self
    }

    /// Fires with probability `p` (0 to 1) on scheduled calls, drawn from
    /// the plan's seed: the same seed gives the same faults on the same calls.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::fault::Fault;
    /// mock.inject(Fault::fail(tonic::Status::unavailable("flaky")).probability(0.1));
    /// # }
    /// ```
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = Some(p.clamp(0.0, 1.0));
        self
    }
}
