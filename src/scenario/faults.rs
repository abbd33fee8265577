//! A scenario's faults, built through the [`Fault`] builder.

use std::time::Duration;

use super::schema::{FaultSpec, StatusSpec, method, status};
use crate::fault::{Fault, FaultKind};

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
            status: status(&StatusSpec {
                code: spec.code.clone().unwrap_or_else(|| "ABORTED".into()),
                message: spec
                    .message
                    .clone()
                    .unwrap_or_else(|| "stream aborted by fault injection".into()),
                retry_after_ms: spec.retry_after_ms,
                details: spec.details.clone(),
                trailers: spec.trailers.clone(),
            })?,
        },
        "reset" => FaultKind::Reset,
        "drop_connection" => FaultKind::DropConnection,
        "rate_limit" => FaultKind::RateLimit {
            limit: spec.limit.ok_or("fault kind \"rate_limit\" needs limit")?,
            window: ms(spec.window_ms, "window_ms")?,
        },
        other => {
            return Err(format!(
                "unknown fault kind {other:?}: expected status, delay, delay_between, hang, abort, reset, drop_connection or rate_limit"
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
