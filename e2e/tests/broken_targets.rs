//! The contract runner against broken targets: tiny HTTP/2 servers that
//! never answer, reset streams, send invalid base64 details (tonic's client
//! panics on those), end without grpc-status, or close the connection
//! mid-stream. Every run must finish, report failures with reasons, and
//! panic nowhere.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use orders_testkit::contract::{Report, Suite, Target};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Broken {
    NeverAnswers,
    ResetsStreams,
    InvalidBase64Details,
    NoGrpcStatus,
    ClosesMidStream,
}

/// A body: a partial gRPC frame, then the connection is dropped.
struct HalfThenClose {
    sent: bool,
    close: CancellationToken,
}

impl http_body::Body for HalfThenClose {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if !self.sent {
            self.sent = true;
            // Five-byte header promising 100 bytes, and only 3 of them.
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&[
                0, 0, 0, 0, 100, 1, 2, 3,
            ])))));
        }
        self.close.cancel();
        Poll::Pending
    }
}

struct Failing;

impl http_body::Body for Failing {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::other("reset"))))
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

fn boxed<B>(b: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt;
    b.map_err(Into::into).boxed()
}

async fn respond(kind: Broken, close: CancellationToken) -> http::Response<Body> {
    let grpc = |b: Body| {
        let mut r = http::Response::new(b);
        r.headers_mut()
            .insert("content-type", "application/grpc".parse().unwrap());
        r
    };
    match kind {
        Broken::NeverAnswers => std::future::pending().await,
        Broken::ResetsStreams => grpc(boxed(Failing)),
        Broken::InvalidBase64Details => {
            let mut r = grpc(boxed(http_body_util::Empty::<Bytes>::new()));
            r.headers_mut().insert("grpc-status", "5".parse().unwrap());
            r.headers_mut()
                .insert("grpc-message", "broken".parse().unwrap());
            r.headers_mut().insert(
                "grpc-status-details-bin",
                "%%%not*base64%%%".parse().unwrap(),
            );
            r
        }
        Broken::NoGrpcStatus => {
            let frames = vec![Ok::<_, Infallible>(Frame::trailers(http::HeaderMap::new()))];
            grpc(boxed(http_body_util::StreamBody::new(tokio_stream::iter(
                frames,
            ))))
        }
        Broken::ClosesMidStream => grpc(boxed(HalfThenClose { sent: false, close })),
    }
}

async fn serve(kind: Broken) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let close = CancellationToken::new();
                let c = close.clone();
                let svc = hyper::service::service_fn(
                    move |_req: http::Request<hyper::body::Incoming>| {
                        let c = c.clone();
                        async move { Ok::<_, Infallible>(respond(kind, c).await) }
                    },
                );
                let conn =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                tokio::select! {
                    _ = conn => {}
                    _ = close.cancelled() => {}
                }
            });
        }
    });
    (addr, task)
}

async fn run(kind: Broken) -> Report {
    let (addr, server) = serve(kind).await;
    let suite = Suite::default()
        .cases(2)
        .deadline(Duration::from_millis(200))
        .patience(Duration::from_millis(200));
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        suite.run(Target::endpoint(format!("http://{addr}"))),
    )
    .await
    .expect("the run finishes");
    server.abort();
    report
}

fn assert_reported(kind: Broken, report: &Report) {
    assert!(!report.passed(), "{kind:?}: a broken target cannot pass");
    for f in report.failures() {
        let c = f
            .counterexample
            .as_ref()
            .unwrap_or_else(|| panic!("{kind:?}: {} fails with a reason", f.id));
        assert!(
            !c.got.is_empty() && !c.expected.is_empty(),
            "{kind:?}: {} {c:?}",
            f.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_targets_are_reported_not_crashed_on() {
    let kinds = [
        Broken::ResetsStreams,
        Broken::InvalidBase64Details,
        Broken::NoGrpcStatus,
        Broken::ClosesMidStream,
        Broken::NeverAnswers,
    ];
    let reports = futures_util::future::join_all(kinds.iter().map(|k| run(*k))).await;
    for (kind, report) in kinds.iter().zip(&reports) {
        assert_reported(*kind, report);
    }
    // Invalid base64 details: named as E-5, with the reason.
    let b64 = &reports[1];
    assert!(
        b64.broken_rules().iter().any(|r| r == "E-5"),
        "{}",
        b64.failure_text()
    );
    assert!(
        b64.failure_text().contains("base64"),
        "{}",
        b64.failure_text()
    );
    // Most checks of a target that answers nothing fail; none passes by accident.
    let silent = &reports[4];
    assert!(silent.failures().len() >= 20, "{}", silent.table());
}

#[tokio::test]
async fn verify_exits_one_against_a_resetting_target() {
    let (addr, server) = serve(Broken::ResetsStreams).await;
    let out = tokio::process::Command::new(orders_testkit_e2e::cli_binary())
        .args([
            "verify",
            "--endpoint",
            &format!("http://{addr}"),
            "--cases",
            "2",
        ])
        .output()
        .await
        .unwrap();
    server.abort();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A server that answers its first calls, then deadlocks (no answer, no
/// deadline honoured): the run ends, each later check failing at once with
/// the reason, instead of waiting on every call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_ends_the_run_with_the_reason() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let routes = tonic::service::Routes::new(
        orders_testkit::pb::order_service_server::OrderServiceServer::new(
            orders_testkit::service::orders::ReferenceService::new(
                orders_testkit::service::model::Store::new(),
                Default::default(),
            ),
        ),
    )
    .prepare();
    let calls = Arc::new(AtomicUsize::new(0));
    let deadlocking = tower::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let mut routes = routes.clone();
        let n = calls.fetch_add(1, Ordering::SeqCst);
        async move {
            if n >= 20 {
                std::future::pending::<()>().await;
            }
            tower::Service::call(&mut routes, req).await
        }
    });
    let server = orders_testkit::server::InProcessServer::start(deadlocking);
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        Suite::default()
            .cases(2)
            .deadline(Duration::from_secs(1))
            .patience(Duration::from_millis(300))
            .run(
                Target::in_process(server)
                    .without_health()
                    .without_reflection(),
            ),
    )
    .await
    .expect("the run ends");
    assert!(!report.passed());
    assert!(
        report.failure_text().contains("stopped answering"),
        "{}",
        report.failure_text()
    );
}
