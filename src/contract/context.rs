//! What every check gets: clients over one bounded, rate-limited channel
//! that put a deadline and the target's metadata on every call, the run's
//! id and seed, and a journal of every call the suite made.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

use crate::grpc::deadline::GRPC_TIMEOUT;
use crate::journal::{Journal, JournalLayer};
use crate::pb::order_service_client::OrderServiceClient;

use tower::BoxError;

/// The client-side service every check calls through.
pub type Svc = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    CallError,
>;

/// The channel under the per-client layers.
type Base = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    BoxError,
>;

/// A transport error of a call, as a concrete type: with a boxed trait
/// object as the error, the futures of tonic's clients over this service
/// cannot be proven `Send` (a rustc limitation with higher-ranked
/// lifetimes), and `Suite::run` must be spawnable.
#[derive(Debug)]
pub struct CallError(BoxError);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Adds metadata, the bearer token and a default deadline to each call, and
/// bounds the wait for its response headers on the client side: a correct
/// server answers by the call's deadline (D-1), so one that has not a
/// patience later has stopped answering (a deadlock, a dead proxy). From
/// then on every call of the run fails at once, so that the run ends
/// instead of waiting on each call.
#[derive(Clone)]
struct Prepare<S> {
    inner: S,
    headers: std::sync::Arc<Vec<(HeaderName, HeaderValue)>>,
    auth: Option<HeaderValue>,
    timeout: HeaderValue,
    default_timeout: Duration,
    grace: Duration,
    stopped: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Why a call of the run was not sent, or not answered.
fn stopped_answering(grace: Duration) -> tonic::Status {
    tonic::Status::unavailable(format!(
        "the target stopped answering: a call got no response headers within its \
         deadline plus {grace:?} (the suite's patience); later calls are not sent"
    ))
}

impl<S, B> Service<http::Request<B>> for Prepare<S>
where
    S: Service<http::Request<B>, Error = BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let h = req.headers_mut();
        for (k, v) in self.headers.iter() {
            h.append(k.clone(), v.clone());
        }
        if let Some(auth) = &self.auth
            && !h.contains_key(http::header::AUTHORIZATION)
        {
            h.insert(http::header::AUTHORIZATION, auth.clone());
        }
        // CONTRACT.md, last section: a deadline on every call.
        if !h.contains_key(GRPC_TIMEOUT) {
            h.insert(GRPC_TIMEOUT, self.timeout.clone());
        }
        let bound =
            crate::grpc::deadline::timeout_in(h).unwrap_or(self.default_timeout) + self.grace;
        let (stopped, grace) = (self.stopped.clone(), self.grace);
        if stopped.load(std::sync::atomic::Ordering::Relaxed) {
            return Box::pin(async move { Err(stopped_answering(grace).into()) });
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            match tokio::time::timeout(bound, fut).await {
                Ok(result) => result,
                Err(_) => {
                    stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                    Err(stopped_answering(grace).into())
                }
            }
        })
    }
}

/// Repairs malformed statuses from the target before anything decodes
/// them (tonic's client panics on an invalid `grpc-status-details-bin`).
#[derive(Clone)]
struct Repair<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for Repair<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut res = fut.await?;
            crate::grpc::status_repair::repair_details(res.headers_mut());
            Ok(res.map(|b| {
                use http_body_util::BodyExt;
                tonic::body::Body::new(b.map_frame(|frame| match frame.into_trailers() {
                    Ok(mut t) => {
                        crate::grpc::status_repair::repair_details(&mut t);
                        http_body::Frame::trailers(t)
                    }
                    Err(frame) => frame,
                }))
            }))
        })
    }
}

/// Settings of a run, shared by every check.
pub(crate) struct Ctx {
    pub(crate) seed: u64,
    pub(crate) cases: u32,
    pub(crate) run_id: String,
    pub(crate) deadline: Duration,
    pub(crate) fail_fast: Option<Duration>,
    pub(crate) token: Option<String>,
    pub(crate) read_token: Option<String>,
    pub(crate) write_token: Option<String>,
    pub(crate) health: bool,
    pub(crate) reflection: bool,
    /// How long to wait for what should come promptly (a result, an end).
    pub(crate) patience: Duration,
    /// Metadata on which the target answers a transient failure (E-7).
    pub(crate) transient: Option<(String, String)>,
    pub(crate) journal: Journal,
    /// Raw connections to the target (none through a user's channel).
    pub(crate) dial: Option<crate::server::Dial>,
    /// Set once a call went unanswered past its deadline and the patience.
    stopped: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub(crate) snapshots: Mutex<Vec<(String, tonic::Status)>>,
    base: Base,
    headers: std::sync::Arc<Vec<(HeaderName, HeaderValue)>>,
    customers: AtomicU64,
    /// Calls the target turned away unprocessed, sent again.
    sent_again: std::sync::Arc<AtomicU64>,
}

/// Why the target's metadata could not be used.
fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let n = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("invalid header name {name:?}"))?;
    let v = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("invalid value for header {name:?}"))?;
    Ok((n, v))
}

/// Parameters of [`Ctx::new`] that come from the suite settings.
pub(crate) struct CtxConfig {
    pub seed: u64,
    pub cases: u32,
    pub deadline: Duration,
    pub fail_fast: Option<Duration>,
    pub token: Option<String>,
    pub read_token: Option<String>,
    pub write_token: Option<String>,
    pub concurrency: usize,
    pub rate: u64,
    pub headers: Vec<(String, String)>,
    pub health: bool,
    pub reflection: bool,
    pub patience: Duration,
    pub transient: Option<(String, String)>,
    pub dial: Option<crate::server::Dial>,
}

