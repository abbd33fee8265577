//! What a sweep found: one row per call site × fault, the shrunk schedules
//! of several faults, as text, JSON and JUnit.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// How one run of the test body went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "why", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// The body passed and the client kept its rules.
    Survived,
    /// The body failed (its panic message).
    Failed(String),
    /// The body did not finish within the run's timeout (the calls in
    /// flight then).
    Hung(String),
    /// The body passed, but the client broke client rules (their ids and
    /// calls).
    ConductBroken(String),
}

impl Verdict {
    /// Whether the run counts as a failure.
    pub fn failed(&self) -> bool {
        !matches!(self, Verdict::Survived)
    }

    fn word(&self) -> &'static str {
        match self {
            Verdict::Survived => "survived",
            Verdict::Failed(_) => "failed",
            Verdict::Hung(_) => "hung",
            Verdict::ConductBroken(_) => "conduct broken",
        }
    }

    fn why(&self) -> &str {
        match self {
            Verdict::Survived => "",
            Verdict::Failed(w) | Verdict::Hung(w) | Verdict::ConductBroken(w) => w,
        }
    }
}

/// One call site × one fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Cell {
    /// The call site: the RPC and its place among that RPC's calls
    /// (`CreateOrder #1`).
    pub site: String,
    /// The fault put there.
    pub fault: String,
    /// How the run went.
    pub verdict: Verdict,
    /// Listed by the user as accepted: reported, never failing the sweep.
    pub accepted: bool,
}

/// A schedule of several faults that broke the test, shrunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Shrunk {
    /// The faults, each at its site (`(site, fault)`), smallest first found.
    pub schedule: Vec<(String, String)>,
    /// How the run of the shrunk schedule went.
    pub verdict: Verdict,
    /// The sweep's seed and the case number that found it: the same sweep
    /// with this seed finds it again.
    pub seed: u64,
    /// The case number among the generated schedules.
    pub case: u32,
}

/// The report of a [`Sweep`](super::Sweep).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SweepReport {
    /// The clean run's verdict (it must survive for anything else to run).
    pub clean: Verdict,
    /// The call sites the clean run showed, in order of arrival.
    pub sites: Vec<String>,
    /// One per site × fault.
    pub cells: Vec<Cell>,
    /// Failing schedules of several faults, shrunk, distinct.
    pub schedules: Vec<Shrunk>,
    /// Runs made, the clean one and shrinking included.
    pub runs: usize,
    /// Whether the run or time budget stopped the sweep early.
    pub budget_hit: bool,
    /// The sweep's seed.
    pub seed: u64,
    /// Wall-clock time of the whole sweep.
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(d.as_millis())
}

impl SweepReport {
    /// The cells that failed and were not accepted.
    pub fn failures(&self) -> Vec<&Cell> {
        self.cells
            .iter()
            .filter(|c| c.verdict.failed() && !c.accepted)
            .collect()
    }

    /// Whether the clean run, every cell (but accepted ones) and every
    /// schedule survived.
    pub fn survived(&self) -> bool {
        !self.clean.failed() && self.failures().is_empty() && self.schedules.is_empty()
    }

    /// Fails the test with the report unless everything survived.
    #[track_caller]
    pub fn assert_survived(&self) {
        assert!(self.survived(), "the fault sweep broke the test:\n{self}");
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The report as JUnit XML: one testcase per cell (and per schedule).
    pub fn to_junit(&self) -> String {
        use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
        let status = |verdict: &Verdict, accepted: bool| {
            if !verdict.failed() {
                return TestCaseStatus::success();
            }
            let mut s = if accepted {
                TestCaseStatus::skipped()
            } else {
                TestCaseStatus::non_success(NonSuccessKind::Failure)
            };
            s.set_message(format!("{}: {}", verdict.word(), verdict.why()));
            s
        };
        let mut suite = TestSuite::new("fault sweep");
        for cell in &self.cells {
            let mut case = TestCase::new(
                format!("{} × {}", cell.site, cell.fault),
                status(&cell.verdict, cell.accepted),
            );
            case.set_classname("sweep.cell");
            suite.add_test_case(case);
        }
        for shrunk in &self.schedules {
            let names: Vec<String> = shrunk
                .schedule
                .iter()
                .map(|(s, f)| format!("{s} × {f}"))
                .collect();
            let mut case = TestCase::new(names.join(" + "), status(&shrunk.verdict, false));
            case.set_classname(format!(
                "sweep.schedule.seed{}.case{}",
                shrunk.seed, shrunk.case
            ));
            suite.add_test_case(case);
        }
        let mut report = Report::new("orders-testkit sweep");
        report.set_time(self.elapsed);
        report.add_test_suite(suite);
        report.to_string().unwrap_or_default()
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fault sweep (seed {}): {} sites, {} cells, {} runs in {:?}{}",
            self.seed,
            self.sites.len(),
            self.cells.len(),
            self.runs,
            self.elapsed,
            if self.budget_hit { ", budget hit" } else { "" }
        )?;
        if self.clean.failed() {
            return writeln!(
                f,
                "the clean run {}: {}",
                self.clean.word(),
                self.clean.why()
            );
        }
        for cell in &self.cells {
            let mark = match (cell.verdict.failed(), cell.accepted) {
                (false, _) => "ok  ",
                (true, true) => "acc ",
                (true, false) => "FAIL",
            };
            writeln!(
                f,
                "{mark} {:<22} {:<52} {}",
                cell.site,
                cell.fault,
                cell.verdict.word()
            )?;
            if cell.verdict.failed() {
                for line in cell.verdict.why().lines().take(6) {
                    writeln!(f, "       {line}")?;
                }
            }
        }
        for s in &self.schedules {
            let names: Vec<String> = s
                .schedule
                .iter()
                .map(|(a, b)| format!("{a} × {b}"))
                .collect();
            writeln!(
                f,
                "FAIL schedule {} -> {} (replay: seed {}, case {})",
                names.join(" + "),
                s.verdict.word(),
                s.seed,
                s.case
            )?;
            for line in s.verdict.why().lines().take(6) {
                writeln!(f, "       {line}")?;
            }
        }
        Ok(())
    }
}
