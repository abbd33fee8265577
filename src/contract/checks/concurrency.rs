//! Concurrent use, checked for linearizability (L-1, L-2): several clients
//! at once, every operation's invocation and answer timed, and the
//! history of each order (of each idempotency key) searched for a serial
//! order that the suite's own lifecycle table explains. A failure shows
//! the smallest failing part of the history as a timeline.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

use super::fixtures::{create_request, new_order};
use super::{Verdict, fail, show, within};
use crate::contract::context::Ctx;
use crate::contract::linearizable::{self, MAX_OPS, Model, Op};
use crate::contract::oracle::transition;
use crate::contract::property::Deviation;
use crate::pb::{GetOrderRequest, OrderAction, OrderActionType, OrderStatus};

/// Search steps per history before it is called undecided.
const BOUND: usize = 200_000;
/// Rounds per run (each on fresh orders), at least.
const ROUNDS: u32 = 3;
/// GetOrders the reader makes per round.
const READS: usize = 6;

/// What a client asked of one order.
#[derive(Debug, Clone)]
enum Ask {
    Act(OrderActionType),
    Get,
    /// A watch message (it says the status was this at some point between
    /// the watch's opening and its arrival).
    Watched,
}

/// What it was told.
#[derive(Debug, Clone)]
enum Told {
    Acted { success: bool, status: OrderStatus },
    Status(OrderStatus),
}

/// One order under the lifecycle table (CONTRACT.md P-2): actions the
/// table allows succeed and move it; others fail and leave it; reads see
/// its status.
struct Lifecycle;

impl Model for Lifecycle {
    type State = OrderStatus;
    type Input = Ask;
    type Output = Told;

    fn init(&self) -> OrderStatus {
        OrderStatus::Pending
    }

    fn observes(&self, input: &Ask) -> bool {
        !matches!(input, Ask::Act(_))
    }

    fn step(&self, state: &OrderStatus, input: &Ask, output: &Told) -> Option<OrderStatus> {
        match (input, output) {
            (Ask::Act(action), Told::Acted { success, status }) => {
                match transition(*state, *action) {
                    Some(next) if *success && *status == next => Some(next),
                    None if !*success && status == state => Some(*state),
                    _ => None,
                }
            }
            (Ask::Get | Ask::Watched, Told::Status(seen)) if seen == state => Some(*state),
            _ => None,
        }
    }
}

/// A deterministic stream of choices from the run's seed.
struct Draw(u64);

impl Draw {
    fn next(&mut self, n: usize) -> usize {
        self.0 = crate::grpc::seed::mix(self.0);
        (self.0 % n as u64) as usize
    }
}

type History<I, O> = Mutex<Vec<Vec<Op<I, O>>>>;

/// Histories by what they are of (an order, a key).
type Parts<M> = [(String, Vec<Op<<M as Model>::Input, <M as Model>::Output>>)];

/// Adds to the history of `part` a call `client` made at `call` and that
/// is answered now.
fn answered<I, O>(
    history: &History<I, O>,
    part: usize,
    client: usize,
    call: u64,
    start: Instant,
    input: I,
    output: O,
) {
    let op = Op {
        client,
        call,
        ret: at(start),
        input,
        output,
    };
    history.lock().unwrap_or_else(|p| p.into_inner())[part].push(op);
}

/// Microseconds since `start`.
fn at(start: Instant) -> u64 {
    start.elapsed().as_micros() as u64
}

/// Text shown as it is in a report's input (not quoted).
struct Shown(String);

impl std::fmt::Debug for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The checked verdict of each partition's history; the first failure
/// with its smallest history shown. A history longer than the checker
/// holds counts as undecided (cutting it could drop a write a kept read
/// saw, and fail a correct server).
fn judge<M: Model>(
    ctx: &Ctx,
    rule: &'static str,
    model: &M,
    what: &str,
    parts: &Parts<M>,
) -> Result<usize, Verdict>
where
    M::Input: Clone,
    M::Output: Clone,
{
    let mut undecided = 0;
    for (name, ops) in parts {
        if ops.len() > MAX_OPS {
            undecided += 1;
            continue;
        }
        match linearizable::check(model, ops, BOUND) {
            linearizable::Verdict::Linearizable => {}
            linearizable::Verdict::Undecided => undecided += 1,
            linearizable::Verdict::Not => {
                let kept = linearizable::shrink(model, ops, BOUND);
                let shown: Vec<_> = kept.iter().map(|k| &ops[*k]).collect();
                return Err(fail(
                    ctx,
                    Shown(format!(
                        "{what}; the history of {name} (µs from its first call):\n{}",
                        linearizable::timeline(&shown, "µs")
                    )),
                    Deviation::new(
                        rule,
                        "answers that some serial order of these calls, each within its interval, would give",
                        format!(
                            "no serial order explains these {} of the {} calls on {name}",
                            kept.len(),
                            ops.len()
                        ),
                    ),
                ));
            }
        }
    }
    Ok(undecided)
}

