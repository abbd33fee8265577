//! Checking stub expectations: [`OrderMock::verify`](super::OrderMock::verify)
//! and the check on drop.

use std::fmt;

use super::notes::{CallNotes as _, NearMiss};
use super::stubs::{DriftReport, ExpectationReport};

/// The outcome of checking every stub expectation, with the calls received.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::Stub;
/// use orders_testkit::OrderMock;
/// use orders_testkit::rpc::GetOrder;
///
/// let mock = OrderMock::start().await;
/// Stub::on(GetOrder).fail(tonic::Status::unavailable("down")).expect(1).mount(&mock);
/// let report = mock.verify();
/// assert!(!report.is_ok());
/// assert!(report.to_string().contains("expected exactly 1, matched 0"));
/// # std::mem::forget(mock); // skip the check on drop for this example
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Verification {
    /// Every expectation, in the order the stubs were mounted.
    pub expectations: Vec<ExpectationReport>,
    /// Every rule of the contract a stub's answer broke (stubs marked
    /// `off_contract` are not checked), in mount order, then what the test
    /// sent on live calls: each one fails the verification.
    pub drifts: Vec<DriftReport>,
    /// The calls no stub matched although stubs were mounted for their
    /// RPC (they went to the model, a proxy, or nobody), with the closest
    /// stub: not a failure, an explanation.
    pub unmatched: Vec<(u64, NearMiss)>,
    /// The journal, one call per line (authorization redacted).
    pub calls: String,
}

impl Verification {
    /// Checks the expectations of `stubs` against the calls in `journal`.
    pub(crate) fn of(
        stubs: &super::stubs::StubTable,
        live: &super::live::LiveBoard,
        journal: &crate::journal::Journal,
    ) -> Self {
        let calls = journal.calls();
        let mut drifts = stubs.drifts();
        drifts.extend(live.drifts());
        Verification {
            expectations: stubs.expectations(&calls),
            drifts,
            unmatched: calls
                .iter()
                .filter_map(|c| Some((c.seq, c.near_miss()?.clone())))
                .collect(),
            calls: journal.render(),
        }
    }

    /// Whether every expectation is met and no stub answered off contract.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// assert!(mock.verify().is_ok());
    /// # }
    /// ```
    pub fn is_ok(&self) -> bool {
        self.expectations.iter().all(|e| e.met) && self.drifts.is_empty()
    }

    /// Panics with the report unless [`is_ok`](Self::is_ok).
    #[track_caller]
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let mock = orders_testkit::OrderMock::start().await;
    /// mock.verify().assert_ok();
    /// # }
    /// ```
    pub fn assert_ok(&self) {
        if !self.is_ok() {
            panic!("verify() at {}: {self}", std::panic::Location::caller());
        }
    }
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One summary line that counts what the lines below list.
        let unmet = self.expectations.iter().filter(|e| !e.met).count();
        let expectations = match (self.expectations.len(), unmet) {
            (0, _) => "no stub expectations".to_string(),
            (n, 0) => format!("all {n} stub expectations met"),
            (n, unmet) => format!("{unmet} of {n} stub expectations not met"),
        };
        let drifts = match self.drifts.len() {
            0 => "no answer off contract".to_string(),
            1 => "1 answer off contract".to_string(),
            n => format!("{n} answers off contract"),
        };
        let verdict = if self.is_ok() { "ok" } else { "FAILED" };
        writeln!(f, "{verdict}: {expectations}, {drifts}")?;
        for e in &self.expectations {
            let mark = if e.met { "ok  " } else { "FAIL" };
            writeln!(
                f,
                "  {mark} {}: expected {}, matched {} (mounted at {})",
                e.stub, e.expected, e.hits, e.mounted_at
            )?;
            for near in &e.near_calls {
                writeln!(f, "         near miss: {near}")?;
            }
        }
        for d in &self.drifts {
            writeln!(f, "  FAIL {d}")?;
            writeln!(f, "         fix: {}", d.fix())?;
        }
        if !self.unmatched.is_empty() {
            writeln!(f, "calls no stub matched:")?;
            for (seq, near) in &self.unmatched {
                writeln!(f, "  call #{seq}: {near}")?;
            }
        }
        writeln!(f, "calls received:")?;
        f.write_str(&self.calls)
    }
}
