//! ProcessOrders against the reference state machine (P-1 to P-6), with
//! WatchOrderStatus subscribers checking W-2 to W-4 and GetOrder checking
//! G-3 on the same runs.

use proptest::prelude::*;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::fixtures::{get, new_order, next_update, watch};
use super::{Verdict, fail, ok, property, show, steps, within};
use crate::contract::context::Ctx;
use crate::contract::oracle::{Machine, terminal};
use crate::contract::property::{Deviation, forall};
use crate::pb::{GetOrderRequest, OrderAction, OrderActionType, OrderResult, OrderStatus};

/// Which order a generated action names.
#[derive(Debug, Clone, Copy)]
enum Id {
    Order(usize),
    Unknown,
    /// Unknown ids at the edges of the limit: 1 byte and 128 bytes.
    UnknownOneByte,
    Unknown128,
    Empty,
    TooLong,
    /// 65 two-byte characters: 130 bytes, so INVALID_ARGUMENT.
    TooLongMultibyte,
}

fn action() -> impl Strategy<Value = (Id, i32)> {
    let id = prop_oneof![
        12 => (0usize..3).prop_map(Id::Order),
        1 => Just(Id::Unknown),
        1 => Just(Id::Empty),
        1 => Just(Id::TooLong),
        1 => Just(Id::TooLongMultibyte),
    ];
    let kind = prop_oneof![10 => 1i32..=4, 1 => Just(0), 1 => Just(9)];
    (id, kind)
}

fn status_of(v: i32) -> OrderStatus {
    OrderStatus::try_from(v).unwrap_or(OrderStatus::Unspecified)
}

/// Opens a ProcessOrders call over `rx` (its first action already queued);
/// a server that answers nothing until the client half-closes breaks P-1.
async fn open(
    ctx: &Ctx,
    rx: mpsc::Receiver<OrderAction>,
) -> Result<tonic::Streaming<OrderResult>, Deviation> {
    match within(
        ctx.patience,
        ctx.client().process_orders(ReceiverStream::new(rx)),
    )
    .await
    {
        Some(r) => ok("P-1", "ProcessOrders", r),
        None => Err(Deviation::new(
            "P-1",
            "the call answers while the client's stream is open",
            "nothing until half-close (results held?)",
        )),
    }
}