/// The verdict of a run whose partitions were all decided or some not.
fn decided(undecided: usize, total: usize, what: String) -> Verdict {
    if undecided == 0 {
        Verdict::Pass(Some(what))
    } else {
        Verdict::Skip(format!(
            "{undecided} of {total} histories undecided within {BOUND} search steps or {MAX_OPS} calls"
        ))
    }
}

/// The two orders' actions for one round: each step, both streams act on
/// one order at once. Both orders go up the lifecycle in a drawn order:
/// both streams CONFIRM it, then SHIP races CANCEL, then DELIVER races
/// CANCEL (the conflicts a check-then-act lets through); then two drawn
/// pairs of different actions.
fn plan(draw: &mut Draw) -> Vec<[(usize, OrderActionType); 2]> {
    use OrderActionType::{Cancel, Confirm, Deliver, Ship};
    let mut steps = Vec::new();
    let mut pair = |draw: &mut Draw, order: usize, x, y| {
        steps.push(if draw.next(2) == 0 {
            [(order, x), (order, y)]
        } else {
            [(order, y), (order, x)]
        });
    };
    for (x, y) in [(Confirm, Confirm), (Ship, Cancel), (Deliver, Cancel)] {
        let first = draw.next(2);
        pair(draw, first, x, y);
        pair(draw, 1 - first, x, y);
    }
    let actions = [Confirm, Ship, Deliver, Cancel];
    for _ in 0..2 {
        let order = draw.next(2);
        let a = draw.next(4);
        let b = (a + 1 + draw.next(3)) % 4;
        pair(draw, order, actions[a], actions[b]);
    }
    steps
}

/// One ProcessOrders stream of a round: each action sent once the one
/// before was answered and the other stream is ready to send its own
/// (the two of a step go out together), each timed.
async fn act_stream(
    ctx: &Ctx,
    client: usize,
    plan: &[[(usize, OrderActionType); 2]],
    orders: &[String; 2],
    start: Instant,
    history: &History<Ask, Told>,
    together: &tokio::sync::Barrier,
) -> Result<(), Deviation> {
    let (tx, rx) = mpsc::channel(plan.len());
    let mut rx = Some(rx);
    let mut results = None;
    for step in plan {
        let (order, action) = step[client];
        together.wait().await;
        let call = at(start);
        let message = OrderAction {
            order_id: orders[order].clone(),
            action: action as i32,
        };
        if tx.send(message).await.is_err() {
            return Err(Deviation::new(
                "L-1",
                "ProcessOrders stays open",
                "closed early",
            ));
        }
        // Opened with its first action queued (P-1 lets a server answer
        // the headers with the first result).
        if let Some(rx) = rx.take() {
            let mut client = ctx.client();
            let opened = client.process_orders(ReceiverStream::new(rx));
            results = Some(match within(ctx.patience, opened).await {
                Some(Ok(r)) => r.into_inner(),
                Some(Err(st)) => {
                    return Err(Deviation::new("L-1", "ProcessOrders opens", show(&st)));
                }
                None => {
                    return Err(Deviation::new(
                        "L-1",
                        "ProcessOrders opens",
                        "no answer in time",
                    ));
                }
            });
        }
        let Some(results) = results.as_mut() else {
            return Err(Deviation::new("L-1", "ProcessOrders opens", "not opened"));
        };
        let result = match within(ctx.patience, results.message()).await {
            Some(Ok(Some(r))) => r,
            other => {
                return Err(Deviation::new(
                    "L-1",
                    "one OrderResult per action, in time",
                    format!("{other:?}"),
                ));
            }
        };
        let told = Told::Acted {
            success: result.success,
            status: result.status(),
        };
        answered(history, order, client, call, start, Ask::Act(action), told);
    }
    Ok(())
}

