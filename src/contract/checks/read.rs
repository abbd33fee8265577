//! GetOrder (G-1, G-2, E-3), WatchOrderStatus (W-1, W-4 to W-6) and
//! SubmitLineItems (S-1 to S-4).

use std::time::Duration;

use proptest::prelude::*;
use tonic::Code;
use tonic_types::StatusExt;

use super::{Verdict, err_code, fail, ok, property, show, steps, timed, violations, within};
use crate::contract::context::Ctx;
use crate::contract::property::{Mismatch, forall};
use crate::contract::reference::expected_submit;
use crate::pb::{
    CreateOrderRequest, GetOrderRequest, LineItem, OrderAction, OrderActionType, OrderStatus,
    WatchOrderStatusRequest,
};

pub(crate) async fn new_order(ctx: &Ctx, rule: &'static str) -> Result<String, Mismatch> {
    let req = CreateOrderRequest {
        customer_id: ctx.customer(),
        items: vec![LineItem {
            product_id: "p-1".into(),
            quantity: 1,
            price_cents: 100,
        }],
        shipping_address: None,
    };
    ok(rule, "CreateOrder", ctx.client().create_order(req).await).map(|r| r.order_id)
}

pub(crate) async fn act(
    ctx: &Ctx,
    rule: &'static str,
    id: &str,
    actions: &[OrderActionType],
) -> Result<Vec<bool>, Mismatch> {
    let msgs: Vec<_> = actions
        .iter()
        .map(|a| OrderAction {
            order_id: id.into(),
            action: *a as i32,
        })
        .collect();
    let mut out = ok(
        rule,
        "ProcessOrders",
        ctx.client().process_orders(tokio_stream::iter(msgs)).await,
    )?;
    let mut flags = vec![];
    loop {
        match within(ctx.patience, out.message()).await {
            Some(Ok(Some(r))) => flags.push(r.success),
            Some(Ok(None)) => return Ok(flags),
            Some(Err(st)) => {
                return Err(Mismatch::new(rule, "ProcessOrders ends with OK", show(&st)));
            }
            None => {
                return Err(Mismatch::new(
                    rule,
                    "ProcessOrders ends after half-close",
                    "no end in time",
                ));
            }
        }
    }
}

fn unknown_id(ctx: &Ctx) -> String {
    format!("{}-no-such-order", ctx.customer())
}

/// G-1: empty or too long ids are INVALID_ARGUMENT on `order_id`.
pub(crate) async fn g1(ctx: &Ctx) -> Verdict {
    for id in [String::new(), "x".repeat(129)] {
        let got = ctx
            .client()
            .get_order(GetOrderRequest {
                order_id: id.clone(),
            })
            .await;
        let r = err_code("G-1", Code::InvalidArgument, got).and_then(|st| {
            ctx.snapshot(
                if id.is_empty() {
                    "G-1_empty"
                } else {
                    "G-1_too_long"
                },
                &st,
            );
            let fields = violations("G-1", &st)?;
            if fields == ["order_id"] {
                Ok(())
            } else {
                Err(Mismatch::new(
                    "G-1",
                    "violations [\"order_id\"]",
                    format!("{fields:?}"),
                ))
            }
        });
        if let Err(m) = r {
            return fail(ctx, GetOrderRequest { order_id: id }, m);
        }
    }
    Verdict::Pass(None)
}

/// G-2: an unknown id is NOT_FOUND with the message SPEC gives.
pub(crate) async fn g2(ctx: &Ctx) -> Verdict {
    let id = unknown_id(ctx);
    let got = ctx
        .client()
        .get_order(GetOrderRequest {
            order_id: id.clone(),
        })
        .await;
    let r = err_code("G-2", Code::NotFound, got).and_then(|st| {
        ctx.snapshot("G-2_not_found", &st);
        let want = format!("order {id} not found");
        if st.message() == want {
            Ok(())
        } else {
            Err(Mismatch::new(
                "G-2",
                format!("{want:?}"),
                format!("{:?}", st.message()),
            ))
        }
    });
    match r {
        Ok(()) => Verdict::Pass(None),
        Err(m) => fail(ctx, GetOrderRequest { order_id: id }, m),
    }
}

