//! A scenario's faults, built through the [`Fault`] builder.

use std::time::Duration;

use super::schema::{FaultSpec, StatusSpec, method, status};
use crate::fault::{Fault, FaultKind, Lost, WireFault};
use crate::service::model::FailureReason;

/// The names of `kind = "wire"` faults (`wire = "..."`).
const WIRE: &str = "goaway, goaway_now, trailers_only, no_status, content_type, invalid_details, \
    compressed_without_encoding, oversized, unknown_code, malformed_message, rst_stream, \
    two_messages or defer_headers";

/// The [`WireFault`] a `kind = "wire"` fault names.
fn wire(spec: &FaultSpec) -> Result<WireFault, String> {
    let name = spec
        .wire
        .as_deref()
        .ok_or_else(|| format!("fault kind \"wire\" needs wire = one of {WIRE}"))?;
    let needs = |what: &str| format!("wire fault {name:?} needs {what}");
    Ok(match name {
        "goaway" => WireFault::GoAway,
        "goaway_now" => WireFault::GoAwayNow,
        "trailers_only" => WireFault::TrailersOnly(status(&StatusSpec {
            code: spec.code.clone().ok_or_else(|| needs("code"))?,
            message: spec.message.clone().unwrap_or_else(|| "injected".into()),
            retry_after_ms: spec.retry_after_ms,
            details: spec.details.clone(),
            trailers: spec.trailers.clone(),
        })?),
        "no_status" => WireFault::NoStatus,
        "content_type" => WireFault::ContentType(
            spec.content_type
                .clone()
                .ok_or_else(|| needs("content_type"))?,
        ),
        "invalid_details" => WireFault::InvalidDetails,
        "compressed_without_encoding" => WireFault::CompressedWithoutEncoding,
        "oversized" => WireFault::Oversized(spec.bytes.unwrap_or(4 * 1024 * 1024 + 1)),
        "unknown_code" => {
            WireFault::UnknownCode(spec.code_number.ok_or_else(|| needs("code_number"))?)
        }
        "malformed_message" => WireFault::MalformedMessage,
        "rst_stream" => WireFault::RstStream(spec.http2_code.ok_or_else(|| needs("http2_code"))?),
        "two_messages" => WireFault::TwoMessages,
        "defer_headers" => WireFault::DeferHeaders,
        other => return Err(format!("unknown wire fault {other:?}: expected {WIRE}")),
    })
}

/// The status a fault's `code`, `message`, details and trailers give,
/// with this code and message when unset.
fn status_or(spec: &FaultSpec, code: &str, message: &str) -> StatusSpec {
    StatusSpec {
        code: spec.code.clone().unwrap_or_else(|| code.into()),
        message: spec.message.clone().unwrap_or_else(|| message.into()),
        retry_after_ms: spec.retry_after_ms,
        details: spec.details.clone(),
        trailers: spec.trailers.clone(),
    }
}

pub(super) fn build_fault(spec: &FaultSpec) -> Result<Fault, String> {
    let ms = |v: Option<u64>, what: &str| {
        v.map(Duration::from_millis)
            .ok_or_else(|| format!("fault kind {:?} needs {what}", spec.kind))
    };
    let kind = match spec.kind.as_str() {
        "status" => {
            let code = spec
                .code
                .as_deref()
                .ok_or("fault kind \"status\" needs code")?;
            let message = spec
                .message
                .clone()
                .unwrap_or_else(|| format!("injected {code}"));
            FaultKind::Status(status(&StatusSpec {
                code: code.to_string(),
                message,
                retry_after_ms: spec.retry_after_ms,
                details: spec.details.clone(),
                trailers: spec.trailers.clone(),
            })?)
        }
        "delay" => FaultKind::Delay {
            base: ms(spec.delay_ms, "delay_ms")?,
            jitter: Duration::from_millis(spec.jitter_ms.unwrap_or(0)),
        },
        "delay_between" => FaultKind::DelayBetween {
            base: ms(spec.delay_ms, "delay_ms")?,
            jitter: Duration::from_millis(spec.jitter_ms.unwrap_or(0)),
        },
        "hang" => FaultKind::Hang,
        "abort" => FaultKind::Abort {
            after: spec
                .after_messages
                .ok_or("fault kind \"abort\" needs after_messages")?,
            status: status(&status_or(
                spec,
                "ABORTED",
                "stream aborted by fault injection",
            ))?,
        },
        "lose_answer" => FaultKind::LostAnswer {
            after: spec.after_messages.unwrap_or(0),
            then: match spec.then.as_deref().unwrap_or("status") {
                "status" => Lost::Status(status(&status_or(spec, "UNAVAILABLE", "answer lost"))?),
                "reset" => Lost::Reset,
                "drop_connection" => Lost::DropConnection,
                "silence" => Lost::Silence,
                other => {
                    return Err(format!(
                        "unknown then {other:?}: expected status, reset, drop_connection or silence"
                    ));
                }
            },
        },
        "cut" => FaultKind::CutRequests {
            after: spec
                .after_messages
                .ok_or("fault kind \"cut\" needs after_messages")?,
            status: status(&status_or(
                spec,
                "UNAVAILABLE",
                "stream cut by fault injection",
            ))?,
            applied: spec.applied.unwrap_or(true),
        },
        "fail_action" => FaultKind::FailAction {
            index: spec
                .index
                .ok_or("fault kind \"fail_action\" needs index (from 1)")?,
            reason: match spec.reason.as_deref().unwrap_or("FAILED_PRECONDITION") {
                "INVALID_ARGUMENT" => FailureReason::InvalidArgument,
                "NOT_FOUND" => FailureReason::NotFound,
                "FAILED_PRECONDITION" => FailureReason::FailedPrecondition,
                other => {
                    return Err(format!(
                        "unknown reason {other:?}: expected INVALID_ARGUMENT, NOT_FOUND or FAILED_PRECONDITION"
                    ));
                }
            },
        },
        "reset" => FaultKind::Reset,
        "drop_connection" => FaultKind::DropConnection,
        "rate_limit" => FaultKind::RateLimit {
            limit: spec.limit.ok_or("fault kind \"rate_limit\" needs limit")?,
            window: ms(spec.window_ms, "window_ms")?,
        },
        "wire" => FaultKind::Wire(wire(spec)?),
        other => {
            return Err(format!(
                "unknown fault kind {other:?}: expected status, delay, delay_between, hang, abort, lose_answer, cut, fail_action, reset, drop_connection, rate_limit or wire"
            ));
        }
    };
    let mut fault = Fault::new(kind);
    if let Some(rpc) = &spec.rpc {
        fault = fault.on_method(method(rpc)?);
    }
    for (k, v) in &spec.when_header {
        fault = fault.when_header(k, v);
    }
    // At most one schedule, set through the Fault builder.
    let chosen = [
        spec.first.is_some(),
        spec.every.is_some(),
        spec.after.is_some(),
        spec.between.is_some(),
    ];
    if chosen.iter().filter(|c| **c).count() > 1 {
        return Err("a fault takes at most one of first, every, after, between".into());
    }
    if let Some(n) = spec.first {
        fault = fault.first(n);
    }
    if let Some(k) = spec.every {
        fault = fault.every(k);
    }
    if let Some(n) = spec.after {
        fault = fault.after(n);
    }
    if let Some([a, b]) = spec.between {
        fault = fault.between(a, b);
    }
    if let Some(p) = spec.probability {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("probability must be between 0 and 1, got {p}"));
        }
        fault = fault.probability(p);
    }
    Ok(fault)
}
