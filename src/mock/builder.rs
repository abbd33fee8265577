//! The settings of an [`OrderMock`] and how it starts: the layers of its
//! stack in the order a call meets them, and where it is served.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;
use tower::Layer;

use super::beside::{Beside, Parts};
use super::order_mock::OrderMock;
use crate::fault::{FaultLayer, FaultPlan};
use crate::journal::{Journal, JournalLayer};
use crate::layers::auth::{AuthLayer, Permission, TokenGrant, Tokens};
use crate::layers::behaviour::{BehaviourLayer, ServerBehaviour};
use crate::layers::catch_panic::CatchPanicLayer;
use crate::layers::deadline::DeadlineLayer;
use crate::layers::sanitize::SanitizeLayer;
use crate::layers::shutdown::ShutdownLayer;
use crate::mock::dispatch::Fallthrough;
use crate::mock::dispatch::MockService;
use crate::mock::live::LiveBoard;
use crate::mock::proxy::Upstream;
use crate::mock::stubs::StubTable;
use crate::pb::SERVICE_NAME;
use crate::pb::order_service_server::OrderServiceServer;
use crate::server::router::ServiceRouter;
use crate::server::{HttpService, InProcessServer};
use crate::service::health::{HealthReporter, ServingStatus};
use crate::service::model::Store;
use crate::service::orders::{ReferenceService, ServiceConfig};

/// A mock starts from its settings (here, so that the mock itself needs
/// nothing of its builder).
impl OrderMock {
    /// Starts a mock with the default settings, in process.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// Settings for a mock.
    pub fn builder() -> OrderMockBuilder {
        OrderMockBuilder::default()
    }
}

/// Settings for an [`OrderMock`], from [`OrderMock::builder`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// let mock = orders_testkit::OrderMock::builder()
///     .fail_fast(Duration::from_millis(50))
///     .start()
///     .await;
/// # drop(mock);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct OrderMockBuilder {
    config: ServiceConfig,
    faults: FaultPlan,
    tokens: Vec<TokenGrant>,
    store: Option<Arc<Store>>,
    behaviour: Option<ServerBehaviour>,
    fallthrough: Fallthrough,
    /// Passes answers on as they are, without E-6 sanitizing (a recorder
    /// must keep what the target said).
    verbatim: bool,
    /// TLS on the TCP listener.
    #[cfg(feature = "tls")]
    tls: Option<crate::server::tls::ServerTls>,
    /// The journal to record into (bounded at the default when unset).
    journal: Option<Journal>,
}

impl OrderMockBuilder {
    /// D-2: calls with less than `threshold` of their deadline left fail at
    /// once with `DEADLINE_EXCEEDED`. Zero turns it off (the default).
    pub fn fail_fast(mut self, threshold: Duration) -> Self {
        self.config.fail_fast = Some(threshold);
        self
    }

    /// Uses `plan` for fault injection (its seed included); the mock's
    /// [`OrderMock::inject`] adds to it. By default a plan with seed 0.
    pub fn faults(mut self, plan: FaultPlan) -> Self {
        self.faults = plan;
        self
    }

