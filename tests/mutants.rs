//! Mutation test of the contract suite: deliberately broken OrderService
//! implementations, each breaking one named rule. The suite must fail on
//! every one of them and name the broken rule; a surviving mutant fails
//! this test.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::future::join_all;
use orders_testkit::contract::{Suite, Target};
use orders_testkit::health::{HealthReporter, ServingStatus};
use orders_testkit::model::{FieldViolation, Store};
use orders_testkit::pb::order_service_server::{OrderService, OrderServiceServer};
use orders_testkit::pb::*;
use orders_testkit::service::{BoxStream, ReferenceService};
use prost::Message;
use tokio_stream::{Stream, StreamExt};
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_types::StatusExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    FirstViolationOnly,
    OneBasedPaths,
    RepeatingIds,
    ItemsReordered,
    NoInitialWatchMessage,
    SkippedWatchUpdate,
    WatchNotClosedOnTerminal,
    OverflowWraps,
    ResultsHeldUntilHalfClose,
    StreamKilledByFailedAction,
    NonAtomicTransitions,
    InternalErrorLeaked,
    DetailsCodeDiffers,
    HealthWatchNotFound,
    IdempotencyIgnored,
    EmptyStreamRejected,
    NotFoundMessageWrong,
    FrozenUpdatedAt,
}

#[derive(Clone)]
struct Mutant {
    kind: Kind,
    inner: ReferenceService,
    store: Arc<Store>,
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
    orders_testkit::status::invalid_argument(&f(v))
}

fn one_based(field: &str) -> String {
    match field.strip_prefix("items[").and_then(|r| r.split_once(']')) {
        Some((i, rest)) => format!("items[{}]{rest}", i.parse::<usize>().unwrap_or(0) + 1),
        None => field.to_string(),
    }
}

type Updates = Pin<Box<dyn Stream<Item = Result<OrderStatusUpdate, Status>> + Send>>;

#[tonic::async_trait]
impl OrderService for Mutant {
    async fn create_order(
        &self,
        mut req: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        if self.kind == Kind::IdempotencyIgnored {
            req.metadata_mut().remove("idempotency-key");
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
        let id = req.get_ref().order_id.clone();
        let res = self.inner.get_order(req).await;
        match (self.kind, res) {
            (Kind::ItemsReordered, Ok(mut r)) => {
                r.get_mut().items.reverse();
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
            (Kind::NotFoundMessageWrong, Err(st)) if st.code() == Code::NotFound => {
                Err(Status::not_found("no such order"))
            }
            (_, res) => res,
        }
    }

    type WatchOrderStatusStream = BoxStream<OrderStatusUpdate>;

    async fn watch_order_status(
        &self,
        req: Request<WatchOrderStatusRequest>,
    ) -> Result<Response<Self::WatchOrderStatusStream>, Status> {
        let stream: Updates = self.inner.watch_order_status(req).await?.into_inner();
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
            _ => stream,
        };
        Ok(Response::new(stream))
    }

    async fn submit_line_items(
        &self,
        req: Request<Streaming<LineItem>>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        match self.kind {
            Kind::OverflowWraps => {
                let mut s = req.into_inner();
                let (mut n, mut total) = (0i32, 0i64);
                while let Some(item) = s.next().await {
                    let item = item?;
                    total = total.wrapping_add(item.price_cents.wrapping_mul(item.quantity as i64));
                    n += 1;
                }
                Ok(Response::new(SubmitLineItemsResponse {
                    item_count: n,
                    total_cents: total,
                }))
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
            Kind::NonAtomicTransitions => {
                let store = self.store.clone();
                let inner = self.inner.clone();
                let mut actions = req.into_inner();
                let out = async_stream_like(move |tx| async move {
                    while let Some(Ok(a)) = actions.next().await {
                        let current = store.get(&a.order_id);
                        // Read, pause, write: two concurrent CONFIRMs both see
                        // PENDING (a wide window, so the race shows under any load).
                        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                        let result = match current {
                            Some(mut o)
                                if a.action == OrderActionType::Confirm as i32
                                    && o.status == OrderStatus::Pending as i32 =>
                            {
                                o.status = OrderStatus::Confirmed as i32;
                                store.insert(o);
                                OrderResult {
                                    order_id: a.order_id,
                                    success: true,
                                    error: String::new(),
                                    status: OrderStatus::Confirmed as i32,
                                }
                            }
                            _ => orders_testkit::service::process_action(inner.store(), a),
                        };
                        if tx.send(Ok(result)).await.is_err() {
                            break;
                        }
                    }
                });
                Ok(Response::new(out))
            }
            _ => self.inner.process_orders(req).await,
        }
    }
}

/// A response stream fed by a task.
fn async_stream_like<F, Fut>(f: F) -> BoxStream<OrderResult>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<OrderResult, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

fn target(kind: Kind) -> Target {
    let store = Store::new();
    let mutant = Mutant {
        kind,
        inner: ReferenceService::new(store.clone(), Default::default()),
        store,
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
        health.set_status("orders.v1.OrderService", ServingStatus::Serving);
        routes.add_service(health.service())
    };
    Target::routes(orders_testkit::reflection::add_reflection(routes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutant_is_caught_and_its_rule_named() {
    let mutants = [
        (Kind::FirstViolationOnly, "C-1"),
        (Kind::OneBasedPaths, "C-1"),
        (Kind::RepeatingIds, "C-2"),
        (Kind::ItemsReordered, "C-3"),
        (Kind::NoInitialWatchMessage, "W-2"),
        (Kind::SkippedWatchUpdate, "W-3"),
        (Kind::WatchNotClosedOnTerminal, "W-4"),
        (Kind::OverflowWraps, "S-3"),
        (Kind::ResultsHeldUntilHalfClose, "P-1"),
        (Kind::StreamKilledByFailedAction, "P-4"),
        (Kind::NonAtomicTransitions, "P-6"),
        (Kind::InternalErrorLeaked, "E-6"),
        (Kind::DetailsCodeDiffers, "E-5"),
        (Kind::HealthWatchNotFound, "H-3"),
        (Kind::IdempotencyIgnored, "C-4"),
        (Kind::EmptyStreamRejected, "S-2"),
        (Kind::NotFoundMessageWrong, "G-2"),
        (Kind::FrozenUpdatedAt, "P-3"),
    ];
    let runs = mutants.iter().map(|(kind, rule)| async move {
        let started = std::time::Instant::now();
        let report = Suite::default()
            .cases(16)
            .patience(std::time::Duration::from_millis(500))
            .run(target(*kind))
            .await;
        eprintln!(
            "{kind:?}: {:?} {:?}",
            started.elapsed(),
            report
                .results
                .iter()
                .filter(|r| r.duration_ms > 1000)
                .map(|r| (&r.id, r.duration_ms))
                .collect::<Vec<_>>()
        );
        (*kind, *rule, report)
    });
    let mut survivors = vec![];
    for (kind, rule, report) in join_all(runs).await {
        let broken = report.broken_rules();
        if report.passed() || !broken.iter().any(|r| r == rule) {
            survivors.push(format!(
                "{kind:?}: expected {rule} among broken rules, got {broken:?}\n{}",
                report.failure_text()
            ));
        }
    }
    assert!(
        survivors.is_empty(),
        "{} mutants survived:\n{}",
        survivors.len(),
        survivors.join("\n")
    );
}

#[tokio::test]
async fn the_unmutated_service_passes_in_process() {
    let store = Store::new();
    let service = ReferenceService::new(store, Default::default());
    Suite::default()
        .run(Target::service(service))
        .await
        .assert_passed();
}
