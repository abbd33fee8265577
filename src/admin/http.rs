//! The admin surface over HTTP/1.1 and JSON, and the live page: one route
//! per operation of the gRPC service, for curl users and scripts.
//!
//! | route | does |
//! |---|---|
//! | `GET /` | the live page |
//! | `GET /api/stubs` | the stubs, with hit counts |
//! | `POST /api/stubs` | mounts the stub in the body (JSON) → 201 `{id, name}` |
//! | `DELETE /api/stubs/{id}` | unmounts it (404 if unknown) |
//! | `GET /api/faults` | the faults, as JSON with their ids |
//! | `POST /api/faults` | injects the fault in the body → 201 `{id, faults}` |
//! | `DELETE /api/faults` | clears them → `{cleared}` |
//! | `DELETE /api/faults/{id}` | removes one (404 if unknown) |
//! | `POST /api/orders` | seeds the order in the body → 201 `{orderId}` |
//! | `POST /api/reset` | clears what the body selects (`{"orders": true, …}`; empty: all) |
//! | `GET /api/calls` | the journal; `?method=&outcome=&metadata=k:v&limit=` |
//! | `GET /api/calls/stream` | server-sent events: each call as it ends (same filters) |
//! | `GET /api/verify` | `{ok, problems, report}`, the Rust `verify()` report |
//! | `GET /api/live` | the RPCs driven live and their open calls (`{driven, calls}`) |
//! | `POST /api/live` | `{"rpc": "WatchOrderStatus"}`: drive its calls from here → 201 |
//! | `DELETE /api/live/{rpc}` | stop driving it (open calls stay) |
//! | `POST /api/live/calls/{id}/send` | send the message in the body (JSON mapping) |
//! | `POST /api/live/calls/{id}/end` | end with the status in the body (`{"code": "OK"}` finishes a stream), or `{"reset": true}` |
//!
//! Errors are JSON, `{"error": "...", "field": ..., "line": ...}`, with 400
//! (bad input), 401/403 (token), 404, 405, 413 (a body over 1 MiB).

use std::collections::HashMap;
use std::convert::Infallible;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::calls::{CallFilter, request_json, to_json, to_pb};
use super::{Admin, AdminError, ResetWhat};
use crate::server::ServerTasks;

type Body = BoxBody<Bytes, Infallible>;

/// The largest request body taken.
const MAX_BODY: usize = 1 << 20;

/// The page, served as it is (no build step).
const PAGE: &str = include_str!("page.html");

