//! The scenario file's schema (what serde reads), and what its plain values
//! mean: status codes, statuses with details, RPC names.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::mock::matching::{self, Check};
use crate::rpc::Method;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    #[serde(default)]
    pub(super) seed: u64,
    #[serde(default)]
    pub(super) fail_fast_ms: u64,
    #[serde(default)]
    pub(super) orders: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    pub(super) stubs: Vec<Spanned<StubSpec>>,
    #[serde(default)]
    pub(super) faults: Vec<Spanned<FaultSpec>>,
    /// What answers calls no stub matches: "model" (the default) or
    /// "unimplemented".
    pub(super) fallthrough: Option<Spanned<String>>,
    /// Whether health answers SERVING from the start (the default) or
    /// NOT_SERVING.
    #[serde(default = "serving_by_default")]
    pub(super) serving: bool,
}

fn serving_by_default() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusSpec {
    pub(super) code: String,
    /// The canonical message of the code when unset (see [`status`]).
    #[serde(default)]
    pub(super) message: Option<String>,
    pub(super) retry_after_ms: Option<u64>,
    /// The details: a list in the JSON mapping, each with its `@type`, or
    /// base64 of a whole `google.rpc.Status`; the code's canonical ones
    /// when unset, none when `[]`.
    pub(super) details: Option<DetailsSpec>,
    /// The request field an `INVALID_ARGUMENT` is about (its `BadRequest`).
    pub(super) field: Option<String>,
    /// The order a `NOT_FOUND`/`ALREADY_EXISTS` is about (its `ResourceInfo`).
    pub(super) resource: Option<String>,
    #[serde(default)]
    pub(super) trailers: BTreeMap<String, String>,
}

/// A status's details as a scenario or the admin API gives them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum DetailsSpec {
    /// Base64 of a whole `google.rpc.Status`, as sent on the wire.
    Base64(String),
    /// Each detail in the JSON mapping with its `@type`, as grpcurl prints.
    Json(Vec<serde_json::Value>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StubSpec {
    pub(super) rpc: String,
    pub(super) name: Option<String>,
    /// Free text for readers (a recording says where the stub came from).
    #[allow(dead_code)]
    pub(super) note: Option<String>,
    pub(super) when: Option<toml::Table>,
    /// SubmitLineItems: the whole stream, message by message.
    pub(super) when_stream: Option<Vec<toml::Table>>,
    /// Field paths (`items[0].quantity`) and their checks.
    #[serde(default)]
    pub(super) when_fields: BTreeMap<String, CheckSpec>,
    /// Metadata keys and their checks.
    #[serde(default)]
    pub(super) when_metadata: BTreeMap<String, CheckSpec>,
    #[serde(default)]
    pub(super) when_header: BTreeMap<String, String>,
    pub(super) respond: Option<toml::Table>,
    pub(super) stream: Option<Vec<toml::Table>>,
    pub(super) replies: Option<Vec<toml::Table>>,
    pub(super) fail: Option<StatusSpec>,
    pub(super) then_fail: Option<StatusSpec>,
    /// WatchOrderStatus: stay open after the stream until the caller's
    /// deadline or cancel.
    #[serde(default)]
    pub(super) then_hold: bool,
    pub(super) delay_ms: Option<u64>,
    pub(super) between_ms: Option<u64>,
    pub(super) up_to: Option<usize>,
    pub(super) priority: Option<u8>,
    /// Lets the stub's answers break the contract on purpose (they are not
    /// checked), as `Stub::off_contract`.
    #[serde(default)]
    pub(super) off_contract: bool,
    /// How many matches `verify` expects: a number, or `{ min, max }`.
    pub(super) expect: Option<ExpectSpec>,
}

/// A stub's `expect`: exactly `n` matches, or a range (either end open).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub(super) enum ExpectSpec {
    Exactly(usize),
    Range {
        min: Option<usize>,
        max: Option<usize>,
    },
}

impl ExpectSpec {
    pub(super) fn times(self) -> Result<crate::mock::Times, String> {
        Ok(match self {
            ExpectSpec::Exactly(n) => n.into(),
            ExpectSpec::Range {
                min: Some(a),
                max: Some(b),
            } if a <= b => (a..=b).into(),
            ExpectSpec::Range {
                min: Some(_),
                max: Some(_),
            } => return Err("expect: min is above max".into()),
            ExpectSpec::Range {
                min: Some(a),
                max: None,
            } => (a..).into(),
            ExpectSpec::Range {
                min: None,
                max: Some(b),
            } => (..=b).into(),
            ExpectSpec::Range {
                min: None,
                max: None,
            } => return Err("expect: give a number, or min and/or max".into()),
        })
    }
}

