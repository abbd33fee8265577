//! Matchers a stub states as data, which can say why a call does not match:
//! a partial message ([`Partial`], fields left at their default are not
//! compared), a field by path ([`Field`]: `customer_id`,
//! `items[0].product_id`) or a metadata value ([`Metadata`]) with a
//! [`Check`] ([`eq`], [`regex`](fn@regex), [`range`], [`present`], [`absent`]), and
//! the [`Matcher`] trait for your own. A call no stub matches is explained
//! by the closest stub's [`Mismatch`]es, in the journal and in
//! [`OrderMock::verify`](crate::OrderMock::verify).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::prelude::*;
//! use orders_testkit::mock::matching::{eq, range};
//!
//! let mock = OrderMock::start().await;
//! Stub::on(CreateOrder)
//!     .named("small orders of c-1")
//!     .when_field("customer_id", eq("c-1"))
//!     .when_field("items[0].quantity", range(1..=2))
//!     .fail(tonic::Status::resource_exhausted("no stock"))
//!     .mount(&mock);
//! let item = LineItem { product_id: "p".into(), quantity: 3, price_cents: 100 };
//! let _ = mock.client()
//!     .create_order(CreateOrderRequest { customer_id: "c-1".into(), items: vec![item], ..Default::default() })
//!     .await;
//! let call = &mock.journal().wait_for_ended(1).await[0];
//! let miss = call.near_miss().unwrap();
//! assert_eq!(miss.stub, "CreateOrder \"small orders of c-1\"");
//! assert_eq!(miss.differences[0].to_string(), "items[0].quantity: wanted 1..=2, got 3");
//! # }
//! ```

use std::fmt;
use std::ops::{Bound, RangeBounds};

use regex::Regex;
use serde_json::Value;
use tonic::metadata::MetadataMap;

use crate::grpc::json::{Proto, normalise, to_json};

/// One way a call differs from what a matcher wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Where: a field path (`items[0].quantity`), `metadata x-tenant`, or
    /// the matcher for opaque ones (`when(..)`).
    pub path: String,
    /// What the matcher wanted.
    pub wanted: String,
    /// What the call had.
    pub got: String,
}

impl Mismatch {
    /// A difference at `path`.
    ///
    /// ```
    /// use orders_testkit::mock::matching::Mismatch;
    /// let m = Mismatch::new("customer_id", "\"c-1\"", "\"c-2\"");
    /// assert_eq!(m.to_string(), "customer_id: wanted \"c-1\", got \"c-2\"");
    /// ```
    pub fn new(path: impl Into<String>, wanted: impl Into<String>, got: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            wanted: wanted.into(),
            got: got.into(),
        }
    }

    /// The same difference one level down (`[2].` + `quantity`).
    pub(crate) fn under(mut self, prefix: &str) -> Self {
        self.path = format!("{prefix}{}", self.path);
        self
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: wanted {}, got {}", self.path, self.wanted, self.got)
    }
}

/// A condition on the messages of a call, able to say how a message
/// differs from what it wants. Implement it for your own conditions and
/// give it to [`Stub::matching`](crate::Stub::matching).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::prelude::*;
/// use orders_testkit::mock::matching::{Matcher, Mismatch};
/// use tonic::metadata::MetadataMap;
///
/// /// Orders whose items total more than a limit.
/// struct BigOrder(i64);
/// impl Matcher<CreateOrderRequest> for BigOrder {
///     fn mismatches(&self, req: &CreateOrderRequest, _: &MetadataMap) -> Vec<Mismatch> {
///         let total: i64 = req.items.iter().map(|i| i.price_cents * i64::from(i.quantity)).sum();
///         if total > self.0 { vec![] } else {
///             vec![Mismatch::new("items (total)", format!("more than {}", self.0), total.to_string())]
///         }
///     }
/// }
///
/// let mock = OrderMock::start().await;
/// Stub::on(CreateOrder).matching(BigOrder(100_000)).fail(tonic::Status::failed_precondition("review")).mount(&mock);
/// # }
/// ```
pub trait Matcher<T>: Send + Sync + 'static {
    /// How `message` (sent with `metadata`) differs from what this matcher
    /// wants; empty when it matches.
    fn mismatches(&self, message: &T, metadata: &MetadataMap) -> Vec<Mismatch>;
}

