//! Journaled calls written as a scenario file that replays them: one stub
//! per exchange (per action for ProcessOrders), matching the recorded
//! request exactly and answering the recorded reply, stream or status with
//! its details.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::Value;
use toml::{Table, Value as Toml};

use super::json::{ProtoMessage, to_json};
use crate::journal::{Call, Outcome};
use crate::mock::CallNotes;
use crate::rpc::{Method, RequestMessage, ResponseMessage};

/// What a recording never writes, whatever `--redact` says.
const ALWAYS_REDACTED: [&str; 1] = ["authorization"];

/// Headers of one hop (HTTP/2 and gRPC framing), not worth a reader's time.
fn framing(name: &str) -> bool {
    name.starts_with("grpc-") || matches!(name, "te" | "content-type" | "user-agent")
}

fn toml_of(value: Value) -> Option<Toml> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => Toml::Boolean(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Toml::Integer(i),
            None => Toml::Float(n.as_f64()?),
        },
        Value::String(s) => Toml::String(s),
        Value::Array(items) => Toml::Array(items.into_iter().filter_map(toml_of).collect()),
        Value::Object(fields) => Toml::Table(
            fields
                .into_iter()
                .filter_map(|(k, v)| Some((k, toml_of(v)?)))
                .collect(),
        ),
    })
}

fn message<T: ProtoMessage>(msg: &T) -> Toml {
    toml_of(to_json(msg)).unwrap_or_else(|| Toml::Table(Table::new()))
}

fn request(message_: &RequestMessage) -> Toml {
    match message_ {
        RequestMessage::CreateOrder(m) => message(m),
        RequestMessage::GetOrder(m) => message(m),
        RequestMessage::WatchOrderStatus(m) => message(m),
        RequestMessage::LineItem(m) => message(m),
        RequestMessage::OrderAction(m) => message(m),
    }
}

fn response(message_: &ResponseMessage) -> Toml {
    match message_ {
        ResponseMessage::CreateOrder(m) => message(m),
        ResponseMessage::Order(m) => message(m),
        ResponseMessage::OrderStatusUpdate(m) => message(m),
        ResponseMessage::SubmitLineItems(m) => message(m),
        ResponseMessage::OrderResult(m) => message(m),
    }
}

/// A status as the scenario schema writes it, details byte for byte.
fn status(code: tonic::Code, message: &str, details: &[u8]) -> Toml {
    let mut t = Table::new();
    t.insert(
        "code".into(),
        Toml::String(crate::grpc::payload::code_name(code).into()),
    );
    t.insert("message".into(), Toml::String(message.into()));
    if !details.is_empty() {
        t.insert(
            "details".into(),
            Toml::String(base64::engine::general_purpose::STANDARD.encode(details)),
        );
    }
    Toml::Table(t)
}

/// The stubs that replay one call (none when nothing can be replayed: a
/// call cancelled before any answer, or one without its request).
fn stubs_of(call: &Call, method: Method) -> Vec<Table> {
    let mut out = Vec::new();
    let mut stub = Table::new();
    stub.insert("rpc".into(), Toml::String(method.name().into()));
    let failed = match &call.outcome {
        Outcome::Status {
            code,
            message,
            details,
        } if *code != tonic::Code::Ok => Some(status(*code, message, details)),
        _ => None,
    };
    let ok = matches!(
        &call.outcome,
        Outcome::Status {
            code: tonic::Code::Ok,
            ..
        }
    );
    match method {
        Method::CreateOrder | Method::GetOrder => {
            let Some(req) = call.requests.first() else {
                return out;
            };
            stub.insert("when".into(), request(req));
            match (failed, call.responses.first()) {
                (Some(failed), _) => stub.insert("fail".into(), failed),
                (None, Some(res)) if ok => stub.insert("respond".into(), response(res)),
                _ => return out,
            };
            out.push(stub);
        }
        Method::WatchOrderStatus => {
            let Some(req) = call.requests.first() else {
                return out;
            };
            stub.insert("when".into(), request(req));
            let items: Vec<Toml> = call.responses.iter().map(response).collect();
            match (&call.outcome, failed) {
                (_, Some(failed)) if items.is_empty() => {
                    stub.insert("fail".into(), failed);
                }
                (_, Some(failed)) => {
                    stub.insert("stream".into(), Toml::Array(items));
                    stub.insert("then_fail".into(), failed);
                }
                (Outcome::Status { .. }, None) => {
                    stub.insert("stream".into(), Toml::Array(items));
                }
                // Cut by the caller mid-stream: the stream stays open.
                (Outcome::NoStatus, None) => {
                    stub.insert("stream".into(), Toml::Array(items));
                    stub.insert("then_hold".into(), Toml::Boolean(true));
                }
                _ => return out,
            }
            out.push(stub);
        }
        Method::SubmitLineItems => {
            let items: Vec<Toml> = call.requests.iter().map(request).collect();
            stub.insert("when_stream".into(), Toml::Array(items));
            match (failed, call.responses.first()) {
                (Some(failed), _) => stub.insert("fail".into(), failed),
                (None, Some(res)) if ok => stub.insert("respond".into(), response(res)),
                _ => return out,
            };
            out.push(stub);
        }
        Method::ProcessOrders => {
            for (i, action) in call.requests.iter().enumerate() {
                let mut one = stub.clone();
                one.insert("when".into(), request(action));
                match call.responses.get(i) {
                    Some(result) => {
                        one.insert("replies".into(), Toml::Array(vec![response(result)]));
                    }
                    // The action the stream failed on; the rest went unanswered.
                    None => match &failed {
                        Some(failed) => {
                            one.insert("fail".into(), failed.clone());
                            out.push(one);
                            break;
                        }
                        None => break,
                    },
                }
                out.push(one);
            }
        }
    }
    out
}

