//! Deadlines and cancellation: D-1 to D-4.
//!
//! No deadline here is fixed: a deadline meant to run out is
//! [`Ctx::short`] (above a told fail-fast threshold), and a target that
//! fails fast on it anyway gets a configuration hint, not a failure.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Status};

use super::fixtures::{create_request, get, new_order, watch};
use super::{
    Shortfall, Verdict, ended_by_deadline, failed_fast, ok, show, steps, timed,
    with_short_deadline, within,
};
use crate::contract::context::Ctx;
use crate::contract::property::Deviation;
use crate::contract::raw::{End, RawCall};
use crate::pb::{
    CreateOrderRequest, GetOrderRequest, LineItem, OrderAction, OrderActionType, OrderStatus,
    WatchOrderStatusRequest,
};

/// D-1's reading of an end: [`ended_by_deadline`], not a fail-fast answer.
fn deadline_end(
    what: &str,
    started: Instant,
    deadline: Duration,
    end: Option<Result<Status, String>>,
) -> Result<(), Shortfall> {
    match end {
        Some(Ok(st)) if failed_fast(&st, started, deadline) => Err(Shortfall::TooShort),
        Some(Ok(st)) if ended_by_deadline(&st, started, deadline) => Ok(()),
        Some(Ok(st)) => Err(Deviation::new(
            "D-1",
            format!("{what}: DEADLINE_EXCEEDED at the deadline"),
            show(&st),
        )
        .into()),
        Some(Err(other)) => Err(Deviation::new(
            "D-1",
            format!("{what}: DEADLINE_EXCEEDED at the deadline"),
            other,
        )
        .into()),
        None => Err(Deviation::new(
            "D-1",
            format!("{what}: ended at its {deadline:?} deadline"),
            "still open well after it",
        )
        .into()),
    }
}

/// The end of a response stream, read after its first message.
async fn stream_end<T: std::fmt::Debug>(
    ctx: &Ctx,
    deadline: Duration,
    s: &mut tonic::Streaming<T>,
) -> Option<Result<Status, String>> {
    within(deadline + ctx.patience, s.message())
        .await
        .map(|r| match r {
            Err(st) => Ok(st),
            Ok(m) => Err(format!("{m:?} instead of the end")),
        })
}

/// An open call that must start: a fail-fast answer means the deadline was
/// too short for this target.
fn opened<T>(
    what: &str,
    started: Instant,
    deadline: Duration,
    r: Result<tonic::Response<T>, Status>,
) -> Result<T, Shortfall> {
    match r {
        Ok(res) => Ok(res.into_inner()),
        Err(st) if failed_fast(&st, started, deadline) => Err(Shortfall::TooShort),
        Err(st) => Err(Deviation::new("D-1", format!("{what} starts"), show(&st)).into()),
    }
}

/// The first message of a stream that must come before the deadline.
async fn first<T: std::fmt::Debug>(
    ctx: &Ctx,
    what: &str,
    started: Instant,
    deadline: Duration,
    s: &mut tonic::Streaming<T>,
) -> Result<(), Shortfall> {
    match within(deadline + ctx.patience, s.message()).await {
        Some(Ok(Some(_))) => Ok(()),
        Some(Err(st)) if failed_fast(&st, started, deadline) => Err(Shortfall::TooShort),
        other => Err(Deviation::new(
            "D-1",
            format!("{what}: a first message before the deadline"),
            format!("{other:?}"),
        )
        .into()),
    }
}

