//! Typed stubs, in the style of wiremock-rs: a matcher, a responder,
//! limits, priority and expectations, mounted on an [`OrderMock`](crate::OrderMock).
//! A stub that matches answers; otherwise the default model does.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::Stub;
//! use orders_testkit::OrderMock;
//! use orders_testkit::pb::{GetOrderRequest, Order};
//! use orders_testkit::rpc::GetOrder;
//!
//! let mock = OrderMock::start().await;
//! Stub::on(GetOrder)
//!     .when(|req| req.order_id == "o-1")
//!     .respond(Order { order_id: "o-1".into(), customer_id: "c".into(), status: orders_testkit::pb::OrderStatus::Pending.into(), ..Default::default() })
//!     .up_to(1)
//!     .expect(1)
//!     .mount(&mock);
//!
//! let mut client = mock.client();
//! let order = client.get_order(GetOrderRequest { order_id: "o-1".into() }).await.unwrap();
//! assert_eq!(order.into_inner().customer_id, "c");
//! // Used up: the next call falls through to the model, which knows no o-1.
//! let err = client.get_order(GetOrderRequest { order_id: "o-1".into() }).await.unwrap_err();
//! assert_eq!(err.code(), tonic::Code::NotFound);
//! mock.verify().assert_ok();
//! # }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::Status;

use self::conditions::Cond;
use super::times::Times;
use crate::mock::matching::{Check, Field, Matcher, Metadata, Partial};
use crate::pb::OrderStatusUpdate;
use crate::rpc::{ProcessOrders, SubmitLineItems, WatchOrderStatus};

mod conditions;
mod kinds;
mod responders;
mod table;

pub use kinds::{PerMessageRpc, SingleResponseRpc, UnaryRpc};
pub(crate) use responders::Script;
pub(crate) use responders::{Replies, Respond};
pub(crate) use table::StubTable;
pub use table::{DriftReport, ExpectationReport, MountTarget, NearCall, StubInfo, StubSlot};
pub(crate) use table::{Matched, sealed};

/// A stub under construction for the RPC `R`; [`mount`](Self::mount) it on
/// a mock. Start one with [`Stub::on`](Self::on).
#[must_use = "a stub does nothing until it is mounted"]
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mock = orders_testkit::OrderMock::start().await;
/// use orders_testkit::Stub;
/// use orders_testkit::rpc::GetOrder;
/// let stub = Stub::on(GetOrder).fail(tonic::Status::unavailable("x"));
/// stub.mount(&mock);
/// # }
/// ```
///
/// Responders are typed by the RPC's streaming kind, so an answer the RPC
/// could never send does not compile:
///
/// ```compile_fail
/// # async fn f(mock: orders_testkit::OrderMock) {
/// use orders_testkit::prelude::*;
/// // GetOrder answers one message: its stubs have no `stream`.
/// Stub::on(GetOrder).stream([]).mount(&mock);
/// # }
/// ```
///
/// ```compile_fail
/// # async fn f(mock: orders_testkit::OrderMock) {
/// use orders_testkit::prelude::*;
/// // WatchOrderStatus streams: its stubs have no single `respond`.
/// Stub::on(WatchOrderStatus).respond(OrderStatusUpdate::default()).mount(&mock);
/// # }
/// ```
///
/// ```compile_fail
/// # async fn f(mock: orders_testkit::OrderMock) {
/// use orders_testkit::prelude::*;
/// // A GetOrder stub answers an Order, not a CreateOrderResponse.
/// Stub::on(GetOrder).respond(CreateOrderResponse::default()).mount(&mock);
/// # }
/// ```
pub struct Stub<R: StubSlot> {
    name: Option<String>,
    matchers: Vec<Cond<R>>,
    responder: Option<R::Responder>,
    limit: Option<usize>,
    priority: u8,
    expected: Option<Times>,
    delay: Option<Duration>,
    off_contract: bool,
}

impl<R: StubSlot> fmt::Debug for Stub<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stub")
            .field("rpc", &R::METHOD)
            .field("name", &self.name)
            .field("matchers", &self.matchers.len())
            .field("limit", &self.limit)
            .field("priority", &self.priority)
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

