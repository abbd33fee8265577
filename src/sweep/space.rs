//! The failure space a sweep explores at each call site: every status the
//! contract allows on the RPC with its canonical details, a lost answer, a
//! cut stream, a reset, a dropped connection, a deadline passing, a rate
//! limit with `RetryInfo`, a slow first byte.

use std::time::Duration;

use tonic::Status;
use tonic_types::StatusExt as _;

use crate::fault::{Fault, Lost};
use crate::rpc::Method;
use crate::service::model::FieldViolation;
use crate::service::status;

/// One fault a sweep can put at a call site.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// How reports name it (`UNAVAILABLE with RetryInfo`, `lost answer`).
    pub(crate) name: String,
    /// The fault, before it is narrowed to its site.
    pub(crate) fault: Fault,
    /// From its site on, the service reports NOT_SERVING and every call to
    /// that RPC answers UNAVAILABLE.
    pub(crate) not_serving: bool,
}

fn candidate(name: impl Into<String>, fault: Fault) -> Candidate {
    Candidate {
        name: name.into(),
        fault,
        not_serving: false,
    }
}

/// The statuses the contract allows on `method`, each with its canonical
/// details.
fn statuses(method: Method) -> Vec<(String, Status)> {
    let mut out = vec![
        (
            "UNAVAILABLE with RetryInfo".to_string(),
            Status::with_error_details(
                tonic::Code::Unavailable,
                "the service is unavailable",
                tonic_types::ErrorDetails::with_retry_info(Some(Duration::from_millis(100))),
            ),
        ),
        (
            "RESOURCE_EXHAUSTED with RetryInfo".to_string(),
            Status::with_error_details(
                tonic::Code::ResourceExhausted,
                "rate limit exceeded",
                tonic_types::ErrorDetails::with_retry_info(Some(Duration::from_millis(250))),
            ),
        ),
        (
            "UNAUTHENTICATED".to_string(),
            Status::unauthenticated("missing or unknown credentials"),
        ),
        (
            "PERMISSION_DENIED".to_string(),
            Status::permission_denied("the token may not call this method"),
        ),
        ("INTERNAL".to_string(), Status::internal("internal error")),
    ];
    let invalid = |field: &str| {
        status::invalid_argument(&[FieldViolation::new(field, "injected by the sweep")])
    };
    match method {
        Method::CreateOrder => {
            out.push(("INVALID_ARGUMENT with BadRequest".into(), invalid("items")));
            out.push((
                "ALREADY_EXISTS with ResourceInfo".into(),
                status::already_exists("ord-sweep"),
            ));
        }
        Method::GetOrder | Method::WatchOrderStatus => {
            out.push((
                "INVALID_ARGUMENT with BadRequest".into(),
                invalid("order_id"),
            ));
            out.push((
                "NOT_FOUND with ResourceInfo".into(),
                status::not_found("the order asked for"),
            ));
        }
        Method::SubmitLineItems => {
            out.push((
                "INVALID_ARGUMENT with BadRequest".into(),
                invalid("items[0].quantity"),
            ));
        }
        Method::ProcessOrders => {}
    }
    out
}

/// Every candidate fault at a call of `method`.
pub(crate) fn candidates(method: Method) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = statuses(method)
        .into_iter()
        .map(|(name, st)| candidate(name, Fault::fail(st)))
        .collect();
    out.push(candidate(
        "lost answer (UNAVAILABLE after the work was done)",
        Fault::lose_answer(Lost::Status(Status::unavailable("connection lost"))),
    ));
    out.push(Candidate {
        not_serving: true,
        ..candidate(
            "health NOT_SERVING from this call on",
            Fault::fail(Status::unavailable("the service is not serving")),
        )
    });
    out.push(candidate("stream reset", Fault::reset()));
    out.push(candidate("connection dropped", Fault::drop_connection()));
    out.push(candidate("deadline passes (no answer)", Fault::hang()));
    out.push(candidate(
        "slow first byte (2 s)",
        Fault::delay(Duration::from_secs(2)),
    ));
    match method {
        Method::WatchOrderStatus => out.push(candidate(
            "stream aborted after 1 message",
            Fault::abort_after(1, Status::unavailable("stream lost")),
        )),
        Method::ProcessOrders => {
            out.push(candidate(
                "stream lost after 1 result",
                Fault::lose_answer_after(1, Lost::Status(Status::unavailable("stream lost"))),
            ));
            out.push(candidate(
                "action 1 fails in band (FAILED_PRECONDITION)",
                Fault::fail_action(1, crate::service::model::FailureReason::FailedPrecondition),
            ));
        }
        Method::SubmitLineItems => out.push(candidate(
            "stream cut after 1 item",
            Fault::cut_after_applied(1, Status::unavailable("stream cut")),
        )),
        Method::CreateOrder | Method::GetOrder => {}
    }
    out
}
