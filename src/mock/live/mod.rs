//! Calls the test drives while they are open: [`OrderMock::live`](crate::OrderMock::live)
//! taps an RPC, and every call of it from then on waits for the test,
//! which takes it ([`Live::next`]) and answers when it chooses: a message
//! now, another later, a status, a reset; it reads what the client sent
//! and awaits its half-close or its cancellation ([`LiveCall`]).
//!
//! A tapped call is answered by the test only: stubs and the model do not
//! see it. It passes through the journal, auth and faults like any other
//! call, and what the test sends is checked against the contract as a
//! stub's answers are (see [`drift`](crate::mock::drift)), unless the tap is
//! [`off_contract`](Live::off_contract).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::prelude::*;
//! use orders_testkit::pb::WatchOrderStatusRequest;
//! use tokio_stream::StreamExt;
//!
//! let mock = OrderMock::start().await;
//! let watches = mock.live(WatchOrderStatus);
//! let mut client = mock.client();
//! let watching = tokio::spawn(async move {
//!     let req = WatchOrderStatusRequest { order_id: "o-1".into() };
//!     let mut stream = client.watch_order_status(req).await.unwrap().into_inner();
//!     let mut seen = Vec::new();
//!     while let Some(update) = stream.next().await {
//!         seen.push(update.unwrap().status());
//!     }
//!     seen
//! });
//! let mut call = watches.next().await.unwrap();
//! assert_eq!(call.request().order_id, "o-1");
//! let update = |from: OrderStatus, to: OrderStatus| OrderStatusUpdate {
//!     order_id: "o-1".into(),
//!     previous_status: from.into(),
//!     status: to.into(),
//!     ..Default::default()
//! };
//! call.send(update(OrderStatus::Unspecified, OrderStatus::Pending)).unwrap();
//! // ... the test decides when the order ships:
//! call.send(update(OrderStatus::Pending, OrderStatus::Shipped)).unwrap();
//! call.send(update(OrderStatus::Shipped, OrderStatus::Delivered)).unwrap();
//! call.finish().unwrap();
//! assert_eq!(
//!     watching.await.unwrap(),
//!     [OrderStatus::Pending, OrderStatus::Shipped, OrderStatus::Delivered]
//! );
//! mock.verify().assert_ok();
//! # }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tonic::Status;

use super::drift::Drift;
use super::stubs::DriftReport;
use crate::rpc::{CreateOrder, GetOrder, ProcessOrders, Rpc, SubmitLineItems, WatchOrderStatus};

mod call;
#[cfg(feature = "admin")]
pub(crate) mod desk;
mod error;
pub(crate) mod serve;

pub use call::LiveCall;
pub(crate) use call::Out;
pub use error::LiveError;

/// How long the waiting verbs of a tap and its calls wait unless told
/// otherwise ([`Live::within`]).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// The broken rules kept per tap.
const DRIFTS_KEPT: usize = 8;

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::rpc::CreateOrder {}
    impl Sealed for crate::rpc::GetOrder {}
    impl Sealed for crate::rpc::WatchOrderStatus {}
    impl Sealed for crate::rpc::SubmitLineItems {}
    impl Sealed for crate::rpc::ProcessOrders {}
}

/// An RPC whose calls the test can drive live (every RPC of orders.v1;
/// sealed).
pub trait LiveRpc: Rpc + sealed::Sealed {
    #[doc(hidden)]
    fn slot(board: &LiveBoard) -> &Mutex<Weak<Tap<Self>>>;
}

/// RPCs whose call carries one request message, known when the call is
/// taken ([`LiveCall::request`]): `CreateOrder`, `GetOrder`,
/// `WatchOrderStatus`.
///
/// ```
/// use orders_testkit::{mock::live::OneRequest, rpc::GetOrder};
/// fn one<R: OneRequest>(_: R) {}
/// one(GetOrder);
/// ```
pub trait OneRequest: LiveRpc {}
impl OneRequest for CreateOrder {}
impl OneRequest for GetOrder {}
impl OneRequest for WatchOrderStatus {}

