//! Deadlines and cancellation: D-1 to D-3.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Status};

use super::read::new_order;
use super::{Verdict, ok, show, steps, timed, within};
use crate::contract::context::Ctx;
use crate::contract::property::Mismatch;
use crate::pb::{
    GetOrderRequest, LineItem, OrderAction, OrderActionType, OrderStatus, WatchOrderStatusRequest,
};

const SHORT: Duration = Duration::from_millis(300);

/// D-1's reading of an end: DEADLINE_EXCEEDED, or CANCELLED only once the
/// caller's deadline has passed (tonic's client reports its own timer so).
fn deadline_end(
    what: &str,
    started: Instant,
    end: Option<Result<Status, String>>,
) -> Result<(), Mismatch> {
    match end {
        Some(Ok(st)) if st.code() == Code::DeadlineExceeded => Ok(()),
        Some(Ok(st)) if st.code() == Code::Cancelled && started.elapsed() >= SHORT => Ok(()),
        Some(Ok(st)) => Err(Mismatch::new(
            "D-1",
            format!("{what}: DEADLINE_EXCEEDED at the deadline"),
            show(&st),
        )),
        Some(Err(other)) => Err(Mismatch::new(
            "D-1",
            format!("{what}: DEADLINE_EXCEEDED at the deadline"),
            other,
        )),
        None => Err(Mismatch::new(
            "D-1",
            format!("{what}: ended at its 300 ms deadline"),
            "still open well after it",
        )),
    }
}

pub(crate) async fn d1(ctx: &Ctx) -> Verdict {
    let r = async {
        let id = new_order(ctx, "D-1").await?;
        // Server streaming: the watch stays open until its deadline.
        let started = Instant::now();
        let mut w = ok(
            "D-1",
            "WatchOrderStatus",
            ctx.client()
                .watch_order_status(timed(
                    WatchOrderStatusRequest {
                        order_id: id.clone(),
                    },
                    SHORT,
                ))
                .await,
        )?;
        let _first = within(SHORT + ctx.patience, w.message()).await;
        let end = within(SHORT + ctx.patience, w.message())
            .await
            .map(|r| match r {
                Err(st) => Ok(st),
                Ok(m) => Err(format!("{m:?}")),
            });
        deadline_end("WatchOrderStatus", started, end)?;
        // Client streaming: one item sent, the stream left open.
        let (tx, rx) = mpsc::channel::<LineItem>(1);
        let _ = tx
            .send(LineItem {
                product_id: "p-1".into(),
                quantity: 1,
                price_cents: 1,
            })
            .await;
        let started = Instant::now();
        let mut client = ctx.client();
        let end = within(
            SHORT + ctx.patience,
            client.submit_line_items(timed(ReceiverStream::new(rx), SHORT)),
        )
        .await
        .map(|r| match r {
            Err(st) => Ok(st),
            Ok(res) => Err(format!("OK {:?}", res.into_inner())),
        });
        deadline_end("SubmitLineItems", started, end)?;
        drop(tx);
        // Bidirectional: one action answered, the stream left open.
        let (tx, rx) = mpsc::channel::<OrderAction>(1);
        let started = Instant::now();
        let mut out = ok(
            "D-1",
            "ProcessOrders",
            ctx.client()
                .process_orders(timed(ReceiverStream::new(rx), SHORT))
                .await,
        )?;
        let _ = tx
            .send(OrderAction {
                order_id: id.clone(),
                action: OrderActionType::Confirm as i32,
            })
            .await;
        let _first = within(SHORT + ctx.patience, out.message()).await;
        let end = within(SHORT + ctx.patience, out.message())
            .await
            .map(|r| match r {
                Err(st) => Ok(st),
                Ok(m) => Err(format!("{m:?}")),
            });
        deadline_end("ProcessOrders", started, end)?;
        drop(tx);
        Ok(())
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| {
            (
                "calls of each streaming pattern with a 300 ms deadline, left open".to_string(),
                m,
            )
        }),
    )
}

pub(crate) async fn d2(ctx: &Ctx) -> Verdict {
    let Some(threshold) = ctx.fail_fast else {
        return Verdict::Skip(
            "the target's fail-fast threshold was not given (--fail-fast-ms)".into(),
        );
    };
    let r = async {
        let id = new_order(ctx, "D-2").await?;
        let short = threshold / 2;
        let started = Instant::now();
        let got = ctx
            .client()
            .process_orders(timed(
                tokio_stream::iter([OrderAction {
                    order_id: id.clone(),
                    action: OrderActionType::Confirm as i32,
                }]),
                short,
            ))
            .await;
        let status = match got {
            Err(st) => st,
            Ok(res) => {
                let mut s = res.into_inner();
                match within(SHORT + ctx.patience, s.message()).await {
                    Some(Err(st)) => st,
                    other => {
                        return Err(Mismatch::new(
                            "D-2",
                            "DEADLINE_EXCEEDED at once",
                            format!("{other:?}"),
                        ));
                    }
                }
            }
        };
        if status.code() != Code::DeadlineExceeded {
            return Err(Mismatch::new(
                "D-2",
                "DEADLINE_EXCEEDED at once",
                show(&status),
            ));
        }
        if started.elapsed() >= short {
            return Err(Mismatch::new(
                "D-2",
                "an answer before the deadline (fail fast)",
                format!("after {:?}", started.elapsed()),
            ));
        }
        ctx.snapshot(
            "D-2_fail_fast",
            &tonic::Status::new(
                status.code(),
                status.message().replace(|c: char| c.is_ascii_digit(), "#"),
            ),
        );
        let order = ok(
            "D-2",
            "GetOrder",
            ctx.client()
                .get_order(GetOrderRequest { order_id: id })
                .await,
        )?;
        if order.status != OrderStatus::Pending as i32 {
            return Err(Mismatch::new(
                "D-2",
                "the action did nothing (still PENDING)",
                format!("{order:?}"),
            ));
        }
        Ok(())
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| {
            (
                format!("CONFIRM with a deadline of half the {threshold:?} threshold"),
                m,
            )
        }),
    )
}

pub(crate) async fn d3(ctx: &Ctx) -> Verdict {
    let rounds = ctx.cases.clamp(5, 20);
    let r = async {
        let id = new_order(ctx, "D-3").await?;
        for _ in 0..rounds {
            let w = ok(
                "D-3",
                "WatchOrderStatus",
                ctx.client()
                    .watch_order_status(WatchOrderStatusRequest {
                        order_id: id.clone(),
                    })
                    .await,
            )?;
            // Cancelled midway: right after the call is established.
            drop(w);
            let (tx, rx) = mpsc::channel::<LineItem>(1);
            let _ = tx
                .send(LineItem {
                    product_id: "p-1".into(),
                    quantity: 1,
                    price_cents: 1,
                })
                .await;
            let mut client = ctx.client();
            // Cancelled by dropping the call after a moment.
            let _ = tokio::time::timeout(
                Duration::from_millis(5),
                client.submit_line_items(ReceiverStream::new(rx)),
            )
            .await;
        }
        ok(
            "D-3",
            "GetOrder after the cancelled calls",
            ctx.client()
                .get_order(GetOrderRequest { order_id: id })
                .await,
        )?;
        Ok(())
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| {
            (
                format!("{rounds} watches and client streams cancelled midway"),
                m,
            )
        }),
    )
}
