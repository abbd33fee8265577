//! A verdict on the client's conduct, read from the journal: the client
//! rules of CONTRACT.md (`CL-1` …), each with the calls that broke it and
//! when. [`OrderMock::conduct`](crate::OrderMock::conduct) judges a mock's
//! journal; [`Conduct::judge`] any list of calls.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use orders_testkit::prelude::*;
//!
//! let mock = OrderMock::start().await;
//! let mut req = tonic::Request::new(GetOrderRequest { order_id: "o-1".into() });
//! req.set_timeout(Duration::from_secs(1));
//! let _ = mock.client().get_order(req).await;
//! mock.journal().wait_for_ended(1).await;
//! mock.conduct().assert_ok();
//! // A call without a deadline breaks CL-5.
//! let _ = mock.client().get_order(GetOrderRequest { order_id: "o-2".into() }).await;
//! mock.journal().wait_for_ended(2).await;
//! assert_eq!(mock.conduct().broken(), ["CL-5"]);
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;
use tonic::Code;

use crate::journal::{Call, Outcome};
use crate::rpc::Method;

/// The client rules, their ids and statements (CONTRACT.md, "Client rules").
pub const RULES: &[(&str, &str)] = &[
    (
        "CL-1",
        "Retries only on codes the contract calls retryable (UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED, a deadline passed).",
    ),
    (
        "CL-2",
        "A retried CreateOrder carries the idempotency-key of the attempt it repeats.",
    ),
    (
        "CL-3",
        "A retry waits at least the RetryInfo delay or grpc-retry-pushback-ms of the failure it answers.",
    ),
    (
        "CL-4",
        "Attempts are bounded and backed off: at most max_attempts in a row, each wait no shorter than the one before.",
    ),
    ("CL-5", "Every call carries a deadline."),
    (
        "CL-6",
        "A propagated deadline is never longer than the one the code was given.",
    ),
    (
        "CL-7",
        "Streams are ended: a stream left is cancelled, a client stream half-closed, never abandoned.",
    ),
    (
        "CL-8",
        "No OrderService calls once health said NOT_SERVING, until it serves again.",
    ),
];

/// One breach of a client rule.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Breach {
    /// The rule id (`CL-1` …).
    pub rule: &'static str,
    /// The journal's ids (`seq`) of the calls involved, in order.
    pub calls: Vec<u64>,
    /// When each started, from the first call of the journal.
    pub at: Vec<Duration>,
    /// What happened, in words.
    pub what: String,
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let calls: Vec<String> = self
            .calls
            .iter()
            .zip(&self.at)
            .map(|(seq, at)| format!("#{seq} at +{}ms", at.as_millis()))
            .collect();
        let statement = RULES
            .iter()
            .find(|(id, _)| *id == self.rule)
            .map_or("", |(_, s)| s);
        write!(
            f,
            "{} {}\n  calls: {}\n  {}",
            self.rule,
            statement,
            calls.join(", "),
            self.what
        )
    }
}

/// The client rules' settings. Defaults: at most 5 attempts in a row, a
/// stream idle 1 s without an end counts as abandoned.
///
/// ```
/// use std::time::Duration;
/// use orders_testkit::conduct::Conduct;
/// let strict = Conduct::default().max_attempts(3).abandoned_after(Duration::from_millis(200));
/// # let _ = strict;
/// ```
#[derive(Debug, Clone)]
pub struct Conduct {
    max_attempts: usize,
    abandoned_after: Duration,
    /// Slack for deadlines measured on two clocks (CL-6) and encoded in
    /// whole milliseconds.
    slack: Duration,
}

impl Default for Conduct {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            abandoned_after: Duration::from_secs(1),
            slack: Duration::from_millis(5),
        }
    }
}

/// What the client was told about the service's health: from when, and
/// whether it was serving.
pub type ServingLog = [(Instant, bool)];

/// The verdict: every breach, by rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "a report fails nothing until asserted"]
pub struct ConductReport {
    /// Every breach, in rule order.
    pub breaches: Vec<Breach>,
    /// How many calls were judged.
    pub calls: usize,
}

impl ConductReport {
    /// The ids of the rules broken, each once, in order.
    pub fn broken(&self) -> Vec<&'static str> {
        let mut ids: Vec<_> = self.breaches.iter().map(|b| b.rule).collect();
        ids.dedup();
        ids
    }

    /// Whether no rule was broken.
    pub fn is_ok(&self) -> bool {
        self.breaches.is_empty()
    }

    /// Fails the test with every breach (rule id, calls, timings) unless
    /// the client kept every rule.
    #[track_caller]
    pub fn assert_ok(&self) {
        assert!(self.is_ok(), "the client broke its rules:\n{self}");
    }
}

impl fmt::Display for ConductReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.breaches.is_empty() {
            return writeln!(f, "every client rule kept ({} calls)", self.calls);
        }
        for b in &self.breaches {
            writeln!(f, "{b}")?;
        }
        Ok(())
    }
}

/// Whether a failure may be retried (CL-1).
fn retryable(call: &Call) -> bool {
    match call.outcome.code() {
        Some(Code::Unavailable | Code::ResourceExhausted | Code::Aborted) => true,
        Some(Code::DeadlineExceeded) => true,
        // The client's own timer: a deadline passed.
        _ => call.outcome == Outcome::Cancelled && call.deadline.is_some(),
    }
}

fn failed(call: &Call) -> bool {
    !matches!(call.outcome.code(), Some(Code::Ok)) && call.outcome != Outcome::InFlight
}

