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
            message: Some(spec.message.clone().unwrap_or_else(|| "injected".into())),
            retry_after_ms: spec.retry_after_ms,
            details: spec.details.clone(),
            field: spec.field.clone(),
            resource: spec.resource.clone(),
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
        message: Some(spec.message.clone().unwrap_or_else(|| message.into())),
        retry_after_ms: spec.retry_after_ms,
        details: spec.details.clone(),
        field: spec.field.clone(),
        resource: spec.resource.clone(),
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
                message: Some(message),
                retry_after_ms: spec.retry_after_ms,
                details: spec.details.clone(),
                field: spec.field.clone(),
                resource: spec.resource.clone(),
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

/// A wire fault in the keys [`wire`] reads back.
#[cfg_attr(not(feature = "admin"), allow(dead_code))]
fn wire_json(w: &WireFault) -> serde_json::Value {
    use serde_json::json;
    let (name, extra) = match w {
        WireFault::GoAway => ("goaway", json!({})),
        WireFault::GoAwayNow => ("goaway_now", json!({})),
        WireFault::TrailersOnly(s) => ("trailers_only", super::schema::status_json(s)),
        WireFault::NoStatus => ("no_status", json!({})),
        WireFault::ContentType(t) => ("content_type", json!({ "content_type": t })),
        WireFault::InvalidDetails => ("invalid_details", json!({})),
        WireFault::CompressedWithoutEncoding => ("compressed_without_encoding", json!({})),
        WireFault::Oversized(bytes) => ("oversized", json!({ "bytes": bytes })),
        WireFault::UnknownCode(n) => ("unknown_code", json!({ "code_number": n })),
        WireFault::MalformedMessage => ("malformed_message", json!({})),
        WireFault::RstStream(c) => ("rst_stream", json!({ "http2_code": c })),
        WireFault::TwoMessages => ("two_messages", json!({})),
        WireFault::DeferHeaders => ("defer_headers", json!({})),
    };
    let mut out = json!({ "kind": "wire", "wire": name });
    if let serde_json::Value::Object(extra) = extra {
        for (k, v) in extra {
            out[k] = v;
        }
    }
    out
}

/// A fault in the keys of a scenario's `[[faults]]` entry (what
/// [`build_fault`] reads back), statuses written out whole: how the admin
/// API lists faults, however they were added.
#[cfg_attr(not(feature = "admin"), allow(dead_code))]
pub(crate) fn fault_json(fault: &Fault) -> serde_json::Value {
    use serde_json::{Value, json};
    let status = |s: &tonic::Status| super::schema::status_json(s);
    let ms = |d: Duration| d.as_millis() as u64;
    let mut out = match &fault.kind {
        FaultKind::Status(s) => json!({ "kind": "status", "status": status(s) }),
        FaultKind::Delay { base, jitter } => {
            json!({ "kind": "delay", "delay_ms": ms(*base), "jitter_ms": ms(*jitter) })
        }
        FaultKind::DelayBetween { base, jitter } => {
            json!({ "kind": "delay_between", "delay_ms": ms(*base), "jitter_ms": ms(*jitter) })
        }
        FaultKind::Hang => json!({ "kind": "hang" }),
        FaultKind::Abort { after, status: s } => {
            json!({ "kind": "abort", "after_messages": after, "status": status(s) })
        }
        FaultKind::Reset => json!({ "kind": "reset" }),
        FaultKind::DropConnection => json!({ "kind": "drop_connection" }),
        FaultKind::Wire(w) => wire_json(w),
        FaultKind::LostAnswer { after, then } => {
            let mut out = json!({ "kind": "lose_answer", "after_messages": after });
            out["then"] = match then {
                Lost::Status(s) => {
                    out["status"] = status(s);
                    json!("status")
                }
                Lost::Reset => json!("reset"),
                Lost::DropConnection => json!("drop_connection"),
                Lost::Silence => json!("silence"),
            };
            out
        }
        FaultKind::CutRequests {
            after,
            status: s,
            applied,
        } => json!({
            "kind": "cut", "after_messages": after, "applied": applied, "status": status(s)
        }),
        FaultKind::FailAction { index, reason } => {
            json!({ "kind": "fail_action", "index": index, "reason": reason.as_str() })
        }
        FaultKind::RateLimit { limit, window } => {
            json!({ "kind": "rate_limit", "limit": limit, "window_ms": ms(*window) })
        }
    };
    // The status's keys sit beside the kind's, as a scenario writes them.
    if let Some(Value::Object(status)) = out.as_object_mut().and_then(|o| o.remove("status")) {
        for (k, v) in status {
            out[k] = v;
        }
    }
    let rpcs: Vec<Value> = fault
        .paths
        .iter()
        .map(|p| match crate::rpc::Method::from_path(p) {
            Some(m) => json!(m.name()),
            None => json!(p),
        })
        .collect();
    match rpcs.len() {
        0 => {}
        1 => out["rpc"] = rpcs[0].clone(),
        _ => out["rpc"] = Value::Array(rpcs),
    }
    if !fault.headers.is_empty() {
        out["when_header"] = fault
            .headers
            .iter()
            .map(|h| (h.name.clone(), json!(h.value)))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    match fault.schedule {
        crate::fault::Schedule::Always => {}
        crate::fault::Schedule::First(n) => out["first"] = json!(n),
        crate::fault::Schedule::Every(k) => out["every"] = json!(k),
        crate::fault::Schedule::After(n) => out["after"] = json!(n),
        crate::fault::Schedule::Between(a, b) => out["between"] = json!([a, b]),
    }
    if let Some(p) = fault.probability {
        out["probability"] = json!(p);
    }
    out
}