/// Serves the HTTP API and the page on `listener` until `tasks` stop.
pub(crate) fn serve(admin: Admin, listener: TcpListener, tasks: &ServerTasks) {
    tasks.spawn(async move {
        // Connections end with the accept loop (the set aborts them).
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    // Out of file descriptors, say: back off a little.
                    Err(_) => {
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                },
                Some(_) = connections.join_next() => continue,
            };
            let admin = admin.clone();
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let admin = admin.clone();
                    async move { Ok::<_, Infallible>(handle(&admin, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut res = Response::new(Full::new(body.into()).boxed());
    *res.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    res
}

fn json_response(status: StatusCode, value: Value) -> Response<Body> {
    full(status, "application/json", value.to_string())
}

fn error(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    refused(status, message).into()
}

/// A refusal before the response is built: its status and JSON body.
struct Refused(StatusCode, Value);

fn refused(status: StatusCode, message: impl Into<String>) -> Refused {
    Refused(status, json!({ "error": message.into() }))
}

impl From<Refused> for Response<Body> {
    fn from(Refused(status, body): Refused) -> Self {
        json_response(status, body)
    }
}

fn admin_error(e: AdminError) -> Response<Body> {
    match &e {
        AdminError::BadInput { key, line, .. } => json_response(
            StatusCode::BAD_REQUEST,
            json!({ "error": e.to_string(), "field": key, "line": line }),
        ),
        AdminError::NotFound(_) => error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

/// `application/x-www-form-urlencoded` decoding of one query component.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// The filter and limit a query states, or the 400 it gets.
fn filter_of(query: &[(String, String)]) -> Result<(CallFilter, usize), Refused> {
    let mut filter = CallFilter::default();
    let mut limit = 0;
    for (k, v) in query {
        match k.as_str() {
            "method" if !v.is_empty() => filter.method = Some(v.clone()),
            "outcome" | "status" if !v.is_empty() => filter.outcome = Some(v.to_ascii_uppercase()),
            "metadata" => match v.split_once(':') {
                Some((name, value)) => filter
                    .metadata
                    .push((name.trim().to_ascii_lowercase(), value.trim().to_string())),
                None => {
                    return Err(refused(
                        StatusCode::BAD_REQUEST,
                        format!("metadata takes name:value, got {v:?}"),
                    ));
                }
            },
            "limit" => {
                limit = v.parse().map_err(|_| {
                    refused(
                        StatusCode::BAD_REQUEST,
                        format!("limit takes a number, got {v:?}"),
                    )
                })?;
            }
            "method" | "outcome" | "status" | "access_token" => {}
            other => {
                return Err(refused(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unknown query parameter {other:?}: expected method, outcome, metadata, limit"
                    ),
                ));
            }
        }
    }
    filter
        .check()
        .map_err(|p| refused(StatusCode::BAD_REQUEST, p))?;
    Ok((filter, limit))
}

/// The admin token check: the `authorization` header, or an
/// `access_token` query parameter (for the page's event stream, which
/// cannot send headers).
fn authorize(
    admin: &Admin,
    req: &Request<Incoming>,
    query: &[(String, String)],
) -> Result<(), Refused> {
    let mut headers = req.headers().clone();
    if !headers.contains_key(header::AUTHORIZATION)
        && let Some((_, token)) = query.iter().find(|(k, _)| k == "access_token")
        && let Ok(v) = format!("Bearer {token}").parse()
    {
        headers.insert(header::AUTHORIZATION, v);
    }
    admin.tokens.check_admin(&headers).map_err(|status| {
        let code = if status.code() == tonic::Code::PermissionDenied {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNAUTHORIZED
        };
        refused(code, status.message())
    })
}

/// The request body as text, or the error response.
async fn body_text(req: Request<Incoming>) -> Result<String, Response<Body>> {
    let bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is over {MAX_BODY} bytes"),
                )
            } else {
                error(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the body: {e}"),
                )
            }
        })?
        .to_bytes();
    String::from_utf8(bytes.to_vec())
        .map_err(|_| error(StatusCode::BAD_REQUEST, "the body is not UTF-8"))
}

async fn handle(admin: &Admin, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if path == "/" || path == "/index.html" {
        return if method == Method::GET {
            full(StatusCode::OK, "text/html; charset=utf-8", PAGE)
        } else {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} {path}: only GET"),
            )
        };
    }
    let query = query(&req);
    if let Err(refusal) = authorize(admin, &req, &query) {
        return refusal.into();
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let wrong_method = |allowed: &str| {
        error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} {path}: allowed {allowed}"),
        )
    };
    match segments.as_slice() {
        ["api", "stubs"] => match method {
            Method::GET => json_response(StatusCode::OK, json!({ "stubs": stubs(admin) })),
            Method::POST => match body_text(req).await {
                Ok(text) => match admin.add_stub(&text) {
                    Ok((id, name)) => {
                        json_response(StatusCode::CREATED, json!({ "id": id, "name": name }))
                    }
                    Err(e) => admin_error(e),
                },
                Err(res) => res,
            },
            _ => wrong_method("GET, POST"),
        },
        ["api", "stubs", id] => match method {
            Method::DELETE => match id.parse::<u64>() {
                Ok(id) => match admin.remove_stub(id) {
                    Ok(()) => json_response(StatusCode::OK, json!({ "removed": id })),
                    Err(e) => admin_error(e),
                },
                Err(_) => error(
                    StatusCode::BAD_REQUEST,
                    format!("a stub id is a number, got {id:?}"),
                ),
            },
            _ => wrong_method("DELETE"),
        },
        ["api", "faults"] => match method {
            Method::GET => json_response(StatusCode::OK, json!({ "faults": admin.faults_json() })),
            Method::POST => match body_text(req).await {
                Ok(text) => match admin.inject_fault(&text) {
                    Ok((id, n)) => {
                        json_response(StatusCode::CREATED, json!({ "id": id, "faults": n }))
                    }
                    Err(e) => admin_error(e),
                },
                Err(res) => res,
            },
            Method::DELETE => {
                json_response(StatusCode::OK, json!({ "cleared": admin.clear_faults() }))
            }
            _ => wrong_method("GET, POST, DELETE"),
        },
        ["api", "live"] => match method {
            Method::GET => json_response(StatusCode::OK, live(admin)),
            Method::POST => match body_text(req).await {
                Ok(text) => {
                    let rpc = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v.get("rpc").and_then(Value::as_str).map(str::to_string));
                    match rpc {
                        Some(rpc) => match admin.drive_live(&rpc, false) {
                            Ok(changed) => json_response(
                                StatusCode::CREATED,
                                json!({ "driving": rpc, "changed": changed }),
                            ),
                            Err(e) => admin_error(e),
                        },
                        None => error(
                            StatusCode::BAD_REQUEST,
                            r#"the body names the RPC to drive: {"rpc": "WatchOrderStatus"}"#,
                        ),
                    }
                }
                Err(res) => res,
            },
            _ => wrong_method("GET, POST"),
        },
        ["api", "live", rpc] => match method {
            Method::DELETE => match admin.drive_live(rpc, true) {
                Ok(changed) => json_response(
                    StatusCode::OK,
                    json!({ "stopped": rpc, "changed": changed }),
                ),
                Err(e) => admin_error(e),
            },
            _ => wrong_method("DELETE"),
        },
        ["api", "live", "calls", id, verb @ ("send" | "end")] => match method {
            Method::POST => {
                let Ok(id) = id.parse::<u64>() else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("a live call id is a number, got {id:?}"),
                    );
                };
                let verb = *verb;
                match body_text(req).await {
                    Ok(text) => {
                        let done = if verb == "send" {
                            admin.send_live(id, &text).await
                        } else {
                            admin.end_live(id, &text).await
                        };
                        match done {
                            Ok(()) => {
                                json_response(StatusCode::OK, json!({ "id": id, "done": verb }))
                            }
                            Err(e) => admin_error(e),
                        }
                    }
                    Err(res) => res,
                }
            }
            _ => wrong_method("POST"),
        },
        ["api", "faults", id] => match method {
            Method::DELETE => match id.parse::<u64>() {
                Ok(id) => match admin.remove_fault(id) {
                    Ok(()) => json_response(StatusCode::OK, json!({ "removed": id })),
                    Err(e) => admin_error(e),
                },
                Err(_) => error(
                    StatusCode::BAD_REQUEST,
                    format!("a fault id is a number, got {id:?}"),
                ),
            },
            _ => wrong_method("DELETE"),
        },
        ["api", "orders"] => match method {
            Method::POST => match body_text(req).await {
                Ok(text) => match admin.seed_order(&text) {
                    Ok(id) => json_response(StatusCode::CREATED, json!({ "orderId": id })),
                    Err(e) => admin_error(e),
                },
                Err(res) => res,
            },
            _ => wrong_method("POST"),
        },
        ["api", "reset"] => match method {
            Method::POST => match body_text(req).await {
                Ok(text) => match reset_what(&text) {
                    Ok(what) => {
                        let done = admin.reset(what);
                        json_response(
                            StatusCode::OK,
                            json!({ "orders": done.orders, "stubs": done.stubs, "faults": done.faults, "calls": done.calls }),
                        )
                    }
                    Err(refusal) => refusal.into(),
                },
                Err(res) => res,
            },
            _ => wrong_method("POST"),
        },
        ["api", "calls"] => match method {
            Method::GET => match filter_of(&query) {
                Ok((filter, limit)) => {
                    let mut calls: Vec<Value> = admin
                        .journal
                        .calls()
                        .iter()
                        .filter(|c| filter.matches(c))
                        .map(|c| to_json(&to_pb(c)))
                        .collect();
                    if limit > 0 && calls.len() > limit {
                        calls.drain(..calls.len() - limit);
                    }
                    json_response(
                        StatusCode::OK,
                        json!({ "calls": calls, "dropped": admin.journal.dropped() }),
                    )
                }
                Err(refusal) => refusal.into(),
            },
            _ => wrong_method("GET"),
        },
        ["api", "calls", "stream"] => match method {
            Method::GET => match filter_of(&query) {
                Ok((filter, _)) => events(admin, filter),
                Err(refusal) => refusal.into(),
            },
            _ => wrong_method("GET"),
        },
        ["api", "verify"] => match method {
            Method::GET => {
                let v = admin.verify();
                let problems = super::problems(&v);
                json_response(
                    StatusCode::OK,
                    json!({ "ok": v.is_ok(), "problems": problems, "report": v.to_string() }),
                )
            }
            _ => wrong_method("GET"),
        },
        _ => error(
            StatusCode::NOT_FOUND,
            format!(
                "no route {method} {path}: see GET /api/stubs, /api/faults, /api/calls, /api/verify"
            ),
        ),
    }
}