/// One check of `when_fields` or `when_metadata`: exactly one of `eq`,
/// `regex`, `min`/`max` (inclusive), `present`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckSpec {
    pub(super) eq: Option<toml::Value>,
    pub(super) regex: Option<String>,
    pub(super) min: Option<i64>,
    pub(super) max: Option<i64>,
    pub(super) present: Option<bool>,
}

/// The [`Check`] a [`CheckSpec`] states, or why it states none.
pub(super) fn check(what: &str, spec: &CheckSpec) -> Result<Check, String> {
    let ranged = spec.min.is_some() || spec.max.is_some();
    let given = [
        spec.eq.is_some(),
        spec.regex.is_some(),
        ranged,
        spec.present.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(format!(
            "{what}: give exactly one of eq, regex, min/max, present"
        ));
    }
    if let Some(v) = &spec.eq {
        let json = serde_json::to_value(v).map_err(|e| format!("{what}: {e}"))?;
        return Ok(matching::eq(json));
    }
    if let Some(re) = &spec.regex {
        regex::Regex::new(re).map_err(|e| format!("{what}: invalid regex: {e}"))?;
        return Ok(matching::regex(re));
    }
    if let Some(present) = spec.present {
        return Ok(if present {
            matching::present()
        } else {
            matching::absent()
        });
    }
    Ok(match (spec.min, spec.max) {
        (Some(a), Some(b)) => matching::range(a..=b),
        (Some(a), None) => matching::range(a..),
        (None, Some(b)) => matching::range(..=b),
        (None, None) => matching::range(..),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FaultSpec {
    pub(super) kind: String,
    pub(super) rpc: Option<String>,
    pub(super) code: Option<String>,
    pub(super) message: Option<String>,
    pub(super) retry_after_ms: Option<u64>,
    /// As a status's `details` (see [`StatusSpec`]).
    pub(super) details: Option<DetailsSpec>,
    /// As a status's `field`.
    pub(super) field: Option<String>,
    /// As a status's `resource`.
    pub(super) resource: Option<String>,
    #[serde(default)]
    pub(super) trailers: BTreeMap<String, String>,
    /// For `kind = "wire"`: which breakage.
    pub(super) wire: Option<String>,
    /// For `wire = "content_type"`.
    pub(super) content_type: Option<String>,
    /// For `wire = "oversized"`: the announced message length.
    pub(super) bytes: Option<u32>,
    /// For `wire = "unknown_code"`: the `grpc-status` number.
    pub(super) code_number: Option<u32>,
    /// For `wire = "rst_stream"`: the HTTP/2 error code.
    pub(super) http2_code: Option<u32>,
    pub(super) delay_ms: Option<u64>,
    pub(super) jitter_ms: Option<u64>,
    pub(super) after_messages: Option<usize>,
    /// For `kind = "lose_answer"`: what the client gets instead (`status`,
    /// `reset`, `drop_connection`, `silence`).
    pub(super) then: Option<String>,
    /// For `kind = "cut"`: whether the messages read are applied.
    pub(super) applied: Option<bool>,
    /// For `kind = "fail_action"`: which action, from 1.
    pub(super) index: Option<usize>,
    /// For `kind = "fail_action"`: `INVALID_ARGUMENT`, `NOT_FOUND` or
    /// `FAILED_PRECONDITION`.
    pub(super) reason: Option<String>,
    pub(super) limit: Option<usize>,
    pub(super) window_ms: Option<u64>,
    pub(super) first: Option<u64>,
    pub(super) every: Option<u64>,
    pub(super) after: Option<u64>,
    pub(super) between: Option<[u64; 2]>,
    pub(super) probability: Option<f64>,
    #[serde(default)]
    pub(super) when_header: BTreeMap<String, String>,
}

pub(super) fn parse_code(name: &str) -> Result<Code, String> {
    (0..=16)
        .map(Code::from_i32)
        .find(|c| crate::grpc::payload::code_name(*c) == name)
        .ok_or_else(|| format!("unknown status code {name:?}: expected a name like UNAVAILABLE"))
}

/// The order a canonical `ResourceInfo` names when a status gives none.
const UNNAMED_ORDER: &str = "unknown";

/// The message a status gets when it gives none.
fn canonical_message(code: Code, spec: &StatusSpec) -> String {
    let resource = spec.resource.as_deref().unwrap_or(UNNAMED_ORDER);
    match code {
        Code::Ok => String::new(),
        Code::InvalidArgument => match &spec.field {
            Some(field) => format!("invalid {field}"),
            None => "invalid argument".into(),
        },
        Code::NotFound => format!("order {resource} not found"),
        Code::AlreadyExists => format!("order {resource} already exists"),
        Code::ResourceExhausted => "too many requests: retry later".into(),
        other => crate::grpc::payload::code_name(other)
            .to_ascii_lowercase()
            .replace('_', " "),
    }
}

/// The details the contract asks of `code` (E-2, E-3, E-4, E-7), for a
/// status that gives none; the table in CONTRACT.md ("Statuses from
/// JSON").
fn canonical(code: Code, message: String, spec: &StatusSpec) -> Result<Status, String> {
    let resource = spec.resource.as_deref().unwrap_or(UNNAMED_ORDER);
    Ok(match code {
        Code::InvalidArgument => {
            let field = spec.field.as_deref().ok_or(
                "INVALID_ARGUMENT needs field (the request field at fault, for its BadRequest), or details",
            )?;
            Status::with_error_details(
                code,
                message.clone(),
                ErrorDetails::with_bad_request_violation(field, message),
            )
        }
        Code::NotFound | Code::AlreadyExists => Status::with_error_details(
            code,
            message.clone(),
            ErrorDetails::with_resource_info(
                crate::service::status::ORDER_RESOURCE_TYPE,
                resource,
                "",
                message,
            ),
        ),
        Code::ResourceExhausted => Status::with_error_details(
            code,
            message,
            ErrorDetails::with_retry_info(Some(Duration::from_secs(1))),
        ),
        _ => Status::new(code, message),
    })
}

/// The status `spec` states. What it leaves out comes from the contract:
/// the code's canonical message, and its canonical details unless
/// `details` (a JSON list, `[]` for none, or base64) or `retry_after_ms`
/// is given.
pub(super) fn status(spec: &StatusSpec) -> Result<Status, String> {
    let code = parse_code(&spec.code)?;
    let message = spec
        .message
        .clone()
        .unwrap_or_else(|| canonical_message(code, spec));
    let mut status = match (spec.retry_after_ms, &spec.details) {
        (Some(_), Some(_)) => {
            return Err("a status takes retry_after_ms or details, not both".into());
        }
        (Some(ms), None) => Status::with_error_details(
            code,
            message,
            ErrorDetails::with_retry_info(Some(Duration::from_millis(ms))),
        ),
        (None, Some(DetailsSpec::Base64(details))) => {
            use base64::Engine as _;
            use prost::Message as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(details.trim())
                .map_err(|e| format!("details: not base64: {e}"))?;
            tonic_types::pb::Status::decode(bytes.as_slice())
                .map_err(|e| format!("details: not a google.rpc.Status: {e}"))?;
            Status::with_details(code, message, bytes.into())
        }
        (None, Some(DetailsSpec::Json(details))) if details.is_empty() => {
            Status::new(code, message)
        }
        (None, Some(DetailsSpec::Json(details))) => {
            let bytes = crate::grpc::payload::details_from_json(code, &message, details)?;
            Status::with_details(code, message, bytes)
        }
        (None, None) => canonical(code, message, spec)?,
    };
    for (k, v) in &spec.trailers {
        let key = tonic::metadata::AsciiMetadataKey::from_bytes(k.as_bytes())
            .map_err(|_| format!("invalid trailer name {k:?}"))?;
        let value = v
            .parse()
            .map_err(|_| format!("invalid trailer value for {k:?}"))?;
        status.metadata_mut().insert(key, value);
    }
    Ok(status)
}

/// A status written out whole, as a stub's `fail` takes it back: code,
/// message, and its details in the JSON mapping with their `@type`.
pub(super) fn status_json(status: &tonic::Status) -> serde_json::Value {
    let payload = crate::grpc::payload::ErrorPayload::from_status(status);
    serde_json::json!({
        "code": payload.code,
        "message": payload.message,
        "details": payload.details,
    })
}

pub(super) fn method(name: &str) -> Result<Method, String> {
    Method::from_name(name).ok_or_else(|| {
        format!(
            "unknown rpc {name:?}: expected one of {}",
            Method::ALL.map(Method::name).join(", ")
        )
    })
}
