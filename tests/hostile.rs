//! Hostile input to the mock, sent with a bare HTTP/2 client where tonic
//! would refuse to produce it. Each request gets a gRPC status (or an HTTP
//! error where the protocol has none), nothing panics, and the same
//! connection serves the next call.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use orders_testkit::OrderMock;
use orders_testkit::grpc::frame::encode_frame;
use prost::Message;

type Sender = SendRequest<Full<Bytes>>;

async fn handshake<IO>(io: IO) -> Sender
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .unwrap();
    tokio::spawn(conn);
    sender
}

/// In process over duplex, or over TCP loopback as `serve` listens.
async fn connect(mock: &OrderMock) -> Sender {
    match mock.local_addr() {
        Some(addr) => handshake(tokio::net::TcpStream::connect(addr).await.unwrap()).await,
        None => handshake(mock.connector().connect().unwrap()).await,
    }
}

/// What came back: the HTTP status and the gRPC status (headers or trailers).
#[derive(Debug)]
struct Answer {
    http: u16,
    grpc: Option<(tonic::Code, String)>,
}

async fn send(
    sender: &mut Sender,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Result<Answer, String> {
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("http://in-process.orders-testkit.invalid{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    let mut req = req.body(Full::new(Bytes::from(body))).unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    sender.ready().await.map_err(|e| e.to_string())?;
    let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let http = res.status().as_u16();
    let mut grpc = orders_testkit::grpc::status_repair::status_of(res.headers())
        .map(|s| (s.code(), s.message().to_string()));
    let collected = res.into_body().collect().await.map_err(|e| e.to_string())?;
    if let Some(t) = collected.trailers() {
        grpc = grpc.or(orders_testkit::grpc::status_repair::status_of(t)
            .map(|s| (s.code(), s.message().to_string())));
    }
    Ok(Answer { http, grpc })
}

fn get(id: &str) -> Vec<u8> {
    encode_frame(
        &orders_testkit::pb::GetOrderRequest {
            order_id: id.into(),
        }
        .encode_to_vec(),
    )
    .to_vec()
}

/// A hostile request: its name, path, extra headers and body bytes.
type Case = (
    &'static str,
    &'static str,
    Vec<(&'static str, String)>,
    Vec<u8>,
);

const GET: &str = "/orders.v1.OrderService/GetOrder";

#[tokio::test]
async fn hostile_requests_get_statuses_and_the_connection_keeps_serving() {
    let mock = OrderMock::start().await;
    hostile(&mock).await;
}

#[tokio::test]
async fn hostile_requests_over_tcp_as_serve_listens() {
    let mock = OrderMock::builder()
        .serve_tcp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    hostile(&mock).await;
}

async fn hostile(mock: &OrderMock) {
    let mut s = connect(mock).await;
    let mut invalid_utf8 = vec![0x0a, 0x02, 0xff, 0xfe]; // field 1 (order_id), 2 bytes, not UTF-8
    let invalid_utf8 = {
        let f = encode_frame(&invalid_utf8).to_vec();
        invalid_utf8.clear();
        f
    };
    let big = vec![0u8; 4 * 1024 * 1024 + 16];
    let cases: Vec<Case> = vec![
        (
            "invalid protobuf",
            GET,
            vec![],
            encode_frame(&[0xff, 0xff, 0xff, 0xff]).to_vec(),
        ),
        ("truncated length prefix", GET, vec![], vec![0, 0, 0]),
        (
            "frame shorter than its prefix",
            GET,
            vec![],
            vec![0, 0, 0, 0, 100, 1, 2, 3],
        ),
        (
            "message over 4 MiB",
            GET,
            vec![],
            encode_frame(&big).to_vec(),
        ),
        (
            "wrong content-type",
            GET,
            vec![("content-type", "text/plain".into())],
            get("x"),
        ),
        ("invalid UTF-8 in a string", GET, vec![], invalid_utf8),
        (
            "malformed grpc-timeout",
            GET,
            vec![("grpc-timeout", "soon".into())],
            get("x"),
        ),
        (
            "oversized grpc-timeout",
            GET,
            vec![("grpc-timeout", "999999999S".into())],
            get("x"),
        ),
        (
            "10 KiB of metadata",
            GET,
            vec![("x-big", "v".repeat(10 * 1024))],
            get("x"),
        ),
        (
            "unknown method",
            "/orders.v1.OrderService/DeleteOrder",
            vec![],
            get("x"),
        ),
        (
            "unknown service",
            "/orders.v2.Nope/GetOrder",
            vec![],
            get("x"),
        ),
    ];
    use tonic::Code::*;
    // What each gets, next to what the gRPC spec says (README, "Hostile input").
    let expected = [
        (200, Internal), // spec: INTERNAL for a message that cannot be parsed
        (200, Internal), // truncated framing: INTERNAL
        (200, Internal),
        (200, OutOfRange),    // spec: RESOURCE_EXHAUSTED; tonic says OUT_OF_RANGE
        (415, Unknown),       // spec: HTTP 415
        (200, Internal),      // invalid UTF-8 in a proto3 string: a parse error
        (200, NotFound),      // malformed grpc-timeout: served without a deadline
        (200, NotFound),      // 9 digits is malformed: likewise
        (200, NotFound),      // 10 KiB of metadata is accepted
        (200, Unimplemented), // library status, outside E-1
        (200, Unimplemented),
    ];
    for ((name, path, headers, body), (http, code)) in cases.into_iter().zip(expected) {
        let answer = send(&mut s, path, &headers, body)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(answer.http, http, "{name}");
        assert_eq!(
            answer.grpc.as_ref().map(|g| g.0),
            Some(code),
            "{name}: {answer:?}"
        );
        // The same connection serves the next call.
        let next = send(&mut s, GET, &[], get("after")).await.unwrap();
        assert_eq!(
            next.grpc.map(|g| g.0),
            Some(tonic::Code::NotFound),
            "after {name}"
        );
    }
}
