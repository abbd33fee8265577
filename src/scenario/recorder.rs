//! [`Recorder`]: a transparent gRPC proxy for `orders.v1.OrderService`
//! that forwards every call to a real target and can write what it
//! forwarded as a scenario file ([`recording`](super::recording)).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;

use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};
use tonic::transport::Channel;

use super::record::recording;
use crate::OrderMock;
use crate::journal::{Journal, Outcome};
use crate::mock::CallNotes;
use crate::mock::proxy::Upstream;

/// A header that cannot be sent as gRPC metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidHeader {
    name: String,
}

impl fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a valid metadata header (lower-case ASCII name, visible ASCII value)",
            self.name
        )
    }
}

impl std::error::Error for InvalidHeader {}

/// Settings for a [`Recorder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RecorderBuilder {
    upstream: Upstream,
    redact: Vec<String>,
}

impl RecorderBuilder {
    /// Sends `name: value` on every forwarded call (replacing what the
    /// caller sent under that name). Never written to the recording.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
    /// use orders_testkit::scenario::Recorder;
    /// let builder = Recorder::builder(channel).header("x-tenant", "acme").unwrap();
    /// assert!(builder.header("bad name", "v").is_err());
    /// # }
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Result<Self, InvalidHeader> {
        let invalid = || InvalidHeader {
            name: name.to_string(),
        };
        let key = AsciiMetadataKey::from_bytes(name.trim().to_ascii_lowercase().as_bytes())
            .map_err(|_| invalid())?;
        let value = AsciiMetadataValue::try_from(value.trim()).map_err(|_| invalid())?;
        self.redact.push(key.as_str().to_string());
        self.upstream = self.upstream.with_header(key, value);
        Ok(self)
    }

    /// Sends `authorization: Bearer <token>` on every forwarded call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
    /// let _builder = orders_testkit::scenario::Recorder::builder(channel).token("t-123").unwrap();
    /// # }
    /// ```
    pub fn token(self, token: &str) -> Result<Self, InvalidHeader> {
        self.header("authorization", &format!("Bearer {token}"))
            .map_err(|_| InvalidHeader {
                name: "authorization".into(),
            })
    }

    /// Never writes the metadata named `name` to the recording
    /// (`authorization` never is).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
    /// let _builder = orders_testkit::scenario::Recorder::builder(channel).redact("x-api-key");
    /// # }
    /// ```
    pub fn redact(mut self, name: &str) -> Self {
        self.redact.push(name.to_ascii_lowercase());
        self
    }

    fn mock(self) -> (crate::OrderMockBuilder, Vec<String>) {
        (OrderMock::builder().recording(self.upstream), self.redact)
    }

    /// Starts the recorder in process (reach it with [`Recorder::channel`]).
    pub async fn start(self) -> Recorder {
        let (builder, redact) = self.mock();
        Recorder {
            mock: builder.start().await,
            redact,
        }
    }

    /// Starts the recorder in process and on a TCP listener at `addr`
    /// (port 0 picks a free port; see [`Recorder::local_addr`]).
    pub async fn listen(self, addr: SocketAddr) -> io::Result<Recorder> {
        let (builder, redact) = self.mock();
        Ok(Recorder {
            mock: builder.serve_tcp(addr).await?,
            redact,
        })
    }
}

/// The calls of `journal` that ended, as a scenario file.
fn ended_recording(journal: &Journal, redact: &[String]) -> String {
    let calls: Vec<_> = journal
        .calls()
        .into_iter()
        .filter(|c| c.outcome != Outcome::InFlight)
        .collect();
    let redact: Vec<&str> = redact.iter().map(String::as_str).collect();
    recording(&calls, &redact)
}

