//! A fault sweep: the consumer's own test body, run again under every
//! fault of the contract's failure space at every call it makes, then
//! under generated schedules of several faults, shrunk to the smallest
//! that still breaks it. Each run gets a fresh mock; on tokio's paused
//! clock (`#[tokio::test(start_paused = true)]`) every delay and deadline
//! is virtual, so hundreds of runs take a moment.
//!
//! 1. A clean run (which must pass) learns the call sites: each RPC call
//!    the body makes, in order of arrival (`CreateOrder #1`).
//! 2. One run per site × fault: every status the contract allows on that
//!    RPC with its canonical details, a lost answer, a reset, a dropped
//!    connection, a deadline passing, a rate limit with `RetryInfo`, a slow
//!    first byte, streams cut or aborted, an action failed in band.
//! 3. Generated schedules of up to `max_faults` faults across sites, each
//!    failure shrunk (proptest's value trees) to the smallest schedule.
//!
//! A run fails when the body panics (an assertion), hangs past
//! [`Sweep::run_timeout`], or keeps its assertions but breaks a client rule
//! ([`conduct`](crate::conduct)). *Needs the `sweep` feature.*
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! use std::time::Duration;
//! use orders_testkit::prelude::*;
//! use orders_testkit::sweep::Sweep;
//!
//! let report = Sweep::new()
//!     .schedules(4)
//!     .run(|mock| async move {
//!         let mut req = tonic::Request::new(GetOrderRequest { order_id: "o-1".into() });
//!         req.set_timeout(Duration::from_secs(1));
//!         // The code under test: it must cope with whatever comes back.
//!         let _ = mock.client().get_order(req).await;
//!     })
//!     .await;
//! report.assert_survived();
//! assert!(report.cells.len() > 5);
//! # }
//! ```

mod report;
mod space;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

pub use report::{Cell, Shrunk, SweepReport, Verdict};
use space::{Candidate, candidates};

use crate::conduct::Conduct;
use crate::mock::{OrderMock, OrderMockBuilder};
use crate::rpc::Method;

/// One call the clean run made: the RPC and its place among that RPC's
/// calls, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Site {
    method: Method,
    nth: u64,
}

impl Site {
    fn name(&self) -> String {
        format!("{} #{}", self.method.name(), self.nth)
    }
}

type Builder = Arc<dyn Fn() -> OrderMockBuilder + Send + Sync>;

/// The sweep's settings (see the [module](self) docs). Defaults: seed 1,
/// 32 generated schedules of up to 2 faults, at most 2,000 runs and 120 s
/// of wall-clock time, 60 s per run (virtual on a paused clock), client
/// rules judged with their defaults.
#[derive(Clone)]
#[must_use = "a sweep does nothing until run"]
pub struct Sweep {
    builder: Builder,
    seed: u64,
    schedules: u32,
    max_faults: usize,
    max_runs: usize,
    max_time: Duration,
    run_timeout: Duration,
    conduct: Option<Conduct>,
    accepted: Vec<(String, String)>,
    progress: bool,
}

impl std::fmt::Debug for Sweep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sweep")
            .field("seed", &self.seed)
            .field("schedules", &self.schedules)
            .field("max_faults", &self.max_faults)
            .finish_non_exhaustive()
    }
}

impl Default for Sweep {
    fn default() -> Self {
        Self {
            builder: Arc::new(OrderMock::builder),
            seed: 1,
            schedules: 32,
            max_faults: 2,
            max_runs: 2_000,
            max_time: Duration::from_secs(120),
            run_timeout: Duration::from_secs(60),
            conduct: Some(Conduct::default()),
            accepted: Vec::new(),
            progress: false,
        }
    }
}

/// The text of a panic payload.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "the test body panicked".to_string(), |s| s.to_string()),
    }
}

impl Sweep {
    /// A sweep with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Each run's mock comes from this builder (tokens, a virtual clock,
    /// seeded orders through the body…).
    pub fn mock(mut self, builder: impl Fn() -> OrderMockBuilder + Send + Sync + 'static) -> Self {
        self.builder = Arc::new(builder);
        self
    }

