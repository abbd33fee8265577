//! The checks, one per contract rule id, grouped by RPC.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tonic::{Code, Response, Status};
use tonic_types::StatusExt;

use super::context::Ctx;
use super::property::{Counterexample, Deviation};

mod auth;
pub(crate) use auth::{redact_tokens, tokens_sent};
mod concurrency;
mod corpus;
mod create;
mod deadline;
mod errors;
mod fixtures;
mod get;
mod health;
mod process;
mod proto;
mod submit;
mod watch;

/// How a check ended.
pub(crate) enum Verdict {
    Pass(Option<String>),
    Fail(Counterexample),
    Skip(String),
}

pub(crate) type CheckFuture<'a> = Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;

/// One check of one rule.
pub(crate) struct Check {
    pub id: &'static str,
    pub title: &'static str,
    /// Looks at what the other checks saw: runs after all of them.
    pub passive: bool,
    pub run: for<'a> fn(&'a Ctx) -> CheckFuture<'a>,
}

impl Check {
    /// The group of the check's rule.
    pub fn group(&self) -> &'static str {
        super::rules::rule(self.id).map_or("other", |r| r.group)
    }
}

macro_rules! check {
    ($id:literal, $title:literal, $f:path) => {
        Check {
            id: $id,
            title: $title,
            passive: false,
            run: |ctx| Box::pin($f(ctx)),
        }
    };
    (passive $id:literal, $title:literal, $f:path) => {
        Check {
            id: $id,
            title: $title,
            passive: true,
            run: |ctx| Box::pin($f(ctx)),
        }
    };
}

/// Every check, one per rule id, in the order they are reported (the
/// passive ones last: they look at every call the others made).
pub(crate) fn all() -> Vec<Check> {
    vec![
        check!(
            "REFL-1",
            "reflection v1 and v1alpha list the services",
            proto::refl1
        ),
        check!(
            "PROTO-1",
            "served descriptors match the proto",
            proto::proto1
        ),
        check!(
            "PROTO-2",
            "every element carries a doc comment",
            proto::proto2
        ),
        check!(
            "C-1",
            "validation reports every violation (property)",
            create::c1
        ),
        check!(
            "C-2",
            "ids are unique, well formed; created_at is now",
            create::c2
        ),
        check!("C-3", "the stored order is the request's", create::c3),
        check!("C-4", "idempotency keys", create::c4),
        check!("C-5", "shipping address kept and compared", create::c5),
        check!(
            "E-2",
            "BadRequest lists every violation in order",
            create::e2
        ),
        check!("E-4", "ALREADY_EXISTS carries ResourceInfo", create::e4),
        check!("G-1", "invalid order ids are INVALID_ARGUMENT", get::g1),
        check!("G-2", "unknown ids are NOT_FOUND", get::g2),
        check!("G-3", "GetOrder follows every action", get::g3),
        check!("E-3", "NOT_FOUND carries ResourceInfo", get::e3),
        check!(
            "W-1",
            "invalid or unknown ids fail before any message",
            watch::w1
        ),
        check!("W-2", "the first message is the current state", watch::w2),
        check!(
            "W-3",
            "one message per change, updated_at of each",
            watch::w3
        ),
        check!("W-4", "terminal orders: one message, then OK", watch::w4),
        check!("W-5", "many watchers get the same sequence", watch::w5),
        check!(
            "W-6",
            "a cancelled watcher leaves the others alone",
            watch::w6
        ),
        check!(
            "S-1",
            "count and total after half-close (property)",
            submit::s1
        ),
        check!("S-2", "an empty stream is OK with zeros", submit::s2),
        check!("S-3", "the first invalid item ends the call", submit::s3),
        check!(
            "S-4",
            "stateless: orders it names stay unchanged",
            submit::s4
        ),
        check!(
            "P-1",
            "one result per action, as each completes",
            process::p1
        ),
        check!(
            "P-2",
            "random action sequences follow the lifecycle (property)",
            process::p2
        ),
        check!("P-3", "success results and updated_at", process::p3),
        check!(
            "P-4",
            "failures keep the stream open, reasons in order",
            process::p4
        ),
        check!(
            "P-5",
            "an empty stream ends OK with no results",
            process::p5
        ),
        check!("P-6", "concurrent transitions are atomic", process::p6),
        check!(
            "D-1",
            "deadlines end calls with DEADLINE_EXCEEDED",
            deadline::d1
        ),
        check!(
            "D-2",
            "fail fast below the threshold, doing nothing",
            deadline::d2
        ),
        check!(
            "D-3",
            "cancelled calls leave the connection serving",
            deadline::d3
        ),
        check!(
            "D-4",
            "calls cut by their deadline leave whole orders",
            deadline::d4
        ),
        check!("H-1", "SERVING while ready", health::h1),
        check!("H-2", "unknown service is NOT_FOUND", health::h2),
        check!("H-3", "Watch sends the status and stays open", health::h3),
        check!("A-1", "tokens and permissions on every RPC", auth::a1),
        check!("A-2", "health and reflection need no token", auth::a2),
        check!(
            "L-1",
            "concurrent actions, watches and reads are linearizable per order",
            concurrency::l1
        ),
        check!(
            "L-2",
            "concurrent creates with one idempotency key make one order",
            concurrency::l2
        ),
        check!(passive "A-3", "tokens never appear in messages", auth::a3),
        check!(passive "E-1", "every error has a code from the table and a message", errors::e1),
        check!(passive "E-5", "details repeat the status code and message", errors::e5),
        check!(passive "E-6", "INTERNAL and UNKNOWN messages are sanitized", errors::e6),
        check!(passive "E-7", "RetryInfo of transient failures is valid", errors::e7),
    ]
}

