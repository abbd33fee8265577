//! WatchOrderStatus: W-1 to W-6.

use std::time::Duration;

use tokio::time::Instant;
use tonic::Code;
use tonic_types::StatusExt;

use super::fixtures::{act, get, new_order, next_update, unknown_ids, watch};
use super::{
    Shortfall, Verdict, ended_by_deadline, fail, failed_fast, ok, show, steps, timed, violations,
    with_short_deadline, within,
};
use crate::contract::context::Ctx;
use crate::contract::property::Deviation;
use crate::pb::{OrderActionType, OrderStatus, OrderStatusUpdate, WatchOrderStatusRequest};

/// What W-1 wants of the error for `id`: G-1's violation or G-2's message,
/// with E-3's ResourceInfo.
fn w1_error(id: &str, code: Code, st: &tonic::Status) -> Result<(), Deviation> {
    if st.code() != code {
        return Err(Deviation::new(
            "W-1",
            format!("{code:?} before any message"),
            show(st),
        ));
    }
    if code == Code::InvalidArgument {
        let fields = violations("W-1", st)?;
        if fields != ["order_id"] {
            return Err(Deviation::new(
                "W-1",
                "a BadRequest on [\"order_id\"]",
                format!("{fields:?}"),
            ));
        }
        return Ok(());
    }
    let want = format!("order {id} not found");
    if st.message() != want {
        return Err(Deviation::new(
            "W-1",
            format!("{want:?}"),
            format!("{:?}", st.message()),
        ));
    }
    match st.get_details_resource_info() {
        Some(i) if i.resource_type == "orders.v1.Order" && i.resource_name == id => Ok(()),
        other => Err(Deviation::new(
            "E-3",
            format!("ResourceInfo(orders.v1.Order, {id:?})"),
            format!("{other:?}"),
        )),
    }
}

/// W-1: invalid and unknown ids end the call before any message, with the
/// details GetOrder gives (E-2, E-3).
pub(crate) async fn w1(ctx: &Ctx) -> Verdict {
    let invalid = [String::new(), "w".repeat(129), "é".repeat(65)];
    let cases = invalid
        .into_iter()
        .map(|id| (id, Code::InvalidArgument))
        .chain(unknown_ids(ctx).into_iter().map(|id| (id, Code::NotFound)));
    for (id, code) in cases {
        let req = WatchOrderStatusRequest {
            order_id: id.clone(),
        };
        let got = ctx.client().watch_order_status(req.clone()).await;
        // The error may come as the whole answer (trailers only) or after
        // response headers, as the stream's first item.
        let st = match got {
            Err(st) => Ok(st),
            Ok(res) => {
                let mut s = res.into_inner();
                match within(ctx.patience, s.message()).await {
                    Some(Err(st)) => Ok(st),
                    Some(Ok(Some(m))) => Err(Deviation::new(
                        "W-1",
                        format!("{code:?} before any message"),
                        format!("a message first: {m:?}"),
                    )),
                    other => Err(Deviation::new(
                        "W-1",
                        format!("{code:?}"),
                        format!("{other:?}"),
                    )),
                }
            }
        };
        let r = st.and_then(|st| {
            ctx.snapshot(&format!("W-1_{code:?}"), &st);
            w1_error(&id, code, &st)
        });
        if let Err(m) = r {
            return fail(ctx, req, m);
        }
    }
    Verdict::Pass(None)
}

/// W-2: the first message is the current state, with the order's
/// `updated_at`, for a fresh order and for one already changed.
pub(crate) async fn w2(ctx: &Ctx) -> Verdict {
    let r = async {
        for changed in [false, true] {
            let id = new_order(ctx, "W-2").await?;
            if changed {
                act(ctx, "W-2", &id, &[OrderActionType::Confirm]).await?;
            }
            let order = get(ctx, "W-2", &id).await?;
            let mut w = watch(ctx, "W-2", &id).await?;
            let u = next_update(ctx, "W-2", &mut w).await?;
            let want = OrderStatusUpdate {
                order_id: id,
                status: order.status,
                previous_status: OrderStatus::Unspecified as i32,
                updated_at: order.updated_at,
            };
            if u != want {
                return Err(Deviation::new("W-2", format!("{want:?}"), format!("{u:?}")));
            }
        }
        Ok(())
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| {
            (
                "watch of a PENDING order, and of a CONFIRMED one".to_string(),
                m,
            )
        }),
    )
}

