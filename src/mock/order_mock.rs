use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;

use super::beside::Parts;
use crate::fault::{Fault, FaultPlan};
use crate::journal::Journal;
use crate::layers::auth::Tokens;
use crate::mock::stubs::StubTable;
use crate::mock::verification::Verification;
use crate::pb::order_service_client::OrderServiceClient;
use crate::pb::{Order, OrderActionType, OrderStatus};
use crate::server::{InProcessServer, TaskMonitor};
use crate::service::health::{HealthReporter, ServingStatus};
use crate::service::model::ActionFailure;
use crate::service::model::Store;

/// A faithful, in-memory `orders.v1.OrderService`, served in process over
/// `tokio::io::duplex` (no port), with `grpc.health.v1.Health` and server
/// reflection beside it.
///
/// Every mock is independent: its own store, health and tasks. Dropping it
/// stops every task it started; calls from its clients then fail at once
/// (`UNAVAILABLE`; `CANCELLED` for a call that raced the close).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::OrderMock;
/// use orders_testkit::pb::{CreateOrderRequest, GetOrderRequest, LineItem, OrderStatus};
///
/// let mock = OrderMock::start().await;
/// let mut orders = mock.client();
/// let created = orders
///     .create_order(CreateOrderRequest {
///         customer_id: "cust-1".into(),
///         items: vec![LineItem { product_id: "p1".into(), quantity: 2, price_cents: 1999 }],
///         shipping_address: None,
///     })
///     .await
///     .unwrap()
///     .into_inner();
/// let order = orders
///     .get_order(GetOrderRequest { order_id: created.order_id })
///     .await
///     .unwrap()
///     .into_inner();
/// assert_eq!(order.status(), OrderStatus::Pending);
/// # }
/// ```
#[derive(Debug)]
pub struct OrderMock {
    pub(super) store: Arc<Store>,
    pub(super) journal: Journal,
    pub(super) stubs: Arc<StubTable>,
    pub(super) live: Arc<super::live::LiveBoard>,
    pub(super) faults: FaultPlan,
    pub(super) health: HealthReporter,
    pub(super) server: InProcessServer,
    pub(super) channel: Channel,
    pub(super) local_addr: Option<SocketAddr>,
    /// For what serves beside the mock (see [`Parts`]).
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(super) tokens: Tokens,
    /// Cancelled when shutdown starts: waiting streams end at once.
    pub(super) stopping: tokio_util::sync::CancellationToken,
}

impl OrderMock {
    /// An OrderService client over the mock's shared in-process channel.
    pub fn client(&self) -> OrderServiceClient<Channel> {
        OrderServiceClient::new(self.channel())
    }

    /// The mock's shared in-process channel (one connection, reconnecting on
    /// demand), for any generated client.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// A channel over a connection of its own, separate from [`channel`](Self::channel).
    pub fn new_channel(&self) -> Channel {
        self.server.channel()
    }

    /// The in-process connector, to open raw connections (for clients other
    /// than tonic's `Channel`).
    pub fn connector(&self) -> &crate::server::DuplexConnector {
        self.server.connector()
    }

    /// A `grpc.health.v1.Health` client over the shared channel.
    pub fn health_client(&self) -> HealthClient<Channel> {
        HealthClient::new(self.channel())
    }

    /// The health statuses this mock reports; flip them at run time (H-1, H-3).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::service::health::ServingStatus;
    /// let mock = orders_testkit::OrderMock::start().await;
    /// mock.health().set_status("orders.v1.OrderService", ServingStatus::NotServing);
    /// # }
    /// ```
    pub fn health(&self) -> &HealthReporter {
        &self.health
    }