    /// Requires `authorization: Bearer <token>` on OrderService calls
    /// (CONTRACT.md, A-1 to A-3); each call adds one token. Health and reflection stay open.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::OrderMock;
    /// use orders_testkit::layers::auth::Permission;
    ///
    /// let mock = OrderMock::builder().token("reader-token", Permission::Read).start().await;
    /// let err = mock
    ///     .client()
    ///     .get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() })
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.code(), tonic::Code::Unauthenticated);
    /// # }
    /// ```
    pub fn token(mut self, token: impl Into<String>, permission: Permission) -> Self {
        self.tokens.push(TokenGrant {
            token: token.into(),
            permission,
        });
        self
    }

    /// Behaves on the wire as `behaviour` says (deferred headers, error
    /// framing, latency, extra metadata, details on every error), outside
    /// everything else, so that what clients see is what another gRPC
    /// stack or a remote link would give them.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::OrderMock;
    /// use orders_testkit::layers::behaviour::ServerBehaviour;
    ///
    /// let like_grpc_go = ServerBehaviour::new().defer_headers().errors_after_headers();
    /// let mock = OrderMock::builder().behaviour(like_grpc_go).start().await;
    /// let err = mock
    ///     .client()
    ///     .get_order(orders_testkit::pb::GetOrderRequest { order_id: "x".into() })
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.code(), tonic::Code::NotFound);
    /// # }
    /// ```
    pub fn behaviour(mut self, behaviour: ServerBehaviour) -> Self {
        self.behaviour = Some(behaviour);
        self
    }

    /// Serves this store instead of a fresh one: several mocks sharing one
    /// store act as replicas of one service (see `MockCluster`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::{OrderMock, service::model::Store};
    /// let store = Store::new();
    /// let a = OrderMock::builder().store(store.clone()).start().await;
    /// let b = OrderMock::builder().store(store.clone()).start().await;
    /// let id = a.seed_order(Default::default());
    /// assert!(b.store().get(&id).is_some());
    /// # }
    /// ```
    pub fn store(mut self, store: Arc<Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Runs the model's clock on tokio's clock from `epoch`: with
    /// `#[tokio::test(start_paused = true)]`, `created_at` and `updated_at`
    /// move with virtual time and are the same on every run. Every timer of
    /// the mock (fault delays, hangs, jitter, stub delays, rate-limit
    /// windows, deadlines, the journal's times) is on tokio's clock already.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use orders_testkit::prelude::*;
    ///
    /// let epoch = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// let mock = OrderMock::builder().virtual_clock(epoch).start().await;
    /// let id = mock.seed_order(Order::default());
    /// tokio::time::sleep(Duration::from_secs(3600)).await; // virtual: instant
    /// mock.advance(&id, OrderActionType::Confirm).unwrap();
    /// let order = mock.warehouse().order(&id).unwrap();
    /// assert_eq!(order.updated_at.unwrap().seconds, 1_800_003_600);
    /// # }
    /// ```
    pub fn virtual_clock(mut self, epoch: std::time::SystemTime) -> Self {
        self.store = Some(Store::with_clock(
            crate::service::model::Clock::virtual_from(epoch),
        ));
        self
    }

    /// Forwards the calls no stub matches to a real target over `channel`,
    /// instead of answering them from the model: metadata passed through,
    /// the caller's remaining deadline sent on, the target's messages and
    /// statuses (details and trailers included) sent back. The journal
    /// marks them [`Answerer::Proxy`](crate::mock::Answerer::Proxy). A
    /// call the target turns away unprocessed (`REFUSED_STREAM`, or a
    /// `GOAWAY` from a proxy before it that rotates connections) is sent
    /// to it again, up to three times, as a gRPC client stack would.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    /// use orders_testkit::mock::{Answerer, CallNotes};
    ///
    /// let real = OrderMock::start().await; // stands in for staging
    /// let id = real.seed_order(Order { customer_id: "c-1".into(), ..Default::default() });
    ///
    /// let mock = OrderMock::builder().proxy(real.channel()).start().await;
    /// Stub::on(GetOrder).when(|r| r.order_id == "o-stub").respond(Order { status: OrderStatus::Pending.into(), ..Default::default() }).mount(&mock);
    /// let got = mock.client().get_order(GetOrderRequest { order_id: id }).await.unwrap();
    /// assert_eq!(got.into_inner().customer_id, "c-1");
    /// assert_eq!(mock.journal().wait_for_ended(1).await[0].answered_by(), [Answerer::Proxy]);
    /// # }
    /// ```
    pub fn proxy(mut self, channel: Channel) -> Self {
        self.fallthrough = Fallthrough::Proxy(Upstream::new(channel));
        self
    }

    /// A recording proxy: every call forwarded to `upstream`, answers
    /// passed on verbatim.
    #[cfg(feature = "scenario")]
    pub(crate) fn recording(mut self, upstream: Upstream) -> Self {
        self.fallthrough = Fallthrough::Proxy(upstream);
        self.verbatim = true;
        self
    }

    /// Answers the calls no stub matches with `UNIMPLEMENTED` instead of
    /// the model (a replayed recording that refuses what it did not record).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::prelude::*;
    ///
    /// let mock = OrderMock::builder().refuse_unmatched().start().await;
    /// let err = mock.client().get_order(GetOrderRequest::default()).await.unwrap_err();
    /// assert_eq!(err.code(), tonic::Code::Unimplemented);
    /// # }
    /// ```
    pub fn refuse_unmatched(mut self) -> Self {
        self.fallthrough = Fallthrough::Refuse;
        self
    }

    /// Serves the TCP listener of [`serve_tcp`](Self::serve_tcp) over TLS
    /// (HTTP/2 by ALPN; mutual TLS with [`ServerTls::mutual`](crate::server::tls::ServerTls::mutual)).
    /// The in-process channel stays plaintext.
    ///
    /// *Needs the `tls` feature.*
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::{OrderMock, server::tls::ServerTls};
    /// let tls = ServerTls::from_pem(
    ///     &std::fs::read("server.pem").unwrap(),
    ///     &std::fs::read("server.key").unwrap(),
    /// ).unwrap();
    /// let mock = OrderMock::builder().tls(tls).serve_tcp("127.0.0.1:0".parse().unwrap()).await.unwrap();
    /// println!("https://localhost:{}", mock.local_addr().unwrap().port());
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::server::tls::ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Records into `journal`: [`Journal::bounded(n)`](Journal::bounded)
    /// keeps the latest `n` calls (what a long-running `serve` wants,
    /// `serve --journal-max N`), [`Journal::unbounded()`](Journal::unbounded)
    /// keeps all. By default the latest 100,000.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::{OrderMock, journal::Journal};
    /// let mock = OrderMock::builder().journal(Journal::bounded(2)).start().await;
    /// for _ in 0..20 {
    ///     let _ = mock.client().get_order(orders_testkit::pb::GetOrderRequest::default()).await;
    /// }
    /// mock.journal().wait_until(|calls| calls.last().is_some_and(|c| c.ended.is_some())).await;
    /// assert!(mock.journal().len() <= 2 + 2 / 8 + 1);
    /// assert!(mock.journal().dropped() >= 17);
    /// # }
    /// ```
    pub fn journal(mut self, journal: Journal) -> Self {
        self.journal = Some(journal);
        self
    }

    /// Starts the mock in process. Must be called inside a Tokio runtime.
    pub async fn start(self) -> OrderMock {
        self.launch(None, ())
    }

    /// Starts the mock in process and also on a TCP listener bound to `addr`
    /// (port 0 picks a free port; see [`OrderMock::local_addr`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mock = orders_testkit::OrderMock::builder()
    ///     .serve_tcp("127.0.0.1:0".parse().unwrap())
    ///     .await
    ///     .unwrap();
    /// assert_ne!(mock.local_addr().unwrap().port(), 0);
    /// # }
    /// ```
    pub async fn serve_tcp(self, addr: SocketAddr) -> io::Result<OrderMock> {
        let listener = TcpListener::bind(addr).await?;
        Ok(self.launch(Some(listener), ()))
    }

    /// Starts the mock, on `listener` too when given, with `beside` served
    /// on its port.
    pub(crate) fn launch(self, listener: Option<TcpListener>, beside: impl Beside) -> OrderMock {
        #[cfg(feature = "tls")]
        let tls = self.tls.clone();
        #[cfg(not(feature = "tls"))]
        let tls: Option<Tls> = None;
        let store = self.store.unwrap_or_default();
        let health = HealthReporter::new();
        let stubs = Arc::new(StubTable::default());
        let live = Arc::new(LiveBoard::default());
        let (reflection_v1, reflection_v1alpha) =
            crate::service::reflection::servers(beside.descriptors());
        let routes = ServiceRouter {
            orders: OrderServiceServer::new(MockService {
                reference: ReferenceService::new(Arc::clone(&store), self.config),
                stubs: Arc::clone(&stubs),
                live: Arc::clone(&live),
                fallthrough: self.fallthrough,
            }),
            health: health.service(),
            reflection_v1,
            reflection_v1alpha,
        };
        // A recording keeps every call; a mock, the latest ones.
        let journal = match self.journal {
            Some(journal) => journal,
            None if self.verbatim => Journal::unbounded(),
            None => Journal::new(),
        };
        // Data flows: (wire behaviour) -> journal (sees every call, and the
        // INTERNAL a panic became) -> waiting streams ended at shutdown ->
        // panics caught -> calls ended at their
        // deadline however they wait -> auth -> faults -> E-6
        // sanitizing -> stubs -> model.
        let faults = self.faults;
        let tokens: Tokens = self.tokens.into_iter().collect();
        let sanitize = if self.verbatim {
            SanitizeLayer::off()
        } else {
            SanitizeLayer::default()
        };
        // Each layer passes typed bodies on; the body is boxed once, here.
        let stopping = tokio_util::sync::CancellationToken::new();
        let layered = JournalLayer::new(journal.clone()).layer(
            ShutdownLayer::new(stopping.clone()).layer(
                CatchPanicLayer.layer(
                    DeadlineLayer.layer(
                        AuthLayer::new(tokens.clone())
                            .layer(FaultLayer::new(faults.clone()).layer(sanitize.layer(routes))),
                    ),
                ),
            ),
        );
        type Req = http::Request<hyper::body::Incoming>;
        let service = match self.behaviour {
            Some(behaviour) => tower::util::Either::Left(tower::ServiceExt::<Req>::map_response(
                BehaviourLayer::new(behaviour).layer(layered),
                behaved_body as fn(_) -> _,
            )),
            None => tower::util::Either::Right(tower::ServiceExt::<Req>::map_response(
                layered,
                plain_body as fn(_) -> _,
            )),
        };
        let parts = Parts {
            store: Arc::clone(&store),
            stubs: Arc::clone(&stubs),
            live: Arc::clone(&live),
            faults: faults.clone(),
            journal: journal.clone(),
            tokens,
        };
        let (server, local_addr) = run(beside.serve(service, &parts), listener, tls);
        // Ready: it accepts calls from now on (H-1).
        health.set_status("", ServingStatus::Serving);
        health.set_status(SERVICE_NAME, ServingStatus::Serving);
        OrderMock {
            store,
            journal,
            stubs,
            live,
            faults,
            health,
            channel: server.channel(),
            server,
            local_addr,
            tokens: parts.tokens,
            stopping,
        }
    }
}

