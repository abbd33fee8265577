//! Mutation test of the contract suite: deliberately broken OrderService
//! implementations, each breaking one named rule, at least one for every
//! rule id. The suite must fail on every one of them and name the broken
//! rule, with `--cases 1` and with three different seeds: no kill is left to
//! the random draw. A surviving mutant fails this test.
//!
//! Every mutant runs with what lets every check run: tokens of each
//! permission, a 100 ms fail-fast threshold (told to the suite), health,
//! reflection, and a switch for a transient failure.
#![cfg(feature = "contract")]

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use orders_testkit::contract::{Suite, Target};
use orders_testkit::grpc::deadline::timeout_of;
use orders_testkit::layers::auth::{Permission, TokenGrant, Tokens};
use orders_testkit::layers::deadline::DeadlineLayer;
use orders_testkit::pb::order_service_server::{OrderService, OrderServiceServer};
use orders_testkit::pb::*;
use orders_testkit::rpc::Method;
use orders_testkit::service::health::{HealthReporter, ServingStatus};
use orders_testkit::service::model::{FieldViolation, Store};
use orders_testkit::service::orders::{BoxStream, ReferenceService, ServiceConfig};
use prost::Message;
use tokio_stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_types::StatusExt;
use tower::Layer as _;

const THRESHOLD: Duration = Duration::from_millis(100);
const RW: &str = "mutant-rw";
const READ: &str = "mutant-read";
const WRITE: &str = "mutant-write";
const TRANSIENT: &str = "x-mutant-transient";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    None,
    // CreateOrder
    FirstViolationOnly,
    OneBasedPaths,
    CharsNotBytesInProductId,
    RepeatingIds,
    ItemsReordered,
    IdempotencyIgnored,
    AddressIgnoredInIdempotency,
    KeyViolationFirst,
    AlreadyExistsWrongResource,
    EmptyInvalidArgumentMessage,
    // GetOrder
    EmptyIdNotFound,
    NotFoundMessageWrong,
    StaleUpdatedAt,
    NotFoundWithoutResourceInfo,
    InternalErrorLeaked,
    PythonTraceback,
    DetailsCodeDiffers,
    NegativeRetryDelay,
    // WatchOrderStatus
    WatchErrorsWithoutDetails,
    NoInitialWatchMessage,
    SkippedWatchUpdate,
    FrozenUpdatedAt,
    WatchNotClosedOnTerminal,
    OnlyFirstWatcherUpdated,
    CancelKillsSiblings,
    LeakedWatchers,
    CancelledBeforeDeadline,
    // SubmitLineItems
    QuantityIgnored,
    EmptyStreamRejected,
    OverflowWraps,
    SubmitCancelsNamedOrder,
    // ProcessOrders
    ResultsHeldUntilHalfClose,
    ShipFromPending,
    StreamKilledByFailedAction,
    NeverEndsAfterHalfClose,
    NonAtomicTransitions,
    // Concurrency (issue 22): right one call at a time, wrong at once.
    CancelShipRace,
    IdempotencyRace,
    WatchAheadOfReads,
    KeyRecordedAfterOrder,
    // Deadlines
    FailFastIgnoredOnUnary,
    WorkThenFailFast,
    AuthAfterFailFast,
    HalfMadeOnDeadline,
    // Health, reflection
    HealthNotServing,
    HealthUnknownUnimplemented,
    HealthWatchNotFound,
    ReflectionListsNoHealth,
    WrongFieldNumber,
    NoDocComments,
    // Auth
    SchemeCaseSensitive,
    WriteOnlyReads,
    HealthNeedsToken,
    TokenEchoed,
    // Issue 19's classes: what a JavaScript (or Python, Go) implementation
    // gets wrong and a sampled, Rust-minded suite let through.
    CancelFromShipped,
    ObjectStoreLookup,
    TrimsStrings,
    MessageUriEncoded,
    ExtraWordsAccepted,
    IdFromCustomer,
    KeysPerToken,
    BuiltinKeyConflicts,
    HeaderBytesStripped,
    DeadlineOnceRead,
    FailFastAtFirstMessage,
    ListedNotResolvable,
    // Correct, but not the same twice: a request number in the words of
    // INVALID_ARGUMENT (for the behaviour comparison's flakiness control).
    RequestNumberInMessages,
    // Correct: a watch that cannot open sends its headers, then the error
    // (tonic's trailers-only framing is one choice of two).
    WatchErrorsAfterHeaders,
}

