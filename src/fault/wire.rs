//! Wire-level faults: every way a server can break the gRPC protocol that a
//! client must survive, as [`Fault::wire`](super::Fault::wire) with the
//! usual selection (RPC, metadata, schedule, seeded probability). What a
//! tonic client observes under each is stated, and tested, in
//! `tests/wire_faults.rs` and the README's table.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame};
use tonic::Status;

use crate::server::ConnectionControl;

/// One breakage of the protocol.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WireFault {
    /// GOAWAY, graceful: this call completes; the connection takes no new
    /// calls and closes when its calls are done.
    GoAway,
    /// GOAWAY, immediate: the connection closes with this call in flight.
    GoAwayNow,
    /// The error as a trailers-only response (status in the headers, no
    /// body).
    TrailersOnly(Status),
    /// The response ends (messages and all) without `grpc-status`.
    NoStatus,
    /// The response headers say this `content-type` instead of
    /// `application/grpc`.
    ContentType(String),
    /// An error whose `grpc-status-details-bin` is not base64.
    InvalidDetails,
    /// The first message has its compressed flag set, with no
    /// `grpc-encoding` header.
    CompressedWithoutEncoding,
    /// A message frame announcing this many bytes (over tonic's default
    /// limit of 4 MiB with `4 * 1024 * 1024 + 1`).
    Oversized(u32),
    /// A `grpc-status` number outside the 17 codes.
    UnknownCode(u32),
    /// A `grpc-message` with broken percent-encoding and bytes that are not
    /// UTF-8.
    MalformedMessage,
    /// Response headers, then RST_STREAM with this HTTP/2 error code
    /// (`0x8` CANCEL, `0x7` REFUSED_STREAM, `0x2` INTERNAL_ERROR, …).
    RstStream(u32),
    /// The first message sent twice (two messages on a unary response).
    TwoMessages,
    /// Response headers held back until the first message (or the end).
    DeferHeaders,
}

impl WireFault {
    /// Whether the fault rewrites the service's own answer (the call
    /// reaches the service), rather than answering instead of it.
    pub(crate) fn passes_through(&self) -> bool {
        matches!(
            self,
            WireFault::GoAway
                | WireFault::ContentType(_)
                | WireFault::NoStatus
                | WireFault::CompressedWithoutEncoding
                | WireFault::TwoMessages
                | WireFault::DeferHeaders
        )
    }
}

/// The response under `fault`: `answer` is the service's, for the faults
/// that [pass through](WireFault::passes_through).
pub(crate) async fn apply(
    fault: WireFault,
    answer: Option<Res>,
    control: Option<ConnectionControl>,
) -> Res {
    let Some(answer) = answer.filter(|_| fault.passes_through()) else {
        return answer_instead(fault, control).await;
    };
    match fault {
        WireFault::GoAway => {
            if let Some(control) = &control {
                control.go_away(false);
            }
            answer
        }
        WireFault::ContentType(ct) => {
            let mut res = answer;
            let value =
                HeaderValue::from_str(&ct).unwrap_or(HeaderValue::from_static("text/plain"));
            res.headers_mut().insert(http::header::CONTENT_TYPE, value);
            res
        }
        WireFault::NoStatus => {
            let (mut parts, body) = answer.into_parts();
            for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
                parts.headers.remove(name);
            }
            let body = Rewrite::new(body, Edit::NoStatus);
            http::Response::from_parts(parts, tonic::body::Body::new(body))
        }
        WireFault::CompressedWithoutEncoding => {
            answer.map(|b| tonic::body::Body::new(Rewrite::new(b, Edit::Compressed)))
        }
        WireFault::TwoMessages => {
            answer.map(|b| tonic::body::Body::new(Rewrite::new(b, Edit::Twice)))
        }
        WireFault::DeferHeaders => {
            crate::layers::behaviour::reshape(
                &crate::layers::behaviour::ServerBehaviour::new().defer_headers(),
                answer,
            )
            .await
        }
        other => answer_instead(other, control).await,
    }
}

