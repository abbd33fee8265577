//! [`MockCluster`]: N replicas of the mock sharing one order store (one
//! replicated service), each with its own journal, faults and health; a
//! health-aware balanced client over their in-process channels (round robin
//! or tower's power-of-two-choices); and a TCP mode whose addresses suit
//! `Channel::balance_list`. Replicas can be stopped, restarted and drained
//! at run time.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::mock::cluster::{MockCluster, Policy};
//!
//! let cluster = MockCluster::start(3).await;
//! let balanced = cluster.balanced(Policy::RoundRobin);
//! balanced.wait_for_serving(3).await;
//! let mut client = balanced.client();
//! for _ in 0..30 {
//!     let _ = client.get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
//! }
//! for i in 0..3 {
//!     assert_eq!(cluster.journal(i).unwrap().calls_to(orders_testkit::rpc::GetOrder).len(), 10);
//! }
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tonic::transport::Channel;

use super::OrderMock;
use crate::fault::Fault;
use crate::journal::Journal;
use crate::server::DuplexConnector;
use crate::service::model::Store;

mod balanced;

pub use balanced::{Balanced, BalancedChannel, Policy};

struct Replica {
    mock: Option<OrderMock>,
    connector: Option<DuplexConnector>,
    addr: Option<SocketAddr>,
}

/// N replicas of one order service.
pub struct MockCluster {
    store: Arc<Store>,
    tcp: bool,
    slots: Vec<Arc<Mutex<Replica>>>,
}

impl std::fmt::Debug for MockCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockCluster")
            .field("replicas", &self.slots.len())
            .field("tcp", &self.tcp)
            .finish()
    }
}

fn lock(slot: &Mutex<Replica>) -> MutexGuard<'_, Replica> {
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

impl MockCluster {
    /// `n` replicas in process.
    pub async fn start(n: usize) -> Self {
        Self::launch(n, false)
            .await
            .unwrap_or_else(|_| unreachable!("in-process replicas bind nothing"))
    }

    /// `n` replicas, each also listening on a free 127.0.0.1 port
    /// ([`addrs`](Self::addrs)), for `Channel::balance_list`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let cluster = orders_testkit::mock::cluster::MockCluster::serve_tcp(2).await.unwrap();
    /// assert_eq!(cluster.addrs().len(), 2);
    /// # }
    /// ```
    pub async fn serve_tcp(n: usize) -> io::Result<Self> {
        Self::launch(n, true).await
    }

    async fn launch(n: usize, tcp: bool) -> io::Result<Self> {
        let cluster = Self {
            store: Store::new(),
            tcp,
            slots: (0..n)
                .map(|_| {
                    Arc::new(Mutex::new(Replica {
                        mock: None,
                        connector: None,
                        addr: None,
                    }))
                })
                .collect(),
        };
        for i in 0..n {
            cluster.restart(i).await?;
        }
        Ok(cluster)
    }

