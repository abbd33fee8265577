//! The stubs mounted on one mock: per-RPC slots in try order, matching,
//! hit counting, and the expectation report.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tonic::metadata::MetadataMap;

use super::responders::{Replies, Respond, Script};
use super::{Stub, StubHandle};
use crate::journal::Call;
use crate::mock::drift::{self, Drift};
use crate::mock::matching::Mismatch;
use crate::mock::notes::{Answerer, CallNotes as _, NearMiss};
use crate::mock::times::Times;
use crate::pb::OrderStatusUpdate;
use crate::rpc::{
    CreateOrder, GetOrder, Method, ProcessOrders, Rpc, SubmitLineItems, WatchOrderStatus,
};

pub(crate) struct Entry<R: StubSlot> {
    stub: Stub<R>,
    /// Taken out of the stub at mount, where a stub without one is refused.
    responder: R::Responder,
    hits: Arc<AtomicUsize>,
    order: u64,
    /// The line of the test that mounted it.
    mounted_at: &'static Location<'static>,
    /// The rules its answers broke (the first few).
    drifts: Arc<Mutex<Vec<Drift>>>,
    /// The stub as JSON, when it was given so (a scenario, the admin API).
    definition: std::sync::OnceLock<Arc<str>>,
}

/// How many broken rules a stub keeps for its report.
const DRIFTS_KEPT: usize = 8;

/// A matched stub: its name, its delay and the answer it took.
pub(crate) struct Matched<R: StubSlot> {
    /// The stub, as reports name it.
    pub(crate) name: String,
    /// Where its answers' broken rules go; `None` for an off-contract stub.
    drifts: Option<Arc<Mutex<Vec<Drift>>>>,
    /// How long to wait before answering.
    pub(crate) delay: Option<Duration>,
    /// What the responder gave for this match.
    pub(crate) answer: <R::Responder as Respond>::Answer,
}

/// Keeps the first few broken rules of a stub (none for an off-contract one).
fn note(drifts: &Option<Arc<Mutex<Vec<Drift>>>>, found: Vec<Drift>) {
    let Some(drifts) = drifts else { return };
    let mut drifts = drifts.lock().unwrap_or_else(|p| p.into_inner());
    for drift in found {
        if drifts.len() < DRIFTS_KEPT && !drifts.contains(&drift) {
            drifts.push(drift);
        }
    }
}

impl<R: StubSlot<Responder = Replies<R>>> Matched<R> {
    /// The stub's reply to `requests`, checked against the contract as it
    /// is sent.
    pub(crate) fn reply(self, requests: &[R::Request]) -> Result<R::Response, tonic::Status> {
        let reply = self.answer.to(requests);
        if self.drifts.is_some() {
            let found = match &reply {
                Err(status) => drift::of_status(status),
                Ok(message) => R::METHOD
                    .decode_response(&prost::Message::encode_to_vec(message))
                    .map(|m| drift::of_message(&m))
                    .unwrap_or_default(),
            };
            note(&self.drifts, found);
        }
        reply
    }
}

impl Matched<WatchOrderStatus> {
    /// The stub's watch answer, checked against the contract.
    pub(crate) fn script(self) -> Script<OrderStatusUpdate> {
        if self.drifts.is_some() {
            note(
                &self.drifts,
                match &self.answer {
                    Script::Refuse(status) => drift::of_status(status),
                    Script::Stream { items, end, .. } => drift::of_watch(items, end.as_ref()),
                },
            );
        }
        self.answer
    }
}

/// The calls an unmet expectation lists: the closest few.
const NEAR_CALLS: usize = 3;

impl<R: StubSlot> Entry<R> {
    /// The calls to this RPC the stub did not answer, closest first, with
    /// how each differs from the stub (per action for ProcessOrders: the
    /// closest action).
    fn near_calls(&self, calls: &[Call]) -> Vec<NearCall> {
        let name = self.describe();
        let mut near: Vec<NearCall> = calls
            .iter()
            .filter(|c| c.method == Some(R::METHOD))
            .filter(|c| !c.answered_by().contains(&Answerer::Stub(name.clone())))
            .map(|c| {
                let requests: Vec<R::Request> =
                    c.requests.iter().filter_map(R::request).cloned().collect();
                let per_message = R::METHOD == Method::ProcessOrders;
                let mut differences = if per_message {
                    requests
                        .chunks(1)
                        .map(|one| self.mismatches(&c.metadata, one))
                        .min_by_key(Vec::len)
                        .unwrap_or_default()
                } else {
                    self.mismatches(&c.metadata, &requests)
                };
                if differences.is_empty() {
                    let by: Vec<String> = c.answered_by().iter().map(ToString::to_string).collect();
                    differences.push(Mismatch::new(
                        "(stub)",
                        "this stub to answer",
                        if by.is_empty() {
                            "answered before the stubs (a fault, auth or fail-fast)".to_string()
                        } else {
                            format!("answered by {}", by.join(", "))
                        },
                    ));
                }
                NearCall {
                    call: c.seq,
                    differences,
                }
            })
            .collect();
        near.sort_by_key(|n| n.differences.len());
        near.truncate(NEAR_CALLS);
        near
    }

