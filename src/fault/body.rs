//! Response bodies that act on a stream's messages: a pause between
//! messages, an abort after N messages, a reset, all deadline-aware.

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

/// What to do to the messages of one response.
#[derive(Debug, Clone)]
pub(crate) struct Shaping {
    /// Pause before each message after the first: base, jitter, seed.
    pub(crate) between: Option<(Duration, Duration, u64)>,
    /// End with this status once this many messages went through.
    pub(crate) abort: Option<(usize, Status)>,
    /// The caller's deadline.
    pub(crate) deadline: Option<Instant>,
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
        }
    }

    fn end_with(&mut self, status: &Status) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        self.done = true;
        Poll::Ready(Some(Ok(Frame::trailers(trailers(status)))))
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
            if let Some((after, status)) = &this.shaping.abort
                && this.sent >= *after
            {
                let status = status.clone();
                return this.end_with(&status);
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
                if let Some(message) = this.queue.pop_front() {
                    this.sent += 1;
                    return Poll::Ready(Some(Ok(Frame::data(encode_frame(&message)))));
                }
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
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