/// Each mutant and the rule it breaks.
const MUTANTS: &[(Kind, &str)] = &[
    (Kind::FirstViolationOnly, "C-1"),
    (Kind::OneBasedPaths, "C-1"),
    (Kind::CharsNotBytesInProductId, "C-1"),
    (Kind::RepeatingIds, "C-2"),
    (Kind::ItemsReordered, "C-3"),
    (Kind::IdempotencyIgnored, "C-4"),
    (Kind::AddressIgnoredInIdempotency, "C-5"),
    (Kind::KeyViolationFirst, "E-2"),
    (Kind::AlreadyExistsWrongResource, "E-4"),
    (Kind::EmptyInvalidArgumentMessage, "E-1"),
    (Kind::EmptyIdNotFound, "G-1"),
    (Kind::NotFoundMessageWrong, "G-2"),
    (Kind::StaleUpdatedAt, "G-3"),
    (Kind::NotFoundWithoutResourceInfo, "E-3"),
    (Kind::InternalErrorLeaked, "E-6"),
    (Kind::PythonTraceback, "E-6"),
    (Kind::DetailsCodeDiffers, "E-5"),
    (Kind::NegativeRetryDelay, "E-7"),
    (Kind::WatchErrorsWithoutDetails, "W-1"),
    (Kind::NoInitialWatchMessage, "W-2"),
    (Kind::SkippedWatchUpdate, "W-3"),
    (Kind::FrozenUpdatedAt, "P-3"),
    (Kind::WatchNotClosedOnTerminal, "W-4"),
    (Kind::OnlyFirstWatcherUpdated, "W-5"),
    (Kind::CancelKillsSiblings, "W-6"),
    (Kind::LeakedWatchers, "D-3"),
    (Kind::CancelledBeforeDeadline, "D-1"),
    (Kind::DeadlineOnceRead, "D-1"),
    (Kind::QuantityIgnored, "S-1"),
    (Kind::EmptyStreamRejected, "S-2"),
    (Kind::OverflowWraps, "S-3"),
    (Kind::SubmitCancelsNamedOrder, "S-4"),
    (Kind::ResultsHeldUntilHalfClose, "P-1"),
    (Kind::ShipFromPending, "P-2"),
    (Kind::StreamKilledByFailedAction, "P-4"),
    (Kind::NeverEndsAfterHalfClose, "P-5"),
    (Kind::NonAtomicTransitions, "P-6"),
    (Kind::CancelShipRace, "L-1"),
    (Kind::IdempotencyRace, "L-2"),
    (Kind::WatchAheadOfReads, "L-1"),
    (Kind::KeyRecordedAfterOrder, "L-2"),
    (Kind::FailFastIgnoredOnUnary, "D-2"),
    (Kind::WorkThenFailFast, "D-2"),
    (Kind::AuthAfterFailFast, "D-2"),
    (Kind::HalfMadeOnDeadline, "D-4"),
    (Kind::HealthNotServing, "H-1"),
    (Kind::HealthUnknownUnimplemented, "H-2"),
    (Kind::HealthWatchNotFound, "H-3"),
    (Kind::ReflectionListsNoHealth, "REFL-1"),
    (Kind::WrongFieldNumber, "PROTO-1"),
    (Kind::NoDocComments, "PROTO-2"),
    (Kind::SchemeCaseSensitive, "A-1"),
    (Kind::WriteOnlyReads, "A-1"),
    (Kind::HealthNeedsToken, "A-2"),
    (Kind::TokenEchoed, "A-3"),
    // A finite domain sampled instead of covered: status × action.
    (Kind::CancelFromShipped, "P-2"),
    // Inputs that only break other languages.
    (Kind::ObjectStoreLookup, "G-2"),
    (Kind::TrimsStrings, "C-3"),
    (Kind::HeaderBytesStripped, "C-4"),
    (Kind::BuiltinKeyConflicts, "C-4"),
    // Messages echo what was sent.
    (Kind::MessageUriEncoded, "G-2"),
    // Header grammar.
    (Kind::ExtraWordsAccepted, "A-1"),
    // Server-chosen values.
    (Kind::IdFromCustomer, "C-2"),
    // Principals and moments.
    (Kind::KeysPerToken, "C-4"),
    (Kind::FailFastAtFirstMessage, "D-2"),
    // Reflection taken at its word.
    (Kind::ListedNotResolvable, "REFL-1"),
];

/// The built-in names a JavaScript object answers for (`{}[name]`).
const JS_OBJECT_NAMES: &[&str] = &[
    "__proto__",
    "constructor",
    "toString",
    "hasOwnProperty",
    "valueOf",
    "isPrototypeOf",
    "__defineGetter__",
];

/// Per-order watch bookkeeping for the watch mutants.
#[derive(Default)]
struct Book {
    /// The key mutants' own keys: the request and its answer.
    keys: HashMap<String, (Vec<u8>, CreateOrderResponse)>,
    watchers: HashMap<String, usize>,
    kill: HashMap<String, CancellationToken>,
    /// The WatchAheadOfReads mutant: the orders whose watchers have heard
    /// of a change GetOrder does not show yet, as GetOrder shows them, and
    /// how a reader tells the action that it read.
    ahead: HashMap<String, (Order, Arc<tokio::sync::Notify>)>,
    /// Its actions, one at a time (so that only the rule meant breaks).
    serial: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Clone)]
struct Mutant {
    kind: Kind,
    inner: ReferenceService,
    store: Arc<Store>,
    book: Arc<Mutex<Book>>,
}

/// The request's idempotency key, when it is one the contract accepts.
fn valid_key<T>(req: &Request<T>) -> Option<String> {
    req.metadata()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .filter(|k| k.bytes().all(|b| (0x21..=0x7e).contains(&b)))
        .map(str::to_string)
}

impl Mutant {
    /// CreateOrder for the two key mutants, which keep the keys
    /// themselves: right one call at a time, wrong at once.
    async fn create_keeping_keys(
        &self,
        key: String,
        mut req: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        let body = req.get_ref().encode_to_vec();
        let known = self.book.lock().unwrap().keys.get(&key).cloned();
        match known {
            Some((seen, answer)) if seen == body => return Ok(Response::new(answer)),
            Some((_, answer)) => {
                return Err(orders_testkit::service::status::already_exists(
                    &answer.order_id,
                ));
            }
            None => {}
        }
        req.metadata_mut().remove("idempotency-key");
        let pause = || tokio::time::sleep(Duration::from_millis(2));
        if self.kind == Kind::IdempotencyRace {
            // Check, pause, create, record: a second create with the key
            // passes the check meanwhile and makes a second order.
            pause().await;
            let answer = self.inner.create_order(req).await?;
            self.book
                .lock()
                .unwrap()
                .keys
                .insert(key, (body, answer.get_ref().clone()));
            return Ok(answer);
        }
        // KeyRecordedAfterOrder: the order is stored (GetOrder shows it)
        // before its key is recorded; recording a key already recorded
        // fails as a unique index would, and the loser answers
        // ALREADY_EXISTS to the very request the winner accepted.
        let answer = self.inner.create_order(req).await?;
        pause().await;
        let mut book = self.book.lock().unwrap();
        if let Some((_, first)) = book.keys.get(&key) {
            return Err(orders_testkit::service::status::already_exists(
                &first.order_id,
            ));
        }
        book.keys.insert(key, (body, answer.get_ref().clone()));
        Ok(answer)
    }
}

/// Rebuilds an INVALID_ARGUMENT with its violations changed by `f`.
fn rewrite(st: Status, f: impl Fn(Vec<FieldViolation>) -> Vec<FieldViolation>) -> Status {
    let Some(bad) = st.get_details_bad_request() else {
        return st;
    };
    let v = bad
        .field_violations
        .iter()
        .map(|v| FieldViolation::new(v.field.clone(), v.description.clone()))
        .collect();
    orders_testkit::service::status::invalid_argument(&f(v))
}

