//! Stubs that cannot drift from the contract: every answer a stub gives is
//! checked, as it is sent, against the rules of CONTRACT.md that one answer
//! can break on its own. A stub that breaks one makes
//! [`OrderMock::verify`](crate::OrderMock::verify) fail (and the check on
//! drop panic), naming the stub, the rule and the answer;
//! [`Stub::off_contract`](crate::Stub::off_contract) allows a deliberate
//! violation. Faults are not checked: breaking the contract is their job.
//!
//! | rule | one answer must |
//! |---|---|
//! | E-1 | use a code of the contract's table, with a non-empty message |
//! | E-2 | for `INVALID_ARGUMENT`, carry a `BadRequest` with field and description |
//! | E-3, E-4 | for `NOT_FOUND`, `ALREADY_EXISTS`, carry a `ResourceInfo` for `orders.v1.Order` |
//! | E-5 | carry details that repeat its code and message |
//! | E-6 | not leak internals in `INTERNAL`/`UNKNOWN` messages |
//! | C-2 | create an `order_id` of 1 to 128 bytes of `[A-Za-z0-9._~-]` |
//! | G-3 | return an `Order` whose status is not `UNSPECIFIED` |
//! | W-2, W-3, W-4 | stream the current status first, each change after, nothing after a terminal status |
//! | P-3, P-4 | answer a success with a status and no error, a failure with `REASON: words` |

use prost::Message;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::pb::{CreateOrderResponse, Order, OrderResult, OrderStatus, OrderStatusUpdate};
use crate::rpc::ResponseMessage;

/// One rule a stub's answer broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The rule id (`E-3`), as in CONTRACT.md.
    pub rule: &'static str,
    /// What is wrong with the answer.
    pub problem: String,
    /// The answer, shortened.
    pub answer: String,
}

/// The codes of the contract's table (E-1).
const CODES: [Code; 10] = [
    Code::InvalidArgument,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::Unauthenticated,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Unavailable,
    Code::Internal,
    Code::DeadlineExceeded,
];

fn shown(status: &Status) -> String {
    let mut text = format!(
        "{} {:?}",
        crate::grpc::payload::code_name(status.code()),
        status.message()
    );
    if text.chars().count() > 100 {
        text = text.chars().take(97).collect::<String>() + "...";
    }
    text
}

/// The rules a stubbed status breaks.
pub(crate) fn of_status(status: &Status) -> Vec<Drift> {
    let mut out = Vec::new();
    let mut drift = |rule, problem: String| {
        out.push(Drift {
            rule,
            problem,
            answer: shown(status),
        })
    };
    let code = status.code();
    if !CODES.contains(&code) {
        drift(
            "E-1",
            format!(
                "{} is not one of the contract's codes",
                crate::grpc::payload::code_name(code)
            ),
        );
    }
    if status.message().is_empty() {
        drift("E-1", "an error without a message".into());
    }
    if !status.details().is_empty() {
        match tonic_types::pb::Status::decode(status.details()) {
            Ok(inner) if inner.code == code as i32 && inner.message == status.message() => {}
            Ok(_) => drift(
                "E-5",
                "grpc-status-details-bin does not repeat the code and message".into(),
            ),
            Err(_) => drift(
                "E-5",
                "grpc-status-details-bin is not a google.rpc.Status".into(),
            ),
        }
    }
    let details = status.get_error_details();
    match code {
        Code::InvalidArgument => {
            let violations = details
                .bad_request()
                .map(|b| b.field_violations.clone())
                .unwrap_or_default();
            if violations.is_empty() {
                drift(
                    "E-2",
                    "INVALID_ARGUMENT without a BadRequest violation".into(),
                );
            } else if violations
                .iter()
                .any(|v| v.field.is_empty() || v.description.is_empty())
            {
                drift("E-2", "a violation without a field or a description".into());
            }
        }
        Code::NotFound | Code::AlreadyExists => {
            let rule = if code == Code::NotFound { "E-3" } else { "E-4" };
            match details.resource_info() {
                Some(info)
                    if info.resource_type == "orders.v1.Order"
                        && !info.resource_name.is_empty() => {}
                Some(_) => drift(
                    rule,
                    "a ResourceInfo that does not name an orders.v1.Order".into(),
                ),
                None => drift(
                    rule,
                    format!(
                        "{} without a ResourceInfo",
                        crate::grpc::payload::code_name(code)
                    ),
                ),
            }
        }
        Code::Internal | Code::Unknown
            if crate::layers::sanitize::leaks_internals(status.message()) =>
        {
            drift("E-6", "the message leaks internals".into());
        }
        _ => {}
    }
    out
}

