//! Every task a server started (accept loops, connections, calls), with
//! the tokens that stop them: gracefully, or at once.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::HttpService;
use super::connection::{Handles, LiveCount, serve_connection};

/// Every task a server started (accept loops, connections, streams), with
/// the tokens that stop them. Dropping it aborts them all.
#[derive(Debug, Default)]
pub struct ServerTasks {
    graceful: CancellationToken,
    abort: CancellationToken,
    tracker: TaskTracker,
    live: LiveCount,
    accepted: std::sync::Arc<std::sync::atomic::AtomicU64>,
    open: LiveCount,
}

/// Watches a server's tasks from outside, also after the server is dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let tasks = orders_testkit::server::ServerTasks::new();
/// let monitor = tasks.monitor();
/// drop(tasks);
/// monitor.stopped().await;
/// assert_eq!(monitor.live(), 0);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TaskMonitor {
    tracker: TaskTracker,
    live: LiveCount,
    accepted: std::sync::Arc<std::sync::atomic::AtomicU64>,
    open: LiveCount,
}

impl TaskMonitor {
    /// How many of the server's tasks (accept loops, connections, calls)
    /// are running now.
    pub fn live(&self) -> usize {
        *self.live.0.borrow()
    }

    /// Waits until the number of running tasks satisfies `pred`; returns it.
    /// Lets a test see that cancelled calls left nothing behind (D-3)
    /// without sleeping.
    pub async fn wait_for_live(&self, pred: impl FnMut(&usize) -> bool) -> usize {
        let mut rx = self.live.0.subscribe();
        // The sender lives in this monitor too, so this cannot fail.
        rx.wait_for(pred).await.map_or(0, |n| *n)
    }

    /// How many connections the server has accepted so far (in process and
    /// over TCP): a client that reconnected after a GOAWAY or a dropped
    /// connection shows here.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mock = orders_testkit::OrderMock::start().await;
    /// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest::default()).await;
    /// assert_eq!(mock.tasks().connections(), 1);
    /// # }
    /// ```
    pub fn connections(&self) -> u64 {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until the number of open connections satisfies `pred`;
    /// returns it (a test sees a GOAWAY'd connection close without
    /// sleeping).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mock = orders_testkit::OrderMock::start().await;
    /// let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest::default()).await;
    /// assert_eq!(mock.tasks().wait_for_open_connections(|n| *n == 1).await, 1);
    /// # }
    /// ```
    pub async fn wait_for_open_connections(&self, pred: impl FnMut(&usize) -> bool) -> usize {
        let mut rx = self.open.0.subscribe();
        rx.wait_for(pred).await.map_or(0, |n| *n)
    }

    /// Resolves once the server was told to stop and every task has ended.
    pub async fn stopped(&self) {
        self.tracker.wait().await;
    }
}

impl ServerTasks {
    /// No tasks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A monitor of these tasks.
    pub fn monitor(&self) -> TaskMonitor {
        TaskMonitor {
            tracker: self.tracker.clone(),
            live: self.live.clone(),
            accepted: std::sync::Arc::clone(&self.accepted),
            open: self.open.clone(),
        }
    }

    /// Serves `service` over HTTP/2 on every connection `incoming` yields,
    /// until [`shutdown`](Self::shutdown) or [`abort`](Self::abort).
    pub fn serve<I, IO, S>(&self, incoming: I, service: S)
    where
        I: Stream<Item = IO> + Send + 'static,
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
        S: HttpService,
    {
        self.serve_after(incoming, |io| std::future::ready(Some(io)), service);
    }

    /// As [`serve`](Self::serve), each connection first going through
    /// `handshake` (TLS), in its own task so that a slow client holds up
    /// no other; a failed handshake (`None`) closes the connection.
    pub(crate) fn serve_after<I, IO, H, F, IO2, S>(&self, incoming: I, handshake: H, service: S)
    where
        I: Stream<Item = IO> + Send + 'static,
        H: Fn(IO) -> F + Send + 'static,
        F: Future<Output = Option<IO2>> + Send + 'static,
        IO2: AsyncRead + AsyncWrite + Send + Unpin + 'static,
        S: HttpService,
    {
        let tasks = self.handles();
        let guard = self.live.enter();
        let accepted = std::sync::Arc::clone(&self.accepted);
        let open = self.open.clone();
        self.tracker.spawn(async move {
            let _live = guard;
            tokio::pin!(incoming);
            loop {
                let io = tokio::select! {
                    _ = tasks.graceful.cancelled() => break,
                    io = incoming.next() => match io {
                        Some(io) => io,
                        None => break,
                    },
                };
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let handshake = handshake(io);
                let (service, handles) = (service.clone(), tasks.clone());
                let guard = tasks.live.enter();
                let opened = open.enter();
                tasks.tracker.spawn(async move {
                    let _live = guard;
                    let _open = opened;
                    let io = tokio::select! {
                        io = handshake => io,
                        _ = handles.abort.cancelled() => None,
                    };
                    if let Some(io) = io {
                        serve_connection(io, service, handles).await;
                    }
                });
            }
        });
    }

    /// Runs `task` as one of these tasks: it stops with them (at the
    /// start of a graceful shutdown, or on abort).
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (graceful, abort) = (self.graceful.clone(), self.abort.clone());
        let guard = self.live.enter();
        self.tracker.spawn(async move {
            let _live = guard;
            tokio::select! {
                _ = task => {}
                _ = graceful.cancelled() => {}
                _ = abort.cancelled() => {}
            }
        });
    }

    fn handles(&self) -> Handles {
        Handles {
            graceful: self.graceful.clone(),
            abort: self.abort.clone(),
            tracker: self.tracker.clone(),
            live: self.live.clone(),
        }
    }

    /// Stops at once: every connection and call is dropped.
    pub fn abort(&self) {
        self.graceful.cancel();
        self.abort.cancel();
        self.tracker.close();
    }

    /// Stops accepting, lets in-flight calls finish for up to `grace`, then
    /// aborts what is left and waits for every task to end.
    pub async fn shutdown(&self, grace: Duration) {
        self.graceful.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            self.abort.cancel();
            self.tracker.wait().await;
        }
    }
}

impl Drop for ServerTasks {
    fn drop(&mut self) {
        self.abort();
    }
}
