//! The order store: orders, idempotency keys and watchers behind one lock, so
//! that every change is atomic (P-6, D-4) and a watcher's first message and
//! its subscription are taken together (no update lost or repeated, W-3).
//!
//! ```
//! use orders_testkit::service::model::Store;
//! use orders_testkit::pb::{CreateOrderRequest, LineItem, OrderAction, OrderActionType, OrderStatus};
//!
//! let store = Store::new();
//! let req = CreateOrderRequest {
//!     customer_id: "cust-1".into(),
//!     items: vec![LineItem { product_id: "p1".into(), quantity: 1, price_cents: 100 }],
//!     shipping_address: None,
//! };
//! let created = store.create(&req, None).unwrap();
//! let action = OrderAction { order_id: created.order_id.clone(), action: OrderActionType::Confirm as i32 };
//! assert_eq!(store.act(&action), Ok(OrderStatus::Confirmed));
//! assert_eq!(store.get(&created.order_id).unwrap().status(), OrderStatus::Confirmed);
//! ```

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, ready};

use prost::Message;
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;

use super::lifecycle::{is_terminal, next_status};
use super::subscribers::{SubscriberId, Subscribers};
use super::time::{Clock, from_nanos, next_after, to_nanos};
use super::validate;
use crate::pb::{
    Address, CreateOrderRequest, CreateOrderResponse, Order, OrderAction, OrderActionType,
    OrderStatus, OrderStatusUpdate,
};

/// Why a CreateOrder could not be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateError {
    /// The idempotency key was used before with a different request (C-4).
    KeyReused {
        /// The id of the order created under that key.
        order_id: String,
    },
}

/// The reason class of a failed action (P-4), named like the gRPC code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// The order id or the action is invalid.
    InvalidArgument,
    /// No order has that id.
    NotFound,
    /// The transition is not in the lifecycle table.
    FailedPrecondition,
}

impl FailureReason {
    /// The code name used as the prefix of `OrderResult.error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::NotFound => "NOT_FOUND",
            Self::FailedPrecondition => "FAILED_PRECONDITION",
        }
    }
}

/// A failed action: why, in words, and the order's unchanged status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionFailure {
    /// The reason class.
    pub reason: FailureReason,
    /// What went wrong, in words.
    pub words: String,
    /// The order's status, unchanged (UNSPECIFIED when there is no such order).
    pub status: OrderStatus,
}

impl ActionFailure {
    /// The `OrderResult.error` text: `"<REASON>: <words>"`.
    pub fn error_text(&self) -> String {
        format!("{}: {}", self.reason.as_str(), self.words)
    }
}

#[derive(Debug)]
struct StoredOrder {
    order: Order,
    /// Kept as C-5 asks, though `Order` has no field for it.
    #[allow(dead_code)]
    shipping_address: Option<Address>,
    watchers: Subscribers<OrderStatusUpdate>,
}

#[derive(Debug)]
struct KeyRecord {
    request: Vec<u8>,
    response: CreateOrderResponse,
}

#[derive(Debug, Default)]
struct Inner {
    orders: HashMap<String, StoredOrder>,
    keys: HashMap<String, KeyRecord>,
    created: u64,
    watchers: usize,
}

impl Inner {
    /// The next `ord-NNNNNN` id not taken (seeded orders may use that form).
    fn fresh_id(&mut self) -> String {
        loop {
            self.created += 1;
            let id = ord_id(self.created);
            if !self.orders.contains_key(&id) {
                return id;
            }
        }
    }
}

/// `ord-` and `n` with at least six digits (`ord-000042`), written without
/// the formatting machinery (one per CreateOrder).
fn ord_id(n: u64) -> String {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    let mut rest = n;
    while rest > 0 || digits.len() - at < 6 {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let mut id = String::with_capacity(4 + digits.len() - at);
    id.push_str("ord-");
    // ASCII digits.
    id.extend(digits[at..].iter().map(|d| char::from(*d)));
    id
}

/// The order store. Cheap to share as `Arc<Store>`; every method takes the
/// one lock briefly and never awaits while holding it.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    /// Where `created_at` and `updated_at` come from.
    clock: Clock,
    /// The number of subscribed watchers, for tests to await (W-6, D-3).
    watchers: watch::Sender<usize>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            clock: Clock::default(),
            watchers: watch::Sender::new(0),
        }
    }
}

