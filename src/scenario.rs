//! Declarative scenarios for `orders-testkit serve --scenario FILE`: seeded
//! orders, stubs and faults in a TOML file, with messages written in the
//! protobuf JSON mapping (as grpcurl shows them), so that clients in any
//! language get the same scripting as Rust tests.
//!
//! A bad file is refused as a whole, with an error naming the file, the
//! line and the problem.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::scenario::Scenario;
//!
//! let scenario = Scenario::parse("inline.toml", r#"
//! seed = 7
//!
//! [[orders]]
//! orderId = "o-1"
//! customerId = "c-1"
//! status = "ORDER_STATUS_SHIPPED"
//!
//! [[stubs]]
//! rpc = "GetOrder"
//! when = { orderId = "o-404" }
//! fail = { code = "NOT_FOUND", message = "gone for good" }
//!
//! [[faults]]
//! kind = "status"
//! rpc = "CreateOrder"
//! code = "UNAVAILABLE"
//! message = "maintenance"
//! first = 1
//! "#).unwrap();
//! let mock = scenario.start().await;
//! assert_eq!(mock.store().get("o-1").unwrap().status(), orders_testkit::pb::OrderStatus::Shipped);
//!
//! let err = Scenario::parse("bad.toml", "[[stubs]]\nrpc = \"GetOrders\"\n").unwrap_err();
//! assert_eq!(err.to_string(), "bad.toml: line 1: unknown rpc \"GetOrders\": expected one of CreateOrder, GetOrder, WatchOrderStatus, SubmitLineItems, ProcessOrders");
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use prost_reflect::{DynamicMessage, SerializeOptions};
use serde::Deserialize;

use crate::mock::Stub;
use serde_json::Value;
use toml::Spanned;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::OrderMock;
use crate::OrderMockBuilder;
use crate::fault::{Fault, FaultKind, FaultPlan};
use crate::rpc::{CreateOrder, GetOrder, Method, ProcessOrders, SubmitLineItems, WatchOrderStatus};

/// Why a scenario file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file's name as given.
    pub file: String,
    /// The 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: line {line}: {}", self.file, self.problem),
            None => write!(f, "{}: {}", self.file, self.problem),
        }
    }
}

impl std::error::Error for ScenarioError {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    fail_fast_ms: u64,
    #[serde(default)]
    orders: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    stubs: Vec<Spanned<StubSpec>>,
    #[serde(default)]
    faults: Vec<Spanned<FaultSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusSpec {
    code: String,
    message: String,
    retry_after_ms: Option<u64>,
    #[serde(default)]
    trailers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StubSpec {
    rpc: String,
    name: Option<String>,
    when: Option<toml::Table>,
    #[serde(default)]
    when_header: BTreeMap<String, String>,
    respond: Option<toml::Table>,
    stream: Option<Vec<toml::Table>>,
    replies: Option<Vec<toml::Table>>,
    fail: Option<StatusSpec>,
    then_fail: Option<StatusSpec>,
    delay_ms: Option<u64>,
    between_ms: Option<u64>,
    up_to: Option<usize>,
    priority: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultSpec {
    kind: String,
    rpc: Option<String>,
    code: Option<String>,
    message: Option<String>,
    retry_after_ms: Option<u64>,
    #[serde(default)]
    trailers: BTreeMap<String, String>,
    delay_ms: Option<u64>,
    jitter_ms: Option<u64>,
    after_messages: Option<usize>,
    limit: Option<usize>,
    window_ms: Option<u64>,
    first: Option<u64>,
    every: Option<u64>,
    after: Option<u64>,
    between: Option<[u64; 2]>,
    probability: Option<f64>,
    #[serde(default)]
    when_header: BTreeMap<String, String>,
}

/// A loaded, checked scenario, ready to start a mock.
#[derive(Debug, Clone)]
pub struct Scenario {
    seed: u64,
    fail_fast: Duration,
    orders: Vec<crate::pb::Order>,
    stubs: Vec<Mount>,
    faults: Vec<Fault>,
}

/// Mounts one stub on a mock.
#[derive(Clone)]
struct Mount(Arc<dyn Fn(&OrderMock) + Send + Sync>);

impl fmt::Debug for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<stub>")
    }
}

/// The orders.v1 messages a scenario can hold, by their full proto name.
trait ProtoMessage: prost::Message + Default + Sized {
    const NAME: &'static str;
}

macro_rules! proto_message {
    ($($ty:ident),*) => {
        $(impl ProtoMessage for crate::pb::$ty {
            const NAME: &'static str = concat!("orders.v1.", stringify!($ty));
        })*
    };
}
proto_message!(
    Order,
    CreateOrderRequest,
    CreateOrderResponse,
    GetOrderRequest,
    WatchOrderStatusRequest,
    OrderStatusUpdate,
    LineItem,
    SubmitLineItemsResponse,
    OrderAction,
    OrderResult
);

fn descriptor<T: ProtoMessage>() -> Result<prost_reflect::MessageDescriptor, String> {
    crate::descriptors::pool()
        .get_message_by_name(T::NAME)
        .ok_or_else(|| format!("{} is not in the descriptor pool", T::NAME))
}

struct SourceText<'a> {
    file: &'a str,
    text: &'a str,
}

