//! One gRPC call written frame by frame on a connection of its own: a
//! client that enforces no deadline of its own, so that what a server does
//! when a call's `grpc-timeout` passes is seen as the server does it (a
//! tonic client ends the call itself at its deadline, hiding a server that
//! never does). Every wait is bounded by the caller.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderName, HeaderValue};

use crate::server::Dial;

/// How a raw call ended, as the server ended it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum End {
    /// A `grpc-status` (with its message), in trailers or a trailers-only
    /// response, after `messages` response messages.
    Status {
        code: i32,
        message: String,
        messages: usize,
    },
    /// The server reset the stream (or closed the connection).
    Reset(String),
    /// Still open when the wait ended.
    Open,
}

/// A call in progress: its request stream (open until ended) and the
/// task reading the server's side.
pub(crate) struct RawCall {
    send: h2::SendStream<Bytes>,
    end: tokio::sync::oneshot::Receiver<End>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// A gRPC message frame: uncompressed, length, bytes.
fn frame(message: &impl prost::Message) -> Bytes {
    let len = message.encoded_len();
    let mut out = BytesMut::with_capacity(5 + len);
    out.put_u8(0);
    out.put_u32(len as u32);
    message.encode(&mut out).expect("a BytesMut grows");
    out.freeze()
}

/// The number of whole gRPC messages in `body` (5-byte prefix each).
fn messages_in(body: &[u8]) -> usize {
    let (mut at, mut n) = (0, 0);
    while body.len() >= at + 5 {
        let len = u32::from_be_bytes([body[at + 1], body[at + 2], body[at + 3], body[at + 4]]);
        at += 5 + len as usize;
        if at > body.len() {
            break;
        }
        n += 1;
    }
    n
}

fn status_in(headers: &http::HeaderMap) -> Option<(i32, String)> {
    let code = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
    // As sent: percent-encoded (shown in reports only).
    let message = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Some((code, message))
}

fn described(e: &h2::Error) -> String {
    match e.reason() {
        Some(reason) if e.is_remote() => format!("the server reset the stream ({reason:?})"),
        Some(reason) => format!("the stream was reset ({reason:?})"),
        None => format!("the connection failed: {e}"),
    }
}

impl RawCall {
    /// Opens `path` (`/package.Service/Method`) on a new connection from
    /// `dial`, with `headers` and `grpc-timeout` set to `timeout`; the
    /// request stream stays open until [`RawCall::send`] ends it.
    pub(crate) async fn open(
        dial: &Dial,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        timeout: Duration,
    ) -> Result<RawCall, String> {
        let io = dial().await?;
        let (client, connection) = h2::client::handshake(io)
            .await
            .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = http::Request::post(format!("http://target{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("grpc-timeout", format!("{}m", timeout.as_millis().max(1)));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request.body(()).map_err(|e| e.to_string())?;
        let mut client = client
            .ready()
            .await
            .map_err(|e| format!("HTTP/2 connection: {e}"))?;
        let (response, send) = client
            .send_request(request, false)
            .map_err(|e| described(&e))?;
        let (tx, end) = tokio::sync::oneshot::channel();
        let reader = tokio::spawn(async move {
            let ended = async {
                let response = match response.await {
                    Ok(r) => r,
                    Err(e) => return End::Reset(described(&e)),
                };
                if let Some((code, message)) = status_in(response.headers()) {
                    return End::Status {
                        code,
                        message,
                        messages: 0,
                    };
                }
                let mut body = response.into_body();
                let mut data = BytesMut::new();
                while let Some(chunk) = body.data().await {
                    match chunk {
                        Ok(chunk) => {
                            let _ = body.flow_control().release_capacity(chunk.len());
                            data.extend_from_slice(&chunk);
                        }
                        Err(e) => return End::Reset(described(&e)),
                    }
                }
                match body.trailers().await {
                    Ok(trailers) => match trailers.as_ref().and_then(status_in) {
                        Some((code, message)) => End::Status {
                            code,
                            message,
                            messages: messages_in(&data),
                        },
                        None => End::Reset("the stream ended without a grpc-status".into()),
                    },
                    Err(e) => End::Reset(described(&e)),
                }
            };
            let _ = tx.send(ended.await);
        });
        Ok(RawCall {
            send,
            end,
            tasks: vec![driver, reader],
        })
    }

    /// Sends one request message; `last` half-closes the request stream.
    pub(crate) fn send(&mut self, message: &impl prost::Message, last: bool) {
        // A stream the server ended already refuses data: its end tells.
        let _ = self.send.send_data(frame(message), last);
    }

    /// How the server ended the call, waiting at most `wait`.
    pub(crate) async fn end_within(mut self, wait: Duration) -> End {
        let end = match tokio::time::timeout(wait, &mut self.end).await {
            Ok(Ok(end)) => end,
            Ok(Err(_)) => End::Reset("the connection ended".into()),
            Err(_) => End::Open,
        };
        for task in &self.tasks {
            task.abort();
        }
        end
    }
}

impl Drop for RawCall {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_counted_by_their_prefixes() {
        let one = frame(&crate::pb::GetOrderRequest {
            order_id: "o-1".into(),
        });
        let mut two = one.to_vec();
        two.extend_from_slice(&one);
        assert_eq!(messages_in(&two), 2);
        assert_eq!(messages_in(&two[..two.len() - 1]), 1);
        assert_eq!(messages_in(&[]), 0);
    }
}