    fn describe(&self) -> String {
        match &self.stub.name {
            Some(name) => format!("{} {name:?}", R::METHOD),
            None => format!("{} stub #{}", R::METHOD, self.order),
        }
    }

    /// How a call differs from this stub's conditions; empty: it matches.
    pub(crate) fn mismatches(
        &self,
        metadata: &MetadataMap,
        requests: &[R::Request],
    ) -> Vec<Mismatch> {
        self.stub
            .matchers
            .iter()
            .flat_map(|m| m.mismatches(metadata, requests))
            .collect()
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

    /// The first stub, in priority order, that matches and is not used up
    /// (its match counted); else the closest one and how the call differs
    /// from it (fewest differences; the first tried among equals), when
    /// any stub is mounted.
    pub(crate) fn select(
        &self,
        metadata: &MetadataMap,
        requests: &[R::Request],
    ) -> Result<Matched<R>, Option<NearMiss>> {
        let entries = self.lock();
        let mut closest: Option<NearMiss> = None;
        for entry in entries.iter() {
            let mut differences = entry.mismatches(metadata, requests);
            let hits = entry.hits.load(Ordering::SeqCst);
            let used_up = entry.stub.limit.is_some_and(|limit| hits >= limit);
            if differences.is_empty() && !used_up {
                // A used-up sequence no longer matches.
                if let Some(answer) = entry.responder.take() {
                    entry.hits.fetch_add(1, Ordering::SeqCst);
                    return Ok(Matched {
                        name: entry.describe(),
                        drifts: (!entry.stub.off_contract).then(|| Arc::clone(&entry.drifts)),
                        delay: entry.stub.delay,
                        answer,
                    });
                }
            }
            if differences.is_empty() {
                differences.push(Mismatch::new(
                    "(stub)",
                    "an answer left",
                    format!("used up after {hits} matches"),
                ));
            }
            if closest
                .as_ref()
                .is_none_or(|c| differences.len() < c.differences.len())
            {
                closest = Some(NearMiss {
                    stub: entry.describe(),
                    differences,
                });
            }
        }
        Err(closest)
    }

    fn list(&self, out: &mut Vec<StubInfo>) {
        out.extend(self.lock().iter().map(|entry| StubInfo {
            id: entry.order,
            method: R::METHOD,
            name: entry.describe(),
            hits: entry.hits.load(Ordering::SeqCst),
            priority: entry.stub.priority,
            expected: entry.stub.expected,
            definition: entry.definition.get().map(|d| d.to_string()),
        }));
    }

    #[cfg_attr(not(feature = "scenario"), allow(dead_code))]
    fn define(&self, id: u64, definition: &Arc<str>) -> bool {
        let entries = self.lock();
        let entry = entries.iter().find(|e| e.order == id);
        entry
            .map(|e| e.definition.set(Arc::clone(definition)))
            .is_some()
    }

    fn remove(&self, id: u64) -> bool {
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|e| e.order != id);
        before != entries.len()
    }

    fn clear(&self) -> usize {
        std::mem::take(&mut *self.lock()).len()
    }

    fn drifts(&self, out: &mut Vec<(u64, DriftReport)>) {
        for entry in self.lock().iter() {
            let drifts = entry.drifts.lock().unwrap_or_else(|p| p.into_inner());
            out.extend(drifts.iter().map(|d| {
                let report = DriftReport {
                    stub: entry.describe(),
                    drift: d.clone(),
                };
                (entry.order, report)
            }));
        }
    }

