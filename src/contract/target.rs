//! What the contract suite runs against: a network endpoint (staging), a
//! tonic `Channel`, or an OrderService implementation served in process.

use std::path::PathBuf;
use std::time::Duration;

use tonic::service::Routes;
use tonic::transport::Channel;

use crate::layers::deadline::DeadlineLayer;
use crate::pb::order_service_server::{OrderService, OrderServiceServer};
use crate::server::{ClientTls, Dial, InProcessServer, dial_duplex, dial_url};
use tower::Layer as _;

/// Why a target could not be reached (the CLI exits 2 on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError(pub String);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

enum Kind {
    Endpoint {
        url: String,
        tls: ClientTls,
    },
    Channel(Channel),
    Routes(Routes),
    Server(InProcessServer),
    /// Started on connect by a function from outside the suite (the
    /// embedded mock), which also returns what keeps it alive.
    Started(Starter),
}

/// A target started on connect: its channel, what keeps it alive, and raw
/// connections to it.
pub(crate) struct Started {
    pub(crate) channel: Channel,
    pub(crate) owner: Box<dyn std::any::Any + Send + Sync>,
    pub(crate) dial: Option<Dial>,
}

/// What starts a target on connect.
pub(crate) type Starter = Box<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Started> + Send>> + Send + Sync,
>;

/// A connected target: its channel, what keeps an in-process one alive,
/// and raw connections to it when the suite can open them (not through a
/// channel given by the user).
pub(crate) struct Connected {
    pub(crate) channel: Channel,
    pub(crate) keep: Option<Keep>,
    pub(crate) dial: Option<Dial>,
}

/// A contract target, with the metadata every call carries.
///
/// ```
/// use orders_testkit::contract::Target;
///
/// let staging = Target::endpoint("https://orders.staging.example:443")
///     .tls_ca("ca.pem")
///     .header("x-team", "payments")
///     .token("full-rights-token");
/// # let _ = staging;
/// ```
pub struct Target {
    kind: Kind,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) token: Option<String>,
    pub(crate) reflection: bool,
    pub(crate) health: bool,
    pub(crate) transient: Option<(String, String)>,
    /// What the target itself knows about its set-up (the embedded mock).
    pub(crate) presets: Presets,
}