/// The priority stubs get unless set: 1 is the highest, 255 the lowest.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::Stub;
/// use orders_testkit::OrderMock;
/// use orders_testkit::mock::stubs::DEFAULT_PRIORITY;
/// use orders_testkit::pb::Order;
/// use orders_testkit::rpc::GetOrder;
///
/// let mock = OrderMock::start().await;
/// Stub::on(GetOrder).respond(Order { status: orders_testkit::pb::OrderStatus::Pending.into(), ..Default::default() }).mount(&mock); // DEFAULT_PRIORITY
/// // One step more urgent than the default: tried first.
/// let vip = Order { order_id: "vip".into(), status: orders_testkit::pb::OrderStatus::Pending.into(), ..Default::default() };
/// Stub::on(GetOrder).priority(DEFAULT_PRIORITY - 1).respond(vip).mount(&mock);
/// let got = mock.client().get_order(orders_testkit::pb::GetOrderRequest::default()).await.unwrap();
/// assert_eq!(got.into_inner().order_id, "vip");
/// # }
/// ```
pub const DEFAULT_PRIORITY: u8 = 5;

impl<R: StubSlot> Stub<R> {
    /// Starts a stub for the RPC `rpc`; give it a responder, then
    /// [`mount`](Self::mount) it on a mock, as wiremock-rs's
    /// `Mock::given(..).respond_with(..).mount(&server)`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    ///
    /// let mock = OrderMock::start().await;
    /// Stub::on(CreateOrder)
    ///     .respond(CreateOrderResponse { order_id: "fixed".into(), created_at: None })
    ///     .mount(&mock);
    /// let created = mock.client().create_order(CreateOrderRequest::default()).await.unwrap();
    /// assert_eq!(created.into_inner().order_id, "fixed");
    /// # }
    /// ```
    pub fn on(rpc: R) -> Self {
        let _ = rpc;
        Self {
            name: None,
            matchers: Vec::new(),
            responder: None,
            limit: None,
            priority: DEFAULT_PRIORITY,
            expected: None,
            delay: None,
            off_contract: false,
        }
    }

    /// Names the stub in reports.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(GetOrder).named("the o-1 lookup").respond(Order { status: OrderStatus::Pending.into(), ..Default::default() }).expect(0..).mount(&mock);
    /// assert!(mock.verify().to_string().contains("the o-1 lookup"));
    /// # }
    /// ```
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Matches only calls whose metadata has `name` equal to `value`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(GetOrder).when_header("x-tenant", "acme").respond(Order { status: OrderStatus::Pending.into(), ..Default::default() }).mount(&mock);
    /// # }
    /// ```
    pub fn when_header(self, name: &str, value: &str) -> Self {
        self.when_metadata(name, crate::mock::matching::eq(value))
    }

    /// Matches only calls whose metadata has `name`, whatever its value.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(CreateOrder).when_header_present("x-debug").fail(tonic::Status::internal("debug")).mount(&mock);
    /// # }
    /// ```
    pub fn when_header_present(self, name: &str) -> Self {
        self.when_metadata(name, crate::mock::matching::present())
    }

    /// Matches only calls whose metadata `name` passes `check`
    /// ([`eq`](crate::mock::matching::eq), [`regex`](crate::mock::matching::regex),
    /// [`present`](crate::mock::matching::present), [`absent`](crate::mock::matching::absent), …).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// use orders_testkit::mock::matching::{absent, regex};
    /// Stub::on(GetOrder)
    ///     .when_metadata("x-tenant", regex("^acme-"))
    ///     .when_metadata("x-debug", absent())
    ///     .respond(Order { status: OrderStatus::Pending.into(), ..Default::default() })
    ///     .mount(&mock);
    /// # }
    /// ```
    pub fn when_metadata(mut self, name: &str, check: Check) -> Self {
        self.matchers
            .push(Cond::Metadata(Metadata::new(name, check)));
        self
    }

    /// Matches only calls whose message has the field at `path` passing
    /// `check` (each message of a client stream; each action of
    /// ProcessOrders). Paths: `customer_id`, `items[0].product_id`,
    /// `shipping_address.city` (proto or JSON names).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// use orders_testkit::mock::matching::{eq, range};
    /// Stub::on(CreateOrder)
    ///     .when_field("customer_id", eq("c-1"))
    ///     .when_field("items[0].quantity", range(100..))
    ///     .fail(tonic::Status::resource_exhausted("bulk orders are queued"))
    ///     .mount(&mock);
    /// # }
    /// ```
    pub fn when_field(self, path: &str, check: Check) -> Self {
        self.matching(Field::new(path, check))
    }

