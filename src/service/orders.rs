//! The reference `orders.v1.OrderService`: tonic handlers over the
//! [`model`](crate::service::model), implementing CONTRACT.md. This is what the
//! mock answers when no stub matches, and it can be served on its own.
//!
//! Every call goes through the same checks, in D-2's order: auth (when
//! configured, §10), then the fail-fast threshold, then validation.
//!
//! ```
//! use std::time::Duration;
//! use orders_testkit::service::model::Store;
//! use orders_testkit::service::orders::{ReferenceService, ServiceConfig};
//!
//! let config = ServiceConfig::default().fail_fast(Duration::from_millis(100));
//! let service = ReferenceService::new(Store::new(), config);
//! let _server = orders_testkit::pb::order_service_server::OrderServiceServer::new(service);
//! ```

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_stream::{Stream, StreamExt};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use crate::grpc::deadline::{UntilDeadline, deadline_of, exceeded};
use crate::pb::order_service_server::OrderService;
use crate::pb::{
    CreateOrderRequest, CreateOrderResponse, GetOrderRequest, LineItem, Order, OrderAction,
    OrderResult, OrderStatusUpdate, SubmitLineItemsResponse, WatchOrderStatusRequest,
};
use crate::service::model::validate::{self, IDEMPOTENCY_KEY};
use crate::service::model::{CreateError, Store};
use crate::service::status;

/// Settings of the reference service.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// D-2: a call whose remaining deadline is below this fails at once with
    /// `DEADLINE_EXCEEDED` and does nothing. `None` (the default) is off.
    pub fail_fast: Option<Duration>,
}

impl ServiceConfig {
    /// D-2 on: calls with less than `threshold` left fail at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = orders_testkit::service::orders::ServiceConfig::default().fail_fast(Duration::from_millis(50));
    /// assert_eq!(config.fail_fast, Some(Duration::from_millis(50)));
    /// ```
    pub fn fail_fast(mut self, threshold: Duration) -> Self {
        self.fail_fast = Some(threshold);
        self
    }
}

/// A boxed response stream, as the generated server trait wants it.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The reference OrderService over a shared [`Store`].
#[derive(Debug, Clone)]
pub struct ReferenceService {
    store: Arc<Store>,
    config: ServiceConfig,
}

impl ReferenceService {
    /// A service over `store` with `config`.
    pub fn new(store: Arc<Store>, config: ServiceConfig) -> Self {
        Self { store, config }
    }

    /// The store this service reads and writes.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The checks every call gets before its own work, whoever answers it
    /// (this service, or a stub in front of it): the fail-fast threshold
    /// (D-2) and a deadline already passed (D-1). Returns the call's
    /// deadline. (Auth, which comes first, is a layer: [`crate::layers::auth`].)
    pub(crate) fn admit(&self, metadata: &MetadataMap) -> Result<Option<Instant>, Status> {
        let deadline = deadline_of(metadata);
        if let Some(deadline) = deadline {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if let Some(threshold) = self.config.fail_fast.filter(|t| !t.is_zero())
                && remaining < threshold
            {
                return Err(status::insufficient_time(remaining, threshold));
            }
            if remaining.is_zero() {
                return Err(exceeded());
            }
        }
        Ok(deadline)
    }

    /// S-1 to S-3 over line items already received (a stub that read the
    /// stream falls back here): the count and total, or the first invalid
    /// item, or an overflowing total.
    pub(crate) async fn total(
        &self,
        items: Vec<LineItem>,
    ) -> Result<SubmitLineItemsResponse, Status> {
        sum_line_items(tokio_stream::iter(items.into_iter().map(Ok))).await
    }

    /// P-1 to P-4 for one action on this service's store: its result, the
    /// order changed atomically (a stub that did not match an action falls
    /// back here).
    pub(crate) fn act(&self, action: OrderAction) -> OrderResult {
        process_action(&self.store, action)
    }
}

/// The idempotency key as C-4 reads it: absent, once (its bytes), or repeated.
fn idempotency_key(metadata: &MetadataMap) -> Option<Result<&[u8], ()>> {
    let mut values = metadata.get_all(IDEMPOTENCY_KEY).iter();
    let first = values.next()?;
    Some(match values.next() {
        None => Ok(first.as_bytes()),
        Some(_) => Err(()),
    })
}

fn check_order_id(order_id: &str) -> Result<(), Status> {
    match validate::id("order_id", order_id) {
        Some(v) => Err(status::invalid_argument(&[v])),
        None => Ok(()),
    }
}

/// S-1 to S-3 over a stream of line items: the count and total, or the
/// first invalid item, or an overflowing total.
async fn sum_line_items(
    mut items: impl Stream<Item = Result<LineItem, Status>> + Unpin,
) -> Result<SubmitLineItemsResponse, Status> {
    let mut count: i32 = 0;
    let mut total: i64 = 0;
    while let Some(item) = items.next().await {
        let item = item?;
        let violations = validate::line_item(count as usize, &item);
        if !violations.is_empty() {
            return Err(status::invalid_argument(&violations));
        }
        total = i64::try_from(i128::from(total) + validate::item_total(&item)).map_err(|_| {
            status::invalid_argument(&[validate::FieldViolation::new(
                "items",
                "order total exceeds int64",
            )])
        })?;
        count = count.checked_add(1).ok_or_else(|| {
            status::invalid_argument(&[validate::FieldViolation::new(
                "items",
                "more items than item_count (int32) can count",
            )])
        })?;
    }
    Ok(SubmitLineItemsResponse {
        item_count: count,
        total_cents: total,
    })
}