impl<T, M: Matcher<T>> Matcher<T> for std::sync::Arc<M> {
    fn mismatches(&self, message: &T, metadata: &MetadataMap) -> Vec<Mismatch> {
        (**self).mismatches(message, metadata)
    }
}

/// How a value is shown in a mismatch: its JSON, shortened.
fn show(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "absent".into(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 80 {
                let cut: String = text.chars().take(77).collect();
                format!("{cut}...")
            } else {
                text
            }
        }
    }
}

/// A condition on one value: a message field, or a metadata value.
#[derive(Debug, Clone)]
pub struct Check(CheckKind);

#[derive(Debug, Clone)]
enum CheckKind {
    Eq(Value),
    Regex(Regex),
    Range(Bound<i64>, Bound<i64>),
    Present,
    Absent,
}

/// Equal to `value` (in the protobuf JSON mapping: enums by name, int64
/// as a number; a string equals the text of a number).
///
/// ```
/// use orders_testkit::mock::matching::eq;
/// let _ = (eq("o-1"), eq(5), eq("ORDER_STATUS_SHIPPED"), eq(true));
/// ```
pub fn eq(value: impl Into<Value>) -> Check {
    Check(CheckKind::Eq(value.into()))
}

/// A string (or the text of a number) that `pattern` matches somewhere
/// (anchor it with `^…$` for the whole value).
///
/// # Panics
///
/// When `pattern` is not a valid regex: a mistake in the test, reported
/// where it is made.
///
/// ```
/// use orders_testkit::mock::matching::regex;
/// let _vip = regex("^vip-[0-9]+$");
/// ```
pub fn regex(pattern: &str) -> Check {
    match Regex::new(pattern) {
        Ok(re) => Check(CheckKind::Regex(re)),
        Err(e) => {
            panic!("orders_testkit::mock::matching::regex({pattern:?}) is not a valid regex: {e}")
        }
    }
}

/// A number in `range` (`1..=5`, `100..`, `..0`).
///
/// ```
/// use orders_testkit::mock::matching::range;
/// let _ = (range(1..=5), range(100..), range(..0));
/// ```
pub fn range(range: impl RangeBounds<i64>) -> Check {
    Check(CheckKind::Range(
        range.start_bound().cloned(),
        range.end_bound().cloned(),
    ))
}

/// Set: a message field set, a list non-empty, a scalar not at its
/// default; for metadata, the key sent.
///
/// ```
/// use orders_testkit::mock::matching::present;
/// let _ = present();
/// ```
pub fn present() -> Check {
    Check(CheckKind::Present)
}

/// Not set (the opposite of [`present`]).
///
/// ```
/// use orders_testkit::mock::matching::absent;
/// let _ = absent();
/// ```
pub fn absent() -> Check {
    Check(CheckKind::Absent)
}

fn bound_text(start: &Bound<i64>, end: &Bound<i64>) -> String {
    let s = match start {
        Bound::Included(n) | Bound::Excluded(n) => n.to_string(),
        Bound::Unbounded => String::new(),
    };
    match end {
        Bound::Included(n) => format!("{s}..={n}"),
        Bound::Excluded(n) => format!("{s}..{n}"),
        Bound::Unbounded => format!("{s}.."),
    }
}

impl Check {
    /// Whether it is about presence (then `got` is looked up with
    /// defaults left out).
    fn on_presence(&self) -> bool {
        matches!(self.0, CheckKind::Present | CheckKind::Absent)
    }

