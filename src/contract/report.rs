//! The outcome of a run: per-check results with counterexamples, as a
//! table, JSON, JUnit XML, and the error payloads for `--snapshots`.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::property::Counterexample;

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CheckStatus {
    /// The rule held.
    Passed,
    /// The rule was broken; see the counterexample.
    Failed,
    /// Not run (not selected, or the target lacks what it needs).
    Skipped,
}

/// As the summary table shows it: `pass`, `FAIL`, `skip`.
///
/// ```
/// use orders_testkit::contract::CheckStatus;
/// assert_eq!(CheckStatus::Failed.to_string(), "FAIL");
/// ```
impl std::fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that a width in the format (the table's columns) holds.
        f.pad(match self {
            CheckStatus::Passed => "pass",
            CheckStatus::Failed => "FAIL",
            CheckStatus::Skipped => "skip",
        })
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CheckResult {
    /// The contract rule id (`C-1`).
    pub id: String,
    /// The group (`create`), usable with `--only`/`--skip`.
    pub group: String,
    /// What the check verifies.
    pub title: String,
    /// How it ended.
    pub status: CheckStatus,
    /// A note: cases run, or why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The minimal failing example, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<Counterexample>,
    /// How long it took.
    pub duration_ms: u64,
}

/// The result of a contract run.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::contract::{Suite, Target};
///
/// let report = Suite::default().cases(4).only(["G-1", "G-2"]).run(Target::embedded()).await;
/// assert!(report.passed());
/// assert!(report.table().contains("G-1"));
/// assert!(report.to_junit().contains("<testcase"));
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The target, as described (tokens never shown).
    pub target: String,
    /// The seed of the run (`--seed` replays it).
    pub seed: u64,
    /// Cases per property.
    pub cases: u32,
    /// The prefix of every customer id the run created.
    pub run_id: String,
    /// Every check, in run order.
    pub results: Vec<CheckResult>,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// Calls the target (or a proxy before it) turned away unprocessed,
    /// which the suite sent again rather than judged (CONTRACT.md, "What
    /// the suite may assume about a server").
    pub sent_again: u64,
    /// Error payloads of the error scenarios, rendered, ids redacted.
    #[serde(skip)]
    pub payloads: Vec<(String, String)>,
}

impl Report {
    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.status != CheckStatus::Failed)
    }

    /// The failed checks.
    pub fn failures(&self) -> Vec<&CheckResult> {
        self.results
            .iter()
            .filter(|r| r.status == CheckStatus::Failed)
            .collect()
    }

    /// The rule ids broken: each failed check's id and its counterexample's rule.
    pub fn broken_rules(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in self.failures() {
            out.push(r.id.clone());
            if let Some(c) = &r.counterexample
                && c.rule != r.id
            {
                out.push(c.rule.clone());
            }
        }
        out
    }

    /// Panics with every failure and its counterexample unless all passed.
    #[track_caller]
    pub fn assert_passed(&self) {
        if !self.passed() {
            panic!("the contract suite failed:\n{}", self.failure_text());
        }
    }

    /// Each failure with its counterexample, readable.
    pub fn failure_text(&self) -> String {
        let mut out = String::new();
        for r in self.failures() {
            let _ = writeln!(out, "FAILED {} ({}): {}", r.id, r.group, r.title);
            if let Some(c) = &r.counterexample {
                let _ = writeln!(out, "  rule broken: {}", c.rule);
                if let Some(rule) = super::rules::rule(&c.rule) {
                    let _ = writeln!(out, "  the rule:    {}", rule.statement);
                    let _ = writeln!(
                        out,
                        "               (CONTRACT.md#{})",
                        rule.id.to_lowercase()
                    );
                }
                let _ = writeln!(out, "  expected:    {}", c.expected);
                let _ = writeln!(out, "  got:         {}", c.got);
                let _ = writeln!(out, "  input ({} shrink steps):", c.shrink_steps);
                for line in c.input.lines() {
                    let _ = writeln!(out, "    {line}");
                }
                let _ = writeln!(out, "  replay with: --seed {}", c.seed);
            }
        }
        out
    }

    /// A summary table, one line per check, and the totals.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<8} {:<11} {:<8} {:>7}  CHECK",
            "RULE", "GROUP", "RESULT", "TIME"
        );
        for r in &self.results {
            let status = r.status;
            let note = r
                .note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<8} {:<11} {:<8} {:>5}ms  {}{}",
                r.id, r.group, status, r.duration_ms, r.title, note
            );
        }
        let count = |s| self.results.iter().filter(|r| r.status == s).count();
        let again = match self.sent_again {
            0 => String::new(),
            1 => ", 1 call turned away unprocessed and sent again".into(),
            n => format!(", {n} calls turned away unprocessed and sent again"),
        };
        let _ = writeln!(
            out,
            "{} passed, {} failed, {} skipped in {:.2}s (seed {}, {} cases, run {}{again})",
            count(CheckStatus::Passed),
            count(CheckStatus::Failed),
            count(CheckStatus::Skipped),
            self.duration_ms as f64 / 1000.0,
            self.seed,
            self.cases,
            self.run_id
        );
        out
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The report as JUnit XML: one testcase per check.
    pub fn to_junit(&self) -> String {
        use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};
        let mut suite = TestSuite::new("orders.v1 contract");
        for r in &self.results {
            let mut status = match r.status {
                CheckStatus::Passed => TestCaseStatus::success(),
                CheckStatus::Skipped => {
                    let mut s = TestCaseStatus::skipped();
                    if let Some(n) = &r.note {
                        s.set_message(n.clone());
                    }
                    s
                }
                CheckStatus::Failed => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    if let Some(c) = &r.counterexample {
                        let statement = super::rules::rule(&c.rule)
                            .map(|r| format!(" ({})", r.statement))
                            .unwrap_or_default();
                        s.set_message(format!(
                            "{} broken{statement}: expected {}, got {}",
                            c.rule, c.expected, c.got
                        ));
                        s.set_description(format!(
                            "input:\n{}\nreplay with --seed {}",
                            c.input, c.seed
                        ));
                    }
                    s
                }
            };
            if r.status == CheckStatus::Failed && r.counterexample.is_none() {
                status.set_message("failed");
            }
            let mut case = TestCase::new(format!("{} {}", r.id, r.title), status);
            case.set_classname(format!("contract.{}", r.group));
            case.set_time(Duration::from_millis(r.duration_ms));
            suite.add_test_case(case);
        }
        let mut report = Junit::new("orders-testkit verify");
        report.set_time(Duration::from_millis(self.duration_ms));
        report.add_test_suite(suite);
        report.to_string().unwrap_or_default()
    }
}