/// W-3: one message per change, none skipped or repeated, each with the
/// previous status and the order's `updated_at` after the change.
pub(crate) async fn w3(ctx: &Ctx) -> Verdict {
    use OrderActionType::{Cancel, Confirm, Deliver, Ship};
    let r = async {
        let id = new_order(ctx, "W-3").await?;
        let mut w = watch(ctx, "W-3", &id).await?;
        let mut prev = next_update(ctx, "W-3", &mut w).await?;
        for action in [Confirm, Confirm, Cancel, Ship, Ship, Deliver] {
            if act(ctx, "W-3", &id, &[action]).await? != [true] {
                continue;
            }
            let u = next_update(ctx, "W-3", &mut w).await?;
            let order = get(ctx, "W-3", &id).await?;
            let want = OrderStatusUpdate {
                order_id: id.clone(),
                status: order.status,
                previous_status: prev.status,
                updated_at: order.updated_at,
            };
            if u != want {
                return Err(Deviation::new(
                    "W-3",
                    format!("after {action:?}: {want:?}"),
                    format!("{u:?}"),
                ));
            }
            prev = u;
        }
        Ok(())
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| {
            (
                "one watcher; CONFIRM, CONFIRM, CANCEL, SHIP, SHIP, DELIVER (failures in between)"
                    .to_string(),
                m,
            )
        }),
    )
}

/// W-4: an order already terminal gets one message, then OK.
pub(crate) async fn w4(ctx: &Ctx) -> Verdict {
    use OrderActionType::{Cancel, Confirm, Deliver, Ship};
    // Both terminal states: reached by CANCEL and by the whole lifecycle.
    for (path, terminal) in [
        (&[Cancel][..], OrderStatus::Cancelled),
        (&[Confirm, Ship, Deliver][..], OrderStatus::Delivered),
    ] {
        let r: Result<(), Deviation> = async {
            let id = new_order(ctx, "W-4").await?;
            act(ctx, "W-4", &id, path).await?;
            let mut s = watch(ctx, "W-4", &id).await?;
            terminal_then_ok(
                ctx,
                "W-4",
                &mut s,
                terminal,
                &format!("the current state, {terminal:?}"),
                "OK right after the terminal message",
            )
            .await
        }
        .await;
        if let Err(m) = r {
            return steps(
                ctx,
                Err((format!("watch of an order already {terminal:?}"), m)),
            );
        }
    }
    Verdict::Pass(None)
}

/// The next message must be an update to `terminal`, and then the call
/// ends OK.
async fn terminal_then_ok(
    ctx: &Ctx,
    rule: &'static str,
    s: &mut tonic::Streaming<crate::pb::OrderStatusUpdate>,
    terminal: OrderStatus,
    first: &str,
    then: &str,
) -> Result<(), Deviation> {
    match within(ctx.patience, s.message()).await {
        Some(Ok(Some(u))) if u.status == terminal as i32 => {}
        other => return Err(Deviation::new(rule, first, format!("{other:?}"))),
    }
    match within(ctx.patience, s.message()).await {
        Some(Ok(None)) => Ok(()),
        other => Err(Deviation::new(rule, then, format!("{other:?}"))),
    }
}

