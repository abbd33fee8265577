//! A scripted server stream: a stub's messages with optional pauses, then
//! OK, a status, or held open. Hand-written (no future per message), each
//! message cloned from the shared script as it is sent.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tonic::Status;

/// A scripted server stream: messages with optional pauses, then OK, a
/// status, or held open. A hand-written stream (no future per message).
pub(super) struct ScriptedStream<T> {
    items: Arc<[T]>,
    /// The next message to send.
    next: usize,
    between: Option<Duration>,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    end: Option<Status>,
    hold: bool,
    done: bool,
}

/// No field is pinned in place (the pause is boxed).
impl<T> Unpin for ScriptedStream<T> {}

pub(super) fn scripted_stream<T>(
    items: Arc<[T]>,
    between: Option<Duration>,
    end: Option<Status>,
    hold: bool,
) -> ScriptedStream<T> {
    ScriptedStream {
        items,
        next: 0,
        between,
        pause: None,
        end,
        hold,
        done: false,
    }
}

impl<T: Clone> tokio_stream::Stream for ScriptedStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(item) = this.items.get(this.next) {
            // A pause between two messages: none before the first.
            if this.next > 0
                && let Some(between) = this.between
            {
                let pause = this
                    .pause
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(between)));
                ready!(pause.as_mut().poll(cx));
                this.pause = None;
            }
            this.next += 1;
            return Poll::Ready(Some(Ok(item.clone())));
        }
        if this.end.is_none() && this.hold {
            // Held open: the caller's deadline or cancel ends it.
            return Poll::Pending;
        }
        this.done = true;
        Poll::Ready(this.end.take().map(Err))
    }
}
