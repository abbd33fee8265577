//! Authentication.

use tonic::Code;
use tonic_health::pb::HealthCheckRequest;

use super::fixtures::{create_request, new_order};
use super::{Verdict, fail, show, within};
use crate::contract::context::Ctx;
use crate::contract::property::Deviation;
use crate::pb::{GetOrderRequest, LineItem, OrderAction, OrderActionType, WatchOrderStatusRequest};

/// The five RPCs, and the permission each needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rpc {
    CreateOrder,
    GetOrder,
    WatchOrderStatus,
    SubmitLineItems,
    ProcessOrders,
}

const RPCS: [Rpc; 5] = [
    Rpc::CreateOrder,
    Rpc::GetOrder,
    Rpc::WatchOrderStatus,
    Rpc::SubmitLineItems,
    Rpc::ProcessOrders,
];

impl Rpc {
    fn writes(self) -> bool {
        matches!(self, Rpc::CreateOrder | Rpc::ProcessOrders)
    }
}

fn with_auth<T>(msg: T, value: Option<&str>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Some(Ok(v)) = value.map(str::parse) {
        r.metadata_mut().insert("authorization", v);
    }
    r
}

/// Calls `rpc` with this `authorization` value (or none) on the order `id`
/// and returns the code it ended with (a stream's first item included).
async fn code_of(ctx: &Ctx, rpc: Rpc, auth: Option<&str>, id: &str) -> tonic::Status {
    let mut c = ctx.client_as(None);
    let end = |r: Result<(), tonic::Status>| r.err().unwrap_or_else(|| tonic::Status::ok(""));
    match rpc {
        Rpc::CreateOrder => end(c
            .create_order(with_auth(create_request(ctx), auth))
            .await
            .map(drop)),
        Rpc::GetOrder => end(c
            .get_order(with_auth(
                GetOrderRequest {
                    order_id: id.into(),
                },
                auth,
            ))
            .await
            .map(drop)),
        Rpc::WatchOrderStatus => {
            let req = WatchOrderStatusRequest {
                order_id: id.into(),
            };
            match c.watch_order_status(with_auth(req, auth)).await {
                Err(st) => st,
                Ok(res) => match within(ctx.patience, res.into_inner().message()).await {
                    Some(Err(st)) => st,
                    _ => tonic::Status::ok(""),
                },
            }
        }
        Rpc::SubmitLineItems => {
            let items = [LineItem {
                product_id: "p-1".into(),
                quantity: 1,
                price_cents: 1,
            }];
            end(c
                .submit_line_items(with_auth(tokio_stream::iter(items), auth))
                .await
                .map(drop))
        }
        Rpc::ProcessOrders => {
            // SHIP of a PENDING order: a failed result, the order unchanged.
            let actions = [OrderAction {
                order_id: id.into(),
                action: OrderActionType::Ship as i32,
            }];
            match c
                .process_orders(with_auth(tokio_stream::iter(actions), auth))
                .await
            {
                Err(st) => st,
                Ok(res) => {
                    let mut s = res.into_inner();
                    loop {
                        match within(ctx.patience, s.message()).await {
                            Some(Ok(Some(_))) => continue,
                            Some(Err(st)) => break st,
                            _ => break tonic::Status::ok(""),
                        }
                    }
                }
            }
        }
    }
}

/// `authorization` values generated from A-1's grammar, `Bearer <token>`
/// with the scheme in any case, each with whether it must be accepted:
/// every scheme spelling crossed with every credential (the token, none,
/// an unknown one, the token with a character more or less, extra words
/// before or after it), a token without a scheme, and an empty value.
fn header_forms(token: &str, unknown: &str) -> Vec<(String, bool)> {
    let schemes = [
        ("Bearer", true),
        ("bearer", true),
        ("BEARER", true),
        ("bEaReR", true),
        ("Basic", false),
        ("Token", false),
        ("Bearerx", false),
        ("Bear", false),
    ];
    let shorter: String = token
        .chars()
        .take(token.chars().count().saturating_sub(1))
        .collect();
    let credentials = [
        (format!(" {token}"), true),
        (String::new(), false),
        (" ".to_string(), false),
        (format!(" {unknown}"), false),
        (format!(" {token}x"), false),
        (format!(" {shorter}"), shorter == token),
        (format!(" {token} extra"), false),
        (format!(" extra {token}"), false),
        (format!(" {token},{token}"), false),
    ];
    let mut forms: Vec<(String, bool)> = schemes
        .iter()
        .flat_map(|(scheme, scheme_ok)| {
            credentials
                .iter()
                .map(move |(cred, cred_ok)| (format!("{scheme}{cred}"), *scheme_ok && *cred_ok))
        })
        .collect();
    forms.push((token.to_string(), false));
    forms.push((String::new(), false));
    forms
}

