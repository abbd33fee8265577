//! Serving without a port: an in-process duplex connector (a fresh
//! `tokio::io::duplex` pair per connect, so a client can reconnect), TCP
//! serving, and the task bookkeeping that lets a server stop everything it
//! started.
//!
//! Connections are served by hyper's HTTP/2 server directly, without tonic's
//! `Server`: tonic's server-side timeout answers `CANCELLED` and never cuts a
//! stream, while the testkit enforces deadlines itself and says
//! `DEADLINE_EXCEEDED` (D-1).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use orders_testkit::server::transport::{ServerTasks, duplex_connector};
//! use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
//!
//! let health = orders_testkit::service::health::HealthReporter::new();
//! health.set_status("", orders_testkit::service::health::ServingStatus::Serving);
//! let routes = tonic::service::Routes::new(health.service());
//!
//! let tasks = ServerTasks::new();
//! let (connector, incoming) = duplex_connector();
//! tasks.serve(incoming, routes);
//! let mut client = HealthClient::new(connector.channel());
//! let res = client.check(HealthCheckRequest { service: String::new() }).await.unwrap();
//! assert_eq!(res.into_inner().status, 1); // SERVING
//! tasks.abort();
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::{Channel, Endpoint};

/// What the testkit serves on a connection: any cloneable HTTP service
/// that answers every request (tonic's `Routes`, or a layer around them),
/// with any response body.
pub trait HttpService:
    tower::Service<
        http::Request<Incoming>,
        Response = http::Response<<Self as HttpService>::ResBody>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
    /// The response body.
    type ResBody: http_body::Body<Data = bytes::Bytes, Error: Into<tower::BoxError>>
        + Send
        + 'static;
}

impl<S, B> HttpService for S
where
    S: tower::Service<
            http::Request<Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static,
    B: http_body::Body<Data = bytes::Bytes, Error: Into<tower::BoxError>> + Send + 'static,
{
    type ResBody = B;
}

/// Bytes buffered in each direction of an in-process connection.
pub const DUPLEX_BUFFER: usize = 256 * 1024;

/// The largest header list in-process channels accept (hyper's default is
/// 16 KiB, which a `BadRequest` of a few hundred violations outgrows).
pub const MAX_HEADER_LIST_SIZE: u32 = 16 * 1024 * 1024;

/// Concurrent streams one connection may carry (hyper's default is 200);
/// a client with more calls open keeps the rest waiting for a free stream.
pub const MAX_CONCURRENT_STREAMS: u32 = 2048;

/// The HTTP/2 connection window of served connections (16 MiB): large
/// enough that h2's budget of unread small DATA frames (half the window)
/// never closes a connection before [`MAX_CONCURRENT_STREAMS`] is reached.
pub const CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;

/// The authority in-process channels use; it never reaches a resolver.
pub const IN_PROCESS_URI: &str = "http://in-process.orders-testkit.invalid";

/// Opens in-process connections to a server fed by the paired
/// [`DuplexIncoming`]. Cloning it is cheap; every clone reaches the same server.
#[derive(Debug, Clone)]
pub struct DuplexConnector {
    tx: mpsc::UnboundedSender<DuplexStream>,
}

/// The server side of [`DuplexConnector`]: one [`DuplexStream`] per connect.
pub type DuplexIncoming = UnboundedReceiverStream<DuplexStream>;

/// A connector and the stream of server-side connections it produces.
pub fn duplex_connector() -> (DuplexConnector, DuplexIncoming) {
    let (tx, rx) = mpsc::unbounded_channel();
    (DuplexConnector { tx }, UnboundedReceiverStream::new(rx))
}

impl DuplexConnector {
    /// Opens one new in-process connection, or fails with
    /// `ConnectionRefused` once the server has stopped.
    pub fn connect(&self) -> io::Result<DuplexStream> {
        let (client, server) = tokio::io::duplex(DUPLEX_BUFFER);
        self.tx.send(server).map_err(|_| {
            io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "the in-process server has stopped",
            )
        })?;
        Ok(client)
    }

    /// A lazily connected tonic channel over this connector. It connects on
    /// its first call and reconnects, over a fresh duplex pair, after a
    /// connection is lost. It accepts response headers and trailers up to
    /// [`MAX_HEADER_LIST_SIZE`], so that a `BadRequest` listing thousands of
    /// violations (E-2) arrives whole.
    pub fn channel(&self) -> Channel {
        let connector = self.clone();
        lazy_channel(move || connector.connect())
    }
}

/// A lazily connected in-process channel: `connect` opens each connection
/// (again after one is lost); headers and trailers up to
/// [`MAX_HEADER_LIST_SIZE`] are accepted.
pub(crate) fn lazy_channel(
    connect: impl Fn() -> io::Result<DuplexStream> + Send + Sync + 'static,
) -> Channel {
    Endpoint::from_static(IN_PROCESS_URI)
        .http2_max_header_list_size(MAX_HEADER_LIST_SIZE)
        .connect_with_connector_lazy(tower::service_fn(move |_: http::Uri| {
            let conn = connect();
            async move { conn.map(TokioIo::new) }
        }))
}