impl SourceText<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    /// The span of the first `key = …` of `keys` found inside `span`, so that
    /// an error points at the offending line rather than the entry's header.
    fn narrow(&self, span: Range<usize>, keys: &[String]) -> Range<usize> {
        // An array-of-tables entry's span may cover only its `[[header]]`:
        // look on to the next header line.
        let start = span.start.min(self.text.len());
        let after_header = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i + 1);
        let end = self.text[after_header..]
            .find("\n[")
            .map_or(self.text.len(), |i| after_header + i)
            .max(span.end.min(self.text.len()));
        let text = &self.text[start..end];
        for key in keys {
            for (i, _) in text.match_indices(key.as_str()) {
                let at_line_start = text[..i].rsplit('\n').next().is_some_and(|before| {
                    before.trim().is_empty()
                        || before.trim_end().ends_with('{')
                        || before.trim_end().ends_with(',')
                });
                let rest = text[i + key.len()..].trim_start();
                if at_line_start && rest.starts_with('=') {
                    return start + i..end;
                }
            }
        }
        span
    }

    fn err(&self, span: Range<usize>, problem: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            line: Some(self.line_of(span.start)),
            problem: problem.into(),
        }
    }
}

fn parse_code(name: &str) -> Result<Code, String> {
    (0..=16)
        .map(Code::from_i32)
        .find(|c| crate::payload::code_name(*c) == name)
        .ok_or_else(|| format!("unknown status code {name:?}: expected a name like UNAVAILABLE"))
}

fn status(spec: &StatusSpec) -> Result<Status, String> {
    let code = parse_code(&spec.code)?;
    let mut status = match spec.retry_after_ms {
        Some(ms) => Status::with_error_details(
            code,
            spec.message.clone(),
            ErrorDetails::with_retry_info(Some(Duration::from_millis(ms))),
        ),
        None => Status::new(code, spec.message.clone()),
    };
    for (k, v) in &spec.trailers {
        let key = tonic::metadata::AsciiMetadataKey::from_bytes(k.as_bytes())
            .map_err(|_| format!("invalid trailer name {k:?}"))?;
        let value = v
            .parse()
            .map_err(|_| format!("invalid trailer value for {k:?}"))?;
        status.metadata_mut().insert(key, value);
    }
    Ok(status)
}

/// A message of type `T` from a TOML table in the protobuf JSON mapping.
fn message<T: ProtoMessage>(table: &toml::Table) -> Result<T, String> {
    let json = serde_json::to_value(table).map_err(|e| e.to_string())?;
    let desc = descriptor::<T>()?;
    let dynamic = DynamicMessage::deserialize(desc, json)
        .map_err(|e| format!("not a valid {}: {e}", T::NAME))?;
    T::decode(dynamic.encode_to_vec().as_slice())
        .map_err(|e| format!("not a valid {}: {e}", T::NAME))
}

/// Subset match: every field in `when` equals the request's field, both in
/// the protobuf JSON mapping.
fn matcher<T: ProtoMessage>(
    when: &toml::Table,
) -> Result<impl Fn(&T) -> bool + Send + Sync + 'static, String> {
    // Normalise through the message type, so that `orderId` and `order_id`,
    // 5 and "5" for int64, compare alike.
    let expected: T = message(when)?;
    let expected = to_json(&expected);
    let keys: Vec<String> = when
        .keys()
        .map(|k| {
            expected
                .as_object()
                .and_then(|o| o.keys().find(|jk| normalise(jk) == normalise(k)).cloned())
                .unwrap_or_else(|| k.clone())
        })
        .collect();
    Ok(move |req: &T| {
        let got = to_json(req);
        keys.iter()
            .all(|k| got.get(k).unwrap_or(&Value::Null) == expected.get(k).unwrap_or(&Value::Null))
    })
}

