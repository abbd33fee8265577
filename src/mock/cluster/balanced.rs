//! [`Balanced`]: a health-aware client over the replicas of a
//! [`MockCluster`](super::MockCluster), round robin or tower's
//! power-of-two-choices, sending only to replicas that report SERVING.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tower::BoxError;
use tower::Service;
use tower::discover::Change;

use crate::pb::order_service_client::OrderServiceClient;

/// How a [`Balanced`] client picks a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::mock::cluster::{MockCluster, Policy};
///
/// let cluster = MockCluster::start(2).await;
/// let by_load = cluster.balanced(Policy::PowerOfTwoChoices);
/// by_load.wait_for_serving(2).await;
/// let _client = by_load.client();
/// # }
/// ```
pub enum Policy {
    /// In turn, over the replicas that report SERVING.
    RoundRobin,
    /// tower's power-of-two-choices over the SERVING replicas, by pending
    /// requests.
    PowerOfTwoChoices,
}

/// Which replicas a balanced client currently sends to.
#[derive(Debug)]
struct Membership {
    up: watch::Sender<Vec<bool>>,
}

/// A health-aware balanced channel over replicas; see [`MockCluster::balanced`](super::MockCluster::balanced).
/// Dropping it stops its health watchers.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::mock::cluster::{MockCluster, Policy};
/// let cluster = MockCluster::start(1).await;
/// let balanced = cluster.balanced(Policy::RoundRobin);
/// balanced.wait_for_serving(1).await;
/// assert_eq!(balanced.serving(), [true]);
/// # }
/// ```
pub struct Balanced {
    service: BalancedService,
    membership: Arc<Membership>,
    _watchers: Arc<DropGuard>,
}

impl std::fmt::Debug for Balanced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Balanced")
            .field("serving", &*self.membership.up.borrow())
            .finish()
    }
}

#[derive(Clone)]
enum BalancedService {
    RoundRobin {
        channels: Arc<Vec<Channel>>,
        next: Arc<AtomicUsize>,
        up: watch::Receiver<Vec<bool>>,
    },
    P2c(
        tower::buffer::Buffer<
            http::Request<tonic::body::Body>,
            <P2cService as Service<http::Request<tonic::body::Body>>>::Future,
        >,
    ),
}

type Pending = tower::load::PendingRequests<Channel, tower::load::CompleteOnResponse>;
type P2cService = tower::balance::p2c::Balance<DiscoverStream, http::Request<tonic::body::Body>>;

/// The membership changes, as tower's discover wants them.
struct DiscoverStream {
    rx: mpsc::UnboundedReceiver<Change<usize, Pending>>,
}

impl tokio_stream::Stream for DiscoverStream {
    type Item = Result<Change<usize, Pending>, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|c| c.map(Ok))
    }
}

/// How long a health watcher waits before trying a replica again after its
/// Watch failed (the replica is down meanwhile).
const RETRY: Duration = Duration::from_millis(20);

impl Balanced {
    pub(super) fn new(channels: Vec<Channel>, policy: Policy) -> Self {
        let n = channels.len();
        let (up_tx, up_rx) = watch::channel(vec![false; n]);
        let membership = Arc::new(Membership { up: up_tx });
        let token = CancellationToken::new();
        let (changes_tx, changes_rx) = mpsc::unbounded_channel();
        for (i, channel) in channels.iter().enumerate() {
            let membership = membership.clone();
            let channel = channel.clone();
            let token = token.clone();
            let changes = changes_tx.clone();
            let p2c = policy == Policy::PowerOfTwoChoices;
            tokio::spawn(async move {
                let set = |serving: bool| {
                    let mut changed = false;
                    membership.up.send_if_modified(|up| {
                        changed = up[i] != serving;
                        up[i] = serving;
                        changed
                    });
                    if changed && p2c {
                        let _ = changes.send(if serving {
                            Change::Insert(
                                i,
                                tower::load::PendingRequests::new(
                                    channel.clone(),
                                    tower::load::CompleteOnResponse::default(),
                                ),
                            )
                        } else {
                            Change::Remove(i)
                        });
                    }
                };
                loop {
                    let mut health = HealthClient::new(channel.clone());
                    let watch = tokio::select! {
                        _ = token.cancelled() => return,
                        w = health.watch(HealthCheckRequest { service: String::new() }) => w,
                    };
                    if let Ok(res) = watch {
                        let mut stream = res.into_inner();
                        loop {
                            let next = tokio::select! {
                                _ = token.cancelled() => return,
                                n = stream.next() => n,
                            };
                            match next {
                                Some(Ok(msg)) => set(msg.status == ServingStatus::Serving as i32),
                                _ => break,
                            }
                        }
                    }
                    // The watch failed or ended: the replica is down.
                    set(false);
                    tokio::select! {
                        _ = token.cancelled() => return,
                        _ = tokio::time::sleep(RETRY) => {}
                    }
                }
            });
        }
        let service = match policy {
            Policy::RoundRobin => BalancedService::RoundRobin {
                channels: Arc::new(channels),
                next: Arc::new(AtomicUsize::new(0)),
                up: up_rx,
            },
            Policy::PowerOfTwoChoices => {
                let balance = tower::balance::p2c::Balance::new(DiscoverStream { rx: changes_rx });
                BalancedService::P2c(tower::buffer::Buffer::new(balance, 1024))
            }
        };
        Self {
            service,
            membership,
            _watchers: Arc::new(token.drop_guard()),
        }
    }