/// A failure without a generated input.
pub(crate) fn fail(ctx: &Ctx, input: impl Debug, m: Deviation) -> Verdict {
    Verdict::Fail(Counterexample {
        rule: m.rule.to_string(),
        input: format!("{input:#?}"),
        expected: m.expected,
        got: m.got,
        seed: ctx.seed,
        shrink_steps: 0,
    })
}

/// A verdict from a property run.
pub(crate) fn property(r: Result<u32, Counterexample>) -> Verdict {
    match r {
        Ok(n) => Verdict::Pass(Some(format!("{n} cases"))),
        Err(c) => Verdict::Fail(c),
    }
}

/// A verdict from a sequence of steps, each with its own input.
pub(crate) fn steps(ctx: &Ctx, r: Result<(), (String, Deviation)>) -> Verdict {
    match r {
        Ok(()) => Verdict::Pass(None),
        Err((input, m)) => Verdict::Fail(Counterexample {
            rule: m.rule.to_string(),
            input,
            expected: m.expected,
            got: m.got,
            seed: ctx.seed,
            shrink_steps: 0,
        }),
    }
}

pub(crate) fn show(st: &Status) -> String {
    format!("{:?} {:?}", st.code(), st.message())
}

/// The call must succeed.
pub(crate) fn ok<T>(
    rule: &'static str,
    what: &str,
    r: Result<Response<T>, Status>,
) -> Result<T, Deviation> {
    r.map(Response::into_inner)
        .map_err(|st| Deviation::new(rule, format!("{what} succeeds"), show(&st)))
}

/// The call must fail with `code`.
pub(crate) fn err_code<T: Debug>(
    rule: &'static str,
    code: Code,
    r: Result<Response<T>, Status>,
) -> Result<Status, Deviation> {
    match r {
        Ok(res) => Err(Deviation::new(
            rule,
            format!("{code:?}"),
            format!("OK {:?}", res.into_inner()),
        )),
        Err(st) if st.code() == code => Ok(st),
        Err(st) => Err(Deviation::new(rule, format!("{code:?}"), show(&st))),
    }
}

/// The BadRequest field paths of an INVALID_ARGUMENT, checking that each
/// has a description (E-2).
pub(crate) fn violations(rule: &'static str, st: &Status) -> Result<Vec<String>, Deviation> {
    if st.code() != Code::InvalidArgument {
        return Err(Deviation::new(rule, "INVALID_ARGUMENT", show(st)));
    }
    let bad = st
        .check_error_details()
        .ok()
        .and_then(|d| d.bad_request().cloned())
        .ok_or_else(|| Deviation::new(rule, "a google.rpc.BadRequest detail (E-2)", show(st)))?;
    if let Some(v) = bad
        .field_violations
        .iter()
        .find(|v| v.description.is_empty())
    {
        return Err(Deviation::new(
            rule,
            "every violation has a description",
            format!("{:?} has none", v.field),
        ));
    }
    Ok(bad.field_violations.into_iter().map(|v| v.field).collect())
}

