//! The mock's side of a live call: the call handed to the test, and its
//! answer as the generated server wants it (one message, or a stream).

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::Instant;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status, Streaming};

use super::{LiveBoard, LiveCall, LiveRpc, Out, Tap};
use crate::grpc::deadline::{UntilDeadline, exceeded};
use crate::service::orders::BoxStream;

/// Hands a new call to the test through `tap`; what the test sends comes
/// out of the receiver.
pub(crate) fn offer<R: LiveRpc>(
    board: &LiveBoard,
    tap: &Tap<R>,
    metadata: MetadataMap,
    request: R::Request,
    inbound: Option<Streaming<R::Request>>,
) -> UnboundedReceiver<Out<R::Response>> {
    let (tx, rx) = unbounded_channel();
    let call = LiveCall::new(
        board.next_id(),
        metadata,
        request,
        inbound,
        tx,
        tap.drift_sink(),
    );
    tap.offer(call);
    rx
}

/// The one answer of a unary or client-streaming call, by the deadline.
pub(crate) async fn answer<T>(
    mut rx: UnboundedReceiver<Out<T>>,
    deadline: Option<Instant>,
) -> Result<T, Status> {
    let answer = async move {
        match rx.recv().await {
            Some(Out::Message(message)) => Ok(message),
            Some(Out::End(status)) if status.code() == Code::Ok => Err(Status::internal(
                "the test ended a live call that needs an answer with OK and no message",
            )),
            Some(Out::End(status)) => Err(status),
            None => Err(Status::aborted(
                "the test dropped its live call without ending it",
            )),
        }
    };
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, answer)
            .await
            .unwrap_or_else(|_| Err(exceeded())),
        None => answer.await,
    }
}

/// The answer stream of a server-streaming or bidi call, by the deadline.
pub(crate) fn stream<T: Send + 'static>(
    rx: UnboundedReceiver<Out<T>>,
    deadline: Option<Instant>,
) -> BoxStream<T> {
    Box::pin(UntilDeadline::new(Sent { rx, done: false }, deadline))
}

/// What the test sends, as a stream of messages ended by its status.
struct Sent<T> {
    rx: UnboundedReceiver<Out<T>>,
    done: bool,
}

impl<T> tokio_stream::Stream for Sent<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Out::Message(message))) => Poll::Ready(Some(Ok(message))),
            Poll::Ready(Some(Out::End(status))) => {
                self.done = true;
                Poll::Ready((status.code() != Code::Ok).then_some(Err(status)))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
        }
    }
}