    /// The seed of the generated schedules (reported with each failure).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How many schedules of several faults to generate (0: none).
    pub fn schedules(mut self, n: u32) -> Self {
        self.schedules = n;
        self
    }

    /// At most this many faults in a generated schedule.
    pub fn max_faults(mut self, n: usize) -> Self {
        self.max_faults = n.max(1);
        self
    }

    /// Stops after this many runs (reported as a budget hit).
    pub fn max_runs(mut self, n: usize) -> Self {
        self.max_runs = n.max(1);
        self
    }

    /// Stops after this much wall-clock time (reported as a budget hit).
    pub fn max_time(mut self, d: Duration) -> Self {
        self.max_time = d;
        self
    }

    /// A run still going after this long hung (virtual on a paused clock).
    pub fn run_timeout(mut self, d: Duration) -> Self {
        self.run_timeout = d;
        self
    }

    /// Judges the client's conduct with these rules after each run that
    /// passed.
    pub fn conduct(mut self, rules: Conduct) -> Self {
        self.conduct = Some(rules);
        self
    }

    /// Judges the body's assertions only, not the client's conduct.
    pub fn without_conduct(mut self) -> Self {
        self.conduct = None;
        self
    }

    /// Accepts this cell's failure (`site` as reported, `CreateOrder #1`;
    /// `fault` as reported): it is listed, and fails nothing.
    pub fn accept(mut self, site: &str, fault: &str) -> Self {
        self.accepted.push((site.into(), fault.into()));
        self
    }

    /// Prints a line on stderr every 50 runs.
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// One run of `body` on a fresh mock with `faults` at their sites:
    /// its verdict and the sites it called.
    async fn once<F, Fut>(&self, body: &F, faults: &[(Site, Candidate)]) -> (Verdict, Vec<Site>)
    where
        F: Fn(Arc<OrderMock>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mock = Arc::new((self.builder)().start().await);
        let mut flips = Vec::new();
        for (site, candidate) in faults {
            let fault = candidate.fault.clone().on_method(site.method);
            if candidate.not_serving {
                mock.inject(fault.after(site.nth - 1));
                // Health says so once the site's call arrives.
                let (mock, site) = (Arc::clone(&mock), *site);
                flips.push(tokio::spawn(async move {
                    let arrived = |c: &crate::journal::Call| c.method == Some(site.method);
                    let n = site.nth as usize;
                    if mock
                        .journal()
                        .await_where("the site's call", Duration::from_secs(86_400), arrived, n)
                        .await
                        .is_ok()
                    {
                        mock.set_serving(false);
                    }
                }));
            } else {
                mock.inject(fault.between(site.nth, site.nth));
            }
        }
        let mut task = tokio::spawn(body(Arc::clone(&mock)));
        let verdict = match tokio::time::timeout(self.run_timeout, &mut task).await {
            Err(_) => {
                task.abort();
                let open: Vec<String> = mock
                    .journal()
                    .calls()
                    .iter()
                    .filter(|c| c.ended.is_none())
                    .map(|c| c.to_string())
                    .collect();
                Verdict::Hung(format!(
                    "still running after {:?}; calls in flight: {}",
                    self.run_timeout,
                    if open.is_empty() {
                        "none".to_string()
                    } else {
                        open.join("; ")
                    }
                ))
            }
            Ok(Err(e)) if e.is_panic() => Verdict::Failed(panic_text(e.into_panic())),
            Ok(Err(e)) => Verdict::Failed(format!("the test body was cancelled: {e}")),
            Ok(Ok(())) => match &self.conduct {
                Some(rules) => {
                    let report = mock.conduct_with(rules);
                    if report.is_ok() {
                        Verdict::Survived
                    } else {
                        Verdict::ConductBroken(report.to_string())
                    }
                }
                None => Verdict::Survived,
            },
        };
        for flip in flips {
            flip.abort();
        }
        let mut seen: Vec<Site> = Vec::new();
        for call in mock.journal().calls() {
            if let Some(method) = call.method {
                let nth = seen.iter().filter(|s| s.method == method).count() as u64 + 1;
                seen.push(Site { method, nth });
            }
        }
        (verdict, seen)
    }