    /// Matches only calls whose message equals `expected` in every field
    /// `expected` sets; fields left at their default are not compared.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(GetOrder)
    ///     .when_matches(GetOrderRequest { order_id: "o-1".into() })
    ///     .respond(Order { order_id: "o-1".into(), status: OrderStatus::Pending.into(), ..Default::default() })
    ///     .mount(&mock);
    /// # }
    /// ```
    pub fn when_matches(self, expected: R::Request) -> Self {
        self.matching(Partial::new(expected))
    }

    /// Matches only calls that `matcher` accepts (each message of a client
    /// stream): a [`Matcher`] of your own, which can say why a call
    /// differs.
    pub fn matching(mut self, matcher: impl Matcher<R::Request>) -> Self {
        self.matchers.push(Cond::EachMatches(Arc::new(matcher)));
        self
    }

    /// Stops matching after `n` matches (then calls fall through).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// let h = Stub::on(GetOrder).respond(Order { status: OrderStatus::Pending.into(), ..Default::default() }).up_to(1).mount(&mock);
    /// let mut c = mock.client();
    /// c.get_order(GetOrderRequest { order_id: "a".into() }).await.unwrap();
    /// assert!(c.get_order(GetOrderRequest { order_id: "a".into() }).await.is_err()); // the model: no such order
    /// assert_eq!(h.hits(), 1);
    /// # }
    /// ```
    pub fn up_to(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Sets the priority: 1 is tried first, 255 last; the default is
    /// [`DEFAULT_PRIORITY`]. Among equal priorities the newest stub wins.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(GetOrder).respond(Order { customer_id: "first".into(), status: OrderStatus::Pending.into(), ..Default::default() }).priority(1).mount(&mock);
    /// Stub::on(GetOrder).respond(Order { customer_id: "newer".into(), status: OrderStatus::Pending.into(), ..Default::default() }).mount(&mock);
    /// let o = mock.client().get_order(GetOrderRequest { order_id: "x".into() }).await.unwrap();
    /// assert_eq!(o.into_inner().customer_id, "first");
    /// # }
    /// ```
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    /// Expects this many matches (`1`, `1..=3`, `2..`), checked by
    /// [`OrderMock::verify`](crate::OrderMock::verify) and when the mock is dropped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(GetOrder).respond(Order { status: OrderStatus::Pending.into(), ..Default::default() }).expect(1..=2).mount(&mock);
    /// mock.client().get_order(GetOrderRequest { order_id: "x".into() }).await.unwrap();
    /// mock.verify().assert_ok();
    /// # }
    /// ```
    pub fn expect(mut self, times: impl Into<Times>) -> Self {
        self.expected = Some(times.into());
        self
    }

    /// Waits this long before answering (before the first message of a
    /// stream; before each answer of a bidi stub). A wait that outlives the
    /// caller's deadline ends with `DEADLINE_EXCEEDED`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(GetOrder).respond(Order { status: OrderStatus::Pending.into(), ..Default::default() }).delay(std::time::Duration::from_millis(5)).mount(&mock);
    /// assert!(mock.client().get_order(GetOrderRequest { order_id: "x".into() }).await.is_ok());
    /// # }
    /// ```
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Lets this stub break the contract on purpose (a test of how a client
    /// copes with a misbehaving server): its answers are not checked
    /// against CONTRACT.md (see [`drift`](crate::mock::drift)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// let mock = OrderMock::start().await;
    /// // NOT_FOUND without its ResourceInfo (E-3): deliberate here.
    /// Stub::on(GetOrder).fail(tonic::Status::not_found("gone")).off_contract().mount(&mock);
    /// let _ = mock.client().get_order(GetOrderRequest::default()).await;
    /// mock.verify().assert_ok();
    /// # }
    /// ```
    pub fn off_contract(mut self) -> Self {
        self.off_contract = true;
        self
    }

    /// Answers with `status` (build rich details with `tonic_types`, add
    /// trailers with `Status::with_metadata`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(CreateOrder).fail(tonic::Status::unavailable("down")).mount(&mock);
    /// # }
    /// ```
    pub fn fail(mut self, status: Status) -> Self {
        self.responder = Some(R::Responder::failing(status));
        self
    }

    /// Adds the stub to `mock`; from now on it is tried before the model.
    ///
    /// # Panics
    ///
    /// When the stub has no responder (no `respond`, `respond_with`,
    /// `fail`, `replies` or `stream`): a stub that could only
    /// answer UNIMPLEMENTED is a mistake in the test.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// let handle = Stub::on(GetOrder).respond(Order { status: OrderStatus::Pending.into(), ..Default::default() }).mount(&mock);
    /// assert_eq!(handle.hits(), 0);
    /// # }
    /// ```
    #[track_caller]
    pub fn mount(self, mock: &impl MountTarget) -> StubHandle
    where
        R: StubSlot,
    {
        mock.stub_table().mount(self)
    }
}

impl<R: PerMessageRpc> Stub<R> {
    /// Matches when `pred` holds for the request (for `ProcessOrders`: for
    /// the action, each action being matched on its own).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(ProcessOrders).when(|a| a.order_id.starts_with("fake-")).fail(tonic::Status::aborted("no fakes")).mount(&mock);
    /// # }
    /// ```
    pub fn when(mut self, pred: impl Fn(&R::Request) -> bool + Send + Sync + 'static) -> Self {
        self.matchers.push(Cond::Each(Arc::new(pred)));
        self
    }
}

impl Stub<SubmitLineItems> {
    /// Matches when `pred` holds for every message of the stream.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(SubmitLineItems).when_each(|i| i.price_cents == 0).respond(SubmitLineItemsResponse::default()).mount(&mock);
    /// # }
    /// ```
    pub fn when_each(
        mut self,
        pred: impl Fn(&crate::pb::LineItem) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.matchers.push(Cond::Each(Arc::new(pred)));
        self
    }

    /// Matches when `pred` holds for all the messages of the stream.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(SubmitLineItems).when_all(|items| items.len() > 100).fail(tonic::Status::resource_exhausted("too many")).mount(&mock);
    /// # }
    /// ```
    pub fn when_all(
        mut self,
        pred: impl Fn(&[crate::pb::LineItem]) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.matchers.push(Cond::All(Arc::new(pred)));
        self
    }

    /// Answers with a function of every message received.
    pub fn respond_with(
        mut self,
        f: impl Fn(&[crate::pb::LineItem]) -> Result<crate::pb::SubmitLineItemsResponse, Status>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.responder = Some(Replies::With(Arc::new(f)));
        self
    }
}

impl<R: SingleResponseRpc> Stub<R> {
    /// Answers with this message.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(CreateOrder).respond(CreateOrderResponse { order_id: "fixed".into(), created_at: None }).mount(&mock);
    /// # }
    /// ```
    pub fn respond(mut self, response: R::Response) -> Self {
        self.responder = Some(Replies::With(Arc::new(move |_| Ok(response.clone()))));
        self
    }

    /// Answers these in turn, one per matching call, then stops matching so
    /// that further calls fall through (answer A, then B, then the model).
    pub fn replies(
        mut self,
        replies: impl IntoIterator<Item = Result<R::Response, Status>>,
    ) -> Self {
        self.responder = Some(Replies::InTurn(Mutex::new(replies.into_iter().collect())));
        self
    }
}

impl<R: UnaryRpc> Stub<R> {
    /// Answers with a function of the request.
    pub fn respond_with(
        mut self,
        f: impl Fn(&R::Request) -> Result<R::Response, Status> + Send + Sync + 'static,
    ) -> Self {
        self.responder = Some(Replies::With(Arc::new(
            move |reqs: &[R::Request]| match reqs.first() {
                Some(req) => f(req),
                None => Err(Status::internal("stub: no request message")),
            },
        )));
        self
    }
}

impl Stub<WatchOrderStatus> {
    /// Streams these messages, then ends with OK (or [`then_fail`](Self::then_fail)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(WatchOrderStatus).stream([OrderStatusUpdate { order_id: "o".into(), status: 1, ..Default::default() }]).mount(&mock);
    /// # }
    /// ```
    pub fn stream(mut self, items: impl IntoIterator<Item = OrderStatusUpdate>) -> Self {
        let (_, between, end, hold) = self.take_script();
        self.responder = Some(Script::Stream {
            items: items.into_iter().collect(),
            between,
            end,
            hold,
        });
        self
    }

    /// Waits this long between streamed messages (deadline-aware).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(WatchOrderStatus).stream([]).delay_between(std::time::Duration::from_millis(10)).mount(&mock);
    /// # }
    /// ```
    pub fn delay_between(mut self, delay: Duration) -> Self {
        let (items, _, end, hold) = self.take_script();
        self.responder = Some(Script::Stream {
            items,
            between: Some(delay),
            end,
            hold,
        });
        self
    }

    /// Ends the stream with `status` after its messages (where
    /// [`fail`](Self::fail) refuses the call before any message).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(WatchOrderStatus).stream([]).then_fail(tonic::Status::unavailable("gone")).mount(&mock);
    /// # }
    /// ```
    pub fn then_fail(mut self, status: Status) -> Self {
        let (items, between, _, _) = self.take_script();
        self.responder = Some(Script::Stream {
            items,
            between,
            end: Some(status),
            hold: false,
        });
        self
    }

    /// Keeps the stream open after its messages, until the caller's
    /// deadline or cancel, as a watch of an order that does not change
    /// (instead of ending with OK).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// let pending = OrderStatusUpdate { order_id: "o-1".into(), status: OrderStatus::Pending.into(), ..Default::default() };
    /// Stub::on(WatchOrderStatus).stream([pending]).then_hold().mount(&mock);
    /// let mut req = tonic::Request::new(WatchOrderStatusRequest::default());
    /// req.set_timeout(std::time::Duration::from_millis(50));
    /// let mut updates = mock.client().watch_order_status(req).await.unwrap().into_inner();
    /// assert!(updates.message().await.unwrap().is_some());
    /// let held = updates.message().await.unwrap_err(); // open until the deadline
    /// assert_eq!(held.code(), tonic::Code::DeadlineExceeded);
    /// # }
    /// ```
    pub fn then_hold(mut self) -> Self {
        let (items, between, _, _) = self.take_script();
        self.responder = Some(Script::Stream {
            items,
            between,
            end: None,
            hold: true,
        });
        self
    }

    /// The stream set so far: messages, pause, end, hold (nothing after
    /// `fail`, which a stream replaces).
    fn take_script(
        &mut self,
    ) -> (
        Arc<[OrderStatusUpdate]>,
        Option<Duration>,
        Option<Status>,
        bool,
    ) {
        match self.responder.take() {
            Some(Script::Stream {
                items,
                between,
                end,
                hold,
            }) => (items, between, end, hold),
            _ => (Arc::from([]), None, None, false),
        }
    }
}

impl Stub<ProcessOrders> {
    /// Answers each matching action with a function of it; an `Err` ends
    /// the whole stream with that status.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// Stub::on(ProcessOrders)
    ///     .respond_with(|a| Ok(OrderResult { order_id: a.order_id.clone(), success: true, error: String::new(), status: 2 }))
    ///     .mount(&mock);
    /// # }
    /// ```
    pub fn respond_with(
        mut self,
        f: impl Fn(&crate::pb::OrderAction) -> Result<crate::pb::OrderResult, Status>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.responder = Some(Replies::With(Arc::new(
            move |reqs: &[crate::pb::OrderAction]| match reqs.first() {
                Some(action) => f(action),
                None => Err(Status::internal("stub: no action")),
            },
        )));
        self
    }

    /// Answers matching actions with these in turn (an `Err` ends the
    /// stream with that status), then stops matching.
    pub fn replies(
        mut self,
        replies: impl IntoIterator<Item = Result<crate::pb::OrderResult, Status>>,
    ) -> Self {
        self.responder = Some(Replies::InTurn(Mutex::new(replies.into_iter().collect())));
        self
    }
}

/// A mounted stub: how often it matched.
#[derive(Debug, Clone)]
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mock = orders_testkit::OrderMock::start().await;
/// use orders_testkit::Stub;
/// use orders_testkit::rpc::GetOrder;
/// let handle = Stub::on(GetOrder).fail(tonic::Status::unavailable("x")).mount(&mock);
/// assert_eq!(handle.hits(), 0);
/// # }
/// ```
pub struct StubHandle {
    pub(super) id: u64,
    pub(super) hits: Arc<AtomicUsize>,
}

impl StubHandle {
    /// The stub's id on its mock: what [`OrderMock::stubs`](crate::OrderMock::stubs)
    /// lists and [`OrderMock::remove_stub`](crate::OrderMock::remove_stub) takes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// let outage = Stub::on(GetOrder).fail(tonic::Status::unavailable("down")).mount(&mock);
    /// assert!(mock.remove_stub(outage.id())); // the model answers again
    /// let err = mock.client().get_order(GetOrderRequest { order_id: "ord-9".into() }).await.unwrap_err();
    /// assert_eq!(err.code(), tonic::Code::NotFound);
    /// # }
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// How many times the stub has matched so far.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// use orders_testkit::prelude::*;
    /// let h = Stub::on(GetOrder).respond(Order { status: OrderStatus::Pending.into(), ..Default::default() }).mount(&mock);
    /// mock.client().get_order(GetOrderRequest { order_id: "x".into() }).await.unwrap();
    /// assert_eq!(h.hits(), 1);
    /// # }
    /// ```
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