/// An endpoint for a server at `url` (`http://`, or `https://` with the
/// `tls` feature, trusting the web PKI roots and `tls_ca` if given), with
/// the header-list size every client of the testkit accepts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let endpoint = orders_testkit::server::transport::endpoint("http://127.0.0.1:50051", None).unwrap();
/// let _channel = endpoint.connect_lazy();
/// assert!(orders_testkit::server::transport::endpoint("not a url", None).is_err());
/// # }
/// ```
pub fn endpoint(url: &str, tls_ca: Option<&std::path::Path>) -> Result<Endpoint, String> {
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
    let mut endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| format!("invalid endpoint {url:?}: {e}"))?
        .http2_max_header_list_size(MAX_HEADER_LIST_SIZE)
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true);
    if !url.starts_with("https://") {
        return Ok(endpoint);
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = tls_ca;
        Err(format!("{url}: https needs orders-testkit's `tls` feature"))
    }
    #[cfg(feature = "tls")]
    {
        let mut tls = tonic::transport::ClientTlsConfig::new().with_webpki_roots();
        if let Some(path) = tls_ca {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read the CA {}: {e}", path.display()))?;
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| format!("TLS set-up failed: {e}"))?;
        Ok(endpoint)
    }
}

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

/// The number of running tasks, observable without polling.
#[derive(Debug, Clone, Default)]
struct LiveCount(std::sync::Arc<watch::Sender<usize>>);

/// Decrements the live count when the task it lives in ends or is dropped.
struct LiveGuard(LiveCount);

impl LiveCount {
    fn enter(&self) -> LiveGuard {
        self.0.send_modify(|n| *n += 1);
        LiveGuard(self.clone())
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.0.send_modify(|n| *n -= 1);
    }
}

/// Watches a server's tasks from outside, also after the server is dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let tasks = orders_testkit::server::transport::ServerTasks::new();
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

#[derive(Debug, Clone)]
struct Handles {
    graceful: CancellationToken,
    abort: CancellationToken,
    tracker: TaskTracker,
    live: LiveCount,
}

/// Lets a call end its own connection (the drop-connection fault). Every
/// request served by [`ServerTasks`] carries one in its extensions.
#[derive(Debug, Clone)]
pub struct ConnectionControl {
    token: CancellationToken,
    goaway: CancellationToken,
    goaway_now: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Default for ConnectionControl {
    fn default() -> Self {
        Self {
            token: CancellationToken::new(),
            goaway: CancellationToken::new(),
            goaway_now: Default::default(),
        }
    }
}

impl ConnectionControl {
    /// A control not yet tied to a connection (for tests of layers).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the connection was told to drop.
    pub fn is_dropped(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Drops the connection at once: every call on it ends.
    pub fn drop_connection(&self) {
        self.token.cancel();
    }

    /// Sends GOAWAY: the connection takes no new calls; `now`: it closes at
    /// once (after a moment to write the frame), else when its calls are done.
    pub fn go_away(&self, now: bool) {
        if now {
            self.goaway_now
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        self.goaway.cancel();
    }

    /// Whether the connection was told to go away.
    pub fn is_going_away(&self) -> bool {
        self.goaway.is_cancelled()
    }
}

/// Adds a [`ConnectionControl`] to every request of one connection.
#[derive(Debug, Clone)]
struct WithConnection<S> {
    inner: S,
    control: ConnectionControl,
}

/// The response body of a served connection: the service's, or the
/// testkit's own refusal of a request that is not gRPC.
type ConnBody<B> = http_body_util::Either<tonic::body::Body, B>;

fn service_body<B>(res: http::Response<B>) -> http::Response<ConnBody<B>> {
    res.map(http_body_util::Either::Right)
}

impl<S: HttpService> tower::Service<http::Request<Incoming>> for WithConnection<S> {
    type Response = http::Response<ConnBody<S::ResBody>>;
    type Error = Infallible;
    type Future = futures_util::future::Either<
        std::future::Ready<Result<Self::Response, Infallible>>,
        futures_util::future::MapOk<
            S::Future,
            fn(http::Response<S::ResBody>) -> http::Response<ConnBody<S::ResBody>>,
        >,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Incoming>) -> Self::Future {
        use futures_util::future::Either;
        // The gRPC protocol: a request that is not application/grpc gets
        // HTTP 415 (tonic would serve it as if it were).
        let content_type = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.as_bytes());
        if !content_type.is_some_and(|ct| ct.starts_with(b"application/grpc")) {
            let shown = content_type
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .unwrap_or_default();
            let mut res =
                tonic::Status::unknown(format!("invalid gRPC request content-type {shown:?}"))
                    .into_http::<tonic::body::Body>();
            *res.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return Either::Left(std::future::ready(
                Ok(res.map(http_body_util::Either::Left)),
            ));
        }
        req.extensions_mut().insert(self.control.clone());
        Either::Right(futures_util::TryFutureExt::map_ok(
            self.inner.call(req),
            service_body::<S::ResBody> as fn(_) -> _,
        ))
    }
}

/// Runs hyper's per-stream futures as tracked tasks that end on abort.
#[derive(Debug, Clone)]
struct TrackedExecutor(Handles);

impl<F> hyper::rt::Executor<F> for TrackedExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        let abort = self.0.abort.clone();
        let guard = self.0.live.enter();
        self.0.tracker.spawn(async move {
            let _live = guard;
            tokio::select! {
                _ = fut => {}
                _ = abort.cancelled() => {}
            }
        });
    }
}