/// RPCs whose client streams messages the test reads one by one
/// ([`LiveCall::recv`], [`LiveCall::half_closed`]): `SubmitLineItems`,
/// `ProcessOrders`.
///
/// ```
/// use orders_testkit::{mock::live::ClientStreams, rpc::ProcessOrders};
/// fn reads<R: ClientStreams>(_: R) {}
/// reads(ProcessOrders);
/// ```
pub trait ClientStreams: LiveRpc {}
impl ClientStreams for SubmitLineItems {}
impl ClientStreams for ProcessOrders {}

/// RPCs answered with one message ([`LiveCall::respond`]): `CreateOrder`,
/// `GetOrder`, `SubmitLineItems`.
///
/// ```
/// use orders_testkit::{mock::live::AnswersOnce, rpc::SubmitLineItems};
/// fn once<R: AnswersOnce>(_: R) {}
/// once(SubmitLineItems);
/// ```
pub trait AnswersOnce: LiveRpc {}
impl AnswersOnce for CreateOrder {}
impl AnswersOnce for GetOrder {}
impl AnswersOnce for SubmitLineItems {}

/// RPCs answered with a stream the test sends message by message
/// ([`LiveCall::send`], [`LiveCall::finish`]): `WatchOrderStatus`,
/// `ProcessOrders`.
///
/// ```
/// use orders_testkit::{mock::live::ServerStreams, rpc::WatchOrderStatus};
/// fn streams<R: ServerStreams>(_: R) {}
/// streams(WatchOrderStatus);
/// ```
pub trait ServerStreams: LiveRpc {}
impl ServerStreams for WatchOrderStatus {}
impl ServerStreams for ProcessOrders {}

/// The calls of one tapped RPC waiting to be taken, and where what the
/// test sent broke the contract.
#[doc(hidden)]
pub struct Tap<R: LiveRpc> {
    waiting: Mutex<VecDeque<LiveCall<R>>>,
    arrived: Notify,
    off_contract: std::sync::atomic::AtomicBool,
    drifts: Arc<Mutex<Vec<Drift>>>,
}

impl<R: LiveRpc> Tap<R> {
    fn new(drifts: Arc<Mutex<Vec<Drift>>>) -> Self {
        Tap {
            waiting: Mutex::new(VecDeque::new()),
            arrived: Notify::new(),
            off_contract: Default::default(),
            drifts,
        }
    }

    /// Hands a new call to the test.
    pub(crate) fn offer(&self, call: LiveCall<R>) {
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(call);
        self.arrived.notify_waiters();
    }

    /// Where the calls of this tap note broken rules; `None` when off
    /// contract.
    pub(crate) fn drift_sink(&self) -> Option<Arc<Mutex<Vec<Drift>>>> {
        (!self.off_contract.load(Ordering::SeqCst)).then(|| Arc::clone(&self.drifts))
    }
}

/// The taps of one mock: at most one live per RPC, shared by every
/// [`Live`] handle of it.
#[doc(hidden)]
#[derive(Default)]
pub struct LiveBoard {
    create: Mutex<Weak<Tap<CreateOrder>>>,
    get: Mutex<Weak<Tap<GetOrder>>>,
    watch: Mutex<Weak<Tap<WatchOrderStatus>>>,
    submit: Mutex<Weak<Tap<SubmitLineItems>>>,
    process: Mutex<Weak<Tap<ProcessOrders>>>,
    next_id: AtomicU64,
    /// Per RPC, the rules what the test sent broke (kept after the taps go).
    drifts: Mutex<BTreeMap<&'static str, Arc<Mutex<Vec<Drift>>>>>,
    /// The calls driven from outside the test's code (the admin API).
    #[cfg(feature = "admin")]
    pub(crate) desk: desk::Desk,
}