fn stubs(admin: &Admin) -> Vec<Value> {
    admin
        .stubs
        .list()
        .into_iter()
        .map(|s| {
            json!({
                "id": s.id,
                "rpc": s.method.name(),
                "name": s.name,
                "hits": s.hits,
                "priority": s.priority,
                "expected": s.expected.map(|t| t.to_string()),
                "met": super::met(&s),
                "definition": s.definition.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
            })
        })
        .collect()
}

/// What a reset body selects (an empty body: everything).
fn reset_what(text: &str) -> Result<ResetWhat, Refused> {
    if text.trim().is_empty() {
        return Ok(ResetWhat::default());
    }
    let map: HashMap<String, bool> = serde_json::from_str(text).map_err(|e| {
        Refused(
            StatusCode::BAD_REQUEST,
            json!({ "error": format!("invalid reset: {e}"), "line": e.line() }),
        )
    })?;
    let mut what = ResetWhat::default();
    for (k, v) in map {
        match k.as_str() {
            "orders" => what.orders = v,
            "stubs" => what.stubs = v,
            "faults" => what.faults = v,
            "journal" => what.journal = v,
            other => {
                return Err(Refused(
                    StatusCode::BAD_REQUEST,
                    json!({ "error": format!("invalid reset: unknown key {other:?}: expected orders, stubs, faults, journal"), "field": other }),
                ));
            }
        }
    }
    Ok(what)
}