async fn serve_connection<IO, S>(io: IO, service: S, tasks: Handles)
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    S: HttpService,
{
    let mut builder = hyper::server::conn::http2::Builder::new(TrackedExecutor(tasks.clone()));
    builder.timer(TokioTimer::new());
    // hyper limits a connection to 200 concurrent streams by default: a
    // test with more open watches on one channel would wait forever. 2048
    // covers 1,000 watchers on one channel (benches/scale.rs); with no limit
    // at all, 10,000 concurrent unary calls broke the connection.
    builder.max_concurrent_streams(MAX_CONCURRENT_STREAMS);
    // h2 closes a connection with ENHANCE_YOUR_CALM ("too_many_data_frames")
    // once unread small DATA frames exhaust a budget of half the connection
    // window (each frame under 256 bytes costs 256 minus its size). With
    // hyper's 1 MiB window that is about 2,100 pending small requests: the
    // cause of the "broken pipe" at 10,000 concurrent unary calls without a
    // stream limit. A 16 MiB window holds about 34,000.
    builder.initial_connection_window_size(CONNECTION_WINDOW);
    let control = ConnectionControl::new();
    let dropped = control.token.clone();
    let goaway = control.goaway.clone();
    let goaway_now = std::sync::Arc::clone(&control.goaway_now);
    let service = WithConnection {
        inner: service,
        control,
    };
    let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = tasks.abort.cancelled() => return,
        _ = dropped.cancelled() => return,
        _ = goaway.cancelled() => {}
        _ = tasks.graceful.cancelled() => {}
    }
    conn.as_mut().graceful_shutdown();
    // An immediate GOAWAY: long enough to write the frame, then closed.
    let now = goaway_now.load(std::sync::atomic::Ordering::SeqCst);
    let cut = async {
        if now {
            tokio::time::sleep(GOAWAY_NOW_WRITE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = conn => {}
        _ = tasks.abort.cancelled() => {}
        _ = dropped.cancelled() => {}
        _ = cut => {}
    }
}

/// How long an immediate GOAWAY lets the connection write the frame
/// before closing it.
const GOAWAY_NOW_WRITE: Duration = Duration::from_millis(20);

/// Any HTTP/2 service served in process over duplex connections: the
/// plumbing of [`OrderMock`](crate::OrderMock), usable for a service's own
/// tonic implementation. Dropping it stops every task it started.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::service::model::Store;
/// use orders_testkit::pb::{GetOrderRequest, order_service_client::OrderServiceClient,
///     order_service_server::OrderServiceServer};
/// use orders_testkit::service::orders::ReferenceService;
/// use orders_testkit::server::transport::InProcessServer;
///
/// let svc = OrderServiceServer::new(ReferenceService::new(Store::new(), Default::default()));
/// let server = InProcessServer::start(tonic::service::Routes::new(svc).prepare());
/// let mut client = OrderServiceClient::new(server.channel());
/// let err = client.get_order(GetOrderRequest { order_id: "x".into() }).await.unwrap_err();
/// assert_eq!(err.code(), tonic::Code::NotFound);
/// # }
/// ```
#[derive(Debug)]
pub struct InProcessServer {
    connector: DuplexConnector,
    tasks: ServerTasks,
}

impl InProcessServer {
    /// Starts serving `service` in process. Must be called inside a Tokio runtime.
    pub fn start<S>(service: S) -> Self
    where
        S: HttpService,
    {
        let tasks = ServerTasks::new();
        let (connector, incoming) = duplex_connector();
        tasks.serve(incoming, service);
        Self { connector, tasks }
    }

    /// A new lazily connected channel (its own connection) to the server.
    pub fn channel(&self) -> Channel {
        self.connector.channel()
    }

    /// The connector, to open raw connections.
    pub fn connector(&self) -> &DuplexConnector {
        &self.connector
    }

    /// The server's tasks, to serve more listeners or stop them.
    pub fn tasks(&self) -> &ServerTasks {
        &self.tasks
    }
}