impl fmt::Debug for LiveBoard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveBoard").finish_non_exhaustive()
    }
}

macro_rules! slot {
    ($rpc:ty, $field:ident) => {
        impl LiveRpc for $rpc {
            fn slot(board: &LiveBoard) -> &Mutex<Weak<Tap<Self>>> {
                &board.$field
            }
        }
    };
}
slot!(CreateOrder, create);
slot!(GetOrder, get);
slot!(WatchOrderStatus, watch);
slot!(SubmitLineItems, submit);
slot!(ProcessOrders, process);

impl LiveBoard {
    /// The live tap on `R`, if a test holds one.
    pub(crate) fn tap<R: LiveRpc>(&self) -> Option<Arc<Tap<R>>> {
        R::slot(self)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .upgrade()
    }

    /// The tap on `R`: the one a test holds, or a new one.
    fn tap_or_new<R: LiveRpc>(&self) -> Arc<Tap<R>> {
        let mut slot = R::slot(self).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tap) = slot.upgrade() {
            return tap;
        }
        let drifts = Arc::clone(
            self.drifts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(R::METHOD.name())
                .or_default(),
        );
        let tap = Arc::new(Tap::new(drifts));
        *slot = Arc::downgrade(&tap);
        tap
    }

    /// A new call's id.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Every rule that what the test sent on live calls broke.
    pub(crate) fn drifts(&self) -> Vec<DriftReport> {
        let drifts = self.drifts.lock().unwrap_or_else(|p| p.into_inner());
        drifts
            .iter()
            .flat_map(|(rpc, found)| {
                let found = found.lock().unwrap_or_else(|p| p.into_inner()).clone();
                found.into_iter().map(move |drift| DriftReport {
                    stub: format!("live {rpc} call"),
                    drift,
                })
            })
            .collect()
    }
}

/// Notes one broken rule in `drifts` (a few are kept, each once).
pub(crate) fn note(drifts: &Mutex<Vec<Drift>>, found: Vec<Drift>) {
    let mut drifts = drifts.lock().unwrap_or_else(|p| p.into_inner());
    for drift in found {
        if drifts.len() < DRIFTS_KEPT && !drifts.contains(&drift) {
            drifts.push(drift);
        }
    }
}

/// A test's tap on the RPC `R` of a mock: while any handle is alive, every
/// new call of `R` waits for the test to [`next`](Self::next) it. Dropping
/// the last handle lets later calls go to stubs and the model again; calls
/// already waiting end with `UNAVAILABLE`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::prelude::*;
/// let mock = OrderMock::start().await;
/// let gets = mock.live(GetOrder).within(std::time::Duration::from_millis(50));
/// // No call came: a clear error, not a hang.
/// let err = gets.next().await.unwrap_err();
/// assert!(err.to_string().contains("no GetOrder call arrived within 50ms"));
/// # }
/// ```
#[must_use = "a tap holds calls only while its handle is alive"]
pub struct Live<R: LiveRpc> {
    tap: Arc<Tap<R>>,
    within: Duration,
}

impl<R: LiveRpc> fmt::Debug for Live<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Live")
            .field("rpc", &R::METHOD)
            .field("within", &self.within)
            .finish_non_exhaustive()
    }
}

impl<R: LiveRpc> Live<R> {
    pub(crate) fn on(board: &LiveBoard) -> Self {
        Live {
            tap: board.tap_or_new::<R>(),
            within: DEFAULT_WAIT,
        }
    }

    /// How long [`next`](Self::next), and the waiting verbs of the calls it
    /// takes, wait before failing with [`LiveError::TimedOut`] (default
    /// [`DEFAULT_WAIT`]). Under tokio's paused clock, virtual time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let watches = mock.live(orders_testkit::rpc::WatchOrderStatus).within(std::time::Duration::from_secs(1));
    /// # drop(watches);
    /// # }
    /// ```
    pub fn within(mut self, wait: Duration) -> Self {
        self.within = wait;
        self
    }

