//! The request body a service behind the fault layer reads: the client's,
//! untouched, or one the fault acts on: cut after N messages (the service
//! then waits for good while the fault ends the call), or with one
//! ProcessOrders action made a no-op so that its result can fail in band.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::sync::oneshot;

use crate::grpc::frame::{FrameDecoder, encode_frame};

/// What the fault does to the request messages.
enum Mode {
    Pass,
    /// Hands `after` messages on, then tells `reached` when the service
    /// asks for another, and gives it nothing more.
    Cut {
        after: usize,
        reached: Option<oneshot::Sender<()>>,
    },
    /// The `index`-th message (from 1), an `OrderAction`, becomes an
    /// action of no type: the model answers it without applying anything.
    Neutralize {
        index: usize,
    },
}

/// The request body of a service behind [`FaultLayer`](super::FaultLayer).
pub struct FaultRequest<B> {
    inner: Pin<Box<B>>,
    mode: Mode,
    decoder: FrameDecoder,
    queue: VecDeque<Bytes>,
    handed: usize,
    ended: bool,
}

impl<B> std::fmt::Debug for FaultRequest<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultRequest")
            .field("handed", &self.handed)
            .finish_non_exhaustive()
    }
}

impl<B> FaultRequest<B> {
    fn new(inner: B, mode: Mode) -> Self {
        Self {
            inner: Box::pin(inner),
            mode,
            decoder: FrameDecoder::default(),
            queue: VecDeque::new(),
            handed: 0,
            ended: false,
        }
    }

    /// The client's body, untouched.
    pub(crate) fn pass(inner: B) -> Self {
        Self::new(inner, Mode::Pass)
    }

    /// The client's body, cut after `after` messages; the receiver hears
    /// when the service asked for one more.
    pub(crate) fn cut(inner: B, after: usize) -> (Self, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let mode = Mode::Cut {
            after,
            reached: Some(tx),
        };
        (Self::new(inner, mode), rx)
    }

    /// The client's body with its `index`-th action neutralized.
    pub(crate) fn neutralize(inner: B, index: usize) -> Self {
        Self::new(inner, Mode::Neutralize { index })
    }
}

/// An `OrderAction` with no action type: answered, applied to nothing.
fn neutralized(message: &Bytes) -> Bytes {
    use prost::Message;
    match crate::pb::OrderAction::decode(message.as_ref()) {
        Ok(mut action) => {
            action.action = crate::pb::OrderActionType::Unspecified as i32;
            Bytes::from(action.encode_to_vec())
        }
        Err(_) => message.clone(),
    }
}

impl<B> Body for FaultRequest<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Mode::Pass = this.mode {
            return this.inner.as_mut().poll_frame(cx);
        }
        loop {
            if let Mode::Cut { after, reached } = &mut this.mode
                && this.handed >= *after
            {
                if let Some(tx) = reached.take() {
                    let _ = tx.send(());
                }
                // Nothing more, ever: the fault ends the call.
                return Poll::Pending;
            }
            if let Some(mut message) = this.queue.pop_front() {
                this.handed += 1;
                if let Mode::Neutralize { index } = this.mode
                    && index == this.handed
                {
                    message = neutralized(&message);
                }
                return Poll::Ready(Some(Ok(Frame::data(encode_frame(&message)))));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            match ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        this.decoder.push(&data);
                        while let Some(Ok(message)) = this.decoder.next_message() {
                            this.queue.push_back(message);
                        }
                    }
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => this.ended = true,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.mode, Mode::Pass) && self.inner.is_end_stream()
    }
}

/// Reads `n` messages of `body` (or what there is before it ends),
/// applying none of them.
pub(crate) async fn read_messages<B>(body: B, n: usize)
where
    B: Body<Data = Bytes>,
{
    let mut body = std::pin::pin!(body);
    let mut decoder = FrameDecoder::default();
    let mut read = 0;
    while read < n {
        match std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    decoder.push(&data);
                    while let Some(Ok(_)) = decoder.next_message() {
                        read += 1;
                    }
                }
            }
            Some(Err(_)) | None => return,
        }
    }
}