async fn d1_round(ctx: &Ctx, id: &str, deadline: Duration) -> Result<(), Shortfall> {
    // The raw round waits on its own deadline meanwhile.
    let (through_client, raw) = tokio::join!(
        client_side(ctx, id, deadline),
        server_side(ctx, id, deadline)
    );
    match (through_client, raw) {
        (Err(Shortfall::TooShort), _) | (_, Err(Shortfall::TooShort)) => Err(Shortfall::TooShort),
        (Err(e), _) | (_, Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// D-1 through a tonic client: each streaming pattern left open.
async fn client_side(ctx: &Ctx, id: &str, deadline: Duration) -> Result<(), Shortfall> {
    // Server streaming: the watch stays open until its deadline.
    let watch = WatchOrderStatusRequest {
        order_id: id.to_string(),
    };
    let started = Instant::now();
    let got = ctx
        .client()
        .watch_order_status(timed(watch, deadline))
        .await;
    let mut w = opened("WatchOrderStatus", started, deadline, got)?;
    first(ctx, "WatchOrderStatus", started, deadline, &mut w).await?;
    let end = stream_end(ctx, deadline, &mut w).await;
    deadline_end("WatchOrderStatus", started, deadline, end)?;

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
        deadline + ctx.patience,
        client.submit_line_items(timed(ReceiverStream::new(rx), deadline)),
    )
    .await
    .map(|r| match r {
        Err(st) => Ok(st),
        Ok(res) => Err(format!("OK {:?}", res.into_inner())),
    });
    deadline_end("SubmitLineItems", started, deadline, end)?;
    drop(tx);

    // Bidirectional: the first action is sent before the call is awaited
    // (servers that send headers with the first result are served too),
    // then the stream is left open.
    let (tx, rx) = mpsc::channel::<OrderAction>(1);
    let _ = tx
        .send(OrderAction {
            order_id: id.to_string(),
            action: OrderActionType::Ship as i32,
        })
        .await;
    let started = Instant::now();
    let got = within(
        deadline + ctx.patience,
        ctx.client()
            .process_orders(timed(ReceiverStream::new(rx), deadline)),
    )
    .await;
    let Some(got) = got else {
        return Err(Deviation::new(
            "D-1",
            "ProcessOrders: its first result, or its end at the deadline",
            "nothing at all",
        )
        .into());
    };
    let mut out = opened("ProcessOrders", started, deadline, got)?;
    first(ctx, "ProcessOrders", started, deadline, &mut out).await?;
    let end = stream_end(ctx, deadline, &mut out).await;
    deadline_end("ProcessOrders", started, deadline, end)?;
    drop(tx);
    Ok(())
}

/// D-1 seen from a client that enforces no deadline of its own: every RPC
/// on a raw HTTP/2 stream with `grpc-timeout`, its request stream left
/// open (a unary call's message never sent), must be ended by the server:
/// `DEADLINE_EXCEEDED`, or `CANCELLED` or a reset once the deadline has
/// passed.
async fn server_side(ctx: &Ctx, id: &str, deadline: Duration) -> Result<(), Shortfall> {
    let Some(dial) = &ctx.dial else {
        return Ok(());
    };
    let headers = ctx.raw_headers();
    let watch = WatchOrderStatusRequest {
        order_id: id.to_string(),
    };
    let item = LineItem {
        product_id: "p-1".into(),
        quantity: 1,
        price_cents: 1,
    };
    let action = OrderAction {
        order_id: id.to_string(),
        action: OrderActionType::Ship as i32,
    };
    let one = |rpc: &'static str| {
        let headers = &headers;
        let (watch, item, action) = (&watch, &item, &action);
        async move {
            let started = Instant::now();
            let path = format!("/orders.v1.OrderService/{rpc}");
            let mut call = match RawCall::open(dial, &path, headers, deadline).await {
                Ok(call) => call,
                Err(e) => return (rpc, started, Err(e)),
            };
            match rpc {
                // The whole request: the stream must still end at the deadline.
                "WatchOrderStatus" => call.send(watch, true),
                "SubmitLineItems" => call.send(item, false),
                "ProcessOrders" => call.send(action, false),
                _ => {}
            }
            let end = call.end_within(deadline + ctx.patience).await;
            (rpc, started, Ok(end))
        }
    };
    let ends = futures_util::future::join_all(
        [
            "CreateOrder",
            "GetOrder",
            "WatchOrderStatus",
            "SubmitLineItems",
            "ProcessOrders",
        ]
        .map(one),
    )
    .await;
    for (rpc, started, end) in ends {
        let elapsed = started.elapsed();
        let expected = format!(
            "{rpc} from a client enforcing no deadline, its stream left open: ended by the \
             server at its {deadline:?} deadline (DEADLINE_EXCEEDED)"
        );
        let got = match end {
            Ok(End::Status { code: 4, .. }) if elapsed < deadline / 2 => {
                return Err(Shortfall::TooShort);
            }
            Ok(End::Status { code: 4, .. }) => continue,
            // Ended once the deadline passed: tonic's server says CANCELLED
            // ("Timeout expired"), some stacks reset the stream.
            Ok(End::Status { code: 1, .. } | End::Reset(_)) if elapsed >= deadline => continue,
            Ok(End::Status { code, message, .. }) => {
                format!("{:?} {message:?}", Code::from_i32(code))
            }
            Ok(End::Reset(why)) => format!("{why} after {elapsed:?}"),
            Ok(End::Open) => format!(
                "still open {:?} after its deadline: the server never ended it",
                ctx.patience
            ),
            Err(e) => format!("the call could not be opened: {e}"),
        };
        return Err(Deviation::new("D-1", expected, got).into());
    }
    Ok(())
}

pub(crate) async fn d1(ctx: &Ctx) -> Verdict {
    let r = async {
        let id = new_order(ctx, "D-1").await?;
        with_short_deadline(ctx, |deadline| d1_round(ctx, &id, deadline)).await
    }
    .await;
    match r {
        Ok(hint) => Verdict::Pass(hint),
        Err(m) => steps(
            ctx,
            Err((
                format!(
                    "a call of each streaming pattern with a {:?} deadline, left open",
                    ctx.short()
                ),
                m,
            )),
        ),
    }
}

/// A call made with `deadline` below the threshold must fail at once.
/// `Ok(None)`: no answer came before the caller's own deadline (a slow
/// link), so whether the server failed fast cannot be told.
fn fails_fast<T: std::fmt::Debug>(
    what: &str,
    started: Instant,
    deadline: Duration,
    got: Result<T, Status>,
) -> Result<Option<Status>, Deviation> {
    let st = match got {
        Err(st) => st,
        Ok(res) => {
            return Err(Deviation::new(
                "D-2",
                format!("{what}: DEADLINE_EXCEEDED at once"),
                format!("{res:?}"),
            ));
        }
    };
    let late = started.elapsed() >= deadline;
    if late && ended_by_deadline(&st, started, deadline) {
        return Ok(None);
    }
    if st.code() != Code::DeadlineExceeded {
        return Err(Deviation::new(
            "D-2",
            format!("{what}: DEADLINE_EXCEEDED at once"),
            show(&st),
        ));
    }
    Ok(Some(st))
}

/// [`fails_fast`] for one of D-2's calls: `Ok(None)` is noted in `late`.
fn judged<T: std::fmt::Debug>(
    late: &mut Vec<&'static str>,
    what: &'static str,
    input: String,
    started: Instant,
    deadline: Duration,
    got: Result<T, Status>,
) -> Result<Option<Status>, (String, Deviation)> {
    let status = fails_fast(what, started, deadline, got).map_err(|m| (input, m))?;
    if status.is_none() {
        late.push(what);
    }
    Ok(status)
}

/// The error status of a stream opened with a too short deadline, on
/// opening or before its first message; `Ok` describes anything else.
async fn stream_status<T: std::fmt::Debug>(
    ctx: &Ctx,
    got: Result<tonic::Response<tonic::Streaming<T>>, Status>,
) -> Result<String, Status> {
    match within(ctx.patience, got?.into_inner().message()).await {
        Some(Err(st)) => Err(st),
        other => Ok(format!("{other:?}")),
    }
}

fn key_request<T>(msg: T, key: &str, deadline: Duration) -> tonic::Request<T> {
    let mut r = timed(msg, deadline);
    if let Ok(v) = key.parse() {
        r.metadata_mut().insert("idempotency-key", v);
    }
    r
}

async fn d2_all(ctx: &Ctx, threshold: Duration) -> Result<Vec<String>, (String, Deviation)> {
    let short = threshold / 2;
    let at = |what: &str| format!("{what} with a deadline of {short:?} (threshold {threshold:?})");
    let id = new_order(ctx, "D-2")
        .await
        .map_err(|m| ("creating an order".to_string(), m))?;
    let mut not_checked = vec![];
    let mut late = vec![];

    // CreateOrder: fails fast, and records nothing under its key.
    let key = format!("{}-d2-{}", ctx.run_id, ctx.customer());
    let started = Instant::now();
    let got = ctx
        .client()
        .create_order(key_request(create_request(ctx), &key, short))
        .await;
    let got = got.map(|r| r.into_inner());
    if let Some(st) = judged(
        &mut late,
        "CreateOrder",
        at("CreateOrder"),
        started,
        short,
        got,
    )? {
        ctx.snapshot(
            "D-2_fail_fast",
            &Status::new(
                st.code(),
                st.message().replace(|c: char| c.is_ascii_digit(), "#"),
            ),
        );
    }
    let other = create_request(ctx);
    match ctx
        .client()
        .create_order(key_request(other, &key, ctx.ample()))
        .await
    {
        Ok(_) => {}
        Err(st) => {
            return Err((
                format!(
                    "{}, then another request under its idempotency key",
                    at("CreateOrder")
                ),
                Deviation::new(
                    "D-2",
                    "the failed-fast call did nothing: the key is free",
                    show(&st),
                ),
            ));
        }
    }

    // GetOrder.
    let started = Instant::now();
    let got = ctx
        .client()
        .get_order(timed(
            GetOrderRequest {
                order_id: id.clone(),
            },
            short,
        ))
        .await;
    let got = got.map(|r| r.into_inner());
    judged(&mut late, "GetOrder", at("GetOrder"), started, short, got)?;

    // WatchOrderStatus: the error comes before any message.
    let started = Instant::now();
    let got = ctx
        .client()
        .watch_order_status(timed(
            WatchOrderStatusRequest {
                order_id: id.clone(),
            },
            short,
        ))
        .await;
    let got = stream_status(ctx, got).await;
    let input = at("WatchOrderStatus");
    judged(&mut late, "WatchOrderStatus", input, started, short, got)?;

    // SubmitLineItems.
    let started = Instant::now();
    let got = ctx
        .client()
        .submit_line_items(timed(
            tokio_stream::iter([LineItem {
                product_id: "p-1".into(),
                quantity: 1,
                price_cents: 1,
            }]),
            short,
        ))
        .await;
    let got = got.map(|r| r.into_inner());
    let input = at("SubmitLineItems");
    judged(&mut late, "SubmitLineItems", input, started, short, got)?;

    // ProcessOrders: fails fast, and the action is not applied.
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
    let got = stream_status(ctx, got).await;
    let input = at("ProcessOrders CONFIRM");
    judged(&mut late, "ProcessOrders", input, started, short, got)?;
    let order = get(ctx, "D-2", &id)
        .await
        .map_err(|m| (at("ProcessOrders CONFIRM"), m))?;
    if order.status != OrderStatus::Pending as i32 {
        return Err((
            format!("{}, then GetOrder", at("ProcessOrders CONFIRM")),
            Deviation::new(
                "D-2",
                "the failed-fast action did nothing (still PENDING)",
                format!("{order:?}"),
            ),
        ));
    }

    // "At once" means before the first message too: streams left open,
    // nothing sent and no half-close. A target that failed fast on
    // CreateOrder in time and leaves these to the deadline breaks D-2.
    let started = Instant::now();
    let got = ctx
        .client()
        .submit_line_items(timed(tokio_stream::pending::<LineItem>(), short))
        .await;
    let got = got.map(|r| r.into_inner());
    let submit_open = fails_fast(
        "SubmitLineItems, its stream open and empty",
        started,
        short,
        got,
    )
    .map_err(|m| (at("SubmitLineItems, nothing sent, not half-closed"), m))?;
    let started = Instant::now();
    let got = ctx
        .client()
        .process_orders(timed(tokio_stream::pending::<OrderAction>(), short))
        .await;
    let got = stream_status(ctx, got).await;
    let process_open = fails_fast(
        "ProcessOrders, its stream open and empty",
        started,
        short,
        got,
    )
    .map_err(|m| (at("ProcessOrders, nothing sent, not half-closed"), m))?;
    if !late.contains(&"CreateOrder") {
        for (what, status) in [
            ("SubmitLineItems", submit_open),
            ("ProcessOrders", process_open),
        ] {
            if status.is_none() {
                return Err((
                    at(&format!("{what}, nothing sent, not half-closed")),
                    Deviation::new(
                        "D-2",
                        "DEADLINE_EXCEEDED at once, before the first message (as CreateOrder did)",
                        "no answer before the deadline passed",
                    ),
                ));
            }
        }
    }

    // The order of checks: fail-fast before validation...
    let mut invalid = create_request(ctx);
    invalid.customer_id.clear();
    let started = Instant::now();
    let got = ctx.client().create_order(timed(invalid, short)).await;
    judged(
        &mut late,
        "an invalid CreateOrder (fail-fast before validation)",
        at("CreateOrder with an empty customer_id"),
        started,
        short,
        got.map(|r| r.into_inner()),
    )?;
    // ...and auth before fail-fast.
    if ctx.token.is_some() {
        let started = Instant::now();
        let got = ctx
            .client_as(None)
            .get_order(timed(
                GetOrderRequest {
                    order_id: format!("{}-d2", ctx.customer()),
                },
                short,
            ))
            .await;
        match got {
            Err(st) if st.code() == Code::Unauthenticated => {}
            Err(st) if started.elapsed() >= short && ended_by_deadline(&st, started, short) => {
                late.push("auth before fail-fast");
            }
            other => {
                return Err((
                    at("GetOrder without a token"),
                    Deviation::new(
                        "D-2",
                        "UNAUTHENTICATED (auth is checked before fail-fast)",
                        format!("{:?}", other.map(|r| r.into_inner())),
                    ),
                ));
            }
        }
    } else {
        not_checked.push("auth before fail-fast (no --token given)".to_string());
    }
    if !late.is_empty() {
        not_checked.push(format!(
            "at once for {} (no answer within the {short:?} deadline: the link is slower than that)",
            late.join(", ")
        ));
    }
    Ok(not_checked)
}

pub(crate) async fn d2(ctx: &Ctx) -> Verdict {
    let Some(threshold) = ctx.fail_fast.filter(|t| !t.is_zero()) else {
        return Verdict::Skip(
            "the target's fail-fast threshold was not given (--fail-fast-ms)".into(),
        );
    };
    match d2_all(ctx, threshold).await {
        Ok(not) if not.is_empty() => Verdict::Pass(Some("all five RPCs".into())),
        Ok(not) => Verdict::Pass(Some(format!(
            "all five RPCs; not checked: {}",
            not.join(", ")
        ))),
        Err(e) => steps(ctx, Err(e)),
    }
}

pub(crate) async fn d3(ctx: &Ctx) -> Verdict {
    // Enough rounds that a server leaking per cancelled call shows it.
    let rounds = 10;
    let r = async {
        let id = new_order(ctx, "D-3").await?;
        // A watcher that stays, to see that cancelled ones do not disturb it.
        let mut keeper = watch(ctx, "D-3", &id).await?;
        if !matches!(
            within(ctx.patience, keeper.message()).await,
            Some(Ok(Some(_)))
        ) {
            return Err(Deviation::new("D-3", "the watcher's first message", "none"));
        }
        for _ in 0..rounds {
            // A watch, cancelled right after it is established.
            let w = ctx
                .client()
                .watch_order_status(WatchOrderStatusRequest {
                    order_id: id.clone(),
                })
                .await;
            drop(w);
            // A client stream, cancelled while open.
            let (tx, rx) = mpsc::channel::<LineItem>(1);
            let _ = tx
                .send(LineItem {
                    product_id: "p-1".into(),
                    quantity: 1,
                    price_cents: 1,
                })
                .await;
            let mut client = ctx.client();
            let mut call = Box::pin(client.submit_line_items(ReceiverStream::new(rx)));
            let _ = futures_util::poll!(call.as_mut());
            drop(call);
            drop(tx);
            // A bidirectional stream, cancelled before its action was sent.
            let (tx, rx) = mpsc::channel::<OrderAction>(1);
            let mut client = ctx.client();
            let mut call = Box::pin(client.process_orders(ReceiverStream::new(rx)));
            let _ = futures_util::poll!(call.as_mut());
            drop(call);
            drop(tx);
            // A unary call, cancelled in flight.
            let mut client = ctx.client();
            let mut call = Box::pin(client.get_order(GetOrderRequest {
                order_id: id.clone(),
            }));
            let _ = futures_util::poll!(call.as_mut());
            drop(call);
        }
        // The connection carries on, and so does the watcher that stayed.
        super::fixtures::act(ctx, "D-3", &id, &[OrderActionType::Cancel]).await?;
        match within(ctx.patience, keeper.message()).await {
            Some(Ok(Some(u))) if u.status == OrderStatus::Cancelled as i32 => {}
            other => {
                return Err(Deviation::new(
                    "D-3",
                    "the remaining watcher gets CANCELLED",
                    format!("{other:?}"),
                ));
            }
        }
        let order = get(ctx, "D-3", &id).await?;
        // Nothing the cancelled watches held is missing: a new one opens.
        let mut fresh = ok(
            "D-3",
            "a new WatchOrderStatus after the cancelled ones",
            ctx.client()
                .watch_order_status(WatchOrderStatusRequest { order_id: id })
                .await,
        )?;
        super::fixtures::next_update(ctx, "D-3", &mut fresh).await?;
        if order.status != OrderStatus::Cancelled as i32 {
            return Err(Deviation::new(
                "D-3",
                "CANCELLED: the cancelled calls did nothing",
                format!("{order:?}"),
            ));
        }
        Ok(())
    }
    .await;
    match r {
        Ok(()) => Verdict::Pass(Some(format!(
            "{rounds} rounds of cancelled calls of every pattern; checked: the connection, \
             the other watcher, the order; not observable from outside: server-side tasks \
             and subscriptions left behind"
        ))),
        Err(m) => steps(
            ctx,
            Err((
                format!(
                    "{rounds} rounds of watch, client stream, bidi stream and unary calls cancelled in flight"
                ),
                m,
            )),
        ),
    }
}

/// A whole order: the request's customer and items, PENDING.
fn whole(req: &CreateOrderRequest, order: &crate::pb::Order) -> bool {
    order.customer_id == req.customer_id
        && order.items == req.items
        && order.status == OrderStatus::Pending as i32
        && order.created_at.is_some()
        && order.updated_at == order.created_at
}

async fn d4_create(ctx: &Ctx, deadline: Duration, items: usize) -> Result<(), Deviation> {
    let key = format!("{}-d4-{}", ctx.run_id, ctx.customer());
    let mut req = create_request(ctx);
    req.items = (0..items)
        .map(|i| LineItem {
            product_id: format!("p-{i}"),
            quantity: 1 + (i % 3) as i32,
            price_cents: 100 + i as i64,
        })
        .collect();
    let cut = ctx
        .client()
        .create_order(key_request(req.clone(), &key, deadline))
        .await;
    // Whatever happened, the same request with an ample deadline must
    // answer a whole order: the first one, or a clean new one.
    let replay = ok(
        "D-4",
        "the replay with an ample deadline",
        ctx.client()
            .create_order(key_request(req.clone(), &key, ctx.ample()))
            .await,
    )?;
    if let Ok(first) = &cut
        && first.get_ref().order_id != replay.order_id
    {
        return Err(Deviation::new(
            "C-4",
            format!("the first response {:?}", first.get_ref()),
            format!("{replay:?}"),
        ));
    }
    let order = ok(
        "D-4",
        "GetOrder of the replayed order",
        ctx.client()
            .get_order(GetOrderRequest {
                order_id: replay.order_id.clone(),
            })
            .await,
    )?;
    if !whole(&req, &order) {
        return Err(Deviation::new(
            "D-4",
            format!(
                "a whole order: the request's customer and {} items, PENDING, updated_at == created_at",
                req.items.len()
            ),
            format!(
                "customer {:?}, {} items, status {:?} (first call: {})",
                order.customer_id,
                order.items.len(),
                order.status(),
                match &cut {
                    Ok(_) => "OK".to_string(),
                    Err(st) => show(st),
                }
            ),
        ));
    }
    Ok(())
}

/// An action whose stream is cut by its deadline: the order is either
/// unchanged or changed fully, and GetOrder and a new watch agree.
async fn d4_action(ctx: &Ctx, deadline: Duration) -> Result<(), Deviation> {
    let id = new_order(ctx, "D-4").await?;
    let (tx, rx) = mpsc::channel::<OrderAction>(1);
    let _ = tx
        .send(OrderAction {
            order_id: id.clone(),
            action: OrderActionType::Confirm as i32,
        })
        .await;
    let call = within(
        deadline + ctx.patience,
        ctx.client()
            .process_orders(timed(ReceiverStream::new(rx), deadline)),
    )
    .await;
    // Read until the deadline ends the call (or anything else does).
    if let Some(Ok(res)) = call {
        let mut s = res.into_inner();
        while let Some(Ok(Some(_))) = within(deadline + ctx.patience, s.message()).await {}
    }
    drop(tx);
    let order = get(ctx, "D-4", &id).await?;
    let status = order.status();
    let at = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos));
    let changed_fully =
        status == OrderStatus::Confirmed && at(&order.updated_at) > at(&order.created_at);
    let unchanged = status == OrderStatus::Pending && order.updated_at == order.created_at;
    if !(changed_fully || unchanged) {
        return Err(Deviation::new(
            "D-4",
            "PENDING as created, or CONFIRMED with a later updated_at",
            format!("{order:?}"),
        ));
    }
    let mut w = watch(ctx, "D-4", &id).await?;
    match within(ctx.patience, w.message()).await {
        Some(Ok(Some(u))) if u.status == order.status && u.updated_at == order.updated_at => Ok(()),
        other => Err(Deviation::new(
            "D-4",
            format!("a watch that agrees with GetOrder ({status:?})"),
            format!("{other:?}"),
        )),
    }
}

pub(crate) async fn d4(ctx: &Ctx) -> Verdict {
    let deadline = ctx.short();
    let r = async {
        for items in [1, 1000] {
            d4_create(ctx, deadline, items)
                .await
                .map_err(|m| (format!("CreateOrder of {items} items with idempotency-key and a {deadline:?} deadline, replayed with an ample one"), m))?;
        }
        d4_action(ctx, deadline)
            .await
            .map_err(|m| (format!("CONFIRM on a stream cut by its {deadline:?} deadline"), m))
    }
    .await;
    match r {
        Ok(()) => Verdict::Pass(Some(
            "checked: what calls cut by their deadline left is whole; whether a cut falls \
             mid-work depends on the target's speed and cannot be forced from outside"
                .into(),
        )),
        Err(e) => steps(ctx, Err(e)),
    }
}