/// W-5: three watchers of one order get the same sequence.
pub(crate) async fn w5(ctx: &Ctx) -> Verdict {
    let r: Result<(), Deviation> = async {
        let id = new_order(ctx, "W-5").await?;
        let mut watchers = vec![];
        for _ in 0..3 {
            let mut s = watch(ctx, "W-5", &id).await?;
            // Subscribed once the first message is in.
            match within(ctx.patience, s.message()).await {
                Some(Ok(Some(_))) => {}
                other => {
                    return Err(Deviation::new(
                        "W-5",
                        "a first message",
                        format!("{other:?}"),
                    ));
                }
            }
            watchers.push(s);
        }
        act(
            ctx,
            "W-5",
            &id,
            &[
                OrderActionType::Confirm,
                OrderActionType::Ship,
                OrderActionType::Deliver,
            ],
        )
        .await?;
        let mut sequences = vec![];
        for mut s in watchers {
            let mut seq = vec![];
            loop {
                match within(ctx.patience, s.message()).await {
                    Some(Ok(Some(u))) => seq.push(u.status),
                    Some(Ok(None)) => break,
                    other => {
                        return Err(Deviation::new(
                            "W-5",
                            "every change, then OK",
                            format!("{seq:?} then {other:?}"),
                        ));
                    }
                }
            }
            sequences.push(seq);
        }
        let want = vec![
            OrderStatus::Confirmed as i32,
            OrderStatus::Shipped as i32,
            OrderStatus::Delivered as i32,
        ];
        match sequences.iter().find(|s| **s != want) {
            Some(s) => Err(Deviation::new(
                "W-5",
                format!("{want:?} for every watcher"),
                format!("{s:?}"),
            )),
            None => Ok(()),
        }
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| ("three watchers; CONFIRM, SHIP, DELIVER".to_string(), m)),
    )
}

/// W-6: a watcher cancelled, another cut by its deadline; the third still
/// gets every change.
pub(crate) async fn w6(ctx: &Ctx) -> Verdict {
    let r = async {
        let id = new_order(ctx, "W-6").await?;
        let hint = with_short_deadline(ctx, |deadline| w6_round(ctx, &id, deadline)).await?;
        act(ctx, "W-6", &id, &[OrderActionType::Cancel]).await?;
        Ok::<_, Deviation>(hint)
    }
    .await;
    match r {
        Ok(hint) => Verdict::Pass(hint),
        Err(m) => steps(
            ctx,
            Err((
                format!(
                    "three watchers: one cancelled, one with a {:?} deadline",
                    ctx.short()
                ),
                m,
            )),
        ),
    }
}

async fn w6_round(ctx: &Ctx, id: &str, deadline: Duration) -> Result<(), Shortfall> {
    let req = || WatchOrderStatusRequest {
        order_id: id.to_string(),
    };
    let mut cancelled = ok(
        "W-6",
        "WatchOrderStatus",
        ctx.client().watch_order_status(req()).await,
    )?;
    let started = Instant::now();
    let short = ctx
        .client()
        .watch_order_status(timed(req(), deadline))
        .await;
    let mut short = match short {
        Ok(s) => s.into_inner(),
        Err(st) if failed_fast(&st, started, deadline) => return Err(Shortfall::TooShort),
        Err(st) => {
            return Err(Deviation::new("W-6", "WatchOrderStatus succeeds", show(&st)).into());
        }
    };
    let mut keeper = ok(
        "W-6",
        "WatchOrderStatus",
        ctx.client().watch_order_status(req()).await,
    )?;
    for s in [&mut cancelled, &mut keeper] {
        next_update(ctx, "W-6", s).await?;
    }
    match within(deadline + ctx.patience, short.message()).await {
        Some(Ok(Some(_))) => {}
        Some(Err(st)) if failed_fast(&st, started, deadline) => return Err(Shortfall::TooShort),
        other => {
            return Err(Deviation::new("W-6", "a first message", format!("{other:?}")).into());
        }
    }
    drop(cancelled);
    match within(deadline + ctx.patience, short.message()).await {
        Some(Err(st)) if ended_by_deadline(&st, started, deadline) => {}
        other => {
            return Err(Deviation::new(
                "W-6",
                "the short watcher ends at its deadline",
                format!("{other:?}"),
            )
            .into());
        }
    }
    // The remaining watcher still gets the next change: CONFIRM.
    act(ctx, "W-6", id, &[OrderActionType::Confirm]).await?;
    match within(ctx.patience, keeper.message()).await {
        Some(Ok(Some(u))) if u.status == OrderStatus::Confirmed as i32 => Ok(()),
        other => Err(Deviation::new(
            "W-6",
            "the remaining watcher gets CONFIRMED",
            format!("{other:?}"),
        )
        .into()),
    }
}