/// A GetOrder of `orders[order]` by `client`, timed into the order's
/// history.
async fn read(
    ctx: &Ctx,
    client: usize,
    order: usize,
    order_id: &str,
    start: Instant,
    history: &History<Ask, Told>,
) -> Result<(), Deviation> {
    let call = at(start);
    let mut reader = ctx.client();
    let read = reader.get_order(GetOrderRequest {
        order_id: order_id.to_string(),
    });
    match within(ctx.patience, read).await {
        Some(Ok(o)) => {
            let told = Told::Status(o.into_inner().status());
            answered(history, order, client, call, start, Ask::Get, told);
            Ok(())
        }
        other => Err(Deviation::new(
            "L-1",
            "GetOrder of an order",
            format!("{other:?}"),
        )),
    }
}

/// A watcher of one order until the round's actions are done: each
/// message a read (from the watch's opening to its arrival), each
/// followed at once by a GetOrder.
async fn watch_and_read(
    ctx: &Ctx,
    client: usize,
    order: usize,
    order_id: &str,
    start: Instant,
    history: &History<Ask, Told>,
    done: &tokio_util::sync::CancellationToken,
) -> Result<(), Deviation> {
    let opened_at = at(start);
    let request = crate::pb::WatchOrderStatusRequest {
        order_id: order_id.to_string(),
    };
    let mut updates = match within(ctx.patience, ctx.client().watch_order_status(request)).await {
        Some(Ok(r)) => r.into_inner(),
        Some(Err(st)) => return Err(Deviation::new("L-1", "WatchOrderStatus opens", show(&st))),
        None => {
            return Err(Deviation::new(
                "L-1",
                "WatchOrderStatus opens",
                "no answer in time",
            ));
        }
    };
    loop {
        let update = tokio::select! {
            () = done.cancelled() => return Ok(()),
            update = updates.message() => update,
        };
        let update = match update {
            Ok(Some(u)) => u,
            // The end after a terminal status, or the round is over.
            Ok(None) => return Ok(()),
            Err(st) => return Err(Deviation::new("L-1", "the watch stays open", show(&st))),
        };
        let told = Told::Status(update.status());
        answered(history, order, client, opened_at, start, Ask::Watched, told);
        read(ctx, client, order, order_id, start, history).await?;
    }
}

/// L-1: two ProcessOrders streams acting on the same two orders at once,
/// a watcher of each order reading it after every message, and a reader:
/// every answer explained by one serial order per order.
pub(crate) async fn l1(ctx: &Ctx) -> Verdict {
    let rounds = ctx.cases.clamp(ROUNDS, 8);
    let mut draw = Draw(ctx.seed ^ 0x4c31);
    let mut parts = Vec::new();
    for round in 0..rounds {
        let orders = match tokio::try_join!(new_order(ctx, "L-1"), new_order(ctx, "L-1")) {
            Ok((a, b)) => [a, b],
            Err(m) => return fail(ctx, "creating the orders to act on", m),
        };
        let plan = plan(&mut draw);
        let reads: Vec<usize> = (0..READS).map(|_| draw.next(2)).collect();
        let history: History<Ask, Told> = Mutex::new(vec![Vec::new(), Vec::new()]);
        let done = tokio_util::sync::CancellationToken::new();
        let together = tokio::sync::Barrier::new(2);
        let start = Instant::now();
        let actors = async {
            // (A stream that fails drops the other, waiting or not.)
            let r = tokio::try_join!(
                act_stream(ctx, 0, &plan, &orders, start, &history, &together),
                act_stream(ctx, 1, &plan, &orders, start, &history, &together),
                async {
                    for &order in &reads {
                        read(ctx, 2, order, &orders[order], start, &history).await?;
                    }
                    Ok(())
                },
            );
            done.cancel();
            r.map(drop)
        };
        let watchers = async {
            tokio::try_join!(
                watch_and_read(ctx, 3, 0, &orders[0], start, &history, &done),
                watch_and_read(ctx, 4, 1, &orders[1], start, &history, &done),
            )
            .map(drop)
        };
        let ran = within(ctx.patience * 4 + Duration::from_secs(5), async {
            tokio::try_join!(actors, watchers)
        })
        .await;
        match ran {
            Some(Ok(_)) => {}
            Some(Err(m)) => {
                return fail(
                    ctx,
                    format!("round {round}: two streams, two watchers, a reader"),
                    m,
                );
            }
            None => {
                return fail(
                    ctx,
                    format!("round {round}: two streams, two watchers, a reader"),
                    Deviation::new(
                        "L-1",
                        "every call answered in time",
                        "the round did not end",
                    ),
                );
            }
        }
        let history = history.into_inner().unwrap_or_else(|p| p.into_inner());
        for (i, ops) in history.into_iter().enumerate() {
            parts.push((format!("order {} (round {round})", orders[i]), ops));
        }
    }
    let total = parts.len();
    match judge(
        ctx,
        "L-1",
        &Lifecycle,
        "two ProcessOrders streams acting on two orders at once, with a watcher of each and a reader",
        &parts,
    ) {
        Ok(undecided) => decided(undecided, total, format!("{total} order histories")),
        Err(verdict) => verdict,
    }
}

