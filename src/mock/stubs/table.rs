//! The stubs mounted on one mock: per-RPC slots in try order, matching,
//! hit counting, and the expectation report.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tonic::metadata::MetadataMap;

use super::responders::{Replies, Respond, Script};
use super::{Matcher, Stub, StubHandle};
use crate::mock::times::Times;
use crate::pb::OrderStatusUpdate;
use crate::rpc::{CreateOrder, GetOrder, ProcessOrders, Rpc, SubmitLineItems, WatchOrderStatus};

pub(crate) struct Entry<R: StubSlot> {
    stub: Stub<R>,
    /// Taken out of the stub at mount, where a stub without one is refused.
    responder: R::Responder,
    hits: Arc<AtomicUsize>,
    order: u64,
}

/// A matched stub: its name, its delay and the answer it took.
pub(crate) struct Matched<R: StubSlot> {
    /// The stub, as reports name it.
    pub(crate) name: String,
    /// How long to wait before answering.
    pub(crate) delay: Option<Duration>,
    /// What the responder gave for this match.
    pub(crate) answer: <R::Responder as Respond>::Answer,
}

impl<R: StubSlot> Entry<R> {
    fn describe(&self) -> String {
        match &self.stub.name {
            Some(name) => format!("{} {name:?}", R::METHOD),
            None => format!("{} stub #{}", R::METHOD, self.order),
        }
    }

    fn matches(&self, metadata: &MetadataMap, requests: &[R::Request]) -> bool {
        self.stub.matchers.iter().all(|m| match m {
            Matcher::Each(p) => requests.iter().all(|r| p(r)),
            Matcher::All(p) => p(requests),
            Matcher::Header(h) => h.matches(metadata.as_ref()),
        })
    }
}

/// The mounted stubs of one RPC, in try order (internal to the stub table).
///
#[doc(hidden)]
pub struct Slot<R: StubSlot> {
    entries: Mutex<Vec<Arc<Entry<R>>>>,
}

impl<R: StubSlot> Default for Slot<R> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
        }
    }
}

impl<R: StubSlot> Slot<R> {
    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Entry<R>>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any stub is mounted for this RPC.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The first stub, in priority order, that matches and is not used up;
    /// its match is counted.
    pub(crate) fn select(
        &self,
        metadata: &MetadataMap,
        requests: &[R::Request],
    ) -> Option<Matched<R>> {
        let entries = self.lock();
        for entry in entries.iter() {
            let hits = entry.hits.load(Ordering::SeqCst);
            if entry.stub.limit.is_some_and(|limit| hits >= limit) {
                continue;
            }
            // A panicking matcher does not match (and does not take the server down).
            let matched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                entry.matches(metadata, requests)
            }))
            .unwrap_or(false);
            if !matched {
                continue;
            }
            // A used-up sequence no longer matches.
            let Some(answer) = entry.responder.take() else {
                continue;
            };
            entry.hits.fetch_add(1, Ordering::SeqCst);
            return Some(Matched {
                name: entry.describe(),
                delay: entry.stub.delay,
                answer,
            });
        }
        None
    }

    fn report(&self, out: &mut Vec<ExpectationReport>) {
        for entry in self.lock().iter() {
            if let Some(expected) = entry.stub.expected {
                let hits = entry.hits.load(Ordering::SeqCst);
                out.push(ExpectationReport {
                    stub: entry.describe(),
                    expected,
                    hits,
                    met: expected.contains(hits),
                });
            }
        }
    }
}

/// Connects an RPC marker to its slot in the stub table.
///
/// ```
/// use orders_testkit::{mock::stubs::StubSlot, rpc::WatchOrderStatus};
/// fn stubbable<R: StubSlot>(_: R) {}
/// stubbable(WatchOrderStatus);
/// ```
pub trait StubSlot: Rpc {
    /// What a stub of this RPC answers with: one reply per match, or a
    /// server stream.
    #[doc(hidden)]
    type Responder: Respond;
    #[doc(hidden)]
    fn slot(table: &StubTable) -> &Slot<Self>;
}

