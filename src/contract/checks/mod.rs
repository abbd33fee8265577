//! The checks, one per SPEC rule id, grouped by RPC.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tonic::{Code, Response, Status};
use tonic_types::StatusExt;

use super::context::Ctx;
use super::property::{Counterexample, Mismatch};

mod auth;
mod create;
mod deadline;
mod errors;
mod health;
mod process;
mod proto;
mod read;

/// How a check ended.
pub(crate) enum Verdict {
    Pass(Option<String>),
    Fail(Counterexample),
    Skip(String),
}

pub(crate) type CheckFuture<'a> = Pin<Box<dyn Future<Output = Verdict> + 'a>>;

/// One check of one rule.
pub(crate) struct Check {
    pub id: &'static str,
    pub group: &'static str,
    pub title: &'static str,
    pub run: for<'a> fn(&'a Ctx) -> CheckFuture<'a>,
}

macro_rules! check {
    ($id:literal, $group:literal, $title:literal, $f:path) => {
        Check {
            id: $id,
            group: $group,
            title: $title,
            run: |ctx| Box::pin($f(ctx)),
        }
    };
}

/// Every check, in the order they run (the error checks last: they look at
/// every error the others saw).
pub(crate) fn all() -> Vec<Check> {
    vec![
        check!(
            "REFL-1",
            "proto",
            "reflection v1 and v1alpha list the services",
            proto::refl1
        ),
        check!(
            "PROTO-1",
            "proto",
            "served descriptors match the proto",
            proto::proto1
        ),
        check!(
            "PROTO-2",
            "proto",
            "every element carries a doc comment",
            proto::proto2
        ),
        check!(
            "C-1",
            "create",
            "validation reports every violation (property)",
            create::c1
        ),
        check!(
            "C-2",
            "create",
            "ids are unique, well formed; created_at is now",
            create::c2
        ),
        check!(
            "C-3",
            "create",
            "the stored order is the request's",
            create::c3
        ),
        check!("C-4", "create", "idempotency keys", create::c4),
        check!(
            "C-5",
            "create",
            "shipping address kept and compared",
            create::c5
        ),
        check!(
            "E-2",
            "errors",
            "BadRequest lists every violation in order",
            create::e2
        ),
        check!(
            "E-4",
            "errors",
            "ALREADY_EXISTS carries ResourceInfo",
            create::e4
        ),
        check!(
            "G-1",
            "get",
            "invalid order ids are INVALID_ARGUMENT",
            read::g1
        ),
        check!("G-2", "get", "unknown ids are NOT_FOUND", read::g2),
        check!("E-3", "errors", "NOT_FOUND carries ResourceInfo", read::e3),
        check!(
            "W-1",
            "watch",
            "invalid or unknown ids fail before any message",
            read::w1
        ),
        check!(
            "W-4",
            "watch",
            "terminal orders: one message, then OK",
            read::w4
        ),
        check!(
            "W-5",
            "watch",
            "many watchers get the same sequence",
            read::w5
        ),
        check!(
            "W-6",
            "watch",
            "a cancelled watcher leaves the others alone",
            read::w6
        ),
        check!(
            "S-1",
            "submit",
            "count and total after half-close (property)",
            read::s1
        ),
        check!(
            "S-2",
            "submit",
            "an empty stream is OK with zeros",
            read::s2
        ),
        check!(
            "S-3",
            "submit",
            "the first invalid item ends the call",
            read::s3
        ),
        check!("S-4", "submit", "stateless", read::s4),
        check!(
            "P-1",
            "process",
            "one result per action, as each completes",
            process::p1
        ),
        check!(
            "P-2",
            "process",
            "random action sequences follow the lifecycle (property)",
            process::p2
        ),
        check!(
            "P-5",
            "process",
            "an empty stream ends OK with no results",
            process::p5
        ),
        check!(
            "P-6",
            "process",
            "concurrent transitions are atomic",
            process::p6
        ),
        check!(
            "D-1",
            "deadline",
            "deadlines end calls with DEADLINE_EXCEEDED",
            deadline::d1
        ),
        check!(
            "D-2",
            "deadline",
            "fail fast below the threshold",
            deadline::d2
        ),
        check!(
            "D-3",
            "deadline",
            "cancelled calls leave the connection serving",
            deadline::d3
        ),
        check!("H-1", "health", "SERVING while ready", health::h1),
        check!("H-2", "health", "unknown service is NOT_FOUND", health::h2),
        check!(
            "H-3",
            "health",
            "Watch sends the status and stays open",
            health::h3
        ),
        check!("A-1", "auth", "tokens and permissions", auth::a1),
        check!(
            "A-2",
            "auth",
            "health and reflection need no token",
            auth::a2
        ),
        check!("A-3", "auth", "tokens never appear in messages", auth::a3),
        check!(
            "E-1",
            "errors",
            "every error has a code from the table and a message",
            errors::e1
        ),
        check!(
            "E-5",
            "errors",
            "details repeat the status code and message",
            errors::e5
        ),
        check!(
            "E-6",
            "errors",
            "INTERNAL and UNKNOWN messages are sanitized",
            errors::e6
        ),
    ]
}

/// A failure without a generated input.
pub(crate) fn fail(ctx: &Ctx, input: impl Debug, m: Mismatch) -> Verdict {
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
pub(crate) fn steps(ctx: &Ctx, r: Result<(), (String, Mismatch)>) -> Verdict {
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
) -> Result<T, Mismatch> {
    r.map(Response::into_inner)
        .map_err(|st| Mismatch::new(rule, format!("{what} succeeds"), show(&st)))
}

/// The call must fail with `code`.
pub(crate) fn err_code<T: Debug>(
    rule: &'static str,
    code: Code,
    r: Result<Response<T>, Status>,
) -> Result<Status, Mismatch> {
    match r {
        Ok(res) => Err(Mismatch::new(
            rule,
            format!("{code:?}"),
            format!("OK {:?}", res.into_inner()),
        )),
        Err(st) if st.code() == code => Ok(st),
        Err(st) => Err(Mismatch::new(rule, format!("{code:?}"), show(&st))),
    }
}

/// The BadRequest field paths of an INVALID_ARGUMENT, checking that each
/// has a description (E-2).
pub(crate) fn violations(rule: &'static str, st: &Status) -> Result<Vec<String>, Mismatch> {
    if st.code() != Code::InvalidArgument {
        return Err(Mismatch::new(rule, "INVALID_ARGUMENT", show(st)));
    }
    let bad = st
        .check_error_details()
        .ok()
        .and_then(|d| d.bad_request().cloned())
        .ok_or_else(|| Mismatch::new(rule, "a google.rpc.BadRequest detail (E-2)", show(st)))?;
    if let Some(v) = bad
        .field_violations
        .iter()
        .find(|v| v.description.is_empty())
    {
        return Err(Mismatch::new(
            rule,
            "every violation has a description",
            format!("{:?} has none", v.field),
        ));
    }
    Ok(bad.field_violations.into_iter().map(|v| v.field).collect())
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
