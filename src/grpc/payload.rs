//! A stable rendering of an error: its code, message, custom metadata and
//! every `grpc-status-details-bin` detail decoded, for insta snapshots and
//! reports.
//!
//! Details are decoded with the embedded descriptors and written in the
//! protobuf JSON mapping (as grpcurl shows them), with object keys sorted, so
//! the same error always renders the same text (tonic-types' `ErrorInfo`
//! metadata is a `HashMap`; here it comes out sorted).
//!
//! ```
//! use orders_testkit::grpc::payload::ErrorPayload;
//!
//! let payload = ErrorPayload::from_status(&orders_testkit::service::status::not_found("ord-1"));
//! assert_eq!(payload.code, "NOT_FOUND");
//! let text = payload.render();
//! assert!(text.contains("\"resourceName\": \"ord-1\""));
//! ```

use std::collections::BTreeMap;

use prost::Message;
use prost_reflect::{DynamicMessage, SerializeOptions};
use serde::Serialize;
use serde_json::Value;
use tonic::{Code, Status};

/// Metadata keys that belong to the gRPC protocol, not to the error's payload.
const PROTOCOL_KEYS: &[&str] = &[
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "content-type",
    "date",
    "content-length",
];

/// An error as a reviewer reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorPayload {
    /// The canonical code name, such as `INVALID_ARGUMENT`.
    pub code: String,
    /// The status message.
    pub message: String,
    /// Custom metadata sent with the error (protocol headers left out),
    /// sorted by key; binary values are shown base64-encoded as sent.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Every detail, decoded, in the order sent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Value>,
    /// Set when the encoded `google.rpc.Status` disagrees with the call's
    /// code or message (E-5) or cannot be decoded: what it says instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details_status: Option<Value>,
}

/// The canonical name of a gRPC code (`DEADLINE_EXCEEDED`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

fn sorted(value: Value) -> Value {
    // serde_json's map is ordered by key unless `preserve_order` is enabled;
    // rebuilding makes the order explicit whatever the feature set.
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, sorted(v)))
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn decode_details(bytes: &[u8]) -> Result<tonic_types::pb::Status, String> {
    tonic_types::pb::Status::decode(bytes)
        .map_err(|e| format!("undecodable google.rpc.Status: {e}"))
}

fn detail_json(any: &prost_types::Any) -> Value {
    let type_name = any.type_url.rsplit('/').next().unwrap_or_default();
    let decoded = crate::grpc::descriptors::pool()
        .get_message_by_name(type_name)
        .ok_or_else(|| "type not known to the testkit".to_string())
        .and_then(|desc| {
            DynamicMessage::decode(desc, any.value.as_slice()).map_err(|e| e.to_string())
        })
        .and_then(|msg| {
            let options = SerializeOptions::new().stringify_64_bit_integers(false);
            msg.serialize_with_options(serde_json::value::Serializer, &options)
                .map_err(|e| e.to_string())
        });
    let mut out = serde_json::Map::new();
    out.insert("@type".into(), Value::String(any.type_url.clone()));
    match decoded {
        Ok(Value::Object(fields)) => out.extend(fields),
        Ok(other) => {
            out.insert("value".into(), other);
        }
        Err(e) => {
            out.insert("@error".into(), Value::String(e));
            out.insert(
                "@bytes".into(),
                Value::String(any.value.iter().map(|b| format!("{b:02x}")).collect()),
            );
        }
    }
    sorted(Value::Object(out))
}

/// The encoded `google.rpc.Status` (`grpc-status-details-bin`) of `code`
/// and `message` with `details` written in the JSON mapping, each with its
/// `@type` (as grpcurl prints them and [`ErrorPayload`] renders them):
/// the way back from JSON. An unknown type or a bad field is an error.
#[cfg(feature = "scenario")]
pub(crate) fn details_from_json(
    code: Code,
    message: &str,
    details: &[Value],
) -> Result<bytes::Bytes, String> {
    let mut anys = Vec::with_capacity(details.len());
    for (i, detail) in details.iter().enumerate() {
        let Some(Value::String(type_url)) = detail.get("@type") else {
            return Err(format!(
                "details[{i}]: no \"@type\" (such as \"type.googleapis.com/google.rpc.BadRequest\")"
            ));
        };
        let type_name = type_url.rsplit('/').next().unwrap_or_default();
        let desc = crate::grpc::descriptors::pool()
            .get_message_by_name(type_name)
            .ok_or_else(|| {
                format!(
                    "details[{i}]: unknown type {type_url:?}: give these details as base64 instead"
                )
            })?;
        let mut fields = detail.clone();
        if let Value::Object(map) = &mut fields {
            map.remove("@type");
        }
        let message = DynamicMessage::deserialize(desc, fields)
            .map_err(|e| format!("details[{i}]: not a valid {type_name}: {e}"))?;
        anys.push(prost_types::Any {
            type_url: type_url.clone(),
            value: message.encode_to_vec(),
        });
    }
    Ok(tonic_types::pb::Status {
        code: code as i32,
        message: message.to_string(),
        details: anys,
    }
    .encode_to_vec()
    .into())
}

impl ErrorPayload {
    /// Decodes a status: its code, message, custom metadata and details.
    pub fn from_status(status: &Status) -> Self {
        let metadata = status
            .metadata()
            .clone()
            .into_headers()
            .iter()
            .filter(|(k, _)| !PROTOCOL_KEYS.contains(&k.as_str()))
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut details = Vec::new();
        let mut details_status = None;
        if !status.details().is_empty() {
            match decode_details(status.details()) {
                Ok(decoded) => {
                    details = decoded.details.iter().map(detail_json).collect();
                    if decoded.code != status.code() as i32 || decoded.message != status.message() {
                        details_status = Some(serde_json::json!({
                            "code": code_name(Code::from(decoded.code)),
                            "message": decoded.message,
                        }));
                    }
                }
                Err(e) => details_status = Some(Value::String(e)),
            }
        }
        Self {
            code: code_name(status.code()).to_string(),
            message: status.message().to_string(),
            metadata,
            details,
            details_status,
        }
    }

    /// The payload as pretty JSON with sorted keys: stable text for
    /// snapshots and diffs.
    pub fn render(&self) -> String {
        // Fields in declaration order; inside details, keys are sorted.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| e.to_string())
    }
}
