//! What a stub answers, one type per streaming kind: [`Replies`] (one
//! message or status per match: unary, client streaming, each bidi action)
//! and [`Script`] (a server stream). Which one an RPC takes is fixed by
//! [`StubSlot::Responder`](super::StubSlot::Responder), so a stub cannot be
//! given an answer its RPC could never send.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::Status;

use crate::rpc::Rpc;

pub(crate) type ReplyFn<R> =
    Arc<dyn Fn(&[<R as Rpc>::Request]) -> Result<<R as Rpc>::Response, Status> + Send + Sync>;

/// A responder kind (sealed): what one match takes from it.
#[doc(hidden)]
pub trait Respond: sealed::Sealed + Send + Sync + 'static {
    /// What one match takes.
    type Answer;
    /// A responder that refuses every call with `status`.
    fn failing(status: Status) -> Self;
    /// The answer for one match, or `None` when the responder is used up
    /// (then the stub no longer matches).
    fn take(&self) -> Option<Self::Answer>;
}

mod sealed {
    pub trait Sealed {}
    impl<R: crate::rpc::Rpc> Sealed for super::Replies<R> {}
    impl<T> Sealed for super::Script<T> {}
}

/// One message or status per match (unary, client streaming, bidi actions).
#[doc(hidden)]
pub enum Replies<R: Rpc> {
    /// A function of the request messages (one for unary and bidi).
    With(ReplyFn<R>),
    /// Answers in turn; the stub stops matching once they are used up.
    InTurn(Mutex<VecDeque<Result<R::Response, Status>>>),
}

/// The answer one match took from [`Replies`].
#[doc(hidden)]
pub enum Reply<R: Rpc> {
    /// Taken from a sequence.
    Ready(Result<R::Response, Status>),
    /// Computed from the request messages.
    Call(ReplyFn<R>),
}

impl<R: Rpc> Reply<R> {
    /// The answer to `requests`; a panicking closure becomes INTERNAL with
    /// the same message as any handler panic (E-6).
    pub(crate) fn to(self, requests: &[R::Request]) -> Result<R::Response, Status> {
        match self {
            Self::Ready(reply) => reply,
            Self::Call(f) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(requests)))
                .unwrap_or_else(|_| {
                    Err(Status::internal(crate::layers::catch_panic::PANIC_MESSAGE))
                }),
        }
    }
}

impl<R: Rpc> Respond for Replies<R> {
    type Answer = Reply<R>;

    fn failing(status: Status) -> Self {
        Self::With(Arc::new(move |_| Err(status.clone())))
    }

    fn take(&self) -> Option<Reply<R>> {
        match self {
            Self::With(f) => Some(Reply::Call(Arc::clone(f))),
            Self::InTurn(queue) => queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front()
                .map(Reply::Ready),
        }
    }
}

/// A server stream: refused at the start with a status, or these messages
/// (with an optional pause between them), then OK, `end`, or held open.
#[doc(hidden)]
#[derive(Clone)]
pub enum Script<T> {
    /// The call fails before any message, as a handler returning `Err` does.
    Refuse(Status),
    /// Messages, then the end.
    Stream {
        /// The messages, in order (shared: each call clones a message only
        /// as it sends it).
        items: Arc<[T]>,
        /// The pause between two messages.
        between: Option<Duration>,
        /// The status after the messages; OK when `None`.
        end: Option<Status>,
        /// Instead of ending, stay open until the caller's deadline or
        /// cancel (as a watch of an order that does not change).
        hold: bool,
    },
}

impl<T> Default for Script<T> {
    fn default() -> Self {
        Self::Stream {
            items: Arc::from([]),
            between: None,
            end: None,
            hold: false,
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Respond for Script<T> {
    type Answer = Self;

    fn failing(status: Status) -> Self {
        Self::Refuse(status)
    }

    fn take(&self) -> Option<Self> {
        Some(self.clone())
    }
}
