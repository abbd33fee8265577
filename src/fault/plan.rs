//! A set of faults with a seed, shared by every clone, deciding per call.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::HeaderMap;
use tokio::time::Instant;
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};

use super::{Fault, FaultKind};

/// What the plan decided for one call.
#[derive(Debug, Clone)]
pub(crate) enum Decision {
    Respond(Status),
    Delay(Duration),
    DelayBetween {
        base: Duration,
        jitter: Duration,
        seed: u64,
    },
    Hang,
    Abort {
        after: usize,
        status: Status,
    },
    Reset,
    DropConnection,
    Wire(super::WireFault),
    LostAnswer {
        after: usize,
        then: super::Lost,
    },
    Cut {
        after: usize,
        status: Status,
        applied: bool,
    },
    FailAction {
        index: usize,
        reason: crate::service::model::FailureReason,
    },
}

#[derive(Debug)]
struct Active {
    id: u64,
    fault: Fault,
    selected: u64,
    admitted: VecDeque<Instant>,
}

#[derive(Debug, Default)]
struct State {
    seed: u64,
    faults: Vec<Active>,
    /// The last id given to a fault (ids start at 1 and are never reused).
    last_id: u64,
}

/// Faults and the seed their random choices come from. Clones share the
/// same faults and counters, so a plan given to a [`FaultLayer`](super::FaultLayer)
/// can still be changed from the test.
///
/// ```
/// use std::time::Duration;
/// use orders_testkit::fault::{Fault, FaultPlan};
/// use orders_testkit::rpc::GetOrder;
///
/// let plan = FaultPlan::seeded(7)
///     .with(Fault::delay(Duration::from_millis(20)).on(GetOrder).probability(0.5))
///     .with(Fault::fail(tonic::Status::unavailable("down")).every(10));
/// assert_eq!(plan.len(), 2);
/// assert_eq!(plan.seed(), 7);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    state: Arc<Mutex<State>>,
}

/// SplitMix64: a tiny, well-distributed mixing function; each random choice
/// is a pure function of (seed, fault, call number), so the same seed gives
/// the same faults on the same calls whatever the timing.
pub(crate) use crate::grpc::seed::mix;

/// A uniform draw in `[0, 1)` from a 64-bit value.
pub(crate) fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// `base` plus a uniform `0..=jitter` drawn from `x`.
pub(crate) fn jittered(base: Duration, jitter: Duration, x: u64) -> Duration {
    if jitter.is_zero() {
        return base;
    }
    let extra = (unit(x) * (jitter.as_nanos() as f64 + 1.0)) as u64;
    base + Duration::from_nanos(extra.min(jitter.as_nanos() as u64))
}

impl FaultPlan {
    /// An empty plan with seed 0.
    ///
    /// ```
    /// assert!(orders_testkit::fault::FaultPlan::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty plan whose random choices come from `seed`.
    ///
    /// ```
    /// assert_eq!(orders_testkit::fault::FaultPlan::seeded(9).seed(), 9);
    /// ```
    pub fn seeded(seed: u64) -> Self {
        let plan = Self::default();
        plan.lock().seed = seed;
        plan
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a fault (builder style).
    ///
    /// ```
    /// use orders_testkit::fault::{Fault, FaultPlan};
    /// let plan = FaultPlan::new().with(Fault::hang().first(1));
    /// assert_eq!(plan.len(), 1);
    /// ```
    pub fn with(self, fault: Fault) -> Self {
        self.add(fault);
        self
    }

    /// Adds a fault to this plan and every clone of it; its id, for
    /// [`remove`](Self::remove). When several faults fire on one call, the
    /// one added first wins.
    ///
    /// ```
    /// use orders_testkit::fault::{Fault, FaultPlan};
    /// let plan = FaultPlan::new();
    /// let shared = plan.clone();
    /// let id = shared.add(Fault::reset());
    /// assert_eq!((id, plan.len()), (1, 1));
    /// ```
    pub fn add(&self, fault: Fault) -> u64 {
        let mut state = self.lock();
        state.last_id += 1;
        let id = state.last_id;
        state.faults.push(Active {
            id,
            fault,
            selected: 0,
            admitted: VecDeque::new(),
        });
        id
    }

    /// Removes the fault with this id; whether there was one.
    ///
    /// ```
    /// use orders_testkit::fault::{Fault, FaultPlan};
    /// let plan = FaultPlan::new();
    /// let reset = plan.add(Fault::reset());
    /// let hang = plan.add(Fault::hang());
    /// assert!(plan.remove(reset));
    /// assert!(!plan.remove(reset));
    /// assert_eq!(plan.entries()[0].0, hang);
    /// ```
    pub fn remove(&self, id: u64) -> bool {
        let mut state = self.lock();
        let before = state.faults.len();
        state.faults.retain(|a| a.id != id);
        state.faults.len() != before
    }

    /// The faults with their ids, in the order they are tried.
    ///
    /// ```
    /// use orders_testkit::fault::{Fault, FaultPlan};
    /// let plan = FaultPlan::new().with(Fault::hang().first(1));
    /// assert_eq!(plan.entries()[0].0, 1);
    /// ```
    pub fn entries(&self) -> Vec<(u64, Fault)> {
        self.lock()
            .faults
            .iter()
            .map(|a| (a.id, a.fault.clone()))
            .collect()
    }

    /// Removes every fault (counters included).
    ///
    /// ```
    /// use orders_testkit::fault::{Fault, FaultPlan};
    /// let plan = FaultPlan::new().with(Fault::reset());
    /// plan.clear();
    /// assert!(plan.is_empty());
    /// ```
    pub fn clear(&self) {
        self.lock().faults.clear();
    }

    /// The faults, in the order they are tried.
    ///
    /// ```
    /// use orders_testkit::fault::{Fault, FaultPlan};
    /// let plan = FaultPlan::new().with(Fault::hang().first(1));
    /// for fault in plan.faults() {
    ///     println!("{fault:?}");
    /// }
    /// ```
    pub fn faults(&self) -> Vec<Fault> {
        self.lock().faults.iter().map(|a| a.fault.clone()).collect()
    }

    /// The seed.
    ///
    /// ```
    /// assert_eq!(orders_testkit::fault::FaultPlan::seeded(3).seed(), 3);
    /// ```
    pub fn seed(&self) -> u64 {
        self.lock().seed
    }

    /// How many faults the plan holds.
    ///
    /// ```
    /// assert_eq!(orders_testkit::fault::FaultPlan::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.lock().faults.len()
    }

