//! Response bodies that act on a stream's messages: a pause between
//! messages, an end after N messages (a status, a reset, a dropped
//! connection, silence), one result failed in band, an end when the
//! request side was cut, all deadline-aware.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame};
use tokio::time::{Instant, Sleep};
use tonic::Status;

use super::plan::{jittered, mix};
use crate::grpc::frame::{FrameDecoder, encode_frame};

/// Trailers that end a call with `status`.
pub(crate) fn trailers(status: &Status) -> HeaderMap {
    let mut map = HeaderMap::new();
    if status.add_header(&mut map).is_err() {
        let _ = Status::internal("fault status could not be encoded").add_header(&mut map);
    }
    map
}

/// How a shaped response ends early.
#[derive(Debug, Clone)]
pub(crate) enum Ending {
    /// With this status.
    Status(Status),
    /// With a reset of the stream.
    Reset,
    /// With the connection dropped (a reset where it cannot be).
    Drop(Option<crate::server::ConnectionControl>),
    /// With nothing until the deadline, then `DEADLINE_EXCEEDED`.
    Silence,
}

impl Ending {
    /// What a lost answer becomes on this call.
    pub(crate) fn lost(
        then: super::Lost,
        control: Option<crate::server::ConnectionControl>,
    ) -> Self {
        match then {
            super::Lost::Status(status) => Ending::Status(status),
            super::Lost::Reset => Ending::Reset,
            super::Lost::DropConnection => Ending::Drop(control),
            super::Lost::Silence => Ending::Silence,
        }
    }
}

/// What to do to the messages of one response.
#[derive(Debug, Default)]
pub(crate) struct Shaping {
    /// Pause before each message after the first: base, jitter, seed.
    pub(crate) between: Option<(Duration, Duration, u64)>,
    /// End so once this many messages went through.
    pub(crate) abort: Option<(usize, Ending)>,
    /// The `n`-th message (from 1, a ProcessOrders result) failed in band.
    pub(crate) fail: Option<(usize, crate::service::model::FailureReason)>,
    /// End with the status once the request side was cut (the signal
    /// fired) and the service has nothing more ready.
    pub(crate) cut: Option<(tokio::sync::oneshot::Receiver<()>, Status)>,
    /// The caller's deadline.
    pub(crate) deadline: Option<Instant>,
}

/// A ProcessOrders result rewritten as failed in band with `reason`.
fn failed_in_band(message: &Bytes, reason: crate::service::model::FailureReason) -> Bytes {
    use crate::service::model::FailureReason;
    use prost::Message;
    let Ok(mut result) = crate::pb::OrderResult::decode(message.as_ref()) else {
        return message.clone();
    };
    result.success = false;
    result.error = format!("{}: failed by fault injection", reason.as_str());
    if reason == FailureReason::NotFound {
        result.status = crate::pb::OrderStatus::Unspecified as i32;
    }
    Bytes::from(result.encode_to_vec())
}

enum Wait {
    /// Pausing before the next message.
    Pause,
    /// The pause would outlive the deadline: end at the deadline.
    Deadline,
}

/// A response body re-framed message by message.
pub(crate) struct ShapedBody {
    inner: tonic::body::Body,
    shaping: Shaping,
    decoder: FrameDecoder,
    queue: VecDeque<Bytes>,
    sent: usize,
    sleep: Option<(Pin<Box<Sleep>>, Wait)>,
    paused_for_next: bool,
    done: bool,
    /// Silent until this deadline (none: for good).
    silent: Option<Option<Pin<Box<Sleep>>>>,
}

impl ShapedBody {
    pub(crate) fn new(inner: tonic::body::Body, shaping: Shaping) -> Self {
        Self {
            inner,
            shaping,
            decoder: FrameDecoder::default(),
            queue: VecDeque::new(),
            sent: 0,
            sleep: None,
            paused_for_next: false,
            done: false,
            silent: None,
        }
    }

