//! E-1, E-5, E-6 and E-7 over every error the suite saw. Each reports a
//! skip, with the reason, when it observed nothing to judge.

use prost::Message;
use tonic::Code;

use super::{Verdict, fail, show};
use crate::contract::context::Ctx;
use crate::contract::oracle::leaks_internals;
use crate::contract::property::Deviation;
use crate::pb::{
    CreateOrderRequest, GetOrderRequest, LineItem, OrderAction, WatchOrderStatusRequest,
};

/// Every error status the target answered, with the call it answered.
fn errors(ctx: &Ctx) -> Vec<(String, tonic::Status)> {
    ctx.journal
        .calls()
        .into_iter()
        .filter_map(|c| {
            let st = c.outcome.status()?;
            (st.code() != Code::Ok).then(|| (c.path.clone(), st))
        })
        .collect()
}

/// The codes of the article's table.
const TABLE: [Code; 10] = [
    Code::InvalidArgument,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::Unauthenticated,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Unavailable,
    Code::Internal,
    Code::DeadlineExceeded,
];

const NOTHING_SEEN: &str = "no error was observed: nothing to judge";

pub(crate) async fn e1(ctx: &Ctx) -> Verdict {
    let seen = errors(ctx);
    if seen.is_empty() {
        return Verdict::Skip(NOTHING_SEEN.into());
    }
    let mut library = 0;
    for (path, st) in &seen {
        // UNIMPLEMENTED and CANCELLED come from the gRPC library, and so do
        // the statuses of the stock health and reflection services
        // (grpc-python's health answers NOT_FOUND with no message): outside
        // E-1, which judges what OrderService handlers answer.
        if matches!(st.code(), Code::Unimplemented | Code::Cancelled)
            || !path.starts_with("/orders.v1.OrderService/")
        {
            library += 1;
            continue;
        }
        if !TABLE.contains(&st.code()) {
            return fail(
                ctx,
                path,
                Deviation::new(
                    "E-1",
                    "a code from the article's table",
                    format!("{:?}", st.code()),
                ),
            );
        }
        if st.message().is_empty() {
            return fail(
                ctx,
                path,
                Deviation::new(
                    "E-1",
                    "a non-empty message",
                    format!("{:?} with an empty message", st.code()),
                ),
            );
        }
    }
    if seen.len() == library {
        return Verdict::Skip(format!(
            "the {library} errors seen all came from the library, health or reflection"
        ));
    }
    Verdict::Pass(Some(format!(
        "{} OrderService errors judged ({library} from the library, health or reflection left out)",
        seen.len() - library
    )))
}

pub(crate) async fn e5(ctx: &Ctx) -> Verdict {
    let seen = errors(ctx);
    let mut with_details = 0;
    for (path, st) in &seen {
        if st
            .message()
            .ends_with(crate::grpc::status_repair::INVALID_DETAILS_MARK)
        {
            return fail(
                ctx,
                path,
                Deviation::new(
                    "E-5",
                    "grpc-status-details-bin in base64",
                    "undecodable base64",
                ),
            );
        }
        if st.details().is_empty() {
            continue;
        }
        with_details += 1;
        match tonic_types::pb::Status::decode(st.details()) {
            Ok(d) if d.code == st.code() as i32 && d.message == st.message() => {}
            Ok(d) => {
                return fail(
                    ctx,
                    path,
                    Deviation::new(
                        "E-5",
                        format!(
                            "details with code {:?} and message {:?}",
                            st.code(),
                            st.message()
                        ),
                        format!("code {:?}, message {:?}", Code::from_i32(d.code), d.message),
                    ),
                );
            }
            Err(e) => {
                return fail(
                    ctx,
                    path,
                    Deviation::new("E-5", "a decodable google.rpc.Status", e.to_string()),
                );
            }
        }
    }
    if with_details == 0 {
        return Verdict::Skip(format!(
            "none of the {} errors seen carried grpc-status-details-bin",
            seen.len()
        ));
    }
    Verdict::Pass(Some(format!("{with_details} errors with details")))
}

/// Unusual but valid text: control characters, NUL, the largest code
/// point, emoji, right-to-left marks and script. All within 128 bytes.
fn unusual_ids(ctx: &Ctx) -> Vec<String> {
    let run = ctx.customer();
    [
        "\u{0}nul",
        "\u{1}\u{7}\u{1b}[31mctl",
        "\u{10FFFF}\u{10FFFF}",
        "🦀📦🚚",
        "\u{202E}txt.exe",
        "שלום-عالم",
        "%s%n%x{}{0}",
        "\\..\\..\\etc/passwd",
    ]
    .iter()
    .map(|s| format!("{run}-{s}"))
    .collect()
}

/// A GetOrder and a watch (its first answer) of `id`, for what they answer.
async fn get_and_watch(ctx: &Ctx, id: &str) {
    let _ = ctx
        .client()
        .get_order(GetOrderRequest {
            order_id: id.to_string(),
        })
        .await;
    let watch = WatchOrderStatusRequest {
        order_id: id.to_string(),
    };
    if let Ok(res) = ctx.client().watch_order_status(watch).await {
        let _ = super::within(ctx.patience, res.into_inner().message()).await;
    }
}

