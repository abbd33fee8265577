//! Runs the sequences against one target and writes down what it did, with
//! what the server chose on its own normalised away: order ids become the
//! step that created them (`order@s3`), timestamps their rank among the
//! order's own (`t0`, `t1`), the run's prefix `[run]`. Each observation is
//! a list of facets, each tied to the rule that fixes it, or marked open
//! where the contract leaves the server a choice (a message's words).

use std::collections::HashMap;
use std::time::Duration;

use prost::Message as _;
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use super::script::{Customer, Step, Who};
use crate::contract::checks::{ended_by_deadline, timed, within};
use crate::contract::context::Ctx;
use crate::contract::oracle;
use crate::pb::{
    Address, CreateOrderRequest, GetOrderRequest, LineItem, Order, OrderAction, OrderResult,
    OrderStatus, OrderStatusUpdate, WatchOrderStatusRequest,
};

/// One thing a step showed: its name (`code`, `result[2]`), the value
/// normalised, the rule that fixes it and whether the contract leaves it
/// open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Facet {
    pub name: String,
    pub value: String,
    pub rule: String,
    pub open: bool,
}

/// What one step of one sequence did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Observed {
    pub sequence: u32,
    pub step: u32,
    pub input: String,
    pub facets: Vec<Facet>,
}

/// The server-chosen values of one sequence, and their names.
struct Names<'a> {
    run: &'a str,
    sequence: u32,
    /// Order id → the step that created it.
    orders: HashMap<String, String>,
    /// Order label → its timestamps, in the order first seen.
    times: HashMap<String, Vec<i128>>,
}

impl Names<'_> {
    fn order(&mut self, id: &str) -> String {
        if let Some(label) = self.orders.get(id) {
            return label.clone();
        }
        if id.is_empty() {
            return "\"\"".into();
        }
        self.text(id)
    }

    fn time(&mut self, order: &str, ts: Option<&prost_types::Timestamp>) -> String {
        let Some(ts) = ts else {
            return "none".into();
        };
        let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
        let seen = self.times.entry(order.to_string()).or_default();
        let rank = seen.iter().position(|t| *t == nanos).unwrap_or_else(|| {
            seen.push(nanos);
            seen.len() - 1
        });
        format!("t{rank}")
    }

    /// Text with the run's prefix and the known order ids named.
    fn text(&self, text: &str) -> String {
        let mut out = text.replace(self.run, "[run]");
        let mut ids: Vec<(&String, &String)> = self.orders.iter().collect();
        // Longest first, so that no id is replaced inside a longer one.
        ids.sort_by_key(|(id, _)| std::cmp::Reverse(id.len()));
        for (id, label) in ids {
            out = out.replace(id.as_str(), label);
        }
        out
    }

    fn customer(&self, c: Customer) -> String {
        match c {
            Customer::Numbered(n) => format!("{}-s{}-c{n}", self.run, self.sequence),
            Customer::Empty => String::new(),
            Customer::TooLong => "c".repeat(129),
        }
    }

    fn key(&self, k: u8) -> String {
        format!("{}-s{}-k{k}", self.run, self.sequence)
    }

    fn id(&self, who: Who, created: &HashMap<usize, String>) -> String {
        match who {
            Who::Order(s) => created
                .get(&s)
                .cloned()
                .unwrap_or_else(|| format!("{}-s{}-missing-{s}", self.run, self.sequence)),
            Who::Unknown => format!("{}-s{}-unknown", self.run, self.sequence),
            Who::Empty => String::new(),
            Who::TooLong => "o".repeat(129),
        }
    }
}

/// The facets of one step, as they are written down.
struct Facets(Vec<Facet>);

impl Facets {
    fn fixed(&mut self, name: impl Into<String>, rule: &str, value: impl Into<String>) {
        self.push(name, rule, value, false);
    }

    fn open(&mut self, name: impl Into<String>, rule: &str, value: impl Into<String>) {
        self.push(name, rule, value, true);
    }

    fn push(&mut self, name: impl Into<String>, rule: &str, value: impl Into<String>, open: bool) {
        self.0.push(Facet {
            name: name.into(),
            value: value.into(),
            rule: rule.into(),
            open,
        });
    }