/// Runs one generated sequence; `Err` names the broken rule.
async fn run_sequence(ctx: &Ctx, n_orders: usize, actions: &[(Id, i32)]) -> Result<(), Deviation> {
    let mut ids = vec![];
    let mut machine = Machine::default();
    let mut watchers = vec![];
    for _ in 0..n_orders {
        let id = new_order(ctx, "P-2").await?;
        machine.orders.insert(id.clone(), OrderStatus::Pending);
        let mut w = watch(ctx, "W-2", &id).await?;
        match within(ctx.patience, w.message()).await {
            Some(Ok(Some(u)))
                if u.order_id == id
                    && u.status == OrderStatus::Pending as i32
                    && u.previous_status == 0 =>
            {
                watchers.push((w, vec![u]));
            }
            other => {
                return Err(Deviation::new(
                    "W-2",
                    "first message {order_id, PENDING, previous UNSPECIFIED}",
                    format!("{other:?}"),
                ));
            }
        }
        ids.push(id);
    }
    let unknown = format!("{}-unknown", ctx.customer());
    let (tx, rx) = mpsc::channel::<OrderAction>(1);
    let mut rx = Some(rx);
    let mut out = None;
    let mut successes: Vec<Vec<(OrderStatus, Option<prost_types::Timestamp>)>> =
        vec![vec![]; n_orders];
    for (target, kind) in actions {
        let order_id = match target {
            Id::Order(i) => ids[i % n_orders].clone(),
            Id::Unknown => unknown.clone(),
            Id::UnknownOneByte => "0".into(),
            Id::Unknown128 => format!("{unknown:-<128}"),
            Id::Empty => String::new(),
            Id::TooLong => "o".repeat(129),
            Id::TooLongMultibyte => "ö".repeat(65),
        };
        let want = machine.apply(&order_id, *kind);
        if tx
            .send(OrderAction {
                order_id: order_id.clone(),
                action: *kind,
            })
            .await
            .is_err()
        {
            return Err(Deviation::new(
                "P-4",
                "the stream stays open",
                "the server stopped reading",
            ));
        }
        // The call opens with its first action already sent, so a server
        // that sends headers with its first result is served too.
        if let Some(rx) = rx.take() {
            out = Some(open(ctx, rx).await?);
        }
        let Some(out) = out.as_mut() else {
            return Err(Deviation::new("P-1", "an open stream", "none"));
        };
        let got: OrderResult = match within(ctx.patience, out.message()).await {
            Some(Ok(Some(r))) => r,
            Some(Ok(None)) => {
                return Err(Deviation::new(
                    "P-4",
                    "a result; failures never end the stream",
                    "the stream ended",
                ));
            }
            Some(Err(st)) => {
                return Err(Deviation::new(
                    "P-4",
                    "a result; failures never end the stream",
                    show(&st),
                ));
            }
            None => {
                return Err(Deviation::new(
                    "P-1",
                    "the result while the stream is open",
                    "nothing while the stream stayed open (held until half-close?)",
                ));
            }
        };
        if got.order_id != order_id {
            return Err(Deviation::new(
                "P-1",
                format!("order_id {order_id:?} copied"),
                format!("{got:?}"),
            ));
        }
        if got.success != want.success || status_of(got.status) != want.status {
            return Err(Deviation::new(
                "P-2",
                format!("{want:?}"),
                format!("{got:?}"),
            ));
        }
        if want.success {
            if !got.error.is_empty() {
                return Err(Deviation::new(
                    "P-3",
                    "error empty on success",
                    format!("{got:?}"),
                ));
            }
            if let Id::Order(i) = target {
                // The order's updated_at after this change, for W-3.
                let order = get(ctx, "G-3", &order_id).await?;
                if order.status != want.status as i32 {
                    return Err(Deviation::new(
                        "G-3",
                        format!("status {:?} after the action", want.status),
                        format!("{order:?}"),
                    ));
                }
                successes[i % n_orders].push((want.status, order.updated_at));
            }
        } else {
            let prefix = format!("{}: ", want.reason);
            let words_ok = got
                .error
                .strip_prefix(&prefix)
                .is_some_and(|w| !w.trim().is_empty());
            if !words_ok {
                return Err(Deviation::new(
                    "P-4",
                    format!("error \"{prefix}<words>\""),
                    format!("{:?}", got.error),
                ));
            }
        }
    }
    drop(tx);
    let end = match out.as_mut() {
        Some(out) => within(ctx.patience, out.message()).await,
        None => Some(Ok(None)),
    };
    match end {
        Some(Ok(None)) => {}
        other => {
            return Err(Deviation::new(
                "P-5",
                "OK after half-close and every result",
                format!("{other:?}"),
            ));
        }
    }
    // The watchers: every change, in order, none skipped or repeated (W-3),
    // then OK after a terminal status (W-4); updated_at moves forward (P-3).
    for (i, ((mut w, mut seen), changes)) in watchers.into_iter().zip(successes).enumerate() {
        for (want, updated_at) in &changes {
            match within(ctx.patience, w.message()).await {
                Some(Ok(Some(u))) => {
                    let prev = seen.last().map_or(0, |p| p.status);
                    if u.status != *want as i32 || u.previous_status != prev {
                        return Err(Deviation::new(
                            "W-3",
                            format!("{want:?} after {:?}", status_of(prev)),
                            format!("{u:?}"),
                        ));
                    }
                    let before = seen
                        .last()
                        .and_then(|p| p.updated_at)
                        .map(|t| (t.seconds, t.nanos));
                    if u.updated_at != *updated_at {
                        return Err(Deviation::new(
                            "W-3",
                            format!("updated_at {updated_at:?}, the order's after the change"),
                            format!("{u:?}"),
                        ));
                    }
                    let now = u.updated_at.map(|t| (t.seconds, t.nanos));
                    if now.is_none() || now <= before {
                        return Err(Deviation::new(
                            "P-3",
                            "updated_at strictly later after each change",
                            format!("{before:?} then {now:?}"),
                        ));
                    }
                    seen.push(u);
                }
                other => {
                    return Err(Deviation::new(
                        "W-3",
                        format!("an update to {want:?}"),
                        format!("{other:?}"),
                    ));
                }
            }
        }
        let last = seen.last().cloned();
        let order = ok(
            "G-3",
            "GetOrder",
            ctx.client()
                .get_order(GetOrderRequest {
                    order_id: ids[i].clone(),
                })
                .await,
        )?;
        if let Some(last) = &last
            && (order.status != last.status || order.updated_at != last.updated_at)
        {
            return Err(Deviation::new(
                "G-3",
                format!("status and updated_at of the latest change {last:?}"),
                format!("{order:?}"),
            ));
        }
        if terminal(status_of(order.status)) {
            match within(ctx.patience, w.message()).await {
                Some(Ok(None)) => {}
                other => {
                    return Err(Deviation::new(
                        "W-4",
                        "OK after the terminal status",
                        format!("{other:?}"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Every action value P-4 names: UNSPECIFIED, the four actions, and one no
/// version of the proto defines.
const ACTION_VALUES: [i32; 6] = [0, 1, 2, 3, 4, 9];

/// The whole status × action product of P-2 and P-4, as boundary cases: one
/// sequence per status, on six orders, each brought to that status and then
/// given one action value. `--cases 1` covers every transition, legal or not.
fn lifecycle_product() -> Vec<(usize, Vec<(Id, i32)>)> {
    use OrderActionType::{Cancel, Confirm, Deliver, Ship};
    let paths: [&[OrderActionType]; 5] = [
        &[],                       // PENDING
        &[Confirm],                // CONFIRMED
        &[Confirm, Ship],          // SHIPPED
        &[Confirm, Ship, Deliver], // DELIVERED
        &[Cancel],                 // CANCELLED
    ];
    paths
        .iter()
        .map(|path| {
            let mut actions = vec![];
            for (i, last) in ACTION_VALUES.iter().enumerate() {
                actions.extend(path.iter().map(|a| (Id::Order(i), *a as i32)));
                actions.push((Id::Order(i), *last));
            }
            (ACTION_VALUES.len(), actions)
        })
        .collect()
}

/// P-2 (with P-1, P-3 to P-5, W-2 to W-4, G-3 on the same runs): random
/// action sequences against the reference state machine.
pub(crate) async fn p2(ctx: &Ctx) -> Verdict {
    use OrderActionType::{Cancel, Confirm, Deliver, Ship};
    let strategy = (1usize..=3, proptest::collection::vec(action(), 0..12));
    let cases = ctx.cases.div_ceil(2).max(1);
    let on = |i, a: OrderActionType| (Id::Order(i), a as i32);
    // Boundary cases first: the empty stream, the whole lifecycle with
    // repeats, both cancels, every invalid id and action, two orders.
    let boundaries = vec![
        (1, vec![]),
        (
            1,
            vec![
                on(0, Confirm),
                on(0, Confirm),
                on(0, Ship),
                on(0, Deliver),
                on(0, Deliver),
                on(0, Cancel),
            ],
        ),
        (1, vec![on(0, Cancel), on(0, Confirm), on(0, Cancel)]),
        (1, vec![on(0, Confirm), on(0, Cancel), on(0, Ship)]),
        (
            1,
            vec![
                (Id::Empty, Confirm as i32),
                (Id::TooLong, Confirm as i32),
                (Id::TooLongMultibyte, Confirm as i32),
                (Id::Unknown, Confirm as i32),
                (Id::UnknownOneByte, Confirm as i32),
                (Id::Unknown128, Cancel as i32),
                (Id::Unknown, 0),
                (Id::Order(0), 0),
                (Id::Order(0), 9),
                on(0, Ship),
            ],
        ),
        (
            2,
            vec![on(0, Confirm), on(1, Cancel), on(0, Ship), on(1, Confirm)],
        ),
    ];
    let boundaries = lifecycle_product().into_iter().chain(boundaries).collect();
    property(
        forall(
            strategy,
            boundaries,
            cases,
            ctx.seed ^ 0x92,
            48,
            ctx.patience * 10,
            |(n, actions): (usize, Vec<(Id, i32)>)| async move {
                run_sequence(ctx, n, &actions).await
            },
        )
        .await,
    )
}

/// P-1: a result comes while the stream is still open, with the order id.
pub(crate) async fn p1(ctx: &Ctx) -> Verdict {
    let r = async {
        let id = new_order(ctx, "P-1").await?;
        let (tx, rx) = mpsc::channel::<OrderAction>(1);
        let mut rx = Some(rx);
        let mut out = None;
        for kind in [OrderActionType::Confirm, OrderActionType::Confirm] {
            let _ = tx
                .send(OrderAction {
                    order_id: id.clone(),
                    action: kind as i32,
                })
                .await;
            if let Some(rx) = rx.take() {
                out = Some(open(ctx, rx).await?);
            }
            let Some(out) = out.as_mut() else { break };
            match within(ctx.patience, out.message()).await {
                Some(Ok(Some(r))) if r.order_id == id => {}
                Some(other) => {
                    return Err(Deviation::new(
                        "P-1",
                        "one result with the action's order_id",
                        format!("{other:?}"),
                    ));
                }
                None => {
                    return Err(Deviation::new(
                        "P-1",
                        "the result before the client half-closes",
                        "nothing while the stream stayed open",
                    ));
                }
            }
        }
        Ok(())
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| ("CONFIRM, CONFIRM on one open stream".to_string(), m)),
    )
}

/// P-5: an empty stream ends OK with no results.
pub(crate) async fn p5(ctx: &Ctx) -> Verdict {
    let r = async {
        let mut out = ok(
            "P-5",
            "ProcessOrders",
            ctx.client()
                .process_orders(tokio_stream::iter(Vec::<OrderAction>::new()))
                .await,
        )?;
        match within(ctx.patience, out.message()).await {
            Some(Ok(None)) => Ok(()),
            other => Err(Deviation::new(
                "P-5",
                "OK with no results",
                format!("{other:?}"),
            )),
        }
    }
    .await;
    steps(ctx, r.map_err(|m| ("an empty stream".to_string(), m)))
}

/// P-6: two streams race CONFIRM on each of N fresh orders: exactly one
/// succeeds per order.
pub(crate) async fn p6(ctx: &Ctx) -> Verdict {
    let n = ctx.cases.clamp(10, 100) as usize;
    let mut ids = vec![];
    for _ in 0..n {
        match new_order(ctx, "P-6").await {
            Ok(id) => ids.push(id),
            Err(m) => return fail(ctx, "creating the orders to race on", m),
        }
    }
    let race = || async {
        let actions: Vec<_> = ids
            .iter()
            .map(|id| OrderAction {
                order_id: id.clone(),
                action: OrderActionType::Confirm as i32,
            })
            .collect();
        results_of(ctx, "P-6", actions).await
    };
    let (a, b) = tokio::join!(race(), race());
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(m), _) | (_, Err(m)) => return fail(ctx, "two concurrent streams of CONFIRMs", m),
    };
    for (i, id) in ids.iter().enumerate() {
        let (ra, rb) = (a.get(i), b.get(i));
        let wins = ra.is_some_and(|r| r.success) as u8 + rb.is_some_and(|r| r.success) as u8;
        if wins != 1 {
            return fail(
                ctx,
                format!("two streams, each CONFIRM of {n} fresh PENDING orders; order {id}"),
                Deviation::new(
                    "P-6",
                    "exactly one CONFIRM succeeds",
                    format!("{wins} succeeded: {ra:?} / {rb:?}"),
                ),
            );
        }
    }
    Verdict::Pass(Some(format!("{n} orders raced")))
}

/// Sends `actions` on one stream and collects every result, then the end.
async fn results_of(
    ctx: &Ctx,
    rule: &'static str,
    actions: Vec<OrderAction>,
) -> Result<Vec<OrderResult>, Deviation> {
    let mut out = ok(
        rule,
        "ProcessOrders",
        ctx.client()
            .process_orders(tokio_stream::iter(actions))
            .await,
    )?;
    let mut results = vec![];
    loop {
        match within(ctx.patience, out.message()).await {
            Some(Ok(Some(r))) => results.push(r),
            Some(Ok(None)) => return Ok(results),
            other => {
                return Err(Deviation::new(
                    rule,
                    "a result per action, then OK",
                    format!("{results:?} then {other:?}"),
                ));
            }
        }
    }
}

/// P-3: successes say so with the new status and an empty error, and
/// `updated_at` moves strictly forward, even for actions in quick
/// succession on one stream.
pub(crate) async fn p3(ctx: &Ctx) -> Verdict {
    use OrderActionType::{Confirm, Deliver, Ship};
    let r = async {
        let id = new_order(ctx, "P-3").await?;
        let created = get(ctx, "P-3", &id).await?;
        let mut w = watch(ctx, "P-3", &id).await?;
        let mut last = next_update(ctx, "P-3", &mut w).await?.updated_at;
        let actions = [Confirm, Ship, Deliver].map(|a| OrderAction {
            order_id: id.clone(),
            action: a as i32,
        });
        let results = results_of(ctx, "P-3", actions.to_vec()).await?;
        let want = [
            OrderStatus::Confirmed,
            OrderStatus::Shipped,
            OrderStatus::Delivered,
        ];
        for (r, status) in results.iter().zip(want) {
            if !(r.success && r.error.is_empty() && r.status == status as i32) {
                return Err(Deviation::new(
                    "P-3",
                    format!("success, empty error, status {status:?}"),
                    format!("{r:?}"),
                ));
            }
            let u = next_update(ctx, "P-3", &mut w).await?;
            if u.status != status as i32 || !key_after(&last, &u.updated_at) {
                return Err(Deviation::new(
                    "P-3",
                    format!("a watch update to {status:?} with updated_at after {last:?}"),
                    format!("{u:?}"),
                ));
            }
            last = u.updated_at;
        }
        if results.len() != 3 {
            return Err(Deviation::new("P-1", "3 results", format!("{results:?}")));
        }
        if key_after(&created.created_at, &last) {
            Ok(())
        } else {
            Err(Deviation::new(
                "P-3",
                "updated_at later than created_at",
                format!("{last:?}"),
            ))
        }
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| {
            (
                "CONFIRM, SHIP, DELIVER on one stream, one watcher".to_string(),
                m,
            )
        }),
    )
}

fn key_after(a: &Option<prost_types::Timestamp>, b: &Option<prost_types::Timestamp>) -> bool {
    let k = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos));
    k(b) > k(a)
}

/// P-4: every kind of failure, in the order of checks (id, action,
/// existence, transition), keeps the stream open and leaves the order as
/// it was.
pub(crate) async fn p4(ctx: &Ctx) -> Verdict {
    let r = async {
        let id = new_order(ctx, "P-4").await?;
        let unknown = format!("{}-unknown", ctx.customer());
        let mut machine = Machine::default();
        machine.orders.insert(id.clone(), OrderStatus::Pending);
        let confirm = OrderActionType::Confirm as i32;
        let plan: Vec<(String, i32)> = vec![
            (id.clone(), confirm),
            (String::new(), confirm),
            (String::new(), 0),
            ("o".repeat(129), confirm),
            ("ö".repeat(65), confirm),
            (id.clone(), 0),
            (id.clone(), 9),
            (unknown.clone(), 0),
            (unknown, confirm),
            (id.clone(), confirm),
            (id.clone(), OrderActionType::Deliver as i32),
            (id.clone(), OrderActionType::Ship as i32),
        ];
        let actions: Vec<_> = plan
            .iter()
            .map(|(order_id, action)| OrderAction {
                order_id: order_id.clone(),
                action: *action,
            })
            .collect();
        let results = results_of(ctx, "P-4", actions).await?;
        if results.len() != plan.len() {
            return Err(Deviation::new(
                "P-4",
                format!("{} results: failures never end the stream", plan.len()),
                format!("{results:?}"),
            ));
        }
        for ((order_id, action), got) in plan.iter().zip(results) {
            let want = machine.apply(order_id, *action);
            let prefix = format!("{}: ", want.reason);
            let right = got.success == want.success
                && status_of(got.status) == want.status
                && (want.success
                    || got
                        .error
                        .strip_prefix(&prefix)
                        .is_some_and(|w| !w.trim().is_empty()));
            if !right {
                return Err(Deviation::new(
                    "P-4",
                    format!("for ({order_id:?}, {action}): {want:?}"),
                    format!("{got:?}"),
                ));
            }
        }
        Ok(())
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| {
            (
                "CONFIRM, then bad ids, bad actions, an unknown order, repeats and a skipped step on one stream"
                    .to_string(),
                m,
            )
        }),
    )
}