    fn report(&self, calls: &[Call], out: &mut Vec<(u64, ExpectationReport)>) {
        for entry in self.lock().iter() {
            if let Some(expected) = entry.stub.expected {
                let hits = entry.hits.load(Ordering::SeqCst);
                let met = expected.contains(hits);
                out.push((
                    entry.order,
                    ExpectationReport {
                        stub: entry.describe(),
                        mounted_at: entry.mounted_at,
                        expected,
                        hits,
                        met,
                        near_calls: if met {
                            Vec::new()
                        } else {
                            entry.near_calls(calls)
                        },
                    },
                ));
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

impl sealed::Sealed for StubTable {}

/// A mock's table takes stubs directly (for the parts of the crate that
/// hold the table, not the mock: scenarios, the admin service).
impl MountTarget for StubTable {
    fn stub_table(&self) -> &StubTable {
        self
    }
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

    #[track_caller]
    pub(super) fn mount<R: StubSlot>(&self, mut stub: Stub<R>) -> StubHandle {
        let mounted_at = Location::caller();
        // Ids from 1: a 0 would vanish from JSON renderings of the admin
        // API's answers (proto3 leaves default values out).
        let order = self.mounted.fetch_add(1, Ordering::SeqCst) + 1;
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
            mounted_at,
            drifts: Arc::default(),
            definition: Default::default(),
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
        StubHandle { id: order, hits }
    }

    /// Every mounted stub, RPC by RPC, each in try order.
    pub(crate) fn list(&self) -> Vec<StubInfo> {
        let mut out = Vec::new();
        self.create.list(&mut out);
        self.get.list(&mut out);
        self.watch.list(&mut out);
        self.submit.list(&mut out);
        self.process.list(&mut out);
        out
    }

    /// Attaches the JSON a stub was given as (shown by `list`).
    #[cfg_attr(not(feature = "scenario"), allow(dead_code))]
    pub(crate) fn define(&self, id: u64, definition: &Arc<str>) {
        let _ = self.create.define(id, definition)
            || self.get.define(id, definition)
            || self.watch.define(id, definition)
            || self.submit.define(id, definition)
            || self.process.define(id, definition);
    }

    /// Unmounts the stub with this id; whether there was one.
    pub(crate) fn remove(&self, id: u64) -> bool {
        self.create.remove(id)
            || self.get.remove(id)
            || self.watch.remove(id)
            || self.submit.remove(id)
            || self.process.remove(id)
    }

    /// Unmounts every stub; how many there were.
    pub(crate) fn clear(&self) -> usize {
        self.create.clear()
            + self.get.clear()
            + self.watch.clear()
            + self.submit.clear()
            + self.process.clear()
    }

    /// Every expectation, met or not.
    /// Every rule a stub's answers broke.
    pub(crate) fn drifts(&self) -> Vec<DriftReport> {
        let mut out = Vec::new();
        self.create.drifts(&mut out);
        self.get.drifts(&mut out);
        self.watch.drifts(&mut out);
        self.submit.drifts(&mut out);
        self.process.drifts(&mut out);
        in_mount_order(out)
    }

    /// Every expectation, met or not; an unmet one with the `calls` that
    /// came closest.
    pub(crate) fn expectations(&self, calls: &[Call]) -> Vec<ExpectationReport> {
        let mut out = Vec::new();
        self.create.report(calls, &mut out);
        self.get.report(calls, &mut out);
        self.watch.report(calls, &mut out);
        self.submit.report(calls, &mut out);
        self.process.report(calls, &mut out);
        in_mount_order(out)
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
#[non_exhaustive]
pub struct ExpectationReport {
    /// The stub, as reports name it.
    pub stub: String,
    /// Where the test mounted it (file, line, column).
    pub mounted_at: &'static Location<'static>,
    /// What was expected.
    pub expected: Times,
    /// How many times it matched.
    pub hits: usize,
    /// Whether the expectation is met.
    pub met: bool,
    /// When it is not: the calls to its RPC it did not answer, closest
    /// first (at most three), and how each differs from the stub.
    pub near_calls: Vec<NearCall>,
}

/// A mounted stub as [`OrderMock::stubs`](crate::OrderMock::stubs) lists it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let mock = orders_testkit::OrderMock::start().await;
/// use orders_testkit::prelude::*;
/// Stub::on(GetOrder).named("down").fail(tonic::Status::unavailable("down")).mount(&mock);
/// let _ = mock.client().get_order(GetOrderRequest::default()).await;
/// let listed = &mock.stubs()[0];
/// println!("#{} {} matched {} time(s)", listed.id, listed.name, listed.hits);
/// # assert_eq!(listed.hits, 1);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StubInfo {
    /// Its id, as [`StubHandle::id`] gives it (for
    /// [`OrderMock::remove_stub`](crate::OrderMock::remove_stub)).
    pub id: u64,
    /// The RPC it answers.
    pub method: Method,
    /// The stub, as reports name it (`GetOrder "down"`, or `GetOrder stub #3`).
    pub name: String,
    /// How many times it matched so far.
    pub hits: usize,
    /// Its priority (1 is tried first).
    pub priority: u8,
    /// How many matches it expects, if it states that.
    pub expected: Option<Times>,
    /// The stub as JSON, when it was given so (a scenario's or the admin
    /// API's): its statuses written out whole, canonical details included.
    pub definition: Option<String>,
}

/// Reports in the order their stubs were mounted (the stable sort keeps a
/// stub's own reports in the order found).
fn in_mount_order<T>(mut reports: Vec<(u64, T)>) -> Vec<T> {
    reports.sort_by_key(|(order, _)| *order);
    reports.into_iter().map(|(_, report)| report).collect()
}

/// A rule of the contract a stub's answer broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftReport {
    /// The stub, as reports name it.
    pub stub: String,
    /// The rule, what is wrong, and the answer.
    pub drift: Drift,
}

impl DriftReport {
    /// How to mend the answer: what builds a conforming one, or the way to
    /// break the rule on purpose.
    ///
    /// ```
    /// use orders_testkit::mock::drift::Drift;
    /// use orders_testkit::mock::stubs::DriftReport;
    /// let report = DriftReport {
    ///     stub: "GetOrder stub #1".into(),
    ///     drift: Drift { rule: "E-3", problem: "NOT_FOUND without a ResourceInfo".into(), answer: String::new() },
    /// };
    /// assert!(report.fix().contains("service::status::not_found"));
    /// ```
    pub fn fix(&self) -> &'static str {
        match self.drift.rule {
            "E-1" => {
                "answer a code of the contract's table with a message (orders_testkit::service::status builds each one), or mark the stub .off_contract()"
            }
            "E-2" => {
                "build the status with orders_testkit::service::status::invalid_argument(&[violation]) (a BadRequest naming the field; in JSON give \"field\"), or mark the stub .off_contract()"
            }
            "E-3" => {
                "build the status with orders_testkit::service::status::not_found(order_id) (in JSON leave details out, or give \"resource\"), or mark the stub .off_contract()"
            }
            "E-4" => {
                "build the status with orders_testkit::service::status::already_exists(order_id) (in JSON leave details out, or give \"resource\"), or mark the stub .off_contract()"
            }
            "E-5" => {
                "build details with tonic_types::StatusExt::with_error_details, which repeats the code and message, or mark the stub .off_contract()"
            }
            "E-6" => {
                "give INTERNAL and UNKNOWN a message without internals, or mark the stub .off_contract()"
            }
            "C-2" => {
                "answer an order_id of 1 to 128 bytes of [A-Za-z0-9._~-], or mark the stub .off_contract()"
            }
            "G-3" => "set the Order's status (not UNSPECIFIED), or mark the stub .off_contract()",
            "W-2" | "W-3" | "W-4" => {
                "stream the current status first (previous_status UNSPECIFIED), set each previous_status to the status before, and nothing after DELIVERED or CANCELLED; or mark the stub .off_contract()"
            }
            "P-3" | "P-4" => {
                "a success sets status and leaves error empty; a failure sets error to \"REASON: words\" (INVALID_ARGUMENT, NOT_FOUND or FAILED_PRECONDITION); or mark the stub .off_contract()"
            }
            _ => "see the rule in CONTRACT.md, or mark the stub .off_contract()",
        }
    }
}

impl fmt::Display for DriftReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answered off contract: {} {} (CONTRACT.md#{}): {}",
            self.stub,
            self.drift.rule,
            self.drift.problem,
            self.drift.rule.to_ascii_lowercase(),
            self.drift.answer
        )
    }
}

/// A call that came near a stub with an unmet expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearCall {
    /// The call's position in the journal.
    pub call: u64,
    /// How it differs from the stub.
    pub differences: Vec<Mismatch>,
}

impl fmt::Display for NearCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call #{}: ", self.call)?;
        for (i, d) in self.differences.iter().enumerate() {
            write!(f, "{}{d}", if i == 0 { "" } else { "; " })?;
        }
        Ok(())
    }
}