fn denied(code: Code) -> bool {
    matches!(code, Code::Unauthenticated | Code::PermissionDenied)
}

async fn a1_all(ctx: &Ctx, token: &str) -> Result<Vec<&'static str>, (String, Deviation)> {
    let id = new_order(ctx, "A-1")
        .await
        .map_err(|m| ("creating an order".to_string(), m))?;
    let unknown = format!("{}-not-a-token", ctx.run_id);
    let (accepted, rejected): (Vec<_>, Vec<_>) = header_forms(token, &unknown)
        .into_iter()
        .partition(|(_, ok)| *ok);
    for rpc in RPCS {
        let st = code_of(ctx, rpc, None, &id).await;
        if st.code() != Code::Unauthenticated {
            return Err((
                format!("{rpc:?} with no authorization"),
                Deviation::new("A-1", "UNAUTHENTICATED", show(&st)),
            ));
        }
        // The whole grammar on GetOrder; on the other RPCs, the forms with
        // the exact scheme (a call count that stays well below what a proxy
        // serves on one connection before it rotates it).
        let forms = rejected.iter().filter(|(h, _)| {
            rpc == Rpc::GetOrder
                || !h.starts_with(|c: char| c.is_ascii_alphabetic())
                || h.starts_with("Bearer ")
        });
        for (header, _) in forms {
            let st = code_of(ctx, rpc, Some(header), &id).await;
            if st.code() != Code::Unauthenticated {
                return Err((
                    format!("{rpc:?} with authorization {header:?}"),
                    Deviation::new("A-1", "UNAUTHENTICATED", show(&st)),
                ));
            }
            ctx.snapshot("A-1_unauthenticated", &st);
        }
    }
    // The scheme is matched case-insensitively.
    for (header, _) in &accepted {
        let st = code_of(ctx, Rpc::GetOrder, Some(header), &id).await;
        if denied(st.code()) {
            return Err((
                format!("GetOrder with authorization {header:?}"),
                Deviation::new("A-1", "accepted", show(&st)),
            ));
        }
    }
    let mut not_checked = vec![];
    for (name, t, may_write) in [
        ("read", ctx.read_token.as_deref(), false),
        ("write", ctx.write_token.as_deref(), true),
    ] {
        let Some(t) = t else {
            not_checked.push(if may_write {
                "the write-only permission (no --write-token)"
            } else {
                "the read-only permission (no --read-token)"
            });
            continue;
        };
        let header = format!("Bearer {t}");
        for rpc in RPCS {
            let st = code_of(ctx, rpc, Some(&header), &id).await;
            let allowed = rpc.writes() == may_write;
            let right = if allowed {
                !denied(st.code())
            } else {
                st.code() == Code::PermissionDenied
            };
            if !right {
                return Err((
                    format!("{rpc:?} with the {name} token"),
                    Deviation::new(
                        "A-1",
                        if allowed {
                            "allowed"
                        } else {
                            "PERMISSION_DENIED"
                        },
                        show(&st),
                    ),
                ));
            }
            if !allowed {
                ctx.snapshot("A-1_permission_denied", &st);
            }
        }
    }
    Ok(not_checked)
}

pub(crate) async fn a1(ctx: &Ctx) -> Verdict {
    let Some(token) = ctx.token.clone() else {
        return Verdict::Skip("no --token given: the target is taken to run without auth".into());
    };
    match a1_all(ctx, &token).await {
        Ok(not) if not.is_empty() => Verdict::Pass(Some("every RPC, every permission".into())),
        Ok(not) => Verdict::Pass(Some(format!("every RPC; not checked: {}", not.join(", ")))),
        Err((input, m)) => super::steps(ctx, Err((input, m))),
    }
}