/// The note a recorded stub carries: where it came from and the call's
/// metadata, without `authorization` and the names in `redact`.
fn note(call: &Call, redact: &[String]) -> String {
    let mut headers: Vec<String> = call
        .metadata
        .clone()
        .into_headers()
        .iter()
        .filter(|(k, _)| {
            let k = k.as_str();
            !framing(k)
                && !ALWAYS_REDACTED.contains(&k)
                && !redact.iter().any(|r| r.eq_ignore_ascii_case(k))
        })
        .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    headers.sort();
    let mut note = format!("recorded call #{}", call.seq);
    if !headers.is_empty() {
        note.push_str(&format!("; metadata {}", headers.join(", ")));
    }
    note
}

/// The OrderService calls of `calls`, as a scenario file that replays them
/// (`serve --scenario FILE`, [`Scenario::parse`](super::Scenario::parse)):
///
/// - one stub per call (per action for ProcessOrders), matching the
///   recorded request field for field (the whole stream for
///   SubmitLineItems), answering the recorded message, stream, or status
///   with its `grpc-status-details-bin` byte for byte, once (`up_to = 1`);
///   calls with the same request replay in recorded order (`priority`
///   1, 2, …, up to 255);
/// - `fallthrough = "unimplemented"`: what was not recorded is refused;
/// - a watch the caller cut stays open after its messages (`then_hold`);
/// - `authorization` and every header named in `redact` are never
///   written (the other metadata goes in each stub's `note`); calls that
///   ended before any answer, and calls whose target was not reached (a
///   transport failure, [`UpstreamFailure`](crate::mock::UpstreamFailure)),
///   are left out.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::prelude::*;
/// use orders_testkit::scenario::{Scenario, recording};
///
/// let real = OrderMock::start().await;
/// let id = real.seed_order(Order { customer_id: "c-1".into(), ..Default::default() });
/// let order = real.client().get_order(GetOrderRequest { order_id: id.clone() }).await.unwrap();
///
/// let file = recording(&real.journal().wait_for_ended(1).await, &[]);
/// let replay = Scenario::parse("recorded.toml", &file).unwrap().start().await;
/// let again = replay.client().get_order(GetOrderRequest { order_id: id }).await.unwrap();
/// assert_eq!(again.into_inner(), order.into_inner());
/// let other = replay.client().get_order(GetOrderRequest { order_id: "o-x".into() }).await;
/// assert_eq!(other.unwrap_err().code(), tonic::Code::Unimplemented);
/// # }
/// ```
pub fn recording(calls: &[Call], redact: &[&str]) -> String {
    let redact: Vec<String> = redact.iter().map(|r| r.to_ascii_lowercase()).collect();
    let mut seen: HashMap<String, u8> = HashMap::new();
    let mut stubs = Vec::new();
    for call in calls {
        let Some(method) = call.method else { continue };
        // What the target never said is not a recorded answer.
        if call.upstream_failure().is_some() {
            continue;
        }
        for mut stub in stubs_of(call, method) {
            // Same request (rpc and matcher) again: tried after the earlier ones.
            let key = format!(
                "{:?}{:?}{:?}",
                stub.get("rpc"),
                stub.get("when"),
                stub.get("when_stream")
            );
            let n = seen.entry(key).or_insert(0);
            *n = n.saturating_add(1);
            stub.insert("note".into(), Toml::String(note(call, &redact)));
            stub.insert("up_to".into(), Toml::Integer(1));
            stub.insert("priority".into(), Toml::Integer(i64::from(*n)));
            stubs.push(Toml::Table(stub));
        }
    }
    let mut file = Table::new();
    file.insert("fallthrough".into(), Toml::String("unimplemented".into()));
    file.insert("stubs".into(), Toml::Array(stubs));
    format!(
        "# Recorded by orders-testkit: replay with `orders-testkit serve --scenario FILE`.\n\
         # One stub per recorded exchange; calls with the same request replay in\n\
         # recorded order (priority 1, 2, ...); anything not recorded is refused.\n\n{}",
        toml::to_string_pretty(&file)
            .unwrap_or_else(|e| format!("# orders-testkit could not write this recording: {e}\n"))
    )
}