/// P-1 to P-4 for one action: its result, the order changed atomically.
///
/// ```
/// use orders_testkit::service::model::Store;
/// use orders_testkit::pb::OrderAction;
/// use orders_testkit::service::orders::process_action;
///
/// let r = process_action(&Store::new(), OrderAction { order_id: "nope".into(), action: 1 });
/// assert!(!r.success && r.error.starts_with("NOT_FOUND: "));
/// ```
#[doc(hidden)]
pub fn process_action(store: &Store, action: OrderAction) -> OrderResult {
    match store.act(&action) {
        Ok(status) => OrderResult {
            order_id: action.order_id,
            success: true,
            error: String::new(),
            status: status as i32,
        },
        Err(failure) => OrderResult {
            order_id: action.order_id,
            success: false,
            error: failure.error_text(),
            status: failure.status as i32,
        },
    }
}

/// The model's entry points for a call already admitted (D-2 checked
/// once, by whoever dispatches it: this service's own `OrderService`, or
/// the mock's dispatch).
impl ReferenceService {
    /// CreateOrder (C-1 to C-5), which never waits: callable without
    /// boxing a future.
    pub(crate) fn create(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        let key = idempotency_key(request.metadata());
        let violations = validate::create_order(request.get_ref(), key);
        if !violations.is_empty() {
            return Err(status::invalid_argument(&violations));
        }
        // Validated above: a key, when present, is visible ASCII.
        let key = key
            .and_then(Result::ok)
            .and_then(|k| std::str::from_utf8(k).ok())
            .map(str::to_owned);
        match self
            .store
            .create_owned(request.into_inner(), key.as_deref())
        {
            Ok(response) => Ok(Response::new(response)),
            Err(CreateError::KeyReused { order_id }) => Err(status::already_exists(&order_id)),
        }
    }

    /// GetOrder (G-1 to G-3), which never waits, as [`create`](Self::create).
    pub(crate) fn get(&self, request: Request<GetOrderRequest>) -> Result<Response<Order>, Status> {
        let order_id = &request.get_ref().order_id;
        check_order_id(order_id)?;
        match self.store.get(order_id) {
            Some(order) => Ok(Response::new(order)),
            None => Err(status::not_found(order_id)),
        }
    }

    /// WatchOrderStatus (W-1 to W-4) until `deadline`.
    pub(crate) fn watch(
        &self,
        request: Request<WatchOrderStatusRequest>,
        deadline: Option<Instant>,
    ) -> Result<Response<BoxStream<OrderStatusUpdate>>, Status> {
        let order_id = &request.get_ref().order_id;
        check_order_id(order_id)?;
        let watch = self
            .store
            .watch(order_id)
            .ok_or_else(|| status::not_found(order_id))?;
        Ok(Response::new(Box::pin(UntilDeadline::new(
            watch.map(Ok),
            deadline,
        ))))
    }

    /// SubmitLineItems (S-1 to S-3) over the stream, until `deadline`.
    pub(crate) async fn submit(
        &self,
        request: Request<Streaming<LineItem>>,
        deadline: Option<Instant>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        let items = UntilDeadline::new(request.into_inner(), deadline);
        sum_line_items(items).await.map(Response::new)
    }

    /// ProcessOrders (P-1 to P-4), action by action, until `deadline`.
    pub(crate) fn process(
        &self,
        request: Request<Streaming<OrderAction>>,
        deadline: Option<Instant>,
    ) -> Response<BoxStream<OrderResult>> {
        let store = Arc::clone(&self.store);
        let results = request
            .into_inner()
            .map(move |action| Ok(process_action(&store, action?)));
        Response::new(Box::pin(UntilDeadline::new(results, deadline)))
    }
}

/// The reference service on its own: each call admitted, then answered by
/// the model.
#[tonic::async_trait]
impl OrderService for ReferenceService {
    async fn create_order(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        self.admit(request.metadata())?;
        self.create(request)
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        self.admit(request.metadata())?;
        self.get(request)
    }

    type WatchOrderStatusStream = BoxStream<OrderStatusUpdate>;

    async fn watch_order_status(
        &self,
        request: Request<WatchOrderStatusRequest>,
    ) -> Result<Response<Self::WatchOrderStatusStream>, Status> {
        let deadline = self.admit(request.metadata())?;
        self.watch(request, deadline)
    }

    async fn submit_line_items(
        &self,
        request: Request<Streaming<LineItem>>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        let deadline = self.admit(request.metadata())?;
        self.submit(request, deadline).await
    }

    type ProcessOrdersStream = BoxStream<OrderResult>;

    async fn process_orders(
        &self,
        request: Request<Streaming<OrderAction>>,
    ) -> Result<Response<Self::ProcessOrdersStream>, Status> {
        let deadline = self.admit(request.metadata())?;
        Ok(self.process(request, deadline))
    }
}