/// E-3: NOT_FOUND carries ResourceInfo(orders.v1.Order, id).
pub(crate) async fn e3(ctx: &Ctx) -> Verdict {
    let id = unknown_id(ctx);
    let got = ctx
        .client()
        .get_order(GetOrderRequest {
            order_id: id.clone(),
        })
        .await;
    let r =
        err_code("E-3", Code::NotFound, got).and_then(|st| match st.get_details_resource_info() {
            Some(i) if i.resource_type == "orders.v1.Order" && i.resource_name == id => Ok(()),
            other => Err(Mismatch::new(
                "E-3",
                format!("ResourceInfo(orders.v1.Order, {id:?})"),
                format!("{other:?}"),
            )),
        });
    match r {
        Ok(()) => Verdict::Pass(None),
        Err(m) => fail(ctx, GetOrderRequest { order_id: id }, m),
    }
}

/// W-1: invalid and unknown ids end the call before any message.
pub(crate) async fn w1(ctx: &Ctx) -> Verdict {
    for (id, code) in [
        (String::new(), Code::InvalidArgument),
        ("w".repeat(129), Code::InvalidArgument),
        (unknown_id(ctx), Code::NotFound),
    ] {
        let req = WatchOrderStatusRequest {
            order_id: id.clone(),
        };
        let got = ctx.client().watch_order_status(req.clone()).await;
        let r = match got {
            Err(st) if st.code() == code => {
                ctx.snapshot(&format!("W-1_{code:?}"), &st);
                Ok(())
            }
            Err(st) => Err(Mismatch::new(
                "W-1",
                format!("{code:?} before any message"),
                show(&st),
            )),
            Ok(res) => {
                let mut s = res.into_inner();
                match within(ctx.patience, s.message()).await {
                    Some(Err(st)) if st.code() == code => Ok(()),
                    Some(Ok(Some(m))) => Err(Mismatch::new(
                        "W-1",
                        format!("{code:?} before any message"),
                        format!("a message first: {m:?}"),
                    )),
                    other => Err(Mismatch::new(
                        "W-1",
                        format!("{code:?}"),
                        format!("{other:?}"),
                    )),
                }
            }
        };
        if let Err(m) = r {
            return fail(ctx, req, m);
        }
    }
    Verdict::Pass(None)
}

/// W-4: an order already terminal gets one message, then OK.
pub(crate) async fn w4(ctx: &Ctx) -> Verdict {
    let r: Result<(), Mismatch> = async {
        let id = new_order(ctx, "W-4").await?;
        act(ctx, "W-4", &id, &[OrderActionType::Cancel]).await?;
        let mut s = ok(
            "W-4",
            "WatchOrderStatus",
            ctx.client()
                .watch_order_status(WatchOrderStatusRequest { order_id: id })
                .await,
        )?;
        cancelled_then_ok(
            ctx,
            "W-4",
            &mut s,
            "the current state, CANCELLED",
            "OK right after the terminal message",
        )
        .await
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| ("watch of an order already CANCELLED".to_string(), m)),
    )
}

/// The next message must be a CANCELLED update, and then the call ends OK.
async fn cancelled_then_ok(
    ctx: &Ctx,
    rule: &'static str,
    s: &mut tonic::Streaming<crate::pb::OrderStatusUpdate>,
    first: &str,
    then: &str,
) -> Result<(), Mismatch> {
    match within(ctx.patience, s.message()).await {
        Some(Ok(Some(u))) if u.status == OrderStatus::Cancelled as i32 => {}
        other => return Err(Mismatch::new(rule, first, format!("{other:?}"))),
    }
    match within(ctx.patience, s.message()).await {
        Some(Ok(None)) => Ok(()),
        other => Err(Mismatch::new(rule, then, format!("{other:?}"))),
    }
}