    /// How many replicas the cluster has (running or stopped).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::mock::cluster::{MockCluster, Policy};
    /// assert_eq!(MockCluster::start(2).await.len(), 2);
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the cluster has no replica.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::mock::cluster::{MockCluster, Policy};
    /// assert!(!MockCluster::start(1).await.is_empty());
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The store every replica serves.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::mock::cluster::{MockCluster, Policy};
    /// let cluster = MockCluster::start(2).await;
    /// assert_eq!(cluster.store().order_count(), 0);
    /// # }
    /// ```
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Starts replica `i` again (a fresh mock over the shared store, on the
    /// same TCP address in TCP mode). Does nothing if it is running.
    pub async fn restart(&self, i: usize) -> io::Result<()> {
        let Some(slot) = self.slots.get(i) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no replica {i}"),
            ));
        };
        if lock(slot).mock.is_some() {
            return Ok(());
        }
        let builder = OrderMock::builder().store(self.store.clone());
        let mock = if self.tcp {
            let addr = lock(slot)
                .addr
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
            builder.serve_tcp(addr).await?
        } else {
            builder.start().await
        };
        let mut s = lock(slot);
        s.connector = Some(mock.connector().clone());
        s.addr = mock.local_addr().or(s.addr);
        s.mock = Some(mock);
        Ok(())
    }

    /// Stops replica `i`: its tasks end, its connections drop, new ones are
    /// refused, until [`restart`](Self::restart).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::mock::cluster::{MockCluster, Policy};
    /// let cluster = MockCluster::start(2).await;
    /// let balanced = cluster.balanced(Policy::RoundRobin);
    /// balanced.wait_for_serving(2).await;
    /// cluster.stop(0);
    /// balanced.wait_for_serving(1).await;
    /// assert_eq!(balanced.serving(), [false, true]);
    /// cluster.restart(0).await.unwrap();
    /// balanced.wait_for_serving(2).await;
    /// # }
    /// ```
    pub fn stop(&self, i: usize) {
        if let Some(slot) = self.slots.get(i) {
            let mock = {
                let mut s = lock(slot);
                s.connector = None;
                s.mock.take()
            };
            drop(mock);
        }
    }

    /// Drains replica `i` (`serving = false`: NOT_SERVING) or puts it back.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::mock::cluster::{MockCluster, Policy};
    /// let cluster = MockCluster::start(2).await;
    /// let balanced = cluster.balanced(Policy::PowerOfTwoChoices);
    /// balanced.wait_for_serving(2).await;
    /// cluster.set_serving(1, false); // drained
    /// balanced.wait_for_serving(1).await;
    /// # }
    /// ```
    pub fn set_serving(&self, i: usize, serving: bool) {
        if let Some(slot) = self.slots.get(i)
            && let Some(mock) = lock(slot).mock.as_ref()
        {
            mock.set_serving(serving);
        }
    }

    /// Replica `i`'s journal (of its current run), if it is running.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::mock::cluster::{MockCluster, Policy};
    /// let cluster = MockCluster::start(1).await;
    /// assert!(cluster.journal(0).unwrap().is_empty());
    /// cluster.stop(0);
    /// assert!(cluster.journal(0).is_none());
    /// # }
    /// ```
    pub fn journal(&self, i: usize) -> Option<Journal> {
        self.slots
            .get(i)
            .and_then(|s| lock(s).mock.as_ref().map(|m| m.journal().clone()))
    }

    /// Injects a fault into replica `i` (its current run).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::mock::cluster::{MockCluster, Policy};
    /// let cluster = MockCluster::start(2).await;
    /// cluster.inject(0, orders_testkit::fault::Fault::fail(tonic::Status::unavailable("replica 0 only")));
    /// # }
    /// ```
    pub fn inject(&self, i: usize, fault: Fault) {
        if let Some(slot) = self.slots.get(i)
            && let Some(m) = lock(slot).mock.as_ref()
        {
            m.inject(fault);
        }
    }

    /// The TCP addresses of the replicas (TCP mode; empty otherwise).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::mock::cluster::{MockCluster, Policy};
    /// assert!(MockCluster::start(1).await.addrs().is_empty()); // in-process only
    /// # }
    /// ```
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.slots.iter().filter_map(|s| lock(s).addr).collect()
    }

    /// A channel to replica `i` that follows it across restarts (refused
    /// while it is stopped).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::mock::cluster::{MockCluster, Policy};
    /// let cluster = MockCluster::start(1).await;
    /// let mut c = orders_testkit::pb::order_service_client::OrderServiceClient::new(cluster.channel(0));
    /// let _ = c.get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await;
    /// # }
    /// ```
    pub fn channel(&self, i: usize) -> Channel {
        let slot = self.slots.get(i).cloned();
        crate::server::lazy_channel(move || match &slot {
            Some(slot) => match &lock(slot).connector {
                Some(c) => c.connect(),
                None => Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "replica stopped",
                )),
            },
            None => Err(io::Error::new(io::ErrorKind::NotFound, "no such replica")),
        })
    }

    /// A balanced, health-aware client over every replica. It watches each
    /// replica's `grpc.health.v1` status and sends calls only to replicas
    /// that report SERVING.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::mock::cluster::{MockCluster, Policy};
    /// let cluster = MockCluster::start(2).await;
    /// let balanced = cluster.balanced(Policy::RoundRobin);
    /// balanced.wait_for_serving(2).await;
    /// let _client = balanced.client();
    /// # }
    /// ```
    pub fn balanced(&self, policy: Policy) -> Balanced {
        Balanced::new((0..self.len()).map(|i| self.channel(i)).collect(), policy)
    }
}