fn normalise(key: &str) -> String {
    key.replace('_', "").to_ascii_lowercase()
}

fn to_json<T: ProtoMessage>(msg: &T) -> Value {
    let options = SerializeOptions::new()
        .skip_default_fields(false)
        .stringify_64_bit_integers(false);
    descriptor::<T>()
        .ok()
        .and_then(|desc| DynamicMessage::decode(desc, msg.encode_to_vec().as_slice()).ok())
        .and_then(|d| {
            d.serialize_with_options(serde_json::value::Serializer, &options)
                .ok()
        })
        .unwrap_or(Value::Null)
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            line: None,
            problem: format!("cannot read: {e}"),
        })?;
        Self::parse(&file, &text)
    }

    /// Checks a scenario given as text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, ScenarioError> {
        let ctx = SourceText { file, text };
        let parsed: File = toml::from_str(text).map_err(|e| ScenarioError {
            file: file.to_string(),
            line: e.span().map(|s| ctx.line_of(s.start)),
            problem: e.message().trim().to_string(),
        })?;
        let mut orders = Vec::new();
        for order in &parsed.orders {
            orders.push(message::<crate::pb::Order>(order.get_ref()).map_err(|p| {
                // Point at the first field that does not parse on its own.
                let bad: Vec<String> = order
                    .get_ref()
                    .iter()
                    .filter(|(k, v)| {
                        let mut one = toml::Table::new();
                        one.insert((*k).clone(), (*v).clone());
                        message::<crate::pb::Order>(&one).is_err()
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                ctx.err(ctx.narrow(order.span(), &bad), format!("order: {p}"))
            })?);
        }
        let mut stubs = Vec::new();
        for stub in &parsed.stubs {
            stubs.push(build_stub(stub.get_ref()).map_err(|p| ctx.err(stub.span(), p))?);
        }
        let mut faults = Vec::new();
        for fault in &parsed.faults {
            faults.push(build_fault(fault.get_ref()).map_err(|p| ctx.err(fault.span(), p))?);
        }
        Ok(Self {
            seed: parsed.seed,
            fail_fast: Duration::from_millis(parsed.fail_fast_ms),
            orders,
            stubs,
            faults,
        })
    }

    /// The fault plan of the scenario, with its seed.
    pub fn fault_plan(&self) -> FaultPlan {
        let plan = FaultPlan::seeded(self.seed);
        for fault in &self.faults {
            plan.add(fault.clone());
        }
        plan
    }

    /// Applies the scenario's settings (seed, faults, fail-fast) to a builder.
    pub fn configure(&self, builder: OrderMockBuilder) -> OrderMockBuilder {
        builder.faults(self.fault_plan()).fail_fast(self.fail_fast)
    }

    /// Seeds the orders and mounts the stubs on a started mock.
    pub fn install(&self, mock: &OrderMock) {
        for order in &self.orders {
            mock.seed_order(order.clone());
        }
        for stub in &self.stubs {
            (stub.0)(mock);
        }
    }

    /// Starts an in-process mock with this scenario.
    pub async fn start(&self) -> OrderMock {
        let mock = self.configure(OrderMock::builder()).start().await;
        self.install(&mock);
        mock
    }
}

fn method(name: &str) -> Result<Method, String> {
    Method::from_name(name).ok_or_else(|| {
        format!(
            "unknown rpc {name:?}: expected one of {}",
            Method::ALL.map(Method::name).join(", ")
        )
    })
}

/// The settings every stub kind shares.
#[derive(Clone)]
struct Common {
    name: Option<String>,
    headers: BTreeMap<String, String>,
    delay: Option<Duration>,
    up_to: Option<usize>,
    priority: Option<u8>,
}

impl Common {
    fn apply<R: crate::mock::stubs::StubSlot>(
        &self,
        mut stub: crate::mock::Stub<R>,
    ) -> crate::mock::Stub<R> {
        if let Some(name) = &self.name {
            stub = stub.named(name.clone());
        }
        for (k, v) in &self.headers {
            stub = stub.when_header(k, v);
        }
        if let Some(d) = self.delay {
            stub = stub.delay(d);
        }
        if let Some(n) = self.up_to {
            stub = stub.up_to(n);
        }
        if let Some(p) = self.priority {
            stub = stub.priority(p);
        }
        stub
    }
}

