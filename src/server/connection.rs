//! One served connection: hyper's HTTP/2 server with the testkit's limits,
//! its tasks tracked, and the control a call has over its own connection.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{CONNECTION_WINDOW, HttpService, MAX_CONCURRENT_STREAMS};

/// Lets a call end its own connection (the drop-connection fault). Every
/// request served by [`ServerTasks`](super::ServerTasks) carries one in its extensions.
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

pub(super) async fn serve_connection<IO, S>(io: IO, service: S, tasks: Handles)
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
    // h2 guards against "rapid reset" floods by closing a connection with
    // GOAWAY ENHANCE_YOUR_CALM ("too_many_resets") once more than 20 streams
    // were reset by the client before the server accepted them. A test
    // client that cancels many calls at once (timeouts, dropped futures) is
    // not an attacker: on a loaded machine 250 cancelled calls in flight
    // tripped it, and every other call on the connection failed. The bound
    // stays, at the stream limit, so resets cannot pile up without end.
    builder.max_pending_accept_reset_streams(MAX_CONCURRENT_STREAMS as usize);
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

/// The number of running tasks, observable without polling.
#[derive(Debug, Clone, Default)]
pub(super) struct LiveCount(pub(super) std::sync::Arc<watch::Sender<usize>>);

/// Decrements the live count when the task it lives in ends or is dropped.
pub(super) struct LiveGuard(LiveCount);

impl LiveCount {
    pub(super) fn enter(&self) -> LiveGuard {
        self.0.send_modify(|n| *n += 1);
        LiveGuard(self.clone())
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.0.send_modify(|n| *n -= 1);
    }
}

/// What a served connection needs of its server's tasks.
#[derive(Debug, Clone)]
pub(super) struct Handles {
    pub(super) graceful: CancellationToken,
    pub(super) abort: CancellationToken,
    pub(super) tracker: TaskTracker,
    pub(super) live: LiveCount,
}
