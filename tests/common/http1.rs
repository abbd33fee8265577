//! A minimal HTTP/1.1 client for the admin API tests (hyper's own, one
//! connection per request).

use std::net::SocketAddr;

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};

use super::GUARD;

/// An answer: status, content type and body text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    /// The body as JSON (panics, showing it, when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends one request and returns the response with its body still open.
pub async fn open(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> http::Response<Incoming> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid request");
    tokio::time::timeout(GUARD, sender.send_request(req))
        .await
        .expect("answers in time")
        .expect("answers")
}

/// Sends one request and reads the whole answer.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let res = open(addr, method, path, headers, body).await;
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = tokio::time::timeout(GUARD, res.into_body().collect())
        .await
        .expect("the body ends in time")
        .expect("a body")
        .to_bytes();
    Answer {
        status,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> Answer {
    send(addr, "GET", path, &[], "").await
}

pub async fn post(addr: SocketAddr, path: &str, body: &str) -> Answer {
    send(addr, "POST", path, &[], body).await
}

pub async fn delete(addr: SocketAddr, path: &str) -> Answer {
    send(addr, "DELETE", path, &[], "").await
}

/// A mock built by `builder` with the admin service, and its admin HTTP
/// API on a free loopback port.
pub async fn admin_api(
    builder: orders_testkit::OrderMockBuilder,
) -> (orders_testkit::OrderMock, SocketAddr) {
    let mock = orders_testkit::admin::start(builder).await;
    let api = orders_testkit::admin::serve_http(&mock, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (mock, api)
}
