//! [`Suite`]: which checks, how many cases, which seed, how gently; and the
//! run itself.

use std::time::{Duration, Instant};

use super::checks::{self, Verdict};
use super::context::{Ctx, CtxConfig};
use super::property::Counterexample;
use super::report::{CheckResult, CheckStatus, Report};
use super::target::{ConnectError, Target};
use crate::grpc::payload::ErrorPayload;

/// The contract suite's settings. `Suite::default()` runs every check with
/// 32 cases per property and seed 1.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::contract::{Suite, Target};
///
/// // In a service's own tests: `Target::service(MyOrders::new())`.
/// Suite::default().cases(8).run(Target::embedded()).await.assert_passed();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Suite {
    cases: u32,
    pub(super) seed: u64,
    /// The sequences of a behaviour comparison.
    pub(super) sequences: u32,
    only: Vec<String>,
    skip: Vec<String>,
    concurrency: usize,
    rate: u64,
    deadline: Duration,
    fail_fast: Option<Duration>,
    read_token: Option<String>,
    write_token: Option<String>,
    patience: Duration,
}

impl Default for Suite {
    fn default() -> Self {
        Self {
            cases: 32,
            seed: 1,
            sequences: 8,
            only: Vec::new(),
            skip: Vec::new(),
            concurrency: 8,
            rate: 500,
            deadline: Duration::from_secs(10),
            fail_fast: None,
            read_token: None,
            write_token: None,
            patience: Duration::from_secs(5),
        }
    }
}