pub(crate) mod sealed {
    /// Only this crate's mocks take stubs.
    pub trait Sealed {}
}

/// What a stub can be mounted on: an [`OrderMock`](crate::OrderMock).
/// Sealed; it lets this module take stubs without knowing the mock.
pub trait MountTarget: sealed::Sealed {
    #[doc(hidden)]
    fn stub_table(&self) -> &StubTable;
}

/// Every stub mounted on one mock.
#[derive(Default)]
///
#[doc(hidden)]
pub struct StubTable {
    create: Slot<CreateOrder>,
    get: Slot<GetOrder>,
    watch: Slot<WatchOrderStatus>,
    submit: Slot<SubmitLineItems>,
    process: Slot<ProcessOrders>,
    mounted: AtomicU64,
}

impl fmt::Debug for StubTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StubTable")
            .field("mounted", &self.mounted.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

macro_rules! slot {
    ($rpc:ty, $field:ident, $responder:ty) => {
        impl StubSlot for $rpc {
            type Responder = $responder;
            fn slot(table: &StubTable) -> &Slot<Self> {
                &table.$field
            }
        }
    };
}
slot!(CreateOrder, create, Replies<CreateOrder>);
slot!(GetOrder, get, Replies<GetOrder>);
slot!(WatchOrderStatus, watch, Script<OrderStatusUpdate>);
slot!(SubmitLineItems, submit, Replies<SubmitLineItems>);
slot!(ProcessOrders, process, Replies<ProcessOrders>);

impl StubTable {
    pub(crate) fn slot<R: StubSlot>(&self) -> &Slot<R> {
        R::slot(self)
    }

    pub(super) fn mount<R: StubSlot>(&self, mut stub: Stub<R>) -> StubHandle {
        let order = self.mounted.fetch_add(1, Ordering::SeqCst);
        let Some(responder) = stub.responder.take() else {
            panic!(
                "a {} stub{} was mounted without a responder: give it one with \
                 .respond(..), .respond_with(..), .fail(..), .replies(..) or .stream(..) \
                 before .mount(..)",
                R::METHOD,
                stub.name
                    .as_deref()
                    .map(|n| format!(" named {n:?}"))
                    .unwrap_or_default()
            );
        };
        let hits = Arc::new(AtomicUsize::new(0));
        let entry = Arc::new(Entry {
            stub,
            responder,
            hits: Arc::clone(&hits),
            order,
        });
        let mut entries = R::slot(self).lock();
        entries.push(entry);
        // Highest priority (lowest number) first; newest first among equals.
        entries.sort_by(|a, b| {
            a.stub
                .priority
                .cmp(&b.stub.priority)
                .then(b.order.cmp(&a.order))
        });
        StubHandle { hits }
    }

    /// Every expectation, met or not.
    pub(crate) fn expectations(&self) -> Vec<ExpectationReport> {
        let mut out = Vec::new();
        self.create.report(&mut out);
        self.get.report(&mut out);
        self.watch.report(&mut out);
        self.submit.report(&mut out);
        self.process.report(&mut out);
        out
    }
}

/// One stub's expectation and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mock = orders_testkit::OrderMock::start().await;
/// use orders_testkit::Stub;
/// use orders_testkit::rpc::GetOrder;
/// Stub::on(GetOrder).fail(tonic::Status::unavailable("x")).expect(0).mount(&mock);
/// let report = &mock.verify().expectations[0];
/// assert!(report.met && report.hits == 0);
/// # }
/// ```
pub struct ExpectationReport {
    /// The stub, as reports name it.
    pub stub: String,
    /// What was expected.
    pub expected: Times,
    /// How many times it matched.
    pub hits: usize,
    /// Whether the expectation is met.
    pub met: bool,
}