impl Ctx {
    pub(crate) fn new(channel: Channel, cfg: CtxConfig) -> Result<Self, String> {
        let headers = cfg
            .headers
            .iter()
            .map(|(k, v)| header(k, v))
            .collect::<Result<Vec<_>, _>>()?;
        let refused = crate::grpc::refused::RefusedLayer::default();
        let base = ServiceBuilder::new()
            .buffer(1024)
            .concurrency_limit(cfg.concurrency.max(1))
            .rate_limit(cfg.rate.max(1), Duration::from_secs(1))
            // A call the target (or a proxy before it) turned away
            // unprocessed is sent again, as other gRPC stacks do: a proxy
            // rotating its connections is not the target's answer.
            .layer(refused.clone())
            .service(channel)
            .map_err(|e: BoxError| e);
        let base = Repair { inner: base };
        // A per-run prefix for every customer id (CONTRACT.md, last section): the seed and
        // the start time, so that concurrent runs never share orders.
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let run_id = format!(
            "ct-{:x}-{:x}",
            cfg.seed & 0xffff_ffff,
            crate::grpc::seed::mix(started) & 0xff_ffff
        );
        Ok(Self {
            seed: cfg.seed,
            cases: cfg.cases,
            run_id,
            deadline: cfg.deadline,
            fail_fast: cfg.fail_fast,
            token: cfg.token,
            read_token: cfg.read_token,
            write_token: cfg.write_token,
            health: cfg.health,
            reflection: cfg.reflection,
            patience: cfg.patience,
            transient: cfg.transient,
            journal: Journal::new(),
            dial: cfg.dial,
            stopped: Default::default(),
            snapshots: Mutex::new(Vec::new()),
            base: BoxCloneSyncService::new(base),
            headers: std::sync::Arc::new(headers),
            customers: AtomicU64::new(0),
            sent_again: refused.sent_again(),
        })
    }

    fn stack(&self, auth: Option<&str>) -> Svc {
        let prepare = Prepare {
            inner: self.base.clone(),
            headers: self.headers.clone(),
            auth: auth.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok()),
            timeout: HeaderValue::from_str(&format!(
                "{}m",
                self.deadline.as_millis().min(99_999_999)
            ))
            .unwrap_or(HeaderValue::from_static("10S")),
            default_timeout: self.deadline,
            grace: self.patience,
            stopped: self.stopped.clone(),
        };
        // The journal's bodies are typed; the client stack speaks tonic's.
        let prepare =
            ServiceExt::<http::Request<_>>::map_request(prepare, |req: http::Request<_>| {
                req.map(tonic::body::Body::new)
            });
        let journaled = JournalLayer::new(self.journal.clone()).layer(prepare);
        let journaled = ServiceExt::<http::Request<tonic::body::Body>>::map_response(
            journaled,
            |res: http::Response<_>| res.map(tonic::body::Body::new),
        );
        BoxCloneSyncService::new(ServiceExt::<http::Request<tonic::body::Body>>::map_err(
            journaled, CallError,
        ))
    }

    /// The metadata of a raw call with full rights (the target's headers
    /// and the `--token`), for [`RawCall`](super::raw::RawCall).
    pub(crate) fn raw_headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = self.headers.to_vec();
        if let Some(auth) = self
            .token
            .as_deref()
            .and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
        {
            headers.push((http::header::AUTHORIZATION, auth));
        }
        headers
    }

    /// How many calls of the run were turned away unprocessed and sent
    /// again.
    pub(crate) fn sent_again(&self) -> u64 {
        self.sent_again.load(Ordering::Relaxed)
    }

    /// A client with full rights (the `--token`, if any).
    pub(crate) fn client(&self) -> OrderServiceClient<Svc> {
        OrderServiceClient::new(self.stack(self.token.as_deref()))
            .max_decoding_message_size(64 * 1024 * 1024)
    }

    /// A client with this bearer token, or none.
    pub(crate) fn client_as(&self, token: Option<&str>) -> OrderServiceClient<Svc> {
        OrderServiceClient::new(self.stack(token))
    }

    /// A health client.
    pub(crate) fn health(&self) -> HealthClient<Svc> {
        HealthClient::new(self.stack(self.token.as_deref()))
    }

    /// A health client with this bearer token, or none.
    pub(crate) fn health_as(&self, token: Option<&str>) -> HealthClient<Svc> {
        HealthClient::new(self.stack(token))
    }

    /// A reflection channel-like service.
    pub(crate) fn raw(&self) -> Svc {
        self.stack(self.token.as_deref())
    }

    /// A channel-like service with this bearer token, or none.
    pub(crate) fn raw_as(&self, token: Option<&str>) -> Svc {
        self.stack(token)
    }

    /// The deadline of a call meant to run out (D-1, D-4, W-6): above a
    /// told fail-fast threshold by a margin, so that a correct server
    /// starts the call; 300 ms when no threshold was told.
    pub(crate) fn short(&self) -> Duration {
        match self.fail_fast {
            Some(t) if !t.is_zero() => t + (t / 2).max(Duration::from_millis(200)),
            _ => Duration::from_millis(300),
        }
    }

    /// A deadline the suite means to be comfortable: the run's default.
    pub(crate) fn ample(&self) -> Duration {
        self.deadline
    }

    /// A fresh customer id of this run: `<run id>-<n>`.
    pub(crate) fn customer(&self) -> String {
        let n = self.customers.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.run_id)
    }

    /// Keeps an error payload for `--snapshots`.
    pub(crate) fn snapshot(&self, name: &str, status: &tonic::Status) {
        if let Ok(mut s) = self.snapshots.lock()
            && !s.iter().any(|(n, _)| n == name)
        {
            s.push((name.to_string(), status.clone()));
        }
    }
}