/// What a run reports as it goes (for progress displays).
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    /// A check comes next in the report (checks run four at a time; they
    /// are reported in order): its index (from 0), the total and the check.
    Started(usize, usize, &'a str),
    /// A check ended.
    Finished(usize, usize, &'a CheckResult),
}

impl Suite {
    /// Cases per property (at least 1).
    pub fn cases(mut self, cases: u32) -> Self {
        self.cases = cases.max(1);
        self
    }

    /// The seed every random choice comes from; a failure prints it.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How many sequences a behaviour comparison sends (default 8; at least
    /// 1, the boundary cases, which always come first).
    pub fn sequences(mut self, n: u32) -> Self {
        self.sequences = n.max(1);
        self
    }

    /// Runs only these rule ids or groups (`C-1`, `create`).
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.only.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Skips these rule ids or groups.
    pub fn skip<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.skip.extend(ids.into_iter().map(Into::into));
        self
    }

    /// At most this many calls in flight (CONTRACT.md, last section).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// At most this many calls started per second (CONTRACT.md, last section).
    pub fn rate(mut self, per_second: u64) -> Self {
        self.rate = per_second.max(1);
        self
    }

    /// The deadline of calls that set none of their own.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The target's D-2 fail-fast threshold, to check it.
    pub fn fail_fast(mut self, threshold: Duration) -> Self {
        self.fail_fast = Some(threshold);
        self
    }

    /// How long to wait for what should come promptly (a result on an open
    /// stream, the end of a finished stream) before calling it missing.
    /// Default 5 s; shrinking a failure takes at most ten times this.
    pub fn patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    /// A token with read permission only (A-1's PERMISSION_DENIED checks).
    pub fn read_token(mut self, token: impl Into<String>) -> Self {
        self.read_token = Some(token.into());
        self
    }

    /// A token with write permission only.
    pub fn write_token(mut self, token: impl Into<String>) -> Self {
        self.write_token = Some(token.into());
        self
    }

    fn selected(&self, id: &str, group: &str) -> bool {
        // An id, a group, or a family of ids by its letters (`L` for L-1, L-2).
        let family = |x: &str| {
            id.len() > x.len()
                && id[..x.len()].eq_ignore_ascii_case(x)
                && id[x.len()..].starts_with('-')
        };
        let hit = |list: &[String]| {
            list.iter()
                .any(|x| x.eq_ignore_ascii_case(id) || x.eq_ignore_ascii_case(group) || family(x))
        };
        (self.only.is_empty() || hit(&self.only)) && !hit(&self.skip)
    }

    /// Every rule of the contract with its one-line statement and the
    /// checks that cover it (`verify --list`).
    ///
    /// ```
    /// let list = orders_testkit::contract::Suite::list();
    /// assert!(list.lines().any(|l| l.starts_with("W-3")));
    /// println!("{list}");
    /// ```
    pub fn list() -> String {
        use std::fmt::Write as _;
        let checks = checks::all();
        let mut out = String::new();
        for rule in super::rules::rules() {
            let _ = writeln!(out, "{:<8} {:<11} {}", rule.id, rule.group, rule.statement);
            let own = checks.iter().filter(|c| c.id == rule.id);
            for c in own {
                let _ = writeln!(out, "{:<18} checked by {}: {}", "", c.id, c.title);
            }
            for also in rule.also_in {
                let _ = writeln!(out, "{:<18} also exercised by {also}", "");
            }
        }
        out
    }

    /// The rule ids and groups this suite knows, for `--only`/`--skip` checks.
    pub fn known_ids() -> Vec<(&'static str, &'static str)> {
        checks::all().iter().map(|c| (c.id, c.group())).collect()
    }

    /// Runs the suite; a target that cannot be reached is a failed report.
    pub async fn run(&self, target: Target) -> Report {
        let target_text = format!("{target:?}");
        match self.try_run(target, |_| {}).await {
            Ok(report) => report,
            Err(e) => Report {
                target: "unreachable".into(),
                seed: self.seed,
                cases: self.cases,
                run_id: String::new(),
                results: vec![CheckResult {
                    id: "CONNECT".into(),
                    group: "target".into(),
                    title: "reach the target".into(),
                    status: CheckStatus::Failed,
                    note: None,
                    counterexample: Some(Counterexample {
                        rule: "CONNECT".into(),
                        input: target_text.clone(),
                        expected: "a gRPC answer from the target".into(),
                        got: e.0,
                        seed: self.seed,
                        shrink_steps: 0,
                    }),
                    duration_ms: 0,
                }],
                duration_ms: 0,
                sent_again: 0,
                payloads: Vec::new(),
            },
        }
    }

    /// Runs the suite, telling `progress` about each check. Checks whose
    /// waits are independent run concurrently (at most four at a time);
    /// the passive ones, which read what the others saw, run last.
    pub async fn try_run(
        &self,
        target: Target,
        mut progress: impl FnMut(Progress<'_>) + Send,
    ) -> Result<Report, ConnectError> {
        use futures_util::StreamExt;

        let started = Instant::now();
        let description = format!("{target:?}");
        let connected = target.connect().await?;
        let (channel, _keep, dial) = (connected.channel, connected.keep, connected.dial);
        let ctx = self.ctx(channel, &target, dial).await?;
        let all = checks::all();
        let total = all.len();
        let (active, passive): (Vec<_>, Vec<_>) =
            all.iter().enumerate().partition(|(_, c)| !c.passive);
        let mut results = Vec::with_capacity(total);
        let mut done = 0;
        for phase in [active, passive] {
            // At most four checks at a time, reported in order.
            let mut pending = phase.into_iter();
            let mut running = futures_util::stream::FuturesOrdered::new();
            loop {
                while running.len() < 4 {
                    let Some((i, check)) = pending.next() else {
                        break;
                    };
                    running.push_back(self.run_indexed(&ctx, i, check));
                }
                let Some((i, check, result)) = running.next().await else {
                    break;
                };
                progress(Progress::Started(done, total, check.id));
                progress(Progress::Finished(done, total, &result));
                done += 1;
                results.push((i, result));
            }
        }
        results.sort_by_key(|(i, _)| *i);
        // A-3 holds for the report too: no token the run sent appears in it.
        let tokens = checks::tokens_sent(&ctx);
        let hide = |s: &mut String| *s = checks::redact_tokens(s, &tokens);
        let results = results
            .into_iter()
            .map(|(_, mut r)| {
                if let Some(n) = r.note.as_mut() {
                    hide(n);
                }
                if let Some(c) = r.counterexample.as_mut() {
                    hide(&mut c.input);
                    hide(&mut c.expected);
                    hide(&mut c.got);
                }
                r
            })
            .collect();
        let payloads = ctx
            .snapshots
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|(name, st)| {
                (
                    name,
                    checks::redact_tokens(
                        &redact(&ErrorPayload::from_status(&st).render(), &ctx.run_id),
                        &tokens,
                    ),
                )
            })
            .collect();
        Ok(Report {
            target: description,
            seed: self.seed,
            cases: self.cases,
            run_id: ctx.run_id.clone(),
            results,
            duration_ms: started.elapsed().as_millis() as u64,
            sent_again: ctx.sent_again(),
            payloads,
        })
    }
}