    /// Lets what the test sends on this RPC's live calls break the
    /// contract without failing [`verify`](crate::OrderMock::verify) (a
    /// client's handling of a broken server, on purpose).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let gets = mock.live(orders_testkit::rpc::GetOrder).off_contract();
    /// # drop(gets);
    /// # }
    /// ```
    pub fn off_contract(self) -> Self {
        self.tap.off_contract.store(true, Ordering::SeqCst);
        self
    }

    /// The next call of `R` (the oldest one waiting, or the next to come).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// let mock = OrderMock::start().await;
    /// let gets = mock.live(GetOrder);
    /// let mut client = mock.client();
    /// let asking = tokio::spawn(async move {
    ///     client.get_order(GetOrderRequest { order_id: "o-9".into() }).await
    /// });
    /// let call = gets.next().await.unwrap();
    /// // The contract's NOT_FOUND, with its ResourceInfo.
    /// call.fail(orders_testkit::service::status::not_found("o-9")).unwrap();
    /// assert_eq!(asking.await.unwrap().unwrap_err().code(), tonic::Code::NotFound);
    /// # }
    /// ```
    pub async fn next(&self) -> Result<LiveCall<R>, LiveError> {
        self.next_where(|_| true).await
    }

    /// The next call of `R` for which `pred` holds (the oldest one waiting,
    /// or the next to come); the others stay waiting for a later `next`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// let mock = OrderMock::start().await;
    /// let gets = mock.live(GetOrder);
    /// for id in ["a", "b"] {
    ///     let mut client = mock.client();
    ///     tokio::spawn(async move { client.get_order(GetOrderRequest { order_id: id.into() }).await });
    /// }
    /// let b = gets.next_where(|call| call.request().order_id == "b").await.unwrap();
    /// let a = gets.next().await.unwrap();
    /// assert_eq!((a.request().order_id.as_str(), b.request().order_id.as_str()), ("a", "b"));
    /// # }
    /// ```
    pub async fn next_where(
        &self,
        pred: impl Fn(&LiveCall<R>) -> bool,
    ) -> Result<LiveCall<R>, LiveError> {
        let wait = async {
            loop {
                let arrived = self.tap.arrived.notified();
                let mut arrived = std::pin::pin!(arrived);
                arrived.as_mut().enable();
                {
                    let mut waiting = self.tap.waiting.lock().unwrap_or_else(|p| p.into_inner());
                    // Calls whose client went away before the test took them
                    // are of no use to it.
                    waiting.retain(|call| !call.is_gone());
                    if let Some(at) = waiting.iter().position(&pred) {
                        let mut call = waiting.remove(at).expect("the position is in range");
                        call.within = self.within;
                        return call;
                    }
                }
                arrived.await;
            }
        };
        tokio::time::timeout(self.within, wait)
            .await
            .map_err(|_| LiveError::TimedOut {
                what: format!("no {} call arrived", R::METHOD),
                waited: self.within,
            })
    }

    /// How many calls wait to be taken.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// let gets = mock.live(orders_testkit::rpc::GetOrder);
    /// assert_eq!(gets.waiting(), 0);
    /// # }
    /// ```
    pub fn waiting(&self) -> usize {
        let mut waiting = self.tap.waiting.lock().unwrap_or_else(|p| p.into_inner());
        waiting.retain(|call| !call.is_gone());
        waiting.len()
    }
}

impl<R: LiveRpc> Clone for Live<R> {
    fn clone(&self) -> Self {
        Live {
            tap: Arc::clone(&self.tap),
            within: self.within,
        }
    }
}

impl<R: LiveRpc> Drop for Tap<R> {
    fn drop(&mut self) {
        let waiting = std::mem::take(self.waiting.get_mut().unwrap_or_else(|p| p.into_inner()));
        for mut call in waiting {
            let _ = call.end_with(Status::unavailable(
                "the test stopped driving this RPC before it took the call",
            ));
        }
    }
}