/// Sends unusual but valid inputs to every RPC, so that a target whose
/// error handling leaks shows it (E-6 then reads every error seen).
async fn provoke(ctx: &Ctx) {
    // The largest ids in code points: 32 four-byte characters, 128 bytes.
    for id in ["\u{10FFFF}".repeat(32), "🦀".repeat(32)] {
        get_and_watch(ctx, &id).await;
    }
    let ids = unusual_ids(ctx);
    for id in &ids {
        let item = |quantity, price_cents| LineItem {
            product_id: id.clone(),
            quantity,
            price_cents,
        };
        let _ = ctx
            .client()
            .create_order(CreateOrderRequest {
                customer_id: id.clone(),
                items: vec![item(1, 0), item(i32::MAX, 1), item(1, i64::MAX)],
                shipping_address: None,
            })
            .await;
        let _ = ctx
            .client()
            .create_order(CreateOrderRequest {
                customer_id: id.clone(),
                items: vec![item(i32::MIN, i64::MIN), item(-1, -1)],
                shipping_address: None,
            })
            .await;
        get_and_watch(ctx, id).await;
        let _ = ctx
            .client()
            .submit_line_items(tokio_stream::iter([
                item(i32::MAX, i64::MAX / 2),
                item(1, 1),
            ]))
            .await;
        if let Ok(res) = ctx
            .client()
            .process_orders(tokio_stream::iter([OrderAction {
                order_id: id.clone(),
                action: i32::MAX,
            }]))
            .await
        {
            let mut s = res.into_inner();
            while let Some(Ok(Some(_))) = super::within(ctx.patience, s.message()).await {}
        }
    }
}

pub(crate) async fn e6(ctx: &Ctx) -> Verdict {
    provoke(ctx).await;
    let seen = errors(ctx);
    if seen.is_empty() {
        return Verdict::Skip(NOTHING_SEEN.into());
    }
    let mut judged = 0;
    for (path, st) in &seen {
        if !matches!(st.code(), Code::Internal | Code::Unknown) {
            continue;
        }
        judged += 1;
        if let Some(what) = leaks_internals(st.message()) {
            return fail(
                ctx,
                path,
                Deviation::new(
                    "E-6",
                    "a sanitized message",
                    format!("{what} in {:?}", st.message()),
                ),
            );
        }
    }
    Verdict::Pass(Some(format!(
        "{} errors seen ({judged} INTERNAL or UNKNOWN), unusual inputs sent to every RPC",
        seen.len()
    )))
}

/// The RetryInfo details of a status, decoded as sent (a negative delay
/// included, which tonic-types' own accessor cannot show).
fn retry_infos(st: &tonic::Status) -> Result<Vec<tonic_types::pb::RetryInfo>, String> {
    if st.details().is_empty() {
        return Ok(vec![]);
    }
    let status = tonic_types::pb::Status::decode(st.details()).map_err(|e| e.to_string())?;
    status
        .details
        .iter()
        .filter(|any| any.type_url.ends_with("/google.rpc.RetryInfo"))
        .map(|any| {
            tonic_types::pb::RetryInfo::decode(any.value.as_slice()).map_err(|e| e.to_string())
        })
        .collect()
}

/// What is wrong with a RetryInfo, if anything.
fn retry_info_fault(info: &tonic_types::pb::RetryInfo) -> Option<String> {
    match &info.retry_delay {
        None => Some("a RetryInfo without retry_delay".into()),
        Some(d) if d.seconds < 0 || d.nanos < 0 => Some(format!("a negative delay {d:?}")),
        Some(d) if d.nanos >= 1_000_000_000 => Some(format!("nanos out of range in {d:?}")),
        Some(_) => None,
    }
}

pub(crate) async fn e7(ctx: &Ctx) -> Verdict {
    // On request, a transient failure from the target itself.
    if let Some((name, value)) = &ctx.transient {
        let mut req = tonic::Request::new(GetOrderRequest {
            order_id: format!("{}-transient", ctx.customer()),
        });
        if let (Ok(n), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(name.as_bytes()),
            value.parse(),
        ) {
            req.metadata_mut().insert(n, v);
        }
        match ctx.client().get_order(req).await {
            Err(st) if matches!(st.code(), Code::Unavailable | Code::ResourceExhausted) => {}
            other => {
                return Verdict::Skip(format!(
                    "the transient header {name:?} did not give a transient failure: {}",
                    match other {
                        Ok(_) => "OK".to_string(),
                        Err(st) => show(&st),
                    }
                ));
            }
        }
    }
    let transient: Vec<_> = errors(ctx)
        .into_iter()
        .filter(|(_, st)| matches!(st.code(), Code::Unavailable | Code::ResourceExhausted))
        .collect();
    if transient.is_empty() {
        return Verdict::Skip(
            "no UNAVAILABLE or RESOURCE_EXHAUSTED was observed (give a transient header to provoke one)"
                .into(),
        );
    }
    let mut with_info = 0;
    for (path, st) in &transient {
        let infos = match retry_infos(st) {
            Ok(infos) => infos,
            Err(e) => {
                return fail(ctx, path, Deviation::new("E-7", "decodable details", e));
            }
        };
        with_info += usize::from(!infos.is_empty());
        if let Some(fault) = infos.iter().find_map(retry_info_fault) {
            return fail(
                ctx,
                path,
                Deviation::new(
                    "E-7",
                    "a RetryInfo with a valid, non-negative retry_delay",
                    format!("{fault} in {}", show(st)),
                ),
            );
        }
    }
    Verdict::Pass(Some(format!(
        "{} transient failures seen, {with_info} with RetryInfo",
        transient.len()
    )))
}