/// The response of a fault that answers instead of the service.
async fn answer_instead(fault: WireFault, control: Option<ConnectionControl>) -> Res {
    match fault {
        WireFault::GoAwayNow => match control {
            Some(control) => {
                control.go_away(true);
                // The connection and this call go away together.
                std::future::pending().await
            }
            None => rst_stream(0x2),
        },
        WireFault::TrailersOnly(status) => status.into_http(),
        WireFault::InvalidDetails => {
            trailers_only(b"13", b"details follow", Some(b"!! not base64 !!"))
        }
        WireFault::Oversized(len) => oversized(len),
        WireFault::UnknownCode(n) => {
            trailers_only(n.to_string().as_bytes(), b"a code outside the 17", None)
        }
        WireFault::MalformedMessage => trailers_only(b"13", MALFORMED_MESSAGE, None),
        WireFault::RstStream(code) => rst_stream(code),
        // Faults that need the service's answer and did not get one (its
        // call failed): reset the stream.
        _ => rst_stream(0x2),
    }
}

/// The malformed `grpc-message` of [`WireFault::MalformedMessage`].
pub(crate) const MALFORMED_MESSAGE: &[u8] = b"broken %E2%28 %zz \xff\xfe end %";

pub(crate) type Res = http::Response<tonic::body::Body>;

fn grpc_headers(res: &mut http::response::Parts) {
    res.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
}

/// A response with only headers (trailers-only), from raw header values.
pub(crate) fn trailers_only(status: &[u8], message: &[u8], details: Option<&[u8]>) -> Res {
    let mut res = http::Response::new(tonic::body::Body::empty());
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    let value = |b: &[u8]| HeaderValue::from_bytes(b).unwrap_or(HeaderValue::from_static("?"));
    res.headers_mut().insert("grpc-status", value(status));
    res.headers_mut().insert("grpc-message", value(message));
    if let Some(details) = details {
        res.headers_mut()
            .insert("grpc-status-details-bin", value(details));
    }
    res
}

/// Headers, then a body of raw frames.
pub(crate) fn raw(frames: Vec<Result<Frame<Bytes>, RawError>>) -> Res {
    let (mut parts, ()) = http::Response::new(()).into_parts();
    grpc_headers(&mut parts);
    let body = http_body_util::StreamBody::new(tokio_stream::iter(frames));
    http::Response::from_parts(parts, tonic::body::Body::new(body))
}

/// A message frame header announcing `len` bytes, with a few of them.
pub(crate) fn oversized(len: u32) -> Res {
    let mut frame = BytesMut::with_capacity(16);
    frame.extend_from_slice(&[0]);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(b"orders-testkit");
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    raw(vec![
        Ok(Frame::data(frame.freeze())),
        Ok(Frame::trailers(trailers)),
    ])
}

/// Headers, then RST_STREAM with `code`.
pub(crate) fn rst_stream(code: u32) -> Res {
    raw(vec![Err(RawError(h2::Error::from(h2::Reason::from(code))))])
}

/// The body error of [`raw`] bodies: an HTTP/2 error that hyper sends as
/// RST_STREAM with its code.
#[derive(Debug)]
pub(crate) struct RawError(h2::Error);

impl std::fmt::Display for RawError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stream reset by fault injection: {}", self.0)
    }
}

impl std::error::Error for RawError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// What [`Rewrite`] does to a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edit {
    /// Drop the trailers.
    NoStatus,
    /// Set the compressed flag of the first message.
    Compressed,
    /// Send the first data frame twice.
    Twice,
}

pin_project_lite::pin_project! {
    /// A response body with one [`Edit`] applied.
    pub(crate) struct Rewrite {
        #[pin]
        inner: tonic::body::Body,
        edit: Edit,
        first: bool,
        again: Option<Bytes>,
    }
}

impl Rewrite {
    pub(crate) fn new(inner: tonic::body::Body, edit: Edit) -> Self {
        Self {
            inner,
            edit,
            first: true,
            again: None,
        }
    }
}

impl Body for Rewrite {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let mut this = self.project();
        if let Some(again) = this.again.take() {
            return Poll::Ready(Some(Ok(Frame::data(again))));
        }
        let frame = match ready!(this.inner.as_mut().poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            other => return Poll::Ready(other),
        };
        let frame = match frame.into_data() {
            Ok(data) => data,
            Err(frame) if *this.edit == Edit::NoStatus && frame.is_trailers() => {
                // The status is dropped: the body just ends.
                return Poll::Ready(None);
            }
            Err(frame) => return Poll::Ready(Some(Ok(frame))),
        };
        if !std::mem::replace(this.first, false) || frame.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(frame))));
        }
        Poll::Ready(Some(Ok(Frame::data(match this.edit {
            Edit::Compressed => {
                let mut data = BytesMut::from(&frame[..]);
                data[0] = 1;
                data.freeze()
            }
            Edit::Twice => {
                *this.again = Some(frame.clone());
                frame
            }
            Edit::NoStatus => frame,
        }))))
    }
}