/// E-2's reading of a violation list: the `expected` list whole, or, when
/// its details would pass 8 KiB of metadata, a prefix of it ended by one
/// summary violation whose field is the path of the first one left out and
/// whose description gives how many were left out.
pub(crate) fn listed_as_expected(expected: &[String], fields: &[String], st: &Status) -> bool {
    if fields == expected {
        return true;
    }
    let k = fields.len();
    if k == 0 || k >= expected.len() || fields != &expected[..k] {
        return false;
    }
    let left_out = expected.len() - (k - 1);
    let summary = st
        .get_details_bad_request()
        .and_then(|b| b.field_violations.last().cloned());
    summary.is_some_and(|v| {
        v.description
            .split(|c: char| !c.is_ascii_digit())
            .any(|n| n == left_out.to_string())
    })
}

/// Waits at most `limit` for `fut` (a bound on every wait, never a pause).
pub(crate) async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(limit, fut).await.ok()
}

/// A request with an explicit timeout.
pub(crate) fn timed<T>(msg: T, timeout: Duration) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(timeout);
    r
}

/// How a step run under a deadline meant to run out went wrong.
pub(crate) enum Shortfall {
    /// The target answered DEADLINE_EXCEEDED long before the deadline: it
    /// failed fast (D-2), so the deadline was too short for it.
    TooShort,
    /// A rule was broken.
    Broken(Deviation),
}

impl From<Deviation> for Shortfall {
    fn from(m: Deviation) -> Self {
        Shortfall::Broken(m)
    }
}

/// Whether `end` is a fail-fast answer: DEADLINE_EXCEEDED in less than half
/// of the `deadline` the call was given.
pub(crate) fn failed_fast(st: &Status, started: tokio::time::Instant, deadline: Duration) -> bool {
    st.code() == Code::DeadlineExceeded && started.elapsed() < deadline / 2
}

/// Whether `st` ends a call at its deadline as the caller sees it (D-1):
/// DEADLINE_EXCEEDED, or, once the deadline has passed, CANCELLED (tonic's
/// client reports its own timer so) or the stream or connection ending
/// under the call with no status (a client that enforces its deadline, as
/// every gRPC stack but tonic does, shows the caller DEADLINE_EXCEEDED).
pub(crate) fn ended_by_deadline(
    st: &Status,
    started: tokio::time::Instant,
    deadline: Duration,
) -> bool {
    st.code() == Code::DeadlineExceeded
        || (started.elapsed() >= deadline && (st.code() == Code::Cancelled || ended_under(st)))
}

/// Whether the client made `st` from the stream or connection ending
/// under the call (a reset, a close), not from a status the server sent,
/// nor from the suite's own patience running out.
fn ended_under(st: &Status) -> bool {
    let mut next = std::error::Error::source(st);
    while let Some(e) = next {
        if e.is::<hyper::Error>() || e.is::<h2::Error>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// Runs `step` with [`Ctx::short`] as the deadline meant to run out. When
/// the target fails fast on it (an untold or wrong fail-fast threshold),
/// retries with twice the deadline, at most four times, and returns a
/// configuration hint instead of a rule failure.
pub(crate) async fn with_short_deadline<F, Fut>(
    ctx: &Ctx,
    mut step: F,
) -> Result<Option<String>, Deviation>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<(), Shortfall>>,
{
    let first = ctx.short();
    let mut deadline = first;
    for _ in 0..5 {
        match step(deadline).await {
            Ok(()) if deadline == first => return Ok(None),
            Ok(()) => {
                return Ok(Some(format!(
                    "hint: the target failed fast on a {first:?} deadline; checked with {deadline:?} \
                     (tell its threshold with --fail-fast-ms)"
                )));
            }
            Err(Shortfall::Broken(m)) => return Err(m),
            Err(Shortfall::TooShort) => deadline *= 2,
        }
    }
    Err(Deviation::new(
        "D-2",
        format!("a call with {deadline:?} left is served (no fail-fast threshold that high)"),
        "DEADLINE_EXCEEDED at once every time",
    ))
}