fn one_based(field: &str) -> String {
    match field.strip_prefix("items[").and_then(|r| r.split_once(']')) {
        Some((i, rest)) => format!("items[{}]{rest}", i.parse::<usize>().unwrap_or(0) + 1),
        None => field.to_string(),
    }
}

/// The same request without its deadline (so the reference does not fail
/// fast on it).
fn without_deadline<T>(req: Request<T>) -> Request<T> {
    let (mut meta, ext, msg) = req.into_parts();
    meta.remove("grpc-timeout");
    Request::from_parts(meta, ext, msg)
}

/// UNAVAILABLE with a RetryInfo of this many milliseconds (negative too).
fn transient(delay_ms: i64) -> Status {
    let info = tonic_types::pb::RetryInfo {
        retry_delay: Some(prost_types::Duration {
            seconds: delay_ms.div_euclid(1000),
            nanos: (delay_ms.rem_euclid(1000) * 1_000_000) as i32,
        }),
    };
    let details = tonic_types::pb::Status {
        code: Code::Unavailable as i32,
        message: "try again".into(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: info.encode_to_vec(),
        }],
    };
    Status::with_details(
        Code::Unavailable,
        "try again",
        details.encode_to_vec().into(),
    )
}

type Updates = Pin<Box<dyn Stream<Item = Result<OrderStatusUpdate, Status>> + Send>>;