    /// Runs the sweep over `body`, the consumer's own test: it gets each
    /// run's mock and exercises the code under test against it, asserting
    /// as the test would.
    pub async fn run<F, Fut>(&self, body: F) -> SweepReport
    where
        F: Fn(Arc<OrderMock>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let started = std::time::Instant::now();
        let mut runs = 0usize;
        let (clean, sites) = self.once(&body, &[]).await;
        runs += 1;
        let mut report = SweepReport {
            clean: clean.clone(),
            sites: sites.iter().map(Site::name).collect(),
            cells: Vec::new(),
            schedules: Vec::new(),
            runs,
            budget_hit: false,
            seed: self.seed,
            elapsed: Duration::ZERO,
        };
        if clean.failed() {
            report.elapsed = started.elapsed();
            return report;
        }
        let mut budget_hit = false;
        let mut spent = |runs: usize| {
            let hit = runs >= self.max_runs || started.elapsed() >= self.max_time;
            budget_hit |= hit;
            hit
        };
        // Every site × every fault of its RPC.
        let pairs: Vec<(Site, Candidate)> = sites
            .iter()
            .flat_map(|site| candidates(site.method).into_iter().map(move |c| (*site, c)))
            .collect();
        for (site, candidate) in &pairs {
            if spent(runs) {
                break;
            }
            let (verdict, _) = self.once(&body, &[(*site, candidate.clone())]).await;
            runs += 1;
            if self.progress && runs.is_multiple_of(50) {
                eprintln!("sweep: {runs} runs");
            }
            let accepted = self
                .accepted
                .iter()
                .any(|(s, f)| *s == site.name() && *f == candidate.name);
            report.cells.push(Cell {
                site: site.name(),
                fault: candidate.name.clone(),
                verdict,
                accepted,
            });
        }
        // Schedules of several faults, each failure shrunk.
        if !pairs.is_empty() && self.schedules > 0 {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&self.seed.to_le_bytes());
            let mut runner = TestRunner::new_with_rng(
                Config::default(),
                TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
            );
            let strategy = proptest::collection::vec(0..pairs.len(), 2..=self.max_faults.max(2));
            let schedule = |picks: &[usize]| {
                let mut out: Vec<(Site, Candidate)> = Vec::new();
                for &i in picks {
                    let (site, candidate) = &pairs[i];
                    // One fault per site: the first picked.
                    if !out.iter().any(|(s, _)| s == site) {
                        out.push((*site, candidate.clone()));
                    }
                }
                out
            };
            'cases: for case in 0..self.schedules {
                let Ok(mut tree) = strategy.new_tree(&mut runner) else {
                    break;
                };
                if spent(runs) {
                    break;
                }
                let (verdict, _) = self.once(&body, &schedule(&tree.current())).await;
                runs += 1;
                if !verdict.failed() {
                    continue;
                }
                let mut smallest = (tree.current(), verdict);
                while tree.simplify() {
                    if spent(runs) {
                        break 'cases;
                    }
                    let (verdict, _) = self.once(&body, &schedule(&tree.current())).await;
                    runs += 1;
                    if verdict.failed() {
                        smallest = (tree.current(), verdict);
                    } else if !tree.complicate() {
                        break;
                    }
                }
                let named: Vec<(String, String)> = schedule(&smallest.0)
                    .iter()
                    .map(|(s, c)| (s.name(), c.name.clone()))
                    .collect();
                // A schedule whose faults are each a failing, unaccepted
                // cell adds nothing; nor does one found already.
                let known = named.iter().any(|(s, f)| {
                    report
                        .cells
                        .iter()
                        .any(|c| c.site == *s && c.fault == *f && c.verdict.failed() && !c.accepted)
                });
                let dup = report.schedules.iter().any(|s| s.schedule == named);
                if !known && !dup {
                    report.schedules.push(Shrunk {
                        schedule: named,
                        verdict: smallest.1,
                        seed: self.seed,
                        case,
                    });
                }
            }
        }
        report.runs = runs;
        report.budget_hit = budget_hit;
        report.elapsed = started.elapsed();
        report
    }
}