    fn end_with(&mut self, status: &Status) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        self.done = true;
        Poll::Ready(Some(Ok(Frame::trailers(trailers(status)))))
    }

    /// Ends the response as `ending` says (silence: waits for the deadline).
    fn end(
        &mut self,
        ending: Ending,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        match ending {
            Ending::Status(status) => self.end_with(&status),
            Ending::Reset => {
                self.done = true;
                Poll::Ready(Some(Err(Status::internal(
                    "stream reset by fault injection",
                ))))
            }
            Ending::Drop(Some(control)) => {
                control.drop_connection();
                // The connection and this call go away together.
                self.silent = Some(None);
                Poll::Pending
            }
            Ending::Drop(None) => self.end(Ending::Reset, cx),
            Ending::Silence => {
                let mut sleep = self
                    .shaping
                    .deadline
                    .map(|d| Box::pin(tokio::time::sleep_until(d)));
                if let Some(s) = sleep.as_mut()
                    && s.as_mut().poll(cx).is_ready()
                {
                    return self.end_with(&crate::grpc::deadline::exceeded());
                }
                self.silent = Some(sleep);
                Poll::Pending
            }
        }
    }
}

impl Body for ShapedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some((sleep, _)) = this.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                match this.sleep.take() {
                    Some((_, Wait::Deadline)) => {
                        return this.end_with(&crate::grpc::deadline::exceeded());
                    }
                    _ => this.paused_for_next = true,
                }
            }
            if let Some(silent) = this.silent.as_mut() {
                let over = silent
                    .as_mut()
                    .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
                if over {
                    this.silent = None;
                    return this.end_with(&crate::grpc::deadline::exceeded());
                }
                return Poll::Pending;
            }
            if let Some((after, _)) = &this.shaping.abort
                && this.sent >= *after
                && let Some((_, ending)) = this.shaping.abort.take()
            {
                return this.end(ending, cx);
            }
            if !this.queue.is_empty() {
                if let Some((base, jitter, seed)) = this.shaping.between
                    && this.sent > 0
                    && !this.paused_for_next
                {
                    let pause = jittered(base, jitter, mix(seed ^ this.sent as u64));
                    let until = Instant::now() + pause;
                    this.sleep = Some(match this.shaping.deadline {
                        Some(d) if d < until => {
                            (Box::pin(tokio::time::sleep_until(d)), Wait::Deadline)
                        }
                        _ => (Box::pin(tokio::time::sleep_until(until)), Wait::Pause),
                    });
                    continue;
                }
                this.paused_for_next = false;
                if let Some(mut message) = this.queue.pop_front() {
                    this.sent += 1;
                    if let Some((n, reason)) = this.shaping.fail
                        && n == this.sent
                    {
                        message = failed_in_band(&message, reason);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(encode_frame(&message)))));
                }
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => {
                    // The request side was cut: what the service had ready
                    // went out; the call ends now.
                    if let Some((signal, _)) = this.shaping.cut.as_mut() {
                        match Pin::new(signal).poll(cx) {
                            Poll::Ready(Ok(())) => {
                                if let Some((_, status)) = this.shaping.cut.take() {
                                    return this.end_with(&status);
                                }
                            }
                            // The request side ended before the cut.
                            Poll::Ready(Err(_)) => this.shaping.cut = None,
                            Poll::Pending => {}
                        }
                    }
                    return Poll::Pending;
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        this.decoder.push(&data);
                        while let Some(message) = this.decoder.next_message() {
                            match message {
                                Ok(m) => this.queue.push_back(m),
                                // Compressed or malformed: it cannot be
                                // re-framed, so end the call clearly.
                                Err(_) => {
                                    return this.end_with(&Status::internal(
                                        "fault layer cannot shape a compressed response",
                                    ));
                                }
                            }
                        }
                    }
                    Err(frame) => {
                        // Trailers: the call ends as the service said.
                        this.done = true;
                        return Poll::Ready(Some(Ok(frame)));
                    }
                },
            }
        }
    }
}

/// A body that fails at once, so that hyper resets the stream.
pub(crate) struct ResetBody;

impl Body for ResetBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(Some(Err(Status::internal(
            "stream reset by fault injection",
        ))))
    }
}