    /// Sets every service the health service knows (`""` and
    /// `orders.v1.OrderService`, and any you added) to SERVING or NOT_SERVING.
    pub fn set_serving(&self, serving: bool) {
        self.journal.note_serving(serving);
        self.health.set_all(if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        });
    }

    /// The verdict on the client's conduct so far, from the journal (the
    /// client rules `CL-1` … of CONTRACT.md, default settings; see
    /// [`Conduct`](crate::conduct::Conduct)).
    pub fn conduct(&self) -> crate::conduct::ConductReport {
        self.conduct_with(&crate::conduct::Conduct::default())
    }

    /// The verdict on the client's conduct with these settings.
    pub fn conduct_with(&self, rules: &crate::conduct::Conduct) -> crate::conduct::ConductReport {
        rules.judge(&self.journal.calls(), &self.journal.serving_log())
    }

    /// Adds a fault to the mock's plan; it applies from the next call on.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use orders_testkit::OrderMock;
    /// use orders_testkit::fault::Fault;
    /// use orders_testkit::rpc::GetOrder;
    ///
    /// let mock = OrderMock::start().await;
    /// mock.inject(Fault::delay(Duration::from_millis(200)).on(GetOrder)); // cut at the caller's deadline
    /// # }
    /// ```
    pub fn inject(&self, fault: Fault) {
        self.faults.add(fault);
    }

    /// The mock's fault plan, to clear or inspect it.
    pub fn faults(&self) -> &FaultPlan {
        &self.faults
    }

    /// Drives the calls of `rpc` from the test, live: from now on, while
    /// the returned handle (or a clone) is alive, every call of `rpc` waits
    /// for the test to take it and answer it (see [`live`](super::live)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// let mock = OrderMock::start().await;
    /// let gets = mock.live(GetOrder);
    /// let mut client = mock.client();
    /// let asking = tokio::spawn(async move { client.get_order(GetOrderRequest { order_id: "o-1".into() }).await });
    /// let call = gets.next().await.unwrap();
    /// let order = Order { order_id: "o-1".into(), status: OrderStatus::Pending.into(), ..Default::default() };
    /// call.respond(order).unwrap(); // when the test chooses
    /// assert_eq!(asking.await.unwrap().unwrap().into_inner().order_id, "o-1");
    /// # }
    /// ```
    pub fn live<R: super::live::LiveRpc>(&self, rpc: R) -> super::live::Live<R> {
        let _ = rpc;
        super::live::Live::on(&self.live)
    }

    /// Checks every stub expectation now; the report lists them and the
    /// calls received. The same check runs when the mock is dropped.
    pub fn verify(&self) -> Verification {
        Verification::of(&self.stubs, &self.live, &self.journal)
    }

    /// Every mounted stub with its id and hit count, RPC by RPC, each in
    /// the order they are tried.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// let mock = OrderMock::start().await;
    /// Stub::on(GetOrder).named("o-1").respond(Order { status: OrderStatus::Pending.into(), ..Default::default() }).mount(&mock);
    /// for stub in mock.stubs() {
    ///     println!("#{} {}: {} hit(s)", stub.id, stub.name, stub.hits);
    /// }
    /// # assert_eq!(mock.stubs()[0].name, "GetOrder \"o-1\"");
    /// # }
    /// ```
    pub fn stubs(&self) -> Vec<crate::mock::stubs::StubInfo> {
        self.stubs.list()
    }

    /// Unmounts one stub (its [`StubHandle::id`](crate::mock::StubHandle::id));
    /// whether it was mounted. Its expectation is no longer checked.
    pub fn remove_stub(&self, id: u64) -> bool {
        self.stubs.remove(id)
    }

    /// Unmounts every stub (their expectations with them); how many there were.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// let mock = OrderMock::start().await;
    /// Stub::on(GetOrder).fail(tonic::Status::unavailable("down")).expect(1).mount(&mock);
    /// assert_eq!(mock.clear_stubs(), 1); // and the unmet expectation goes with it
    /// # }
    /// ```
    pub fn clear_stubs(&self) -> usize {
        self.stubs.clear()
    }

    /// Puts an order straight into the model, as if created earlier: an
    /// empty id gets a fresh one, an unset status is PENDING, unset times
    /// are now. An order with the same id is replaced. Returns the id.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::OrderMock;
    /// use orders_testkit::pb::{GetOrderRequest, Order, OrderStatus};
    ///
    /// let mock = OrderMock::start().await;
    /// let id = mock.seed_order(Order {
    ///     order_id: "o-42".into(),
    ///     customer_id: "c".into(),
    ///     status: OrderStatus::Shipped as i32,
    ///     ..Default::default()
    /// });
    /// let order = mock.client().get_order(GetOrderRequest { order_id: id }).await.unwrap();
    /// assert_eq!(order.into_inner().status(), OrderStatus::Shipped);
    /// # }
    /// ```
    pub fn seed_order(&self, order: Order) -> String {
        self.store.insert(order)
    }

    /// Applies an action to an order in the model, as ProcessOrders would:
    /// watchers get the change (W-3). Returns the new status.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::OrderMock;
    /// use orders_testkit::pb::{Order, OrderActionType, OrderStatus};
    ///
    /// let mock = OrderMock::start().await;
    /// let id = mock.seed_order(Order::default());
    /// assert_eq!(mock.advance(&id, OrderActionType::Confirm), Ok(OrderStatus::Confirmed));
    /// assert!(mock.advance(&id, OrderActionType::Deliver).is_err());
    /// # }
    /// ```
    pub fn advance(
        &self,
        order_id: &str,
        action: OrderActionType,
    ) -> Result<OrderStatus, ActionFailure> {
        self.warehouse().advance(order_id, action)
    }

    /// A handle on the mock's orders that a spawned task can own (see
    /// [`Warehouse`](crate::mock::Warehouse)).
    pub fn warehouse(&self) -> crate::mock::Warehouse {
        crate::mock::Warehouse::new(Arc::clone(&self.store))
    }

    /// The journal of every call this mock received.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The order store behind the mock, for direct inspection.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The mock's shared parts (for what serves beside it).
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) fn parts(&self) -> Parts {
        Parts {
            store: Arc::clone(&self.store),
            stubs: Arc::clone(&self.stubs),
            live: Arc::clone(&self.live),
            faults: self.faults.clone(),
            journal: self.journal.clone(),
            tokens: self.tokens.clone(),
        }
    }

    /// The tasks of the mock's server (what serves beside it runs there).
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) fn server_tasks(&self) -> &crate::server::ServerTasks {
        self.server.tasks()
    }

    /// The TCP address when started with [`OrderMockBuilder::serve_tcp`](crate::OrderMockBuilder::serve_tcp).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// A handle on the mock's tasks that outlives it: after the mock is
    /// dropped, [`TaskMonitor::stopped`] resolves once all of them ended.
    pub fn tasks(&self) -> TaskMonitor {
        self.server.tasks().monitor()
    }

    /// Stops gracefully: reports NOT_SERVING, stops accepting, lets in-flight
    /// calls finish for up to `grace`, then drops what is left.
    pub async fn shutdown(self, grace: Duration) {
        self.health.set_all(ServingStatus::NotServing);
        // Open watches end now (UNAVAILABLE); other calls finish within
        // the grace.
        self.stopping.cancel();
        self.server.tasks().shutdown(grace).await;
    }
}

impl crate::mock::stubs::sealed::Sealed for OrderMock {}

impl crate::mock::stubs::MountTarget for OrderMock {
    fn stub_table(&self) -> &StubTable {
        &self.stubs
    }
}

/// Unmet stub expectations fail the test when the mock goes away, with the
/// list of expectations and of the calls received (not while the thread is
/// already panicking).
impl Drop for OrderMock {
    fn drop(&mut self) {
        self.server.tasks().abort();
        // The journal is rendered only when there is something to report.
        if !std::thread::panicking()
            && (self.stubs.expectations(&[]).iter().any(|e| !e.met)
                || !self.stubs.drifts().is_empty())
        {
            panic!(
                "OrderMock dropped with unmet expectations or off-contract stubs\n{}",
                self.verify()
            );
        }
    }
}