pub(crate) async fn a2(ctx: &Ctx) -> Verdict {
    if ctx.token.is_none() {
        return Verdict::Skip("no --token given: the target is taken to run without auth".into());
    }
    if !ctx.health && !ctx.reflection {
        return Verdict::Skip("the target serves neither health nor reflection".into());
    }
    let mut checked: Vec<&str> = vec![];
    if ctx.health {
        let mut health = ctx.health_as(None);
        if let Err(st) = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
        {
            return fail(
                ctx,
                "Health/Check without a token",
                Deviation::new("A-2", "answered without a token", show(&st)),
            );
        }
        checked.push("health");
    }
    if ctx.reflection {
        for (version, listed) in [
            ("v1", super::proto::list_v1(ctx, ctx.raw_as(None)).await),
            (
                "v1alpha",
                super::proto::list_v1alpha(ctx, ctx.raw_as(None)).await,
            ),
        ] {
            match listed {
                Ok(_) => checked.push(version),
                // A version the server does not serve says nothing of auth.
                Err(e) if e.starts_with("Unimplemented") => {}
                Err(e) => {
                    return fail(
                        ctx,
                        format!("reflection {version} ListServices without a token"),
                        Deviation::new("A-2", "answered without a token", e),
                    );
                }
            }
        }
    }
    Verdict::Pass(Some(format!(
        "answered without a token: {}",
        checked.join(", ")
    )))
}

/// Whether `token` stands in `text` as a whole word (a short token such as
/// `rd` inside `order` does not count).
fn contains_token(text: &str, token: &str) -> bool {
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric());
    text.match_indices(token).any(|(i, _)| {
        boundary(text[..i].chars().next_back()) && boundary(text[i + token.len()..].chars().next())
    })
}

/// The token of an `authorization` value (`Bearer <token>` or anything
/// after the scheme), when there is one worth looking for.
fn token_of(value: &str) -> Option<&str> {
    let token = value.split_once(' ')?.1.trim();
    (token.len() >= 3).then_some(token)
}

/// Every token the run was given or sent (fake ones included).
pub(crate) fn tokens_sent(ctx: &Ctx) -> Vec<String> {
    let mut tokens: Vec<String> = [&ctx.token, &ctx.read_token, &ctx.write_token]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    for call in ctx.journal.calls() {
        if let Some(t) = call.header("authorization").and_then(token_of)
            && !tokens.iter().any(|k| k == t)
        {
            tokens.push(t.to_string());
        }
    }
    tokens
}

/// `text` with every whole-word occurrence of a token replaced (A-3 holds
/// for the suite's own report too).
pub(crate) fn redact_tokens(text: &str, tokens: &[String]) -> String {
    let mut out = text.to_string();
    for t in tokens {
        if contains_token(&out, t) {
            out = out.replace(t.as_str(), "[token]");
        }
    }
    out
}

pub(crate) async fn a3(ctx: &Ctx) -> Verdict {
    // Fake tokens of the suite's own, on calls that fail, so that a target
    // echoing credentials shows it with or without auth configured.
    let fake = format!("{}-fake-token", ctx.run_id);
    for rpc in [Rpc::GetOrder, Rpc::CreateOrder] {
        let _ = code_of(ctx, rpc, Some(&format!("Bearer {fake}")), "").await;
    }
    let _ = code_of(ctx, Rpc::GetOrder, Some(&format!("Token {fake}")), "").await;
    let tokens = tokens_sent(ctx);
    let calls = ctx.journal.calls();
    let mut messages = 0;
    for call in &calls {
        let Some(st) = call.outcome.status() else {
            continue;
        };
        if st.code() == Code::Ok {
            continue;
        }
        messages += 1;
        if tokens.iter().any(|t| contains_token(st.message(), t)) {
            return fail(
                ctx,
                &call.path,
                Deviation::new(
                    "A-3",
                    "no token in any status message",
                    format!("{:?}: a token in the message (not shown)", st.code()),
                ),
            );
        }
    }
    if messages == 0 {
        return Verdict::Skip("no error message was observed: nothing to judge".into());
    }
    Verdict::Pass(Some(format!(
        "{} tokens (fake ones included) looked for in {messages} error messages",
        tokens.len()
    )))
}