/// Settings a target brings for the suite (the embedded mock tells its
/// threshold and tokens); the suite's own settings win.
#[derive(Debug, Clone, Default)]
pub(crate) struct Presets {
    pub fail_fast: Option<Duration>,
    pub read_token: Option<String>,
    pub write_token: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens are never printed (A-3).
        f.debug_struct("Target")
            .field("kind", &self.describe())
            .field("headers", &self.headers.len())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Target {
    /// What the target is, in a few words (`endpoint http://…`).
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            Kind::Endpoint { url, .. } => format!("endpoint {url}"),
            Kind::Channel(_) => "channel".into(),
            Kind::Routes(_) | Kind::Server(_) => "in-process service".into(),
            Kind::Started(_) => "embedded mock".into(),
        }
    }

    fn new(kind: Kind) -> Self {
        Self {
            kind,
            headers: Vec::new(),
            token: None,
            reflection: true,
            health: true,
            transient: None,
            presets: Presets::default(),
        }
    }

    /// A server at `url` (`http://`, or `https://` with the `tls` feature).
    pub fn endpoint(url: impl Into<String>) -> Self {
        Self::new(Kind::Endpoint {
            url: url.into(),
            tls: ClientTls::default(),
        })
    }

    /// An already built channel.
    pub fn channel(channel: Channel) -> Self {
        Self::new(Kind::Channel(channel))
    }

    /// An OrderService implementation, served in process over duplex. It
    /// serves no health or reflection, so those checks are skipped; use
    /// [`Target::routes`] to include yours.
    pub fn service<S: OrderService>(service: S) -> Self {
        let mut t = Self::new(Kind::Routes(Routes::new(OrderServiceServer::new(service))));
        t.reflection = false;
        t.health = false;
        t
    }

    /// Any set of tonic services, served in process over duplex.
    pub fn routes(routes: Routes) -> Self {
        Self::new(Kind::Routes(routes))
    }

    /// A server already running in process: any HTTP service (tonic's
    /// `Routes` inside your own tower layers, for example), with health and
    /// reflection if it serves them.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use orders_testkit::contract::{Suite, Target};
    /// use orders_testkit::layers::behaviour::{BehaviourLayer, ServerBehaviour};
    /// use orders_testkit::layers::deadline::DeadlineLayer;
    /// use orders_testkit::service::model::Store;
    /// use orders_testkit::pb::order_service_server::OrderServiceServer;
    /// use orders_testkit::service::orders::ReferenceService;
    /// use orders_testkit::server::InProcessServer;
    /// use tower::Layer;
    ///
    /// let routes = tonic::service::Routes::new(OrderServiceServer::new(
    ///     ReferenceService::new(Store::new(), Default::default()),
    /// ));
    /// // Ended at their deadline even while waiting for their message (D-1).
    /// let layered = BehaviourLayer::new(ServerBehaviour::new().defer_headers())
    ///     .layer(DeadlineLayer.layer(routes.prepare()));
    /// let target = Target::in_process(InProcessServer::start(layered))
    ///     .without_health()
    ///     .without_reflection();
    /// Suite::default().cases(2).run(target).await.assert_passed();
    /// # }
    /// ```
    pub fn in_process(server: InProcessServer) -> Self {
        Self::new(Kind::Server(server))
    }

    /// A target started on connect by `start`, which returns its channel
    /// and whatever keeps it alive for the run (how the embedded mock is
    /// made a target without the suite knowing the mock).
    pub(crate) fn started(start: Starter) -> Self {
        Self::new(Kind::Started(start))
    }

    /// Calls carrying this metadata get a transient failure from the target
    /// (a chaos or rate-limit switch of your own), so that E-7 can check
    /// the RetryInfo it carries. Without one, E-7 only reads the transient
    /// failures other checks happen to see.
    pub fn transient_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.transient = Some((name.into(), value.into()));
        self
    }

    /// Trust this PEM CA for `https://` endpoints (with the `tls` feature).
    pub fn tls_ca(mut self, pem: impl Into<PathBuf>) -> Self {
        if let Kind::Endpoint { tls, .. } = &mut self.kind {
            *tls = std::mem::take(tls).ca(pem);
        }
        self
    }

    /// Present this client certificate chain and key (PEM files) to an
    /// `https://` endpoint that asks for one: mutual TLS (with the `tls`
    /// feature).
    ///
    /// ```
    /// use orders_testkit::contract::Target;
    /// let staging = Target::endpoint("https://orders.staging.example:443")
    ///     .tls_ca("ca.pem")
    ///     .tls_identity("client.pem", "client.key");
    /// # let _ = staging;
    /// ```
    pub fn tls_identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        if let Kind::Endpoint { tls, .. } = &mut self.kind {
            *tls = std::mem::take(tls).identity(cert, key);
        }
        self
    }

    /// Adds metadata to every call.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends `authorization: Bearer <token>` on every call (full rights).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Skips PROTO-1, PROTO-2 and REFL-1 (reflection turned off).
    pub fn without_reflection(mut self) -> Self {
        self.reflection = false;
        self
    }

    /// Skips H-1 to H-3 (no health service).
    pub fn without_health(mut self) -> Self {
        self.health = false;
        self
    }

    /// Connects: the channel and whatever keeps an in-process server alive.
    pub(crate) async fn connect(&self) -> Result<Connected, ConnectError> {
        let connected = |channel, keep, dial| Connected {
            channel,
            keep,
            dial,
        };
        match &self.kind {
            Kind::Channel(c) => Ok(connected(c.clone(), None, None)),
            Kind::Server(server) => Ok(connected(
                server.channel(),
                None,
                Some(dial_duplex(server.connector().clone())),
            )),
            Kind::Routes(routes) => {
                // Hosted as the mock is: calls end at their deadline
                // however they wait (D-1), which is the host's part.
                let server = InProcessServer::start(DeadlineLayer.layer(routes.clone().prepare()));
                let dial = dial_duplex(server.connector().clone());
                Ok(connected(
                    server.channel(),
                    Some(Keep::Server(server)),
                    Some(dial),
                ))
            }
            Kind::Started(start) => {
                let started = start().await;
                Ok(connected(
                    started.channel,
                    Some(Keep::Owner(started.owner)),
                    started.dial,
                ))
            }
            Kind::Endpoint { url, tls } => {
                // What answers there, judged on the wire first: a server
                // that is not gRPC as addressed is one line, not failures.
                crate::server::reach(url, tls).await.map_err(ConnectError)?;
                let endpoint = crate::server::endpoint(url, tls).map_err(ConnectError)?;
                let channel = endpoint.connect().await.map_err(|e| {
                    ConnectError(format!(
                        "cannot connect to {url}: {}",
                        crate::server::error_chain(&e)
                    ))
                })?;
                let dial = dial_url(url, tls).map_err(ConnectError)?;
                Ok(connected(channel, None, Some(dial)))
            }
        }
    }
}

/// Keeps an in-process target alive for the run (held only for its drop).
#[allow(dead_code)]
pub(crate) enum Keep {
    Server(InProcessServer),
    Owner(Box<dyn std::any::Any + Send + Sync>),
}