/// A response stream fed by a task.
fn fed_by<T, F, Fut>(f: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<Result<T, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

#[tonic::async_trait]
impl OrderService for Mutant {
    async fn create_order(
        &self,
        mut req: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        match self.kind {
            Kind::IdempotencyIgnored => {
                req.metadata_mut().remove("idempotency-key");
            }
            Kind::IdempotencyRace | Kind::KeyRecordedAfterOrder => {
                if let Some(key) = valid_key(&req) {
                    return self.create_keeping_keys(key, req).await;
                }
            }
            Kind::AddressIgnoredInIdempotency
                if req.get_ref().shipping_address == Some(Address::default()) =>
            {
                req.get_mut().shipping_address = None;
            }
            Kind::CharsNotBytesInProductId => {
                for it in &mut req.get_mut().items {
                    if it.product_id.len() > 128 && it.product_id.chars().count() <= 128 {
                        it.product_id = "x".repeat(128);
                    }
                }
            }
            Kind::PythonTraceback if req.get_ref().customer_id.contains(char::is_control) => {
                return Err(Status::internal(
                    "Traceback (most recent call last):\n  File \"/srv/orders/api.py\", line 42, \
                     in create_order\nValueError: customer id has control characters",
                ));
            }
            Kind::FailFastIgnoredOnUnary => req = without_deadline(req),
            Kind::TrimsStrings => {
                let msg = req.get_mut();
                msg.customer_id = msg.customer_id.trim().to_string();
                for it in &mut msg.items {
                    it.product_id = it.product_id.trim().to_string();
                }
            }
            Kind::KeysPerToken => {
                // The key namespaced by the caller: keys per token.
                let auth = req
                    .metadata()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                if let Some(key) = req.metadata().get("idempotency-key").cloned()
                    && let Ok(key) = key.to_str()
                    && !key.is_empty()
                    && key.bytes().all(|b| (0x21..=0x7e).contains(&b))
                {
                    // Same length, still valid: only the scope differs.
                    let scope = char::from(b'A' + (auth.len() % 26) as u8);
                    let scoped = format!("{scope}{}", &key[1..]);
                    req.metadata_mut()
                        .insert("idempotency-key", scoped.parse().unwrap());
                }
            }
            Kind::BuiltinKeyConflicts => {
                let key = req.metadata().get("idempotency-key").cloned();
                if let Some(key) = key
                    && JS_OBJECT_NAMES
                        .iter()
                        .any(|n| key.as_bytes() == n.as_bytes())
                {
                    // `keys[key]` finds Object.prototype's member.
                    return Err(orders_testkit::service::status::already_exists(
                        "function Object() { [native code] }",
                    ));
                }
            }
            Kind::HeaderBytesStripped => {
                // A stack that strips the bytes outside gRPC's ASCII header
                // values (a tab, 0x80 and above) and keeps the rest: the
                // invalid key becomes a valid one and is honoured.
                let stripped = req.metadata().get("idempotency-key").and_then(|v| {
                    let b = v.as_bytes();
                    b.iter().any(|b| *b == b'\t' || *b >= 0x80).then(|| {
                        b.iter()
                            .copied()
                            .filter(|b| *b != b'\t' && *b < 0x80)
                            .collect::<Vec<u8>>()
                    })
                });
                if let Some(kept) = stripped {
                    let value = tonic::metadata::MetadataValue::try_from(kept.as_slice())
                        .expect("visible ASCII");
                    req.metadata_mut().insert("idempotency-key", value);
                }
            }
            Kind::WorkThenFailFast if timeout_of(req.metadata()).is_some_and(|t| t < THRESHOLD) => {
                let _ = self.inner.create_order(without_deadline(req)).await;
                return Err(Status::deadline_exceeded("insufficient time remaining"));
            }
            Kind::HalfMadeOnDeadline
                if req.metadata().contains_key("idempotency-key")
                    && timeout_of(req.metadata()).is_some_and(|t| t < Duration::from_secs(2)) =>
            {
                let deadline = timeout_of(req.metadata()).unwrap_or_default();
                let mut half = without_deadline(req);
                let keep = half.get_ref().items.len().div_ceil(2);
                half.get_mut().items.truncate(keep);
                let _ = self.inner.create_order(half).await;
                tokio::time::sleep(deadline).await;
                return Err(Status::deadline_exceeded("cut by the deadline"));
            }
            _ => {}
        }
        let res = self.inner.create_order(req).await;
        match (self.kind, res) {
            (Kind::FirstViolationOnly, Err(st)) => {
                Err(rewrite(st, |v| v.into_iter().take(1).collect()))
            }
            (Kind::OneBasedPaths, Err(st)) => Err(rewrite(st, |v| {
                v.into_iter()
                    .map(|x| FieldViolation::new(one_based(&x.field), x.description))
                    .collect()
            })),
            (Kind::KeyViolationFirst, Err(st)) => Err(rewrite(st, |mut v| {
                v.sort_by_key(|x| x.field != "idempotency-key");
                v
            })),
            (Kind::EmptyInvalidArgumentMessage, Err(st)) if st.code() == Code::InvalidArgument => {
                Err(Status::new(Code::InvalidArgument, ""))
            }
            (Kind::RequestNumberInMessages, Err(st)) if st.code() == Code::InvalidArgument => {
                static REQUESTS: std::sync::atomic::AtomicU64 =
                    std::sync::atomic::AtomicU64::new(0);
                let n = REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err(Status::with_error_details(
                    Code::InvalidArgument,
                    format!("{} (request {n})", st.message()),
                    st.get_error_details(),
                ))
            }
            (Kind::AlreadyExistsWrongResource, Err(st)) if st.code() == Code::AlreadyExists => Err(
                orders_testkit::service::status::already_exists("ord-somebody-else"),
            ),
            (Kind::IdFromCustomer, Ok(res)) => {
                // ids made of the customer id and a counter.
                let mut order = self.store.get(&res.get_ref().order_id).unwrap();
                order.order_id = format!("{}.{}", order.customer_id, self.store.order_count());
                self.store.insert(order.clone());
                Ok(Response::new(CreateOrderResponse {
                    order_id: order.order_id,
                    created_at: res.get_ref().created_at,
                }))
            }
            (Kind::RepeatingIds, Ok(res)) => {
                let mut order = self.store.get(&res.get_ref().order_id).unwrap();
                order.order_id = "ord-same".into();
                self.store.insert(order);
                Ok(Response::new(CreateOrderResponse {
                    order_id: "ord-same".into(),
                    created_at: res.get_ref().created_at,
                }))
            }
            (_, res) => res,
        }
    }

    async fn get_order(&self, req: Request<GetOrderRequest>) -> Result<Response<Order>, Status> {
        if req.metadata().contains_key(TRANSIENT) {
            return Err(transient(if self.kind == Kind::NegativeRetryDelay {
                -1000
            } else {
                50
            }));
        }
        let id = req.get_ref().order_id.clone();
        if self.kind == Kind::WatchAheadOfReads {
            let stale = self.book.lock().unwrap().ahead.get(&id).cloned();
            if let Some((order, read)) = stale {
                read.notify_one();
                return Ok(Response::new(order));
            }
        }
        let req = match self.kind {
            Kind::FailFastIgnoredOnUnary => without_deadline(req),
            Kind::EmptyIdNotFound if id.is_empty() => {
                return Err(orders_testkit::service::status::not_found(""));
            }
            Kind::ObjectStoreLookup if JS_OBJECT_NAMES.contains(&id.as_str()) => {
                // `orders[id]` found a function: serialised as an empty order.
                return Ok(Response::new(Order::default()));
            }
            _ => req,
        };
        let res = self.inner.get_order(req).await;
        match (self.kind, res) {
            (Kind::ItemsReordered, Ok(mut r)) => {
                r.get_mut().items.reverse();
                Ok(r)
            }
            (Kind::StaleUpdatedAt, Ok(mut r)) => {
                r.get_mut().updated_at = r.get_ref().created_at;
                Ok(r)
            }
            (Kind::InternalErrorLeaked, Err(st)) if st.code() == Code::NotFound => {
                Err(Status::internal(format!(
                    "sqlx::Error RowNotFound for {id} at src/db/orders.rs:88"
                )))
            }
            (Kind::DetailsCodeDiffers, Err(st)) if st.code() == Code::NotFound => {
                let details = tonic_types::pb::Status {
                    code: Code::InvalidArgument as i32,
                    message: st.message().into(),
                    details: vec![],
                };
                Err(Status::with_details(
                    Code::NotFound,
                    st.message(),
                    details.encode_to_vec().into(),
                ))
            }
            (Kind::MessageUriEncoded, Err(st)) if st.code() == Code::NotFound => {
                let encoded: String = id
                    .bytes()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                            (b as char).to_string()
                        } else {
                            format!("%{b:02X}")
                        }
                    })
                    .collect();
                let details = tonic_types::ErrorDetails::with_resource_info(
                    "orders.v1.Order",
                    id.clone(),
                    "",
                    "",
                );
                Err(Status::with_error_details(
                    Code::NotFound,
                    format!("order {encoded} not found"),
                    details,
                ))
            }
            (Kind::NotFoundMessageWrong, Err(st)) if st.code() == Code::NotFound => {
                Err(Status::not_found("no such order"))
            }
            (Kind::NotFoundWithoutResourceInfo, Err(st)) if st.code() == Code::NotFound => {
                Err(Status::not_found(st.message()))
            }
            (_, res) => res,
        }
    }

    type WatchOrderStatusStream = BoxStream<OrderStatusUpdate>;

    async fn watch_order_status(
        &self,
        req: Request<WatchOrderStatusRequest>,
    ) -> Result<Response<Self::WatchOrderStatusStream>, Status> {
        let id = req.get_ref().order_id.clone();
        let timeout = timeout_of(req.metadata());
        if self.kind == Kind::LeakedWatchers {
            let book = self.book.lock().unwrap();
            if book.watchers.get(&id).copied().unwrap_or(0) >= 3 {
                return Err(Status::resource_exhausted("too many leaked watchers"));
            }
        }
        let stream: Updates = match self.inner.watch_order_status(req).await {
            Ok(r) => r.into_inner(),
            Err(st) if self.kind == Kind::WatchErrorsWithoutDetails => {
                return Err(Status::new(st.code(), st.message()));
            }
            Err(st) if self.kind == Kind::WatchErrorsAfterHeaders => {
                return Ok(Response::new(fed_by(|tx| async move {
                    let _ = tx.send(Err(st)).await;
                })));
            }
            Err(st) => return Err(st),
        };
        let kind = self.kind;
        let stream: Updates = match kind {
            Kind::NoInitialWatchMessage => Box::pin(stream.skip(1)),
            Kind::SkippedWatchUpdate => {
                let mut seen = 0;
                Box::pin(stream.filter(move |_| {
                    seen += 1;
                    seen != 2
                }))
            }
            Kind::WatchNotClosedOnTerminal => Box::pin(stream.chain(tokio_stream::pending())),
            Kind::FrozenUpdatedAt => {
                let mut first = None;
                Box::pin(stream.map(move |u| {
                    u.map(|mut u| {
                        let t = *first.get_or_insert(u.updated_at);
                        u.updated_at = t;
                        u
                    })
                }))
            }
            Kind::OnlyFirstWatcherUpdated => {
                let mut book = self.book.lock().unwrap();
                let n = book.watchers.entry(id).or_default();
                *n += 1;
                if *n > 1 {
                    Box::pin(stream.take(1).chain(tokio_stream::pending()))
                } else {
                    stream
                }
            }
            Kind::CancelKillsSiblings => {
                let kill = self
                    .book
                    .lock()
                    .unwrap()
                    .kill
                    .entry(id)
                    .or_default()
                    .clone();
                fed_by(move |tx| async move {
                    let mut stream = stream;
                    loop {
                        tokio::select! {
                            _ = kill.cancelled() => return,
                            _ = tx.closed() => {
                                // This watcher went away: take the others along.
                                kill.cancel();
                                return;
                            }
                            item = stream.next() => match item {
                                Some(item) => { let _ = tx.send(item).await; }
                                None => return,
                            },
                        }
                    }
                })
            }
            Kind::LeakedWatchers => {
                let book = self.book.clone();
                // A watcher the client cancels is never released (counted
                // as leaked); one that ends by itself is.
                fed_by(move |tx| async move {
                    let mut stream = stream;
                    loop {
                        tokio::select! {
                            _ = tx.closed() => {
                                *book.lock().unwrap().watchers.entry(id).or_default() += 1;
                                return;
                            }
                            item = stream.next() => match item {
                                Some(item) => { let _ = tx.send(item).await; }
                                None => return,
                            },
                        }
                    }
                })
            }
            Kind::CancelledBeforeDeadline => match timeout {
                Some(t) if t < Duration::from_secs(5) => fed_by(move |tx| async move {
                    let mut stream = stream;
                    let cut = tokio::time::sleep(t * 7 / 10);
                    tokio::pin!(cut);
                    loop {
                        tokio::select! {
                            _ = &mut cut => {
                                let _ = tx.send(Err(Status::cancelled("deadline"))).await;
                                return;
                            }
                            item = stream.next() => match item {
                                Some(item) => { let _ = tx.send(item).await; }
                                None => return,
                            },
                        }
                    }
                }),
                _ => stream,
            },
            _ => stream,
        };
        Ok(Response::new(stream))
    }

    async fn submit_line_items(
        &self,
        req: Request<Streaming<LineItem>>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        match self.kind {
            Kind::OverflowWraps | Kind::QuantityIgnored | Kind::SubmitCancelsNamedOrder => {
                let kind = self.kind;
                let mut s = req.into_inner();
                let (mut n, mut total) = (0i32, 0i64);
                while let Some(item) = s.next().await {
                    let item = item?;
                    if kind == Kind::SubmitCancelsNamedOrder
                        && self.store.get(&item.product_id).is_some()
                    {
                        orders_testkit::service::orders::process_action(
                            &self.store,
                            OrderAction {
                                order_id: item.product_id.clone(),
                                action: OrderActionType::Cancel as i32,
                            },
                        );
                    }
                    let quantity = if kind == Kind::QuantityIgnored {
                        1
                    } else {
                        item.quantity as i64
                    };
                    total = total.wrapping_add(item.price_cents.wrapping_mul(quantity));
                    n += 1;
                }
                Ok(Response::new(SubmitLineItemsResponse {
                    item_count: n,
                    total_cents: total,
                }))
            }
            Kind::FailFastAtFirstMessage
                if timeout_of(req.metadata()).is_some_and(|t| t < THRESHOLD) =>
            {
                // Judged on the first message ('data'), not on arrival.
                let mut s = req.into_inner();
                let _ = s.next().await;
                Err(Status::deadline_exceeded("insufficient time remaining"))
            }
            Kind::EmptyStreamRejected => {
                let res = self.inner.submit_line_items(req).await?;
                if res.get_ref().item_count == 0 {
                    return Err(Status::invalid_argument("at least one item is required"));
                }
                Ok(res)
            }
            _ => self.inner.submit_line_items(req).await,
        }
    }

    type ProcessOrdersStream = BoxStream<OrderResult>;

    async fn process_orders(
        &self,
        req: Request<Streaming<OrderAction>>,
    ) -> Result<Response<Self::ProcessOrdersStream>, Status> {
        match self.kind {
            Kind::FailFastAtFirstMessage
                if timeout_of(req.metadata()).is_some_and(|t| t < THRESHOLD) =>
            {
                let mut s = req.into_inner();
                let _ = s.next().await;
                Err(Status::deadline_exceeded("insufficient time remaining"))
            }
            Kind::ResultsHeldUntilHalfClose => {
                let results: Vec<_> = self
                    .inner
                    .process_orders(req)
                    .await?
                    .into_inner()
                    .collect()
                    .await;
                Ok(Response::new(Box::pin(tokio_stream::iter(results))))
            }
            Kind::StreamKilledByFailedAction => {
                let s = self.inner.process_orders(req).await?.into_inner();
                Ok(Response::new(Box::pin(s.map(|r| match r {
                    Ok(r) if !r.success => Err(Status::failed_precondition(r.error)),
                    other => other,
                }))))
            }
            Kind::NeverEndsAfterHalfClose => {
                let s = self.inner.process_orders(req).await?.into_inner();
                Ok(Response::new(Box::pin(s.chain(tokio_stream::pending()))))
            }
            Kind::ShipFromPending
            | Kind::NonAtomicTransitions
            | Kind::CancelFromShipped
            | Kind::CancelShipRace
            | Kind::WatchAheadOfReads => {
                let kind = self.kind;
                let store = self.store.clone();
                let book = self.book.clone();
                let racy = matches!(kind, Kind::CancelShipRace | Kind::WatchAheadOfReads);
                // Deadlines kept as the reference keeps them (D-1, D-2), so
                // that only the rule meant breaks.
                let timeout = timeout_of(req.metadata());
                if racy && timeout.is_some_and(|t| t < THRESHOLD) {
                    return Err(Status::deadline_exceeded("not enough time left"));
                }
                let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
                let mut actions = req.into_inner();
                let results = fed_by(move |tx| async move {
                    while let Some(Ok(a)) = actions.next().await {
                        let result = mutated_action(kind, &store, &book, a).await;
                        if tx.send(Ok(result)).await.is_err() {
                            break;
                        }
                    }
                });
                if racy {
                    return Ok(Response::new(Box::pin(
                        orders_testkit::grpc::deadline::UntilDeadline::new(results, deadline),
                    )));
                }
                Ok(Response::new(results))
            }
            _ => self.inner.process_orders(req).await,
        }
    }
}