#[cfg(feature = "tls")]
type Tls = crate::server::tls::ServerTls;
#[cfg(not(feature = "tls"))]
type Tls = std::convert::Infallible;

/// Serves `service` in process, and on `listener` when given (over TLS
/// when `tls` is).
fn run<S: HttpService>(
    service: S,
    listener: Option<TcpListener>,
    tls: Option<Tls>,
) -> (InProcessServer, Option<SocketAddr>) {
    let server = InProcessServer::start(service.clone());
    let local_addr = listener.map(|listener| {
        let addr = listener.local_addr().ok();
        let incoming = TcpListenerStream::new(listener).filter_map(|conn| {
            let conn = conn.ok()?;
            let _ = conn.set_nodelay(true);
            Some(conn)
        });
        match tls {
            #[cfg(feature = "tls")]
            Some(tls) => server
                .tasks()
                .serve_after(incoming, move |io| tls.accept(io), service),
            _ => server.tasks().serve(incoming, service),
        }
        addr
    });
    (server, local_addr.flatten())
}

/// The mock's response body with a wire behaviour: one of two shapes, as
/// one type and without boxing.
fn behaved_body<L, R>(res: http::Response<L>) -> http::Response<http_body_util::Either<L, R>> {
    res.map(http_body_util::Either::Left)
}

/// The mock's response body without a wire behaviour.
fn plain_body<L, R>(res: http::Response<R>) -> http::Response<http_body_util::Either<L, R>> {
    res.map(http_body_util::Either::Right)
}
