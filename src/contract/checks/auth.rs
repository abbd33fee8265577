//! Authentication: A-1 to A-3 (when the run is given tokens).

use tonic::Code;
use tonic_health::pb::HealthCheckRequest;

use super::{Verdict, fail, show};
use crate::contract::context::Ctx;
use crate::contract::property::Mismatch;
use crate::pb::{CreateOrderRequest, GetOrderRequest, LineItem};

fn get(ctx: &Ctx) -> GetOrderRequest {
    GetOrderRequest {
        order_id: format!("{}-auth", ctx.customer()),
    }
}

fn with_auth<T>(msg: T, value: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Ok(v) = value.parse() {
        r.metadata_mut().insert("authorization", v);
    }
    r
}

fn code(r: Result<tonic::Response<impl std::fmt::Debug>, tonic::Status>) -> Code {
    match r {
        Ok(_) => Code::Ok,
        Err(st) => st.code(),
    }
}

pub(crate) async fn a1(ctx: &Ctx) -> Verdict {
    let Some(token) = ctx.token.clone() else {
        return Verdict::Skip("no --token given: the target is taken to run without auth".into());
    };
    let anon = ctx.client_as(None);
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no authorization", None),
        ("a malformed header", Some("Token abc".to_string())),
        (
            "an unknown token",
            Some(format!("Bearer {}-not-a-token", ctx.run_id)),
        ),
    ];
    for (what, header) in cases {
        let req = match &header {
            Some(h) => with_auth(get(ctx), h),
            None => tonic::Request::new(get(ctx)),
        };
        match anon.clone().get_order(req).await {
            Err(st) if st.code() == Code::Unauthenticated => {
                ctx.snapshot("A-1_unauthenticated", &st)
            }
            other => {
                return fail(
                    ctx,
                    format!("GetOrder with {what}"),
                    Mismatch::new(
                        "A-1",
                        "UNAUTHENTICATED",
                        format!("{:?}", other.map(|r| r.into_inner())),
                    ),
                );
            }
        }
    }
    // The scheme is matched case-insensitively.
    let lower = code(
        anon.clone()
            .get_order(with_auth(get(ctx), &format!("bearer {token}")))
            .await,
    );
    if matches!(lower, Code::Unauthenticated | Code::PermissionDenied) {
        return fail(
            ctx,
            "GetOrder with 'bearer <token>' (lower case)",
            Mismatch::new("A-1", "accepted", format!("{lower:?}")),
        );
    }
    let order = CreateOrderRequest {
        customer_id: ctx.customer(),
        items: vec![LineItem {
            product_id: "p-1".into(),
            quantity: 1,
            price_cents: 1,
        }],
        shipping_address: None,
    };
    if let Some(read) = &ctx.read_token {
        let got = ctx.client_as(Some(read)).create_order(order.clone()).await;
        match got {
            Err(st) if st.code() == Code::PermissionDenied => {
                ctx.snapshot("A-1_permission_denied", &st)
            }
            other => {
                return fail(
                    ctx,
                    "CreateOrder with the read token",
                    Mismatch::new(
                        "A-1",
                        "PERMISSION_DENIED",
                        format!("{:?}", other.map(|r| r.into_inner())),
                    ),
                );
            }
        }
        let c = code(ctx.client_as(Some(read)).get_order(get(ctx)).await);
        if matches!(c, Code::Unauthenticated | Code::PermissionDenied) {
            return fail(
                ctx,
                "GetOrder with the read token",
                Mismatch::new("A-1", "allowed", format!("{c:?}")),
            );
        }
    }
    if let Some(write) = &ctx.write_token {
        let c = code(ctx.client_as(Some(write)).get_order(get(ctx)).await);
        if c != Code::PermissionDenied {
            return fail(
                ctx,
                "GetOrder with the write token",
                Mismatch::new("A-1", "PERMISSION_DENIED", format!("{c:?}")),
            );
        }
        if let Err(st) = ctx.client_as(Some(write)).create_order(order).await {
            return fail(
                ctx,
                "CreateOrder with the write token",
                Mismatch::new("A-1", "allowed", show(&st)),
            );
        }
    }
    Verdict::Pass(None)
}

pub(crate) async fn a2(ctx: &Ctx) -> Verdict {
    if ctx.token.is_none() {
        return Verdict::Skip("no --token given".into());
    }
    if !ctx.health {
        return Verdict::Skip("the target serves no health service".into());
    }
    let mut health = ctx.health_as(None);
    match health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
    {
        Ok(_) => Verdict::Pass(None),
        Err(st) => fail(
            ctx,
            "Health/Check without a token",
            Mismatch::new("A-2", "answered without a token", show(&st)),
        ),
    }
}

/// Whether `token` stands in `text` as a whole word (a short token such as
/// `rd` inside `order` does not count).
fn contains_token(text: &str, token: &str) -> bool {
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric());
    text.match_indices(token).any(|(i, _)| {
        boundary(text[..i].chars().next_back()) && boundary(text[i + token.len()..].chars().next())
    })
}

pub(crate) async fn a3(ctx: &Ctx) -> Verdict {
    let tokens: Vec<&String> = [&ctx.token, &ctx.read_token, &ctx.write_token]
        .into_iter()
        .flatten()
        .collect();
    if tokens.is_empty() {
        return Verdict::Skip("no tokens given".into());
    }
    for call in ctx.journal.calls() {
        if let Some(st) = call.outcome.status()
            && tokens.iter().any(|t| contains_token(st.message(), t))
        {
            return fail(
                ctx,
                &call.path,
                Mismatch::new(
                    "A-3",
                    "no token in any status message",
                    "a token in the message (not shown)",
                ),
            );
        }
    }
    Verdict::Pass(None)
}