/// A transparent gRPC proxy for `orders.v1.OrderService` that records:
/// all four streaming patterns forwarded as they come, metadata passed
/// through, the caller's deadline sent on, statuses and
/// `grpc-status-details-bin` kept. [`scenario`](Self::scenario) writes what
/// it forwarded as a scenario file that `serve --scenario` replays.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::prelude::*;
/// use orders_testkit::scenario::{Recorder, Scenario};
///
/// let staging = OrderMock::start().await;
/// let id = staging.seed_order(Order { customer_id: "c-1".into(), ..Default::default() });
/// let recorder = Recorder::builder(staging.channel()).start().await;
/// let mut client = OrderServiceClient::new(recorder.channel());
/// let order = client.get_order(GetOrderRequest { order_id: id.clone() }).await.unwrap().into_inner();
///
/// let file = recorder.scenario();
/// let replay = Scenario::parse("recorded.toml", &file).unwrap().start().await;
/// let again = replay.client().get_order(GetOrderRequest { order_id: id }).await.unwrap().into_inner();
/// assert_eq!(again, order);
/// # }
/// ```
#[derive(Debug)]
pub struct Recorder {
    mock: OrderMock,
    redact: Vec<String>,
}

impl Recorder {
    /// A recorder forwarding to the target behind `upstream`.
    pub fn builder(upstream: Channel) -> RecorderBuilder {
        RecorderBuilder {
            upstream: Upstream::new(upstream),
            redact: Vec::new(),
        }
    }

    /// A channel to the recorder, in process.
    pub fn channel(&self) -> Channel {
        self.mock.channel()
    }

    /// The TCP address it listens on, if it was started with
    /// [`RecorderBuilder::listen`].
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.mock.local_addr()
    }

    /// Every call it saw, as they went.
    pub fn journal(&self) -> &Journal {
        self.mock.journal()
    }

    /// The calls ended so far, as a scenario file (a call is ended once
    /// its status has passed through the recorder, before its caller sees
    /// it; calls still in flight are left for a later write).
    pub fn scenario(&self) -> String {
        ended_recording(self.mock.journal(), &self.redact)
    }

    /// Writes [`scenario`](Self::scenario) to `path` (through a temporary
    /// file and a rename, so the file is never half written).
    pub fn write_to(&self, path: &Path) -> io::Result<()> {
        let text = self.scenario();
        let tmp = path.with_extension("toml.partial");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }

    /// Writes the recording to `path` now, again after every call that
    /// ends, and a last time when `stop` resolves (what
    /// `orders-testkit record --out FILE` does until Ctrl-C). A call whose
    /// upstream was not reached is not recorded; a line on stderr says so.
    pub async fn write_until(
        &self,
        path: &Path,
        stop: impl std::future::Future<Output = ()>,
    ) -> io::Result<()> {
        let ended = |calls: &[crate::journal::Call]| {
            calls
                .iter()
                .filter(|c| c.outcome != Outcome::InFlight)
                .count()
        };
        // Each call whose upstream was not reached, said once on stderr.
        let mut said = std::collections::HashSet::new();
        let mut say = |calls: &[crate::journal::Call]| {
            for call in calls.iter().filter(|c| c.outcome != Outcome::InFlight) {
                if let Some(failure) = call.upstream_failure()
                    && said.insert(call.seq)
                {
                    eprintln!(
                        "orders-testkit record: call #{} ({}) not recorded: the upstream \
                         was not reached ({failure})",
                        call.seq,
                        call.method.map_or("?", |m| m.name())
                    );
                }
            }
        };
        let mut stop = std::pin::pin!(stop);
        self.write_to(path)?;
        let mut written = 0;
        loop {
            tokio::select! {
                _ = &mut stop => break,
                calls = self.journal().wait_until(|calls| ended(calls) > written) => {
                    say(&calls);
                    written = ended(&calls);
                    self.write_to(path)?;
                }
            }
        }
        say(&self.journal().calls());
        self.write_to(path)
    }

    /// Stops accepting calls, waits up to `grace` for those in flight, and
    /// returns the recording of every call that ended.
    pub async fn shutdown(self, grace: std::time::Duration) -> String {
        let journal = self.mock.journal().clone();
        self.mock.shutdown(grace).await;
        ended_recording(&journal, &self.redact)
    }
}