    /// `Err((wanted, got))` when `got` fails the check.
    fn test(&self, got: Option<&Value>) -> Result<(), (String, String)> {
        let got = got.filter(|v| !v.is_null());
        let fail = |wanted: String| Err((wanted, show(got)));
        match &self.0 {
            CheckKind::Present if got.is_some() => Ok(()),
            CheckKind::Present => fail("present".into()),
            CheckKind::Absent if got.is_none() => Ok(()),
            CheckKind::Absent => fail("absent".into()),
            CheckKind::Eq(want) => {
                let same = match (want, got) {
                    (_, None) => want.is_null(),
                    (Value::String(w), Some(Value::Number(n))) => *w == n.to_string(),
                    (Value::Number(w), Some(Value::String(g))) => w.to_string() == *g,
                    (w, Some(g)) => w == g,
                };
                if same { Ok(()) } else { fail(show(Some(want))) }
            }
            CheckKind::Regex(re) => {
                let text = match got {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
                match text {
                    Some(t) if re.is_match(&t) => Ok(()),
                    _ => fail(format!("/{}/", re.as_str())),
                }
            }
            CheckKind::Range(start, end) => {
                let n = got.and_then(|v| match v {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                });
                match n {
                    Some(n) if (*start, *end).contains(&n) => Ok(()),
                    _ => fail(bound_text(start, end)),
                }
            }
        }
    }
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                steps.push(Step::Key(rest[..open].to_string()));
            }
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(close) = stripped.find(']') else {
                    // Not an index after all: the rest is a key.
                    steps.push(Step::Key(rest.to_string()));
                    break;
                };
                match stripped[..close].trim().parse() {
                    Ok(i) => steps.push(Step::Index(i)),
                    Err(_) => steps.push(Step::Key(stripped[..close].to_string())),
                }
                rest = &stripped[close + 1..];
            }
        } else {
            steps.push(Step::Key(rest.to_string()));
        }
    }
    steps
}

