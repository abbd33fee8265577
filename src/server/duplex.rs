//! The in-process transport: a connector that opens a fresh
//! `tokio::io::duplex` pair per connect (so a client can reconnect), the
//! channels over it, and a server on it.

use std::io;

use hyper_util::rt::TokioIo;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::{Channel, Endpoint};

use super::{DUPLEX_BUFFER, HttpService, IN_PROCESS_URI, MAX_HEADER_LIST_SIZE, ServerTasks};

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
/// use orders_testkit::server::InProcessServer;
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