/// What a CreateOrder with the shared key answered.
#[derive(Clone)]
enum Made {
    /// The order's id.
    Order(String),
    /// ALREADY_EXISTS, with its message: never right for the request the
    /// key was first used with (C-4), in any order of the calls.
    AlreadyExists(String),
}

impl std::fmt::Debug for Made {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Made::Order(id) => write!(f, "{id:?}"),
            Made::AlreadyExists(message) => write!(f, "ALREADY_EXISTS {message:?}"),
        }
    }
}

/// One idempotency key: the first create that takes effect makes the
/// order; every create with the key answers that order.
struct Key;

impl Model for Key {
    type State = Option<String>;
    type Input = &'static str;
    type Output = Made;

    fn init(&self) -> Option<String> {
        None
    }

    fn observes(&self, _: &&'static str) -> bool {
        false
    }

    fn step(
        &self,
        state: &Option<String>,
        _: &&'static str,
        answer: &Made,
    ) -> Option<Option<String>> {
        match (state, answer) {
            (_, Made::AlreadyExists(_)) => None,
            (None, Made::Order(id)) => Some(Some(id.clone())),
            (Some(made), Made::Order(id)) if made == id => Some(state.clone()),
            (Some(_), Made::Order(_)) => None,
        }
    }
}

/// L-2: four concurrent CreateOrders with each of two idempotency keys
/// (the same request per key): one order per key.
pub(crate) async fn l2(ctx: &Ctx) -> Verdict {
    let rounds = ctx.cases.clamp(ROUNDS, 8);
    let mut parts = Vec::new();
    for round in 0..rounds {
        let keys = [0, 1].map(|k| format!("{}-l2-{round}-{k}", ctx.customer()));
        // The same request with each key (another request would be
        // ALREADY_EXISTS, C-4).
        let requests = [create_request(ctx), create_request(ctx)];
        let history: History<&'static str, Made> = Mutex::new(vec![Vec::new(), Vec::new()]);
        let start = Instant::now();
        let create = |client: usize, key: usize| {
            let (keys, history, requests) = (&keys, &history, &requests);
            async move {
                let mut req = tonic::Request::new(requests[key].clone());
                match keys[key].parse() {
                    Ok(v) => {
                        req.metadata_mut().insert("idempotency-key", v);
                    }
                    Err(_) => return Err(Deviation::new("L-2", "a valid key", keys[key].clone())),
                }
                let call = at(start);
                let output = match within(ctx.patience, ctx.client().create_order(req)).await {
                    Some(Ok(r)) => Made::Order(r.into_inner().order_id),
                    // In the history: which calls it contradicts is
                    // for the timeline to show.
                    Some(Err(st)) if st.code() == tonic::Code::AlreadyExists => {
                        Made::AlreadyExists(st.message().to_string())
                    }
                    other => {
                        return Err(Deviation::new(
                            "L-2",
                            "CreateOrder succeeds",
                            format!("{other:?}"),
                        ));
                    }
                };
                answered(history, key, client, call, start, "CreateOrder", output);
                Ok(())
            }
        };
        let ran = tokio::try_join!(
            create(0, 0),
            create(1, 1),
            create(2, 0),
            create(3, 1),
            create(4, 0),
            create(5, 1),
            create(6, 0),
            create(7, 1),
        );
        if let Err(m) = ran {
            return fail(
                ctx,
                format!("round {round}: eight CreateOrders, four per key"),
                m,
            );
        }
        let history = history.into_inner().unwrap_or_else(|p| p.into_inner());
        for (key, ops) in keys.iter().zip(history) {
            parts.push((format!("key {key:?}"), ops));
        }
    }
    let total = parts.len();
    match judge(
        ctx,
        "L-2",
        &Key,
        "eight concurrent CreateOrders, four with each of two idempotency keys, the same request per key",
        &parts,
    ) {
        Ok(undecided) => decided(undecided, total, format!("{total} keys")),
        Err(verdict) => verdict,
    }
}