fn lookup<'a>(value: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    let mut at = value;
    for step in steps {
        at = match (step, at) {
            (Step::Key(k), Value::Object(fields)) => {
                let k = normalise(k);
                fields
                    .iter()
                    .find(|(name, _)| normalise(name) == k)
                    .map(|(_, v)| v)?
            }
            (Step::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(at)
}

/// `msg` in the JSON mapping with proto field names; with `sparse`,
/// fields at their default left out.
fn json_of<T: Proto>(msg: &T, sparse: bool) -> Value {
    if !sparse {
        return to_json(msg, true);
    }
    let options = prost_reflect::SerializeOptions::new()
        .stringify_64_bit_integers(false)
        .use_proto_field_name(true);
    crate::grpc::json::descriptor::<T>()
        .ok()
        .and_then(|d| {
            prost_reflect::DynamicMessage::decode(d, prost::Message::encode_to_vec(msg).as_slice())
                .ok()
        })
        .and_then(|d| {
            d.serialize_with_options(serde_json::value::Serializer, &options)
                .ok()
        })
        .unwrap_or(Value::Null)
}

/// A message field, by path, that must pass a [`Check`]: what
/// [`Stub::when_field`](crate::Stub::when_field) adds.
///
/// Paths use the proto's field names (or the JSON ones: `orderId`), `.`
/// between levels and `[i]` for list elements: `customer_id`,
/// `items[0].product_id`, `shipping_address.city`.
///
/// ```
/// use orders_testkit::mock::matching::{Field, Matcher, eq};
/// use orders_testkit::pb::GetOrderRequest;
/// let field = Field::new("order_id", eq("o-1"));
/// let req = GetOrderRequest { order_id: "o-2".into() };
/// let diff = field.mismatches(&req, &Default::default());
/// assert_eq!(diff[0].to_string(), "order_id: wanted \"o-1\", got \"o-2\"");
/// ```
#[derive(Debug, Clone)]
pub struct Field {
    path: String,
    steps: Vec<Step>,
    check: Check,
}

impl Field {
    /// The field at `path` must pass `check`.
    pub fn new(path: &str, check: Check) -> Self {
        Self {
            path: path.to_string(),
            steps: parse_path(path),
            check,
        }
    }
}

impl<T: Proto> Matcher<T> for Field {
    fn mismatches(&self, message: &T, _: &MetadataMap) -> Vec<Mismatch> {
        let json = json_of(message, self.check.on_presence());
        match self.check.test(lookup(&json, &self.steps)) {
            Ok(()) => Vec::new(),
            Err((wanted, got)) => vec![Mismatch::new(self.path.clone(), wanted, got)],
        }
    }
}

/// Every field set in a message (not at its default) must equal the
/// call's: what [`Stub::when_matches`](crate::Stub::when_matches) adds.
///
/// ```
/// use orders_testkit::mock::matching::{Matcher, Partial};
/// use orders_testkit::pb::{CreateOrderRequest, LineItem};
/// let want = Partial::new(CreateOrderRequest {
///     items: vec![LineItem { quantity: 2, ..Default::default() }],
///     ..Default::default()
/// });
/// let got = CreateOrderRequest {
///     customer_id: "anyone".into(),
///     items: vec![LineItem { product_id: "p".into(), quantity: 3, price_cents: 1 }],
///     ..Default::default()
/// };
/// let diff = want.mismatches(&got, &Default::default());
/// assert_eq!(diff.len(), 1);
/// assert_eq!(diff[0].to_string(), "items[0].quantity: wanted 2, got 3");
/// ```
#[derive(Debug, Clone)]
pub struct Partial<T> {
    expected: Value,
    _message: std::marker::PhantomData<fn() -> T>,
}

impl<T: Proto> Partial<T> {
    /// Compares the fields `expected` sets.
    pub fn new(expected: T) -> Self {
        Self {
            expected: json_of(&expected, true),
            _message: std::marker::PhantomData,
        }
    }
}

/// The differences between `wanted` and `got` under `path`, leaf by leaf:
/// for objects, only the keys `wanted` has; for lists, element by element
/// and the length when `exact_lists`.
pub(crate) fn diff(
    path: &str,
    wanted: &Value,
    got: &Value,
    exact_lists: bool,
    out: &mut Vec<Mismatch>,
) {
    let child = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (wanted, got) {
        (Value::Object(w), _) => {
            for (key, wv) in w {
                let gv = match got {
                    Value::Object(g) => g
                        .iter()
                        .find(|(k, _)| normalise(k) == normalise(key))
                        .map(|(_, v)| v)
                        .unwrap_or(&Value::Null),
                    _ => &Value::Null,
                };
                diff(&child(key), wv, gv, exact_lists, out);
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if exact_lists && w.len() != g.len() {
                out.push(Mismatch::new(
                    format!("{path} (length)"),
                    w.len().to_string(),
                    g.len().to_string(),
                ));
            }
            for (i, wv) in w.iter().enumerate() {
                let gv = g.get(i).unwrap_or(&Value::Null);
                diff(&format!("{path}[{i}]"), wv, gv, exact_lists, out);
            }
        }
        (w, g) if w == g => {}
        (Value::Array(w), Value::Null) if w.is_empty() => {}
        (w, g) => out.push(Mismatch::new(path, show(Some(w)), show(Some(g)))),
    }
}

impl<T: Proto> Matcher<T> for Partial<T> {
    fn mismatches(&self, message: &T, _: &MetadataMap) -> Vec<Mismatch> {
        let mut out = Vec::new();
        diff(
            "",
            &self.expected,
            &json_of(message, false),
            false,
            &mut out,
        );
        out
    }
}

/// A metadata value that must pass a [`Check`] (any of the key's values):
/// what [`Stub::when_metadata`](crate::Stub::when_metadata) adds.
///
/// ```
/// use orders_testkit::mock::matching::{Matcher, Metadata, regex};
/// let tenant = Metadata::new("x-tenant", regex("^acme"));
/// let mut md = tonic::metadata::MetadataMap::new();
/// md.insert("x-tenant", "globex".parse().unwrap());
/// let diff = Matcher::<()>::mismatches(&tenant, &(), &md);
/// assert_eq!(diff[0].to_string(), "metadata x-tenant: wanted /^acme/, got \"globex\"");
/// ```
#[derive(Debug, Clone)]
pub struct Metadata {
    name: String,
    check: Check,
}

impl Metadata {
    /// The metadata key `name` (any case) must pass `check`.
    pub fn new(name: &str, check: Check) -> Self {
        Self {
            name: name.to_ascii_lowercase(),
            check,
        }
    }

    /// How `metadata` differs from what this wants.
    pub(crate) fn check(&self, metadata: &MetadataMap) -> Vec<Mismatch> {
        let values: Vec<Value> = metadata
            .get_all(self.name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| Value::String(v.to_string()))
            .collect();
        let outcome = if values.is_empty() {
            self.check.test(None)
        } else if matches!(self.check.0, CheckKind::Absent) {
            self.check.test(values.first())
        } else {
            values
                .iter()
                .map(|v| self.check.test(Some(v)))
                .find(Result::is_ok)
                .unwrap_or_else(|| self.check.test(values.first()))
        };
        match outcome {
            Ok(()) => Vec::new(),
            Err((wanted, got)) => vec![Mismatch::new(
                format!("metadata {}", self.name),
                wanted,
                got,
            )],
        }
    }
}

impl<T> Matcher<T> for Metadata {
    fn mismatches(&self, _: &T, metadata: &MetadataMap) -> Vec<Mismatch> {
        self.check(metadata)
    }
}