/// Server-sent events: `event: call` with each call as it ends.
fn events(admin: &Admin, filter: CallFilter) -> Response<Body> {
    let mut tail = admin.journal.tail();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(64);
    tokio::spawn(async move {
        // A first comment, so the client sees the stream open at once.
        if tx
            .send(Ok(Frame::data(Bytes::from_static(b": open\n\n"))))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let call = tokio::select! {
                call = tail.next() => call,
                _ = tx.closed() => return,
            };
            let Some(call) = call else { return };
            if !filter.matches(&call) {
                continue;
            }
            let data = to_json(&to_pb(&call)).to_string();
            let event = format!("event: call\ndata: {data}\n\n");
            if tx.send(Ok(Frame::data(Bytes::from(event)))).await.is_err() {
                return;
            }
        }
    });
    let body = StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    let mut res = Response::new(body.boxed());
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    res
}

/// The RPCs driven live and their open calls, as JSON.
fn live(admin: &Admin) -> Value {
    let (driven, calls) = admin.live_calls();
    let calls: Vec<Value> = calls
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "rpc": c.rpc.name(),
                "request": c.request.as_ref().map(request_json),
                "received": c.received.iter().map(request_json).collect::<Vec<_>>(),
                "unshown": c.unshown,
                "halfClosed": c.half_closed,
                "sent": c.sent,
            })
        })
        .collect();
    json!({ "driven": driven, "calls": calls })
}
