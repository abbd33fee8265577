//! The journal as the admin surface shows it: which calls (filters), and
//! each call as a message and as JSON.

use std::time::SystemTime;

use base64::Engine as _;
use serde_json::{Value, json};

use super::pb;
use crate::grpc::payload::code_name;
use crate::journal::{Call, Outcome};
use crate::mock::CallNotes as _;
use crate::rpc::{RequestMessage, ResponseMessage};

/// Which calls: every filter given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CallFilter {
    /// An OrderService method name, or a full path.
    pub(crate) method: Option<String>,
    /// Metadata that must be present with exactly this value.
    pub(crate) metadata: Vec<(String, String)>,
    /// A code name, `OK`, `ERROR`, `IN_FLIGHT` or `NO_STATUS`.
    pub(crate) outcome: Option<String>,
}

/// The outcome names a filter takes besides the code names.
const OUTCOMES: [&str; 3] = ["ERROR", "IN_FLIGHT", "NO_STATUS"];

impl CallFilter {
    /// Checks the filter's names; the problem, when one is unknown.
    pub(crate) fn check(&self) -> Result<(), String> {
        if let Some(m) = &self.method
            && !m.starts_with('/')
            && crate::rpc::Method::from_name(m).is_none()
        {
            return Err(format!(
                "unknown method {m:?}: expected one of {} or a full path",
                crate::rpc::Method::ALL.map(|m| m.name()).join(", ")
            ));
        }
        if let Some(o) = &self.outcome {
            let known = OUTCOMES.contains(&o.as_str())
                || (0..=16).any(|c| code_name(tonic::Code::from_i32(c)) == o);
            if !known {
                return Err(format!(
                    "unknown outcome {o:?}: expected a code name (OK, NOT_FOUND, …), ERROR, IN_FLIGHT or NO_STATUS"
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn matches(&self, call: &Call) -> bool {
        if let Some(m) = &self.method {
            let name = call.method.map(|m| m.name());
            if name != Some(m.as_str()) && call.path != *m {
                return false;
            }
        }
        if !self.metadata.iter().all(|(k, v)| {
            call.metadata
                .get_all(k.as_str())
                .iter()
                .any(|got| got.as_encoded_bytes() == v.as_bytes())
        }) {
            return false;
        }
        match self.outcome.as_deref() {
            None => true,
            Some("ERROR") => call.outcome.code().is_some_and(|c| c != tonic::Code::Ok),
            Some(o) => outcome_name(&call.outcome) == o,
        }
    }

    pub(crate) fn from_pb(filter: Option<pb::CallFilter>) -> Self {
        let Some(f) = filter else {
            return Self::default();
        };
        let mut metadata: Vec<_> = f.metadata.into_iter().collect();
        metadata.sort();
        Self {
            method: Some(f.method).filter(|m| !m.is_empty()),
            metadata,
            outcome: Some(f.outcome).filter(|o| !o.is_empty()),
        }
    }
}

/// `OK`, `NOT_FOUND`, …, `IN_FLIGHT`, or `NO_STATUS`.
fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Status { code, .. } => code_name(*code),
        Outcome::InFlight => "IN_FLIGHT",
        _ => "NO_STATUS",
    }
}

pub(crate) fn request_json(m: &RequestMessage) -> Value {
    use crate::grpc::json::to_json;
    match m {
        RequestMessage::CreateOrder(m) => to_json(m, false),
        RequestMessage::GetOrder(m) => to_json(m, false),
        RequestMessage::WatchOrderStatus(m) => to_json(m, false),
        RequestMessage::LineItem(m) => to_json(m, false),
        RequestMessage::OrderAction(m) => to_json(m, false),
    }
}

fn response_json(m: &ResponseMessage) -> Value {
    use crate::grpc::json::to_json;
    match m {
        ResponseMessage::CreateOrder(m) => to_json(m, false),
        ResponseMessage::Order(m) => to_json(m, false),
        ResponseMessage::OrderStatusUpdate(m) => to_json(m, false),
        ResponseMessage::SubmitLineItems(m) => to_json(m, false),
        ResponseMessage::OrderResult(m) => to_json(m, false),
    }
}

/// One call as the admin service sends it (`authorization` redacted).
pub(crate) fn to_pb(call: &Call) -> pb::Call {
    let now = tokio::time::Instant::now();
    let since_start = now.saturating_duration_since(call.started);
    let started = SystemTime::now()
        .checked_sub(since_start)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    let mut metadata = std::collections::HashMap::<String, String>::new();
    for (name, value) in call.metadata.clone().into_headers().iter() {
        let shown = if name == http::header::AUTHORIZATION {
            "<redacted>".to_string()
        } else if name.as_str().ends_with("-bin") {
            base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        metadata
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&shown);
            })
            .or_insert(shown);
    }
    let (message, code) = match &call.outcome {
        Outcome::Status { message, .. } => (message.clone(), outcome_name(&call.outcome)),
        other => (String::new(), outcome_name(other)),
    };
    pb::Call {
        seq: call.seq,
        method: call
            .method
            .map_or_else(|| call.path.clone(), |m| m.name().to_string()),
        path: call.path.clone(),
        started_unix_ms: started,
        duration_ms: call.ended.map_or(0.0, |e| {
            e.saturating_duration_since(call.started).as_secs_f64() * 1e3
        }),
        metadata,
        deadline_ms: call.deadline.map_or(0, |d| d.as_millis() as u64),
        requests_json: call
            .requests
            .iter()
            .map(|m| request_json(m).to_string())
            .collect(),
        responses_json: call
            .responses
            .iter()
            .map(|m| response_json(m).to_string())
            .collect(),
        outcome: code.to_string(),
        message,
        answered_by: call.answered_by().iter().map(|a| a.to_string()).collect(),
        near_miss: call.near_miss().map(|n| n.to_string()).unwrap_or_default(),
    }
}

/// One call as the HTTP API and the page show it.
pub(crate) fn to_json(call: &pb::Call) -> Value {
    let parse = |texts: &[String]| -> Vec<Value> {
        texts
            .iter()
            .map(|t| serde_json::from_str(t).unwrap_or(Value::Null))
            .collect()
    };
    let mut metadata: Vec<_> = call.metadata.iter().collect();
    metadata.sort();
    json!({
        "seq": call.seq,
        "method": call.method,
        "path": call.path,
        "startedUnixMs": call.started_unix_ms,
        "durationMs": call.duration_ms,
        "metadata": metadata.into_iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
        "deadlineMs": (call.deadline_ms > 0).then_some(call.deadline_ms),
        "requests": parse(&call.requests_json),
        "responses": parse(&call.responses_json),
        "outcome": call.outcome,
        "message": call.message,
        "answeredBy": call.answered_by,
        "nearMiss": (!call.near_miss.is_empty()).then_some(&call.near_miss),
    })
}