/// One action of the ProcessOrders mutants.
async fn mutated_action(
    kind: Kind,
    store: &Store,
    book: &Mutex<Book>,
    a: OrderAction,
) -> OrderResult {
    let current = store.get(&a.order_id);
    let success = |o: &mut Order, to: OrderStatus| {
        o.status = to as i32;
        store.insert(o.clone());
        OrderResult {
            order_id: o.order_id.clone(),
            success: true,
            error: String::new(),
            status: to as i32,
        }
    };
    match (kind, current) {
        (Kind::ShipFromPending, Some(mut o))
            if a.action == OrderActionType::Ship as i32
                && o.status == OrderStatus::Pending as i32 =>
        {
            success(&mut o, OrderStatus::Shipped)
        }
        (Kind::CancelFromShipped, Some(mut o))
            if a.action == OrderActionType::Cancel as i32
                && o.status == OrderStatus::Shipped as i32 =>
        {
            // `if (status !== 'DELIVERED' && status !== 'CANCELLED')`
            success(&mut o, OrderStatus::Cancelled)
        }
        (Kind::NonAtomicTransitions, Some(mut o))
            if a.action == OrderActionType::Confirm as i32
                && o.status == OrderStatus::Pending as i32 =>
        {
            // Read, pause, write: two concurrent CONFIRMs both see PENDING
            // (a wide window, so the race shows under any load).
            tokio::time::sleep(Duration::from_millis(2)).await;
            success(&mut o, OrderStatus::Confirmed)
        }
        (Kind::CancelShipRace, Some(o))
            if (a.action == OrderActionType::Ship as i32
                && o.status == OrderStatus::Confirmed as i32)
                || (a.action == OrderActionType::Cancel as i32
                    && (o.status == OrderStatus::Pending as i32
                        || o.status == OrderStatus::Confirmed as i32)) =>
        {
            // Decided on what it read before a pause: alone, the same as
            // the reference; raced by another stream, it answers success
            // for a transition the order no longer allows.
            let seen = o.status;
            tokio::time::sleep(Duration::from_millis(5)).await;
            let id = a.order_id.clone();
            let to = if a.action == OrderActionType::Ship as i32 {
                OrderStatus::Shipped
            } else {
                OrderStatus::Cancelled
            };
            let result = orders_testkit::service::orders::process_action(store, a);
            let moved = store.get(&id).is_some_and(|now| now.status != seen);
            if !result.success && moved {
                OrderResult {
                    order_id: id,
                    success: true,
                    error: String::new(),
                    status: to as i32,
                }
            } else {
                result
            }
        }
        (Kind::WatchAheadOfReads, Some(_)) => {
            // Watchers hear of the change at once; GetOrder shows the order
            // as it was until a reader has seen that (or 50 ms passed), and
            // only then does the action answer. One call at a time, nobody
            // can tell; a watcher that reads after a message can.
            let serial = book.lock().unwrap().serial.clone();
            let _one_at_a_time = serial.lock().await;
            let id = a.order_id.clone();
            let read = Arc::new(tokio::sync::Notify::new());
            let watched = store.watcher_count() > 0;
            if let Some(before) = store.get(&id).filter(|_| watched) {
                book.lock()
                    .unwrap()
                    .ahead
                    .insert(id.clone(), (before, read.clone()));
            }
            let result = orders_testkit::service::orders::process_action(store, a);
            if result.success && watched {
                let _ = tokio::time::timeout(Duration::from_millis(50), read.notified()).await;
            }
            book.lock().unwrap().ahead.remove(&id);
            result
        }
        _ => orders_testkit::service::orders::process_action(store, a),
    }
}