    /// Which replicas the client currently sends to (reported SERVING).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::mock::cluster::{MockCluster, Policy};
    /// let cluster = MockCluster::start(1).await;
    /// let balanced = cluster.balanced(Policy::RoundRobin);
    /// balanced.wait_for_serving(1).await;
    /// assert_eq!(balanced.serving(), [true]);
    /// # }
    /// ```
    pub fn serving(&self) -> Vec<bool> {
        self.membership.up.borrow().clone()
    }

    /// Waits until exactly `n` replicas are in the rotation.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::mock::cluster::{MockCluster, Policy};
    /// let cluster = MockCluster::start(3).await;
    /// let balanced = cluster.balanced(Policy::RoundRobin);
    /// balanced.wait_for_serving(3).await;
    /// # }
    /// ```
    pub async fn wait_for_serving(&self, n: usize) {
        let mut rx = self.membership.up.subscribe();
        let _ = rx
            .wait_for(|up| up.iter().filter(|u| **u).count() == n)
            .await;
    }

    /// An OrderService client over the balanced channel.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::mock::cluster::{MockCluster, Policy};
    /// let cluster = MockCluster::start(1).await;
    /// let balanced = cluster.balanced(Policy::RoundRobin);
    /// balanced.wait_for_serving(1).await;
    /// let mut c = balanced.client();
    /// assert!(c.get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() }).await.is_err());
    /// # }
    /// ```
    pub fn client(&self) -> OrderServiceClient<BalancedChannel> {
        OrderServiceClient::new(BalancedChannel {
            service: self.service.clone(),
            _watchers: self._watchers.clone(),
        })
    }
}

/// The channel behind a [`Balanced`] client's OrderService clients.
#[derive(Clone)]
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::mock::cluster::{MockCluster, Policy};
/// let cluster = MockCluster::start(1).await;
/// let _c: orders_testkit::pb::order_service_client::OrderServiceClient<orders_testkit::mock::cluster::BalancedChannel> = cluster.balanced(Policy::RoundRobin).client();
/// # }
/// ```
pub struct BalancedChannel {
    service: BalancedService,
    _watchers: Arc<DropGuard>,
}

impl std::fmt::Debug for BalancedChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BalancedChannel")
    }
}

impl Service<http::Request<tonic::body::Body>> for BalancedChannel {
    type Response = http::Response<tonic::body::Body>;
    type Error = BoxError;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match &mut self.service {
            BalancedService::RoundRobin { .. } => Poll::Ready(Ok(())),
            BalancedService::P2c(b) => b.poll_ready(cx),
        }
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        match &mut self.service {
            BalancedService::RoundRobin { channels, next, up } => {
                let up = up.borrow().clone();
                let serving: Vec<usize> = (0..up.len()).filter(|i| up[*i]).collect();
                if serving.is_empty() {
                    return Box::pin(async {
                        Ok(tonic::Status::unavailable("no replica is serving").into_http())
                    });
                }
                let pick = serving[next.fetch_add(1, Ordering::Relaxed) % serving.len()];
                let mut channel = channels[pick].clone();
                Box::pin(async move {
                    futures_util::future::poll_fn(|cx| channel.poll_ready(cx)).await?;
                    Ok(channel.call(req).await?)
                })
            }
            BalancedService::P2c(b) => {
                let fut = b.call(req);
                Box::pin(fut)
            }
        }
    }
}