impl Store {
    /// An empty store, ready to share.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// An empty store whose timestamps come from `clock`.
    ///
    /// ```
    /// use orders_testkit::service::model::{Clock, Store};
    /// let _store = Store::with_clock(Clock::Wall);
    /// ```
    pub fn with_clock(clock: Clock) -> Arc<Self> {
        Arc::new(Self {
            clock,
            ..Self::default()
        })
    }

    /// Records a change in the number of watchers (under the lock).
    fn watchers_changed(&self, inner: &mut Inner, added: usize, removed: usize) {
        if added != removed {
            inner.watchers = (inner.watchers + added).saturating_sub(removed);
            self.watchers.send_replace(inner.watchers);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave half a change behind
        // (every change is computed before it is written), so a poisoned lock
        // is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a new order from a request that passed validation (C-2, C-3),
    /// or, with an idempotency key seen before, answers as C-4 says.
    pub fn create(
        &self,
        req: &CreateOrderRequest,
        key: Option<&str>,
    ) -> Result<CreateOrderResponse, CreateError> {
        self.create_owned(req.clone(), key)
    }

    /// [`create`](Self::create) from a request it may take apart (no copy
    /// of its items).
    pub(crate) fn create_owned(
        &self,
        req: CreateOrderRequest,
        key: Option<&str>,
    ) -> Result<CreateOrderResponse, CreateError> {
        let mut inner = self.lock();
        let encoded = key.map(|_| req.encode_to_vec());
        if let (Some(key), Some(encoded)) = (key, encoded.as_ref())
            && let Some(rec) = inner.keys.get(key)
        {
            return if &rec.request == encoded {
                Ok(rec.response.clone())
            } else {
                Err(CreateError::KeyReused {
                    order_id: rec.response.order_id.clone(),
                })
            };
        }
        // The next fresh id, and its place in the map (one lookup).
        let Inner {
            orders, created, ..
        } = &mut *inner;
        let place = loop {
            *created += 1;
            if let Entry::Vacant(place) = orders.entry(ord_id(*created)) {
                break place;
            }
        };
        let order_id = place.key().clone();
        let created_at = from_nanos(self.clock.now_nanos());
        let order = Order {
            order_id: order_id.clone(),
            customer_id: req.customer_id,
            status: OrderStatus::Pending as i32,
            items: req.items,
            created_at: Some(created_at),
            updated_at: Some(created_at),
        };
        place.insert(StoredOrder {
            order,
            shipping_address: req.shipping_address,
            watchers: Subscribers::default(),
        });
        let response = CreateOrderResponse {
            order_id,
            created_at: Some(created_at),
        };
        if let (Some(key), Some(request)) = (key, encoded) {
            inner.keys.insert(
                key.to_string(),
                KeyRecord {
                    request,
                    response: response.clone(),
                },
            );
        }
        Ok(response)
    }

    /// Puts an order in the store as given (for seeding tests): an empty id
    /// gets a fresh one, an unset status becomes PENDING, an unset
    /// `created_at` is now and an unset `updated_at` is `created_at`.
    /// An order with the same id is replaced; its watchers are released.
    /// Returns the id.
    pub fn insert(&self, mut order: Order) -> String {
        let mut inner = self.lock();
        if order.order_id.is_empty() {
            order.order_id = inner.fresh_id();
        }
        if order.status() == OrderStatus::Unspecified {
            order.status = OrderStatus::Pending as i32;
        }
        let created_at = *order
            .created_at
            .get_or_insert_with(|| from_nanos(self.clock.now_nanos()));
        order.updated_at.get_or_insert(created_at);
        let id = order.order_id.clone();
        let replaced = inner.orders.insert(
            id.clone(),
            StoredOrder {
                order,
                shipping_address: None,
                watchers: Subscribers::default(),
            },
        );
        if let Some(mut old) = replaced {
            let gone = old.watchers.close_all();
            self.watchers_changed(&mut inner, 0, gone);
        }
        id
    }

    /// The current state of an order (G-3).
    pub fn get(&self, order_id: &str) -> Option<Order> {
        self.lock().orders.get(order_id).map(|o| o.order.clone())
    }

    /// Applies one action atomically (P-2 to P-4, P-6) and tells the order's
    /// watchers. Checks, in order: the id, the action, the order's existence,
    /// the transition. Returns the new status.
    pub fn act(&self, action: &OrderAction) -> Result<OrderStatus, ActionFailure> {
        if let Some(v) = validate::id("order_id", &action.order_id) {
            return Err(ActionFailure {
                reason: FailureReason::InvalidArgument,
                words: format!("{} {}", v.field, v.description),
                status: OrderStatus::Unspecified,
            });
        }
        let mut inner = self.lock();
        let stored = inner.orders.get_mut(&action.order_id);
        let current = stored
            .as_ref()
            .map_or(OrderStatus::Unspecified, |o| o.order.status());
        let kind = match OrderActionType::try_from(action.action) {
            Ok(OrderActionType::Unspecified) => {
                return Err(ActionFailure {
                    reason: FailureReason::InvalidArgument,
                    words: "action must be set (got ORDER_ACTION_TYPE_UNSPECIFIED)".into(),
                    status: current,
                });
            }
            Ok(kind) => kind,
            Err(_) => {
                return Err(ActionFailure {
                    reason: FailureReason::InvalidArgument,
                    words: format!("action {} is not a known OrderActionType", action.action),
                    status: current,
                });
            }
        };
        let Some(stored) = stored else {
            return Err(ActionFailure {
                reason: FailureReason::NotFound,
                words: format!("order {} not found", action.order_id),
                status: OrderStatus::Unspecified,
            });
        };
        let Some(next) = next_status(current, kind) else {
            return Err(ActionFailure {
                reason: FailureReason::FailedPrecondition,
                words: format!(
                    "cannot {} an order that is {}",
                    kind.as_str_name().trim_start_matches("ORDER_ACTION_TYPE_"),
                    current.as_str_name()
                ),
                status: current,
            });
        };
        let previous_at = stored.order.updated_at.as_ref().map_or(0, to_nanos);
        let updated_at = from_nanos(next_after(self.clock.now_nanos(), previous_at));
        stored.order.status = next as i32;
        stored.order.updated_at = Some(updated_at);
        let mut gone = stored.watchers.publish(&OrderStatusUpdate {
            order_id: action.order_id.clone(),
            status: next as i32,
            previous_status: current as i32,
            updated_at: Some(updated_at),
        });
        if is_terminal(next) {
            gone += stored.watchers.close_all();
        }
        self.watchers_changed(&mut inner, 0, gone);
        Ok(next)
    }

    /// Starts watching an order (W-2 to W-6): the current state first, then
    /// every change; the stream ends after a terminal status. `None` when
    /// there is no such order. Dropping the [`Watch`] unsubscribes at once.
    pub fn watch(self: &Arc<Self>, order_id: &str) -> Option<Watch> {
        let mut inner = self.lock();
        let stored = inner.orders.get_mut(order_id)?;
        let first = OrderStatusUpdate {
            order_id: order_id.to_string(),
            status: stored.order.status,
            previous_status: OrderStatus::Unspecified as i32,
            updated_at: stored.order.updated_at,
        };
        let subscription = (!is_terminal(stored.order.status())).then(|| {
            let (id, rx) = stored.watchers.subscribe();
            (
                rx,
                WatchGuard {
                    store: Arc::downgrade(self),
                    order_id: order_id.to_string(),
                    id,
                },
            )
        });
        let (updates, guard) = subscription.unzip();
        self.watchers_changed(&mut inner, usize::from(guard.is_some()), 0);
        Some(Watch {
            first: Some(first),
            updates,
            _guard: guard,
        })
    }

    /// How many watchers are subscribed, over all orders (W-6, D-3).
    pub fn watcher_count(&self) -> usize {
        self.lock().watchers
    }

    /// Waits until the number of subscribed watchers satisfies `pred`, for
    /// tests that check a watcher was released (W-6, D-3) without sleeping.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let store = orders_testkit::service::model::Store::new();
    /// store.wait_for_watchers(|n| *n == 0).await;
    /// # }
    /// ```
    pub async fn wait_for_watchers(&self, pred: impl FnMut(&usize) -> bool) -> usize {
        let mut rx = self.watchers.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        rx.wait_for(pred).await.map_or(0, |n| *n)
    }

    /// A snapshot of every order, in no particular order.
    ///
    /// ```
    /// let store = orders_testkit::service::model::Store::new();
    /// store.insert(Default::default());
    /// assert_eq!(store.orders().len(), 1);
    /// ```
    pub fn orders(&self) -> Vec<Order> {
        self.lock()
            .orders
            .values()
            .map(|o| o.order.clone())
            .collect()
    }

    /// Removes every order and idempotency key (a reset between tests).
    /// Open watches end, as their orders are gone; fresh ids keep counting
    /// on, so an id handed out before is not handed out again. Returns how
    /// many orders there were.
    ///
    /// ```
    /// let store = orders_testkit::service::model::Store::new();
    /// let id = store.insert(Default::default());
    /// assert_eq!(store.clear(), 1);
    /// assert!(store.get(&id).is_none());
    /// assert_ne!(store.insert(Default::default()), id);
    /// ```
    pub fn clear(&self) -> usize {
        let mut inner = self.lock();
        let orders = std::mem::take(&mut inner.orders);
        inner.keys.clear();
        let watchers: usize = orders.values().map(|o| o.watchers.len()).sum();
        self.watchers_changed(&mut inner, 0, watchers);
        orders.len()
    }

    /// How many orders the store holds.
    pub fn order_count(&self) -> usize {
        self.lock().orders.len()
    }
}

#[derive(Debug)]
struct WatchGuard {
    store: Weak<Store>,
    order_id: String,
    id: SubscriberId,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if let Some(store) = self.store.upgrade() {
            let mut inner = store.lock();
            let removed = inner
                .orders
                .get_mut(&self.order_id)
                .is_some_and(|o| o.watchers.unsubscribe(self.id));
            store.watchers_changed(&mut inner, 0, usize::from(removed));
        }
    }
}

/// One watcher of one order: a stream of [`OrderStatusUpdate`]s that starts
/// with the current state and ends after a terminal status.
#[derive(Debug)]
pub struct Watch {
    first: Option<OrderStatusUpdate>,
    updates: Option<mpsc::UnboundedReceiver<OrderStatusUpdate>>,
    _guard: Option<WatchGuard>,
}

impl Stream for Watch {
    type Item = OrderStatusUpdate;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = match self.first.take() {
            Some(first) => Some(first),
            None => match self.updates.as_mut() {
                Some(rx) => ready!(rx.poll_recv(cx)),
                None => None,
            },
        };
        // W-4: the stream ends right after a terminal status, whether or not
        // the store has closed the channel yet (it does so under its lock,
        // a moment after sending).
        if next.as_ref().is_some_and(|u| is_terminal(u.status())) {
            self.updates = None;
        }
        Poll::Ready(next)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ord_ids_have_at_least_six_digits() {
        for n in [0, 1, 42, 999_999, 1_000_000, u64::MAX] {
            assert_eq!(super::ord_id(n), format!("ord-{n:06}"));
        }
    }
}