/// The HTTP-level mutants (auth, health, D-2's order of checks) around the
/// routes; correct A-1 otherwise.
#[derive(Clone)]
struct Http<S> {
    kind: Kind,
    tokens: Tokens,
    inner: S,
}

type HttpRes = http::Response<tonic::body::Body>;

impl<S, B> tower::Service<http::Request<B>> for Http<S>
where
    S: tower::Service<http::Request<B>, Response = HttpRes, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpRes;
    type Error = Infallible;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<HttpRes, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let path = req.uri().path().to_string();
        let headers = req.headers().clone();
        let timeout = headers
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(orders_testkit::grpc::deadline::parse_grpc_timeout);
        let kind = self.kind;
        let answer = |st: Status| -> Self::Future { Box::pin(async move { Ok(st.into_http()) }) };
        let method = Method::from_path(&path);
        if kind == Kind::AuthAfterFailFast
            && method.is_some()
            && timeout.is_some_and(|t| t < THRESHOLD)
        {
            return answer(Status::deadline_exceeded("insufficient time remaining"));
        }
        let auth_method = match method {
            Some(m) => Some(m),
            None if kind == Kind::HealthNeedsToken && path.starts_with("/grpc.health") => {
                Some(Method::GetOrder)
            }
            None => None,
        };
        if let Some(m) = auth_method {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let mut verdict = self.tokens.check(m, &headers);
            if kind == Kind::SchemeCaseSensitive && !auth.starts_with("Bearer ") {
                verdict = Err(Status::unauthenticated("scheme must be 'Bearer'"));
            }
            if kind == Kind::ExtraWordsAccepted
                && let Some(first) = auth
                    .strip_prefix("Bearer ")
                    .and_then(|t| t.split(' ').next())
                && [RW, READ, WRITE].contains(&first)
            {
                // `auth.split(' ')[1]`: whatever follows the token is ignored.
                let mut fixed = headers.clone();
                fixed.insert(
                    "authorization",
                    http::HeaderValue::from_str(&format!("Bearer {first}")).unwrap(),
                );
                verdict = self.tokens.check(m, &fixed);
            }
            if kind == Kind::WriteOnlyReads && auth == format!("Bearer {WRITE}") {
                verdict = Ok(());
            }
            if let Err(st) = verdict {
                if kind == Kind::TokenEchoed && st.code() == Code::Unauthenticated {
                    return answer(Status::unauthenticated(format!(
                        "rejected credentials {:?}",
                        auth.split_once(' ').map_or(auth.as_str(), |(_, t)| t)
                    )));
                }
                return answer(st);
            }
        }
        // Calls end at their deadline however they wait (the mock's own
        // layer); the mutant ends them only once their message was read.
        let fut: Self::Future = if kind == Kind::DeadlineOnceRead {
            Box::pin(self.inner.call(req))
        } else {
            Box::pin(DeadlineLayer.layer(self.inner.clone()).call(req))
        };
        Box::pin(async move {
            let mut res = fut.await?;
            if kind == Kind::HealthUnknownUnimplemented
                && path == "/grpc.health.v1.Health/Check"
                && res.headers().get("grpc-status").is_some_and(|v| v == "5")
            {
                res.headers_mut()
                    .insert("grpc-status", http::HeaderValue::from_static("12"));
            }
            Ok(res)
        })
    }
}