fn build_stub(spec: &StubSpec) -> Result<Mount, String> {
    let m = method(&spec.rpc)?;
    let fail = spec.fail.as_ref().map(status).transpose()?;
    let then_fail = spec.then_fail.as_ref().map(status).transpose()?;
    let responders = [
        spec.respond.is_some(),
        spec.stream.is_some(),
        spec.replies.is_some(),
        fail.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if responders != 1 && !(m == Method::WatchOrderStatus && responders == 0 && then_fail.is_some())
    {
        return Err(format!(
            "stub for {m} needs exactly one of respond, stream, replies, fail"
        ));
    }
    let common = Common {
        name: spec.name.clone(),
        headers: spec.when_header.clone(),
        delay: spec.delay_ms.map(Duration::from_millis),
        up_to: spec.up_to,
        priority: spec.priority,
    };
    let unsupported = |what: &str| Err::<Mount, String>(format!("{what} is not for {m} stubs"));
    Ok(match m {
        Method::CreateOrder | Method::GetOrder => {
            if spec.stream.is_some() || then_fail.is_some() {
                return unsupported("stream/then_fail");
            }
            macro_rules! unary {
                ($rpc:ident, $req:ty, $res:ty) => {{
                    let when = spec.when.as_ref().map(matcher::<$req>).transpose()?;
                    let respond = spec.respond.as_ref().map(message::<$res>).transpose()?;
                    let replies = spec
                        .replies
                        .as_ref()
                        .map(|r| r.iter().map(message::<$res>).collect::<Result<Vec<_>, _>>())
                        .transpose()?;
                    let when = when.map(Arc::new);
                    let spec_fail = fail.clone();
                    let mount = Mount(Arc::new(move |mock: &OrderMock| {
                        let mut stub = common.apply(Stub::on($rpc));
                        if let Some(w) = when.clone() {
                            stub = stub.when(move |r| w(r));
                        }
                        stub = match (&respond, &replies, &spec_fail) {
                            (Some(r), _, _) => stub.respond(r.clone()),
                            (_, Some(rs), _) => stub.replies(rs.iter().cloned().map(Ok)),
                            (_, _, Some(st)) => stub.fail(st.clone()),
                            _ => stub,
                        };
                        stub.mount(mock);
                    }));
                    mount
                }};
            }
            if m == Method::CreateOrder {
                unary!(
                    CreateOrder,
                    crate::pb::CreateOrderRequest,
                    crate::pb::CreateOrderResponse
                )
            } else {
                unary!(GetOrder, crate::pb::GetOrderRequest, crate::pb::Order)
            }
        }
        Method::WatchOrderStatus => {
            if spec.respond.is_some() || spec.replies.is_some() {
                return unsupported("respond/replies");
            }
            let when = spec
                .when
                .as_ref()
                .map(matcher::<crate::pb::WatchOrderStatusRequest>)
                .transpose()?
                .map(Arc::new);
            let items = spec
                .stream
                .as_ref()
                .map(|s| {
                    s.iter()
                        .map(message::<crate::pb::OrderStatusUpdate>)
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            let between = spec.between_ms.map(Duration::from_millis);
            Mount(Arc::new(move |mock: &OrderMock| {
                let mut stub = common.apply(Stub::on(WatchOrderStatus));
                if let Some(w) = when.clone() {
                    stub = stub.when(move |r| w(r));
                }
                if let Some(st) = &fail {
                    stub = stub.fail(st.clone());
                } else {
                    stub = stub.stream(items.clone().unwrap_or_default());
                    if let Some(b) = between {
                        stub = stub.delay_between(b);
                    }
                    if let Some(st) = &then_fail {
                        stub = stub.then_fail(st.clone());
                    }
                }
                stub.mount(mock);
            }))
        }
        Method::SubmitLineItems => {
            if spec.stream.is_some() || spec.replies.is_some() || then_fail.is_some() {
                return unsupported("stream/replies/then_fail");
            }
            let when = spec
                .when
                .as_ref()
                .map(matcher::<crate::pb::LineItem>)
                .transpose()?
                .map(Arc::new);
            let respond = spec
                .respond
                .as_ref()
                .map(message::<crate::pb::SubmitLineItemsResponse>)
                .transpose()?;
            Mount(Arc::new(move |mock: &OrderMock| {
                let mut stub = common.apply(Stub::on(SubmitLineItems));
                if let Some(w) = when.clone() {
                    stub = stub.when_each(move |r| w(r));
                }
                stub = match (&respond, &fail) {
                    (Some(r), _) => stub.respond(*r),
                    (_, Some(st)) => stub.fail(st.clone()),
                    _ => stub,
                };
                stub.mount(mock);
            }))
        }
        Method::ProcessOrders => {
            if spec.stream.is_some() || spec.respond.is_some() || then_fail.is_some() {
                return unsupported("respond/stream/then_fail");
            }
            let when = spec
                .when
                .as_ref()
                .map(matcher::<crate::pb::OrderAction>)
                .transpose()?
                .map(Arc::new);
            let replies = spec
                .replies
                .as_ref()
                .map(|r| {
                    r.iter()
                        .map(message::<crate::pb::OrderResult>)
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            Mount(Arc::new(move |mock: &OrderMock| {
                let mut stub = common.apply(Stub::on(ProcessOrders));
                if let Some(w) = when.clone() {
                    stub = stub.when(move |r| w(r));
                }
                stub = match (&replies, &fail) {
                    (Some(rs), _) => stub.replies(rs.iter().cloned().map(Ok)),
                    (_, Some(st)) => stub.fail(st.clone()),
                    _ => stub,
                };
                stub.mount(mock);
            }))
        }
    })
}

fn build_fault(spec: &FaultSpec) -> Result<Fault, String> {
    let ms = |v: Option<u64>, what: &str| {
        v.map(Duration::from_millis)
            .ok_or_else(|| format!("fault kind {:?} needs {what}", spec.kind))
    };
    let kind = match spec.kind.as_str() {
        "status" => {
            let code = spec
                .code
                .as_deref()
                .ok_or("fault kind \"status\" needs code")?;
            let message = spec
                .message
                .clone()
                .unwrap_or_else(|| format!("injected {code}"));
            FaultKind::Status(status(&StatusSpec {
                code: code.to_string(),
                message,
                retry_after_ms: spec.retry_after_ms,
                trailers: spec.trailers.clone(),
            })?)
        }
        "delay" => FaultKind::Delay {
            base: ms(spec.delay_ms, "delay_ms")?,
            jitter: Duration::from_millis(spec.jitter_ms.unwrap_or(0)),
        },
        "delay_between" => FaultKind::DelayBetween {
            base: ms(spec.delay_ms, "delay_ms")?,
            jitter: Duration::from_millis(spec.jitter_ms.unwrap_or(0)),
        },
        "hang" => FaultKind::Hang,
        "abort" => FaultKind::Abort {
            after: spec
                .after_messages
                .ok_or("fault kind \"abort\" needs after_messages")?,
            status: status(&StatusSpec {
                code: spec.code.clone().unwrap_or_else(|| "ABORTED".into()),
                message: spec
                    .message
                    .clone()
                    .unwrap_or_else(|| "stream aborted by fault injection".into()),
                retry_after_ms: spec.retry_after_ms,
                trailers: spec.trailers.clone(),
            })?,
        },
        "reset" => FaultKind::Reset,
        "drop_connection" => FaultKind::DropConnection,
        "rate_limit" => FaultKind::RateLimit {
            limit: spec.limit.ok_or("fault kind \"rate_limit\" needs limit")?,
            window: ms(spec.window_ms, "window_ms")?,
        },
        other => {
            return Err(format!(
                "unknown fault kind {other:?}: expected status, delay, delay_between, hang, abort, reset, drop_connection or rate_limit"
            ));
        }
    };
    let mut fault = Fault::new(kind);
    if let Some(rpc) = &spec.rpc {
        fault = fault.on_method(method(rpc)?);
    }
    for (k, v) in &spec.when_header {
        fault = fault.when_header(k, v);
    }
    // At most one schedule, set through the Fault builder.
    let chosen = [
        spec.first.is_some(),
        spec.every.is_some(),
        spec.after.is_some(),
        spec.between.is_some(),
    ];
    if chosen.iter().filter(|c| **c).count() > 1 {
        return Err("a fault takes at most one of first, every, after, between".into());
    }
    if let Some(n) = spec.first {
        fault = fault.first(n);
    }
    if let Some(k) = spec.every {
        fault = fault.every(k);
    }
    if let Some(n) = spec.after {
        fault = fault.after(n);
    }
    if let Some([a, b]) = spec.between {
        fault = fault.between(a, b);
    }
    if let Some(p) = spec.probability {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("probability must be between 0 and 1, got {p}"));
        }
        fault = fault.probability(p);
    }
    Ok(fault)
}