fn id_ok(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
}

/// The rules a stubbed message breaks on its own.
pub(crate) fn of_message(message: &ResponseMessage) -> Vec<Drift> {
    let (rule, problem, answer) = match message {
        ResponseMessage::CreateOrder(CreateOrderResponse { order_id, .. }) if !id_ok(order_id) => (
            "C-2",
            "order_id is not 1 to 128 bytes of [A-Za-z0-9._~-]",
            format!("{message:?}"),
        ),
        ResponseMessage::Order(Order { status, .. })
            if *status == OrderStatus::Unspecified as i32 =>
        {
            (
                "G-3",
                "an Order with status UNSPECIFIED",
                format!("{message:?}"),
            )
        }
        ResponseMessage::OrderResult(r) => match result_problem(r) {
            Some((rule, problem)) => (rule, problem, format!("{message:?}")),
            None => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    let mut answer = answer;
    if answer.chars().count() > 160 {
        answer = answer.chars().take(157).collect::<String>() + "...";
    }
    vec![Drift {
        rule,
        problem: problem.into(),
        answer,
    }]
}

fn result_problem(r: &OrderResult) -> Option<(&'static str, &'static str)> {
    if r.success {
        if !r.error.is_empty() {
            return Some(("P-3", "a success with an error"));
        }
        if r.status == OrderStatus::Unspecified as i32 {
            return Some(("P-3", "a success without the new status"));
        }
        return None;
    }
    let reason = r.error.split_once(": ").map(|(reason, _)| reason);
    match reason {
        Some("INVALID_ARGUMENT" | "NOT_FOUND" | "FAILED_PRECONDITION") => None,
        _ => Some((
            "P-4",
            "a failure whose error is not \"INVALID_ARGUMENT|NOT_FOUND|FAILED_PRECONDITION: words\"",
        )),
    }
}

fn terminal(status: i32) -> bool {
    status == OrderStatus::Delivered as i32 || status == OrderStatus::Cancelled as i32
}

/// The rules a stubbed watch stream breaks: its messages, then its end.
pub(crate) fn of_watch(items: &[OrderStatusUpdate], end: Option<&Status>) -> Vec<Drift> {
    let mut out = Vec::new();
    let mut drift = |rule, problem: String, answer: String| {
        out.push(Drift {
            rule,
            problem,
            answer,
        })
    };
    for (i, update) in items.iter().enumerate() {
        let answer = format!("message {i}: {update:?}");
        if update.status == OrderStatus::Unspecified as i32 {
            drift("W-2", "a status of UNSPECIFIED".into(), answer.clone());
        }
        match i {
            0 if update.previous_status != OrderStatus::Unspecified as i32 => drift(
                "W-2",
                "the first message is not the current state (previous_status must be UNSPECIFIED)"
                    .into(),
                answer,
            ),
            0 => {}
            _ => {
                let before = &items[i - 1];
                if terminal(before.status) {
                    drift("W-4", "a message after a terminal status".into(), answer);
                } else if update.previous_status != before.status {
                    drift(
                        "W-3",
                        "previous_status is not the status of the message before".into(),
                        answer,
                    );
                }
            }
        }
    }
    if let (Some(last), Some(end)) = (items.last(), end)
        && terminal(last.status)
    {
        drift(
            "W-4",
            "an error after a terminal status (the call ends with OK)".into(),
            shown(end),
        );
    }
    if let Some(end) = end {
        out.extend(of_status(end));
    }
    out
}