/// The contract's descriptors, changed for the PROTO mutants.
fn descriptors(kind: Kind) -> Vec<u8> {
    let mut set =
        prost_types::FileDescriptorSet::decode(orders_testkit::pb::FILE_DESCRIPTOR_SET).unwrap();
    for file in &mut set.file {
        if file.package() != "orders.v1" {
            continue;
        }
        match kind {
            Kind::NoDocComments => {
                // One element loses its comment; the rest keep theirs.
                let info = file.source_code_info.as_mut().unwrap();
                let loc = info
                    .location
                    .iter_mut()
                    .find(|l| l.path == [4, 0, 2, 0])
                    .unwrap();
                loc.leading_comments = None;
            }
            Kind::WrongFieldNumber => {
                let msg = file
                    .message_type
                    .iter_mut()
                    .find(|m| m.name() == "OrderResult")
                    .unwrap();
                msg.field[1].number = Some(9);
            }
            _ => {}
        }
    }
    set.encode_to_vec()
}

fn target(kind: Kind) -> Target {
    let store = Store::new();
    let mutant = Mutant {
        kind,
        inner: ReferenceService::new(store.clone(), ServiceConfig::default().fail_fast(THRESHOLD)),
        store,
        book: Arc::default(),
    };
    let routes = tonic::service::Routes::new(OrderServiceServer::new(mutant));
    let routes = if kind == Kind::HealthWatchNotFound {
        // tonic-health 0.14 answers Watch of an unknown service with NOT_FOUND.
        let (reporter, service) = tonic_health::server::health_reporter();
        let r = reporter.clone();
        tokio::spawn(async move {
            r.set_service_status("", tonic_health::ServingStatus::Serving)
                .await;
            r.set_service_status(
                "orders.v1.OrderService",
                tonic_health::ServingStatus::Serving,
            )
            .await;
        });
        routes.add_service(service)
    } else {
        let health = HealthReporter::new();
        health.set_status("", ServingStatus::Serving);
        let own = if kind == Kind::HealthNotServing {
            ServingStatus::NotServing
        } else {
            ServingStatus::Serving
        };
        health.set_status("orders.v1.OrderService", own);
        routes.add_service(health.service())
    };
    let routes = match kind {
        Kind::ListedNotResolvable => {
            // Lists Health by name without its file: not resolvable.
            let b = || {
                tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(orders_testkit::pb::FILE_DESCRIPTOR_SET)
                    .with_service_name("orders.v1.OrderService")
                    .with_service_name("grpc.health.v1.Health")
            };
            routes
                .add_service(b().build_v1().unwrap())
                .add_service(b().build_v1alpha().unwrap())
        }
        Kind::WrongFieldNumber | Kind::NoDocComments | Kind::ReflectionListsNoHealth => {
            let bytes: &'static [u8] = Box::leak(descriptors(kind).into_boxed_slice());
            let builder = move || {
                let b = tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(bytes);
                if kind == Kind::ReflectionListsNoHealth {
                    b
                } else {
                    b.register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                }
            };
            routes
                .add_service(builder().build_v1().unwrap())
                .add_service(builder().build_v1alpha().unwrap())
        }
        _ => orders_testkit::service::reflection::add_reflection(routes),
    };
    let tokens: Tokens = [
        (RW, Permission::ReadWrite),
        (READ, Permission::Read),
        (WRITE, Permission::Write),
    ]
    .into_iter()
    .map(|(token, permission)| TokenGrant {
        token: token.into(),
        permission,
    })
    .collect();
    let http = Http {
        kind,
        tokens,
        inner: routes.prepare(),
    };
    Target::in_process(orders_testkit::server::InProcessServer::start(http))
        .token(RW)
        .transient_header(TRANSIENT, "1")
}