    /// Whether the plan holds no fault.
    ///
    /// ```
    /// assert!(orders_testkit::fault::FaultPlan::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decides what happens to one call (`None`: no fault, it passes),
    /// counting it for every fault whose filters it passes.
    pub(crate) fn decide(&self, path: &str, headers: &HeaderMap) -> Option<Decision> {
        let mut state = self.lock();
        let seed = state.seed;
        let mut decision = None;
        for (index, active) in state.faults.iter_mut().enumerate() {
            let f = &active.fault;
            if !f.paths.is_empty() && !f.paths.iter().any(|p| p == path) {
                continue;
            }
            // An action failed in band exists on ProcessOrders only.
            if matches!(f.kind, FaultKind::FailAction { .. })
                && path != crate::rpc::Method::ProcessOrders.path()
            {
                continue;
            }
            if !f.headers.iter().all(|h| h.matches(headers)) {
                continue;
            }
            active.selected += 1;
            let n = active.selected;
            let draw = mix(seed ^ ((index as u64) << 40) ^ n);
            let fires = f.schedule.includes(n) && f.probability.is_none_or(|p| unit(draw) < p);
            if !fires || decision.is_some() {
                continue;
            }
            decision = match &f.kind {
                FaultKind::Status(status) => Some(Decision::Respond(status.clone())),
                FaultKind::Delay { base, jitter } => {
                    Some(Decision::Delay(jittered(*base, *jitter, mix(draw))))
                }
                FaultKind::DelayBetween { base, jitter } => Some(Decision::DelayBetween {
                    base: *base,
                    jitter: *jitter,
                    seed: mix(draw),
                }),
                FaultKind::Hang => Some(Decision::Hang),
                FaultKind::Abort { after, status } => Some(Decision::Abort {
                    after: *after,
                    status: status.clone(),
                }),
                FaultKind::Reset => Some(Decision::Reset),
                FaultKind::LostAnswer { after, then } => Some(Decision::LostAnswer {
                    after: *after,
                    then: then.clone(),
                }),
                FaultKind::CutRequests {
                    after,
                    status,
                    applied,
                } => Some(Decision::Cut {
                    after: *after,
                    status: status.clone(),
                    applied: *applied,
                }),
                FaultKind::FailAction { index, reason } => Some(Decision::FailAction {
                    index: *index,
                    reason: *reason,
                }),
                FaultKind::DropConnection => Some(Decision::DropConnection),
                FaultKind::Wire(w) => Some(Decision::Wire(w.clone())),
                FaultKind::RateLimit { limit, window } => {
                    let now = Instant::now();
                    while active
                        .admitted
                        .front()
                        .is_some_and(|t| now.duration_since(*t) >= *window)
                    {
                        active.admitted.pop_front();
                    }
                    if active.admitted.len() < *limit {
                        active.admitted.push_back(now);
                        None
                    } else {
                        let retry = active
                            .admitted
                            .front()
                            .map_or(*window, |t| window.saturating_sub(now.duration_since(*t)));
                        Some(Decision::Respond(Status::with_error_details(
                            tonic::Code::ResourceExhausted,
                            format!(
                                "rate limit exceeded: at most {limit} calls per {} ms",
                                window.as_millis()
                            ),
                            ErrorDetails::with_retry_info(Some(retry)),
                        )))
                    }
                }
            };
        }
        decision
    }
}