/// W-5: three watchers of one order get the same sequence.
pub(crate) async fn w5(ctx: &Ctx) -> Verdict {
    let r: Result<(), Mismatch> = async {
        let id = new_order(ctx, "W-5").await?;
        let mut watchers = vec![];
        for _ in 0..3 {
            let mut s = ok(
                "W-5",
                "WatchOrderStatus",
                ctx.client()
                    .watch_order_status(WatchOrderStatusRequest {
                        order_id: id.clone(),
                    })
                    .await,
            )?;
            // Subscribed once the first message is in.
            match within(ctx.patience, s.message()).await {
                Some(Ok(Some(_))) => {}
                other => {
                    return Err(Mismatch::new(
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
                        return Err(Mismatch::new(
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
            Some(s) => Err(Mismatch::new(
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
    let r: Result<(), Mismatch> = async {
        let id = new_order(ctx, "W-6").await?;
        let req = || WatchOrderStatusRequest {
            order_id: id.clone(),
        };
        let mut cancelled = ok(
            "W-6",
            "WatchOrderStatus",
            ctx.client().watch_order_status(req()).await,
        )?;
        let mut short = ok(
            "W-6",
            "WatchOrderStatus",
            ctx.client()
                .watch_order_status(timed(req(), Duration::from_millis(300)))
                .await,
        )?;
        let mut keeper = ok(
            "W-6",
            "WatchOrderStatus",
            ctx.client().watch_order_status(req()).await,
        )?;
        for s in [&mut cancelled, &mut short, &mut keeper] {
            if !matches!(within(ctx.patience, s.message()).await, Some(Ok(Some(_)))) {
                return Err(Mismatch::new("W-6", "a first message", "none"));
            }
        }
        drop(cancelled);
        match within(ctx.patience, short.message()).await {
            Some(Err(st)) if matches!(st.code(), Code::DeadlineExceeded | Code::Cancelled) => {}
            other => {
                return Err(Mismatch::new(
                    "W-6",
                    "the short watcher ends at its deadline",
                    format!("{other:?}"),
                ));
            }
        }
        act(ctx, "W-6", &id, &[OrderActionType::Cancel]).await?;
        cancelled_then_ok(
            ctx,
            "W-6",
            &mut keeper,
            "the remaining watcher gets CANCELLED",
            "then OK",
        )
        .await
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| {
            (
                "three watchers: one cancelled, one with a 300 ms deadline".to_string(),
                m,
            )
        }),
    )
}

/// The shape of a generated SubmitLineItems stream.
#[derive(Debug, Clone)]
enum Stream {
    Items(Vec<LineItem>),
    /// n valid items (long streams, past the 1000 of an order).
    Long(usize),
    /// A total at the int64 edge: fits when `over` is 0.
    Edge(i64),
}

fn stream_items(s: &Stream) -> Vec<LineItem> {
    let item = |q, p| LineItem {
        product_id: "p-1".into(),
        quantity: q,
        price_cents: p,
    };
    match s {
        Stream::Items(v) => v.clone(),
        Stream::Long(n) => vec![item(2, 3); *n],
        Stream::Edge(over) => vec![item(1, i64::MAX - 5), item(1, 5 + over)],
    }
}

fn line_item() -> impl Strategy<Value = LineItem> {
    let product = prop_oneof![4 => Just("p-1".to_string()), 1 => Just(String::new()), 1 => Just("p".repeat(129))];
    (
        product,
        prop_oneof![4 => 1i32..4, 1 => -2i32..1],
        prop_oneof![4 => 0i64..1000, 1 => -3i64..0],
    )
        .prop_map(|(product_id, quantity, price_cents)| LineItem {
            product_id,
            quantity,
            price_cents,
        })
}

/// S-1 to S-3 over generated streams: count and total, or the first bad
/// item's fields, or the overflow.
pub(crate) async fn s1(ctx: &Ctx) -> Verdict {
    let strategy = prop_oneof![
        8 => proptest::collection::vec(line_item(), 0..8).prop_map(Stream::Items),
        1 => prop_oneof![Just(1001usize), Just(2500usize)].prop_map(Stream::Long),
        1 => (0i64..2).prop_map(Stream::Edge),
    ];
    property(
        forall(
            strategy,
            ctx.cases,
            ctx.seed ^ 0x51,
            64,
            ctx.patience * 10,
            |s| async move {
                let items = stream_items(&s);
                let expected = expected_submit(&items);
                let got = ctx
                    .client()
                    .submit_line_items(tokio_stream::iter(items))
                    .await;
                let rule = if expected.is_ok() { "S-1" } else { "S-3" };
                match (expected, got) {
                    (Ok((n, t)), Ok(res)) => {
                        let res = res.into_inner();
                        if (res.item_count, res.total_cents) == (n, t) {
                            Ok(())
                        } else {
                            Err(Mismatch::new(
                                "S-1",
                                format!("item_count {n}, total_cents {t}"),
                                format!("{res:?}"),
                            ))
                        }
                    }
                    (Ok(_), Err(st)) => Err(Mismatch::new("S-1", "OK", show(&st))),
                    (Err(fields), Ok(res)) => Err(Mismatch::new(
                        "S-3",
                        format!("INVALID_ARGUMENT on {fields:?}"),
                        format!("OK {:?}", res.into_inner()),
                    )),
                    (Err(fields), Err(st)) => {
                        let got = violations(rule, &st)?;
                        ctx.snapshot(
                            if fields == ["items"] {
                                "S-3_total_overflow"
                            } else {
                                "S-3_invalid_item"
                            },
                            &st,
                        );
                        if got == fields {
                            Ok(())
                        } else {
                            Err(Mismatch::new(
                                "S-3",
                                format!("{fields:?}"),
                                format!("{got:?}"),
                            ))
                        }
                    }
                }
            },
        )
        .await,
    )
}

/// S-2: an empty stream answers OK with zeros.
pub(crate) async fn s2(ctx: &Ctx) -> Verdict {
    let got = ctx
        .client()
        .submit_line_items(tokio_stream::iter(Vec::<LineItem>::new()))
        .await;
    match got {
        Ok(r) if r.get_ref().item_count == 0 && r.get_ref().total_cents == 0 => Verdict::Pass(None),
        other => fail(
            ctx,
            "an empty stream",
            Mismatch::new(
                "S-2",
                "OK { item_count: 0, total_cents: 0 }",
                format!("{:?}", other.map(|r| r.into_inner())),
            ),
        ),
    }
}

/// S-3: the bad item is reported even with items after it, and only it.
pub(crate) async fn s3(ctx: &Ctx) -> Verdict {
    let items = vec![
        LineItem {
            product_id: "p-1".into(),
            quantity: 1,
            price_cents: 1,
        },
        LineItem {
            product_id: String::new(),
            quantity: 0,
            price_cents: 1,
        },
        LineItem {
            product_id: String::new(),
            quantity: 1,
            price_cents: -1,
        },
    ];
    let r = async {
        let st = err_code(
            "S-3",
            Code::InvalidArgument,
            ctx.client()
                .submit_line_items(tokio_stream::iter(items.clone()))
                .await,
        )?;
        let fields = violations("S-3", &st)?;
        if fields == ["items[1].product_id", "items[1].quantity"] {
            Ok(())
        } else {
            Err(Mismatch::new(
                "S-3",
                "[\"items[1].product_id\", \"items[1].quantity\"]",
                format!("{fields:?}"),
            ))
        }
    }
    .await;
    steps(ctx, r.map_err(|m| (format!("{items:#?}"), m)))
}

/// S-4: stateless: the same stream gets the same answer, and creates no order.
pub(crate) async fn s4(ctx: &Ctx) -> Verdict {
    let items = vec![LineItem {
        product_id: ctx.customer(),
        quantity: 2,
        price_cents: 7,
    }];
    let r = async {
        let a = ok(
            "S-4",
            "SubmitLineItems",
            ctx.client()
                .submit_line_items(tokio_stream::iter(items.clone()))
                .await,
        )?;
        let b = ok(
            "S-4",
            "SubmitLineItems",
            ctx.client()
                .submit_line_items(tokio_stream::iter(items.clone()))
                .await,
        )?;
        if a != b {
            return Err(Mismatch::new(
                "S-4",
                format!("{a:?} both times"),
                format!("{b:?}"),
            ));
        }
        Ok(())
    }
    .await;
    steps(ctx, r.map_err(|m| (format!("{items:#?} twice"), m)))
}