/// The delay a failure asked for: its RetryInfo, or
/// `grpc-retry-pushback-ms`.
fn asked_delay(call: &Call) -> Option<Duration> {
    use tonic_types::StatusExt;
    let status = call.outcome.status()?;
    if let Some(ms) = status
        .metadata()
        .get("grpc-retry-pushback-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        return Some(Duration::from_millis(ms));
    }
    status.get_details_retry_info().and_then(|r| r.retry_delay)
}

impl Conduct {
    /// At most this many attempts of one request in a row (CL-4).
    pub fn max_attempts(mut self, n: usize) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// A stream idle this long with neither a half-close nor a
    /// cancellation is abandoned (CL-7).
    pub fn abandoned_after(mut self, idle: Duration) -> Self {
        self.abandoned_after = idle;
        self
    }

    /// Judges `calls` (a journal's, in arrival order); `serving` says when
    /// the service reported NOT_SERVING (CL-8).
    pub fn judge(&self, calls: &[Call], serving: &ServingLog) -> ConductReport {
        let t0 = calls.first().map(|c| c.started);
        let at = |c: &Call| t0.map_or(Duration::ZERO, |t0| c.started - t0);
        let mut breaches = Vec::new();
        let mut breach = |rule, involved: &[&Call], what: String| {
            breaches.push(Breach {
                rule,
                calls: involved.iter().map(|c| c.seq).collect(),
                at: involved.iter().map(|c| at(c)).collect(),
                what,
            });
        };
        let orders: Vec<&Call> = calls.iter().filter(|c| c.method.is_some()).collect();
        // Attempts of one request: the same RPC with the same messages.
        let mut chains: BTreeMap<(Method, String), Vec<&Call>> = BTreeMap::new();
        for call in &orders {
            if let Some(method) = call.method {
                let key = format!("{:?}", call.requests);
                chains.entry((method, key)).or_default().push(call);
            }
        }
        for chain in chains.values() {
            // Runs of attempts: each after a failure of the one before.
            let mut run: Vec<&Call> = Vec::new();
            let mut gaps: Vec<Duration> = Vec::new();
            for call in chain {
                let Some(prev) = run.last().copied() else {
                    run.push(call);
                    continue;
                };
                if !failed(prev) {
                    run = vec![call];
                    gaps.clear();
                    continue;
                }
                let gap = prev.ended.map_or(Duration::ZERO, |e| {
                    call.started.saturating_duration_since(e)
                });
                if !retryable(prev) {
                    breach(
                        "CL-1",
                        &[prev, call],
                        format!(
                            "retried after {:?}, which is not retryable",
                            prev.outcome.code()
                        ),
                    );
                }
                if call.method == Some(Method::CreateOrder) && retryable(prev) {
                    let (a, b) = (
                        prev.header("idempotency-key"),
                        call.header("idempotency-key"),
                    );
                    if a.is_none() || a != b {
                        breach(
                            "CL-2",
                            &[prev, call],
                            format!("idempotency-key {a:?} then {b:?}"),
                        );
                    }
                }
                if let Some(asked) = asked_delay(prev)
                    && gap < asked
                {
                    breach(
                        "CL-3",
                        &[prev, call],
                        format!("waited {gap:?}, the failure asked for {asked:?}"),
                    );
                }
                if let Some(last) = gaps.last()
                    && gap < *last
                {
                    breach(
                        "CL-4",
                        &[prev, call],
                        format!("waited {gap:?} after waiting {last:?}: not backed off"),
                    );
                }
                gaps.push(gap);
                run.push(call);
                if run.len() == self.max_attempts + 1 {
                    breach(
                        "CL-4",
                        &run,
                        format!(
                            "{} attempts in a row, at most {}",
                            run.len(),
                            self.max_attempts
                        ),
                    );
                }
            }
        }
        for call in &orders {
            if call.deadline.is_none() {
                breach("CL-5", &[call], "no grpc-timeout".into());
            }
        }
        for call in &orders {
            if let (Some(sent), Some(given)) = (call.deadline, call.given_deadline)
                && sent > given + self.slack
            {
                breach(
                    "CL-6",
                    &[call],
                    format!("sent a deadline of {sent:?}, was given {given:?}"),
                );
            }
        }
        for call in &orders {
            let streams = matches!(
                call.method,
                Some(Method::SubmitLineItems | Method::ProcessOrders | Method::WatchOrderStatus)
            );
            if let Some(quiet) = call.abandoned(self.abandoned_after)
                && streams
            {
                breach(
                    "CL-7",
                    &[call],
                    format!(
                        "neither half-closed nor cancelled, quiet since +{}ms",
                        t0.map_or(0, |t0| (quiet - t0).as_millis())
                    ),
                );
            }
        }
        // CL-8: once a health call made while NOT_SERVING told the client,
        // no OrderService call until the service serves again.
        let down_at = |t: Instant| {
            serving
                .iter()
                .rev()
                .find(|(when, _)| *when <= t)
                .is_some_and(|(_, serving)| !serving)
        };
        let health =
            |c: &&Call| c.method.is_none() && c.path.starts_with("/grpc.health.v1.Health/");
        for call in &orders {
            let told = calls.iter().filter(health).find(|h| {
                h.started <= call.started
                    && down_at(h.started)
                    && serving
                        .iter()
                        .all(|(when, up)| !*up || *when <= h.started || *when > call.started)
            });
            if let Some(told) = told
                && down_at(call.started)
            {
                breach(
                    "CL-8",
                    &[told, call],
                    "called after health said NOT_SERVING, before it served again".into(),
                );
            }
        }
        breaches.sort_by_key(|b| (b.rule, b.calls.first().copied()));
        ConductReport {
            breaches,
            calls: orders.len(),
        }
    }
}