    /// A status: its code (fixed by `rule`); for the codes the service
    /// itself answers, whether it has a message (E-1), its words (open; the
    /// words of NOT_FOUND fixed by G-2) and its details (E-2 to E-4 fix
    /// those of INVALID_ARGUMENT, NOT_FOUND and ALREADY_EXISTS; others are
    /// the server's choice). A deadline's or a cancellation's status may
    /// come from either end's library, so only its code is written down.
    fn status(&mut self, prefix: &str, rule: &str, st: &Status, names: &mut Names<'_>) {
        self.fixed(format!("{prefix}code"), rule, format!("{:?}", st.code()));
        if matches!(
            st.code(),
            Code::Ok | Code::DeadlineExceeded | Code::Cancelled
        ) {
            return;
        }
        let own = matches!(
            st.code(),
            Code::InvalidArgument
                | Code::NotFound
                | Code::AlreadyExists
                | Code::PermissionDenied
                | Code::Unauthenticated
                | Code::ResourceExhausted
                | Code::FailedPrecondition
                | Code::Internal
        );
        self.push(
            format!("{prefix}message present"),
            "E-1",
            (!st.message().is_empty()).to_string(),
            !own,
        );
        let message = format!("{:?}", names.text(st.message()));
        match st.code() {
            Code::NotFound => self.fixed(format!("{prefix}message"), "G-2", message),
            _ => self.open(format!("{prefix}message"), "E-1", message),
        }
        let types: Vec<String> = tonic_types::pb::Status::decode(st.details())
            .map(|s| {
                s.details
                    .iter()
                    .map(|d| d.type_url.rsplit('/').next().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_else(|_| vec!["(undecodable)".into()]);
        let (detail_rule, fixed) = match st.code() {
            Code::InvalidArgument => ("E-2", true),
            Code::NotFound => ("E-3", true),
            Code::AlreadyExists => ("E-4", true),
            _ => ("E-5", false),
        };
        self.push(
            format!("{prefix}details"),
            detail_rule,
            types.join(", "),
            !fixed,
        );
        if let Some(bad) = st.get_details_bad_request() {
            let fields: Vec<&str> = bad
                .field_violations
                .iter()
                .map(|v| v.field.as_str())
                .collect();
            self.fixed(format!("{prefix}violations"), "E-2", fields.join(", "));
            let words: Vec<String> = bad
                .field_violations
                .iter()
                .map(|v| format!("{:?}", names.text(&v.description)))
                .collect();
            self.open(
                format!("{prefix}violation descriptions"),
                "E-2",
                words.join(", "),
            );
        }
        if let Some(info) = st.get_details_resource_info() {
            self.push(
                format!("{prefix}resource"),
                detail_rule,
                format!(
                    "{} {}",
                    info.resource_type,
                    names.order(&info.resource_name)
                ),
                !fixed,
            );
        }
    }

    /// An order as GetOrder shows it (G-3, C-3).
    fn order(&mut self, order: &Order, names: &mut Names<'_>) {
        let label = names.order(&order.order_id);
        self.fixed("order_id", "G-3", label.clone());
        self.fixed(
            "status",
            "G-3",
            format!(
                "{:?}",
                OrderStatus::try_from(order.status).unwrap_or_default()
            ),
        );
        self.fixed("customer_id", "C-3", names.text(&order.customer_id));
        self.fixed("items", "C-3", items(&order.items));
        let created = names.time(&label, order.created_at.as_ref());
        let updated = names.time(&label, order.updated_at.as_ref());
        self.fixed(
            "times",
            "G-3",
            format!("created {created}, updated {updated}"),
        );
    }

    /// One ProcessOrders result (P-2, P-4): the outcome, the reason fixed,
    /// the words after it open.
    fn result(&mut self, p: &str, i: usize, action: i32, r: &OrderResult, names: &mut Names<'_>) {
        let rule = if oracle_action_valid(action) {
            "P-2"
        } else {
            "P-4"
        };
        self.fixed(
            format!("{p}result[{i}]"),
            rule,
            format!(
                "{} success={} status={:?}",
                names.order(&r.order_id),
                r.success,
                OrderStatus::try_from(r.status).unwrap_or_default()
            ),
        );
        let (reason, words) = r.error.split_once(':').unwrap_or((&r.error, ""));
        self.fixed(format!("{p}result[{i}] reason"), "P-4", reason.to_string());
        self.open(
            format!("{p}result[{i}] words"),
            "P-4",
            format!("{:?}", names.text(words.trim())),
        );
    }

    /// One watch message (W-2, W-3).
    fn update(&mut self, i: usize, u: &OrderStatusUpdate, names: &mut Names<'_>) {
        let label = names.order(&u.order_id);
        let at = names.time(&label, u.updated_at.as_ref());
        let status = |s: i32| format!("{:?}", OrderStatus::try_from(s).unwrap_or_default());
        self.fixed(
            format!("message[{i}]"),
            if i == 0 { "W-2" } else { "W-3" },
            format!(
                "{label} {} after {} at {at}",
                status(u.status),
                status(u.previous_status)
            ),
        );
    }
}

fn oracle_action_valid(action: i32) -> bool {
    (1..=4).contains(&action)
}

fn items(items: &[LineItem]) -> String {
    let shown: Vec<String> = items
        .iter()
        .map(|i| format!("{:?}×{}@{}", i.product_id, i.quantity, i.price_cents))
        .collect();
    format!("[{}]", shown.join(", "))
}

fn action_name(a: i32) -> String {
    match crate::pb::OrderActionType::try_from(a) {
        Ok(t) => t
            .as_str_name()
            .trim_start_matches("ORDER_ACTION_TYPE_")
            .to_string(),
        Err(_) => a.to_string(),
    }
}

fn who(w: Who) -> String {
    match w {
        Who::Order(s) => format!("order@s{s}"),
        Who::Unknown => "an unknown id".into(),
        Who::Empty => "\"\"".into(),
        Who::TooLong => "an id of 129 bytes".into(),
    }
}

/// The step as a reviewer reads it.
fn describe(step: &Step) -> String {
    match step {
        Step::Create {
            customer,
            items: its,
            key,
            address,
        } => format!(
            "CreateOrder customer {} items {}{}{}",
            match customer {
                Customer::Numbered(n) => format!("c{n}"),
                Customer::Empty => "\"\"".into(),
                Customer::TooLong => "of 129 bytes".into(),
            },
            items(its),
            if *address { " with an address" } else { "" },
            key.map_or(String::new(), |k| format!(" idempotency-key k{k}"))
        ),
        Step::Get(w) => format!("GetOrder {}", who(*w)),
        Step::Process(actions) => {
            let shown: Vec<String> = actions
                .iter()
                .map(|(w, a)| format!("{} {}", action_name(*a), who(*w)))
                .collect();
            format!("ProcessOrders [{}]", shown.join(", "))
        }
        Step::Submit(its) => format!("SubmitLineItems {}", items(its)),
        Step::Watch { order, actions } => {
            let shown: Vec<String> = actions.iter().map(|a| action_name(*a)).collect();
            format!(
                "WatchOrderStatus {} while ProcessOrders [{}]",
                who(*order),
                shown.join(", ")
            )
        }
        Step::WatchUntilDeadline(w) => {
            format!(
                "WatchOrderStatus {} with a short deadline, no change",
                who(*w)
            )
        }
    }
}

/// The most messages one watch step reads: a watch in these sequences
/// sees at most five (its first and four changes); past this, the server
/// streams without end, and the step says so instead of reading on.
const MAX_MESSAGES: usize = 32;

/// Runs every sequence, one step at a time, and writes down what came back.
pub(super) async fn run(ctx: &Ctx, sequences: &[Vec<Step>]) -> Vec<Observed> {
    let mut out = Vec::new();
    for (n, steps) in sequences.iter().enumerate() {
        let mut names = Names {
            run: &ctx.run_id,
            sequence: n as u32,
            orders: HashMap::new(),
            times: HashMap::new(),
        };
        let mut created: HashMap<usize, String> = HashMap::new();
        for (at, step) in steps.iter().enumerate() {
            let mut facets = Facets(Vec::new());
            observe(ctx, step, at, &mut names, &mut created, &mut facets).await;
            out.push(Observed {
                sequence: n as u32,
                step: at as u32,
                input: describe(step),
                facets: facets.0,
            });
        }
    }
    out
}

async fn observe(
    ctx: &Ctx,
    step: &Step,
    at: usize,
    names: &mut Names<'_>,
    created: &mut HashMap<usize, String>,
    f: &mut Facets,
) {
    let wait = ctx.patience;
    match step {
        Step::Create {
            customer,
            items: its,
            key,
            address,
        } => {
            let msg = CreateOrderRequest {
                customer_id: names.customer(*customer),
                items: its.clone(),
                shipping_address: address.then(|| Address {
                    street: "1 Main St".into(),
                    city: "Springfield".into(),
                    ..Address::default()
                }),
            };
            let invalid = !oracle::expected_create_violations(&msg).is_empty();
            let rule = match (invalid, key) {
                (true, _) => "C-1",
                (false, Some(_)) => "C-4",
                (false, None) => "C-3",
            };
            let mut req = tonic::Request::new(msg);
            if let Some(k) = key
                && let Ok(v) = names.key(*k).parse()
            {
                req.metadata_mut().insert("idempotency-key", v);
            }
            match ctx.client().create_order(req).await {
                Ok(res) => {
                    let res = res.into_inner();
                    f.fixed("code", rule, "Ok");
                    if !names.orders.contains_key(&res.order_id) && !res.order_id.is_empty() {
                        names
                            .orders
                            .insert(res.order_id.clone(), format!("order@s{at}"));
                    }
                    let label = names.order(&res.order_id);
                    f.fixed("order_id", "C-4", label.clone());
                    let when = names.time(&label, res.created_at.as_ref());
                    f.fixed("created_at", "C-4", when);
                    created.entry(at).or_insert(res.order_id);
                }
                Err(st) => f.status("", rule, &st, names),
            }
        }
        Step::Get(w) => {
            let rule = match w {
                Who::Empty | Who::TooLong => "G-1",
                Who::Unknown => "G-2",
                Who::Order(_) => "G-3",
            };
            let order_id = names.id(*w, created);
            match ctx.client().get_order(GetOrderRequest { order_id }).await {
                Ok(o) => {
                    f.fixed("code", rule, "Ok");
                    f.order(o.get_ref(), names);
                }
                Err(st) => f.status("", rule, &st, names),
            }
        }
        Step::Process(actions) => {
            let sent: Vec<(String, i32)> = actions
                .iter()
                .map(|(w, a)| (names.id(*w, created), *a))
                .collect();
            process(ctx, &sent, "", names, f).await;
        }
        Step::Submit(its) => {
            let rule = match oracle::expected_submit(its) {
                Ok(_) if its.is_empty() => "S-2",
                Ok(_) => "S-1",
                Err(_) => "S-3",
            };
            let got = ctx
                .client()
                .submit_line_items(tokio_stream::iter(its.clone()))
                .await;
            match got {
                Ok(r) => {
                    f.fixed("code", rule, "Ok");
                    let r = r.into_inner();
                    f.fixed(
                        "response",
                        rule,
                        format!("item_count {} total_cents {}", r.item_count, r.total_cents),
                    );
                }
                Err(st) => f.status("", rule, &st, names),
            }
        }
        Step::Watch { order, actions } => {
            let rule = match order {
                Who::Order(_) => "W-4",
                _ => "W-1",
            };
            let order_id = names.id(*order, created);
            let watch = ctx
                .client()
                .watch_order_status(WatchOrderStatusRequest {
                    order_id: order_id.clone(),
                })
                .await;
            let mut stream = match watch {
                Ok(s) => s.into_inner(),
                // An error instead of the headers is the answer an error
                // after them is (the framing is the server's choice), and
                // is written down the same: no messages, then the end.
                Err(st) => {
                    f.fixed("messages", "W-3", "0");
                    return f.status("end ", rule, &st, names);
                }
            };
            // The first message, before any action (W-2).
            let mut seen = 0;
            let mut ended: Option<Status> = None;
            match within(wait, stream.next()).await {
                Some(Some(Ok(u))) => {
                    f.update(0, &u, names);
                    seen = 1;
                }
                Some(Some(Err(st))) => ended = Some(st),
                Some(None) => ended = Some(Status::ok("")),
                None => f.fixed("message[0]", "W-2", "none within the patience"),
            }
            if ended.is_none() && !actions.is_empty() {
                let sent: Vec<(String, i32)> =
                    actions.iter().map(|a| (order_id.clone(), *a)).collect();
                process(ctx, &sent, "actions ", names, f).await;
            }
            // The rest of the watch, to its end (W-3, W-4).
            while ended.is_none() {
                if seen >= MAX_MESSAGES {
                    f.fixed(
                        "end code",
                        rule,
                        format!("more than {MAX_MESSAGES} messages"),
                    );
                    break;
                }
                match within(wait, stream.next()).await {
                    Some(Some(Ok(u))) => {
                        f.update(seen, &u, names);
                        seen += 1;
                    }
                    Some(Some(Err(st))) => ended = Some(st),
                    Some(None) => ended = Some(Status::ok("")),
                    None => {
                        f.fixed("end code", rule, "still open after the patience");
                        break;
                    }
                }
            }
            f.fixed("messages", "W-3", seen.to_string());
            if let Some(st) = ended {
                f.status("end ", rule, &st, names);
            }
        }
        Step::WatchUntilDeadline(w) => {
            // Only how the call ends (D-1): whether the first message beats
            // a short deadline depends on the server's speed and the load,
            // which no version fixes (the Watch steps check that message).
            let order_id = names.id(*w, created);
            let deadline = ctx.short();
            let started = tokio::time::Instant::now();
            let watch = ctx
                .client()
                .watch_order_status(timed(WatchOrderStatusRequest { order_id }, deadline))
                .await;
            let mut end = None;
            match watch {
                Ok(s) => {
                    let mut stream = s.into_inner();
                    for _ in 0..MAX_MESSAGES {
                        match within(deadline + wait, stream.next()).await {
                            Some(Some(Ok(_))) => continue,
                            Some(Some(Err(st))) => end = Some(st),
                            Some(None) => end = Some(Status::ok("")),
                            None => {}
                        }
                        break;
                    }
                }
                Err(st) => end = Some(st),
            }
            match end {
                // However the caller saw the deadline end the call (D-1's
                // reading): a client's own timer, a stream or connection
                // ended under it once the deadline passed.
                Some(st) if ended_by_deadline(&st, started, deadline) => {
                    f.fixed("end code", "D-1", "DeadlineExceeded");
                }
                Some(st) => f.status("end ", "D-1", &st, names),
                None => f.fixed("end code", "D-1", "still open after the deadline"),
            }
        }
    }
}

/// ProcessOrders with `sent`, each action after the previous result
/// (P-1 to P-5): each result, how many came, how the call ended; facet
/// names start with `p`.
async fn process(
    ctx: &Ctx,
    sent: &[(String, i32)],
    p: &str,
    names: &mut Names<'_>,
    f: &mut Facets,
) {
    let wait: Duration = ctx.patience;
    let (tx, rx) = tokio::sync::mpsc::channel::<OrderAction>(sent.len().max(1));
    let mut pending = sent.iter();
    // The first action goes before the call opens (P-1's reading).
    if let Some((order_id, action)) = pending.next() {
        let _ = tx
            .send(OrderAction {
                order_id: order_id.clone(),
                action: *action,
            })
            .await;
    }
    let mut client = ctx.client();
    let call = client.process_orders(tokio_stream::wrappers::ReceiverStream::new(rx));
    let mut results = match within(wait, call).await {
        Some(Ok(s)) => s.into_inner(),
        // As after the headers, with no result yet (the framing is the
        // server's choice).
        Some(Err(st)) => {
            f.fixed(format!("{p}results"), "P-1", "0");
            return f.status(&format!("{p}end "), "P-5", &st, names);
        }
        None => {
            return f.fixed(
                format!("{p}end code"),
                "P-1",
                "not open within the patience",
            );
        }
    };
    let mut got = 0;
    let mut tx = Some(tx);
    for (i, (_, action)) in sent.iter().enumerate() {
        match within(wait, results.next()).await {
            Some(Some(Ok(r))) => {
                f.result(p, i, *action, &r, names);
                got += 1;
            }
            Some(Some(Err(st))) => {
                f.fixed(format!("{p}results"), "P-1", got.to_string());
                return f.status(&format!("{p}end "), "P-4", &st, names);
            }
            Some(None) => break,
            None => {
                f.fixed(format!("{p}result[{i}]"), "P-1", "none within the patience");
                break;
            }
        }
        match (pending.next(), tx.as_ref()) {
            (Some((order_id, action)), Some(tx)) => {
                let _ = tx
                    .send(OrderAction {
                        order_id: order_id.clone(),
                        action: *action,
                    })
                    .await;
            }
            // Every action sent: half-close.
            _ => tx = None,
        }
    }
    drop(tx);
    f.fixed(format!("{p}results"), "P-1", got.to_string());
    match within(wait, results.next()).await {
        Some(None) => f.fixed(format!("{p}end code"), "P-5", "Ok"),
        Some(Some(Ok(r))) => f.fixed(
            format!("{p}end code"),
            "P-1",
            format!("an extra result {}", names.order(&r.order_id)),
        ),
        Some(Some(Err(st))) => f.status(&format!("{p}end "), "P-5", &st, names),
        None => f.fixed(
            format!("{p}end code"),
            "P-5",
            "still open after the half-close",
        ),
    }
}