fn suite(seed: u64) -> Suite {
    Suite::default()
        .cases(1)
        .seed(seed)
        .fail_fast(THRESHOLD)
        .read_token(READ)
        .write_token(WRITE)
        .patience(Duration::from_millis(500))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutant_is_caught_with_one_case_and_three_seeds() {
    assert!(MUTANTS.len() >= 60);
    for rule in orders_testkit::contract::rules() {
        assert!(
            MUTANTS.iter().any(|(_, r)| *r == rule.id),
            "no mutant breaks {}",
            rule.id
        );
    }
    let runs = MUTANTS.iter().flat_map(|(kind, rule)| {
        [1u64, 2, 3].map(|seed| async move {
            let report = suite(seed).run(target(*kind)).await;
            (*kind, *rule, seed, report)
        })
    });
    let runs = futures_util::StreamExt::buffer_unordered(futures_util::stream::iter(runs), 12);
    let results: Vec<_> = futures_util::StreamExt::collect(runs).await;
    let mut survivors = vec![];
    for (kind, rule, seed, report) in results {
        let broken = report.broken_rules();
        if report.passed() || !broken.iter().any(|r| r == rule) {
            survivors.push(format!(
                "{kind:?} (seed {seed}): expected {rule} among broken rules, got {broken:?}\n{}",
                report.failure_text()
            ));
        }
    }
    assert!(
        survivors.is_empty(),
        "{} mutant runs survived:\n{}",
        survivors.len(),
        survivors.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unmutated_service_passes_every_check() {
    for seed in [1, 2, 3] {
        let report = suite(seed).cases(8).run(target(Kind::None)).await;
        report.assert_passed();
        let skipped: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.status != orders_testkit::contract::CheckStatus::Passed)
            .map(|r| (&r.id, &r.note))
            .collect();
        assert!(skipped.is_empty(), "seed {seed}: {skipped:?}");
    }
}

/// The concurrency mutants break nothing a sequential check sees: with the
/// L family skipped the suite passes them; the L family alone fails each,
/// naming its rule and showing the smallest history no serial order
/// explains. So the family adds power the rest of the suite lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_mutants_are_caught_by_the_l_family_alone() {
    for (kind, rule) in [
        (Kind::CancelShipRace, "L-1"),
        (Kind::IdempotencyRace, "L-2"),
        (Kind::WatchAheadOfReads, "L-1"),
        (Kind::KeyRecordedAfterOrder, "L-2"),
    ] {
        for seed in [1u64, 2, 3] {
            let sequential = suite(seed).skip(["L"]).run(target(kind)).await;
            assert!(
                sequential.passed(),
                "{kind:?} (seed {seed}) was caught without the L family:\n{}",
                sequential.failure_text()
            );
            let concurrent = suite(seed).only(["L"]).run(target(kind)).await;
            let text = concurrent.failure_text();
            assert_eq!(
                concurrent.broken_rules(),
                [rule],
                "{kind:?} (seed {seed}):\n{text}"
            );
            assert!(
                text.contains("client") && text.contains("µs"),
                "{kind:?} (seed {seed}): no timeline in\n{text}"
            );
            if seed == 1 {
                // For review: the history as a user sees it.
                println!("{kind:?}, seed 1:\n{text}");
            }
        }
    }
}

/// `verify --baseline`: the reference compared with itself shows nothing;
/// compared with a mutant, the mutant's change is breaking and names the
/// rule the mutant breaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaviour_comparison_names_a_mutants_change_as_breaking() {
    let suite = || Suite::default().seed(1).patience(Duration::from_secs(2));
    let same = suite()
        .compare(target(Kind::None), target(Kind::None))
        .await
        .unwrap();
    assert!(same.differences.is_empty(), "{}", same.render());
    assert!(same.steps > 40, "{}", same.render());
    for (kind, rule) in [
        (Kind::ShipFromPending, "P-2"),
        (Kind::NotFoundMessageWrong, "G-2"),
        (Kind::SkippedWatchUpdate, "W-3"),
        (Kind::QuantityIgnored, "S-1"),
        (Kind::FirstViolationOnly, "E-2"),
        (Kind::IdempotencyIgnored, "C-4"),
        (Kind::EmptyInvalidArgumentMessage, "E-1"),
    ] {
        let diff = suite()
            .compare(target(Kind::None), target(kind))
            .await
            .unwrap();
        let text = diff.render();
        assert!(diff.breaking(), "{kind:?}:\n{text}");
        assert!(
            diff.differences
                .iter()
                .any(|d| d.change == orders_testkit::contract::Change::Breaking && d.rule == rule),
            "{kind:?}: no breaking difference under {rule}:\n{text}"
        );
        println!("{kind:?}:\n{text}");
    }
}

/// The baseline runs twice first: what a correct server words differently
/// each time (a request number in its messages) is set aside as unstable,
/// not reported; a real change beside it still is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaviour_comparison_sets_aside_what_the_baseline_varies() {
    let suite = Suite::default().seed(2).patience(Duration::from_secs(2));
    let recording = suite
        .record_behaviour(target(Kind::RequestNumberInMessages))
        .await
        .unwrap();
    let diff = suite
        .compare_with(&recording, target(Kind::RequestNumberInMessages))
        .await
        .unwrap();
    assert!(diff.unstable > 0, "nothing varied:\n{}", diff.render());
    assert!(diff.differences.is_empty(), "{}", diff.render());
    // Against the reference, the numbered words are still set aside, and
    // nothing else differs.
    let diff = suite
        .compare_with(&recording, target(Kind::None))
        .await
        .unwrap();
    assert!(diff.differences.is_empty(), "{}", diff.render());
    // A change the baseline does not vary in is still found.
    let diff = suite
        .compare_with(&recording, target(Kind::ShipFromPending))
        .await
        .unwrap();
    assert!(diff.breaking(), "{}", diff.render());
}

/// A difference is a difference of behaviour, not of framing: a correct
/// server whose failing watches (W-1) send their headers before the error,
/// where the mock sends the error alone, compares equal to the mock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaviour_comparison_does_not_depend_on_how_an_error_is_framed() {
    let suite = Suite::default().patience(Duration::from_secs(2));
    // The sequences hold watches that cannot open, answered NOT_FOUND.
    let recording = suite
        .record_behaviour(target(Kind::WatchErrorsAfterHeaders))
        .await
        .unwrap()
        .to_json();
    assert!(
        recording.contains("WatchOrderStatus an unknown id") && recording.contains("NotFound"),
        "no failing watch in\n{recording}"
    );
    let diff = suite
        .compare(target(Kind::None), target(Kind::WatchErrorsAfterHeaders))
        .await
        .unwrap();
    assert!(diff.differences.is_empty(), "{}", diff.render());
}