impl Suite {
    /// The context of a run over `channel`, after a first call that shows
    /// the target answers (each context has a run id of its own).
    pub(crate) async fn ctx(
        &self,
        channel: tonic::transport::Channel,
        target: &Target,
        dial: Option<crate::server::Dial>,
    ) -> Result<Ctx, ConnectError> {
        let presets = &target.presets;
        let ctx = Ctx::new(
            channel,
            CtxConfig {
                seed: self.seed,
                cases: self.cases,
                deadline: self.deadline,
                fail_fast: self.fail_fast.or(presets.fail_fast),
                token: target.token.clone(),
                read_token: self.read_token.clone().or(presets.read_token.clone()),
                write_token: self.write_token.clone().or(presets.write_token.clone()),
                concurrency: self.concurrency,
                rate: self.rate,
                headers: target.headers.clone(),
                health: target.health,
                reflection: target.reflection,
                patience: self.patience,
                transient: target.transient.clone(),
                dial,
            },
        )
        .map_err(ConnectError)?;
        probe(&ctx).await?;
        Ok(ctx)
    }

    async fn run_indexed<'a>(
        &self,
        ctx: &Ctx,
        i: usize,
        check: &'a checks::Check,
    ) -> (usize, &'a checks::Check, CheckResult) {
        (i, check, self.run_check(ctx, check).await)
    }

    async fn run_check(&self, ctx: &Ctx, check: &checks::Check) -> CheckResult {
        let t = Instant::now();
        let (status, note, counterexample) = if !self.selected(check.id, check.group()) {
            (CheckStatus::Skipped, Some("not selected".to_string()), None)
        } else {
            match (check.run)(ctx).await {
                Verdict::Pass(note) => (CheckStatus::Passed, note, None),
                Verdict::Fail(c) => (CheckStatus::Failed, None, Some(c)),
                Verdict::Skip(why) => (CheckStatus::Skipped, Some(why), None),
            }
        };
        CheckResult {
            id: check.id.to_string(),
            group: check.group().to_string(),
            title: check.title.to_string(),
            status,
            note,
            counterexample,
            duration_ms: t.elapsed().as_millis() as u64,
        }
    }
}

/// A first call, before any check: a GetOrder of an id no order has. A
/// target that answers it with a non-gRPC HTTP response (a proxy's error
/// page) or UNAVAILABLE without details (a transport error, a proxy whose
/// upstream is down) is unreachable, not in breach of a rule.
async fn probe(ctx: &Ctx) -> Result<(), ConnectError> {
    let id = format!("{}-probe", ctx.customer());
    let started = std::time::Instant::now();
    let got = ctx
        .client()
        .get_order(crate::pb::GetOrderRequest { order_id: id })
        .await;
    match got {
        Err(st)
            if st.code() == tonic::Code::DeadlineExceeded
                && started.elapsed() < ctx.deadline / 2 =>
        {
            Err(ConnectError(format!(
                "the target failed its first call fast with DEADLINE_EXCEEDED {:?}: its \
                 fail-fast threshold seems above the suite's {:?} deadline (raise --deadline-ms)",
                st.message(),
                ctx.deadline
            )))
        }
        Err(st)
            if not_grpc(&st)
                || (st.code() == tonic::Code::Unavailable && st.details().is_empty()) =>
        {
            Err(ConnectError(format!(
                "the target is unreachable: its first call answered {:?} {:?} \
                 (not a gRPC answer, or a proxy whose upstream is down)",
                st.code(),
                st.message()
            )))
        }
        _ => Ok(()),
    }
}

/// Whether a status is tonic's reading of a non-gRPC HTTP answer: an error
/// status code without `grpc-status`, or an error page read as messages.
fn not_grpc(st: &tonic::Status) -> bool {
    let m = st.message();
    m.contains("mapped from HTTP status code")
        || m.split("while receiving response with status: ")
            .nth(1)
            .is_some_and(|rest| !rest.starts_with('2'))
}

/// Replaces the run's customer ids (`<run id>-<n>…`) with `[run]`, so that
/// payloads compare between runs.
fn redact(text: &str, run_id: &str) -> String {
    if run_id.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(run_id) {
        out.push_str(&rest[..i]);
        out.push_str("[run]");
        rest = &rest[i + run_id.len()..];
        // The rest of the id: `-<n>` and any suffix up to a quote or space.
        let end = rest.find(['"', ' ', '\n', '\\']).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    redact_order_ids(&out)
}

/// Replaces the order ids a payload names in a `resourceName` (the server
/// chose them, so they differ between runs) with `[order]`, everywhere in it.
fn redact_order_ids(text: &str) -> String {
    const KEY: &str = "\"resourceName\": \"";
    let ids: Vec<String> = text
        .match_indices(KEY)
        .filter_map(|(i, _)| {
            let rest = &text[i + KEY.len()..];
            let id = &rest[..rest.find('"')?];
            (!id.is_empty() && !id.contains("[run]")).then(|| id.to_string())
        })
        .collect();
    ids.iter().fold(text.to_string(), |out, id| {
        out.replace(id.as_str(), "[order]")
    })
}
