//! [`JournalLayer`]: records every call that passes into a [`Journal`],
//! and ends every call it started: with the status the client got, or as
//! [`Outcome::Cancelled`] when the response was dropped before its headers
//! (a client deadline, a dropped future, a lost connection), or as
//! [`Outcome::NoStatus`] when a response ended without a status.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame};
use pin_project_lite::pin_project;
use tonic::metadata::MetadataMap;
use tower::{Layer, Service};

use tokio::time::Instant;

use super::{Call, ClientEnd, Journal, Notes, Outcome};
use crate::grpc::frame::FrameDecoder;
use crate::rpc::Method;

/// A layer that records every call in a [`Journal`]; the mock puts it
/// outermost. Works around any tonic server (or client channel).
///
/// ```
/// use orders_testkit::journal::{Journal, JournalLayer};
/// use tower::Layer;
///
/// let journal = Journal::new();
/// let _recorded = JournalLayer::new(journal.clone()).layer(tonic::service::Routes::default());
/// assert!(journal.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct JournalLayer {
    journal: Journal,
}

impl JournalLayer {
    /// Records into `journal`.
    ///
    /// ```
    /// use orders_testkit::journal::{Journal, JournalLayer};
    /// let _layer = JournalLayer::new(Journal::new());
    /// ```
    pub fn new(journal: Journal) -> Self {
        Self { journal }
    }
}

impl<S> Layer<S> for JournalLayer {
    type Service = JournalService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JournalService {
            inner,
            journal: self.journal.clone(),
        }
    }
}

/// The service of [`JournalLayer`].
///
/// ```
/// use orders_testkit::journal::{Journal, JournalLayer, JournalService};
/// use tower::Layer;
/// let _svc: JournalService<tonic::service::Routes> =
///     JournalLayer::new(Journal::new()).layer(tonic::service::Routes::default());
/// ```
#[derive(Debug, Clone)]
pub struct JournalService<S> {
    inner: S,
    journal: Journal,
}

impl<S, B, ResBody> Service<http::Request<B>> for JournalService<S>
where
    S: Service<http::Request<RecordingRequest<B>>, Response = http::Response<ResBody>>,
    B: Body<Data = Bytes> + Send + 'static,
    ResBody: Body<Data = Bytes>,
{
    type Response = http::Response<RecordingResponse<ResBody>>;
    type Error = S::Error;
    type Future = JournalFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if !self.journal.is_enabled() {
            return JournalFuture {
                inner: self.inner.call(req.map(RecordingRequest::off)),
                end: None,
            };
        }
        let (mut parts, body) = req.into_parts();
        let metadata = MetadataMap::from_headers(parts.headers.clone());
        let deadline = crate::grpc::deadline::timeout_in(&parts.headers);
        let given = parts
            .headers
            .get(super::GIVEN_TIMEOUT)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::grpc::deadline::parse_grpc_timeout);
        let seq = self
            .journal
            .start(parts.uri.path(), metadata, deadline, given);
        let method = Method::from_path(parts.uri.path());
        parts.extensions.insert(Notes {
            journal: self.journal.clone(),
            seq,
        });
        let body = RecordingRequest {
            inner: Some(Box::pin(body)),
            record: method.map(|_| RequestRecord {
                journal: self.journal.clone(),
                seq,
                decoder: FrameDecoder::default(),
            }),
            drain: drain::<B>,
        };
        JournalFuture {
            inner: self.inner.call(http::Request::from_parts(parts, body)),
            end: Some(EndRecorder {
                journal: self.journal.clone(),
                seq,
                method,
            }),
        }
    }
}

/// Splits a data frame into messages and hands each to call `seq` of the
/// journal with `push` (its requests or its responses).
fn record_messages(
    decoder: &mut FrameDecoder,
    data: &Bytes,
    journal: &Journal,
    seq: u64,
    push: fn(&mut Call, Option<Bytes>, usize) -> usize,
) {
    decoder.push_bytes(data.clone());
    while let Some(message) = decoder.next_message() {
        journal.record(seq, |c, cap| push(c, message.ok(), cap));
    }
}

/// How long the request side of a call is still recorded after the
/// server stopped reading it (a fault answered, or the handler ended):
/// until the client half-closes or cancels, at most this long.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Where one call's request messages go.
#[derive(Debug)]
struct RequestRecord {
    journal: Journal,
    seq: u64,
    decoder: FrameDecoder,
}

impl RequestRecord {
    /// Records what `frame` says: messages, the client's half-close, or its
    /// cancellation. True once the client's side has ended.
    fn frame<E>(&mut self, frame: Option<&Result<Frame<Bytes>, E>>) -> bool {
        let end = match frame {
            Some(Ok(f)) => {
                if let Some(data) = f.data_ref() {
                    record_messages(
                        &mut self.decoder,
                        data,
                        &self.journal,
                        self.seq,
                        Call::push_request,
                    );
                }
                return false;
            }
            None => ClientEnd::HalfClosed { at: Instant::now() },
            Some(Err(_)) => ClientEnd::Cancelled { at: Instant::now() },
        };
        self.journal.update(self.seq, |c| {
            c.client_end.get_or_insert(end);
        });
        true
    }
}

/// Reads the rest of a request body the server let go of, recording it,
/// until the client's side ends (at most [`DRAIN_LIMIT`]).
fn drain<B>(mut body: Pin<Box<B>>, mut record: RequestRecord)
where
    B: Body<Data = Bytes> + Send + 'static,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let read = async {
            loop {
                let frame = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await;
                if record.frame(frame.as_ref()) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_LIMIT, read).await;
    });
}

/// Ends one call in the journal, once.
#[derive(Debug)]
struct EndRecorder {
    journal: Journal,
    seq: u64,
    method: Option<Method>,
}

impl EndRecorder {
    fn finish(self, outcome: Outcome) {
        self.journal.finish(self.seq, outcome);
    }
}

pin_project! {
    /// The response future of [`JournalService`]: a call whose future is
    /// dropped before the response headers ends as [`Outcome::Cancelled`].
    pub struct JournalFuture<F> {
        #[pin]
        inner: F,
        end: Option<EndRecorder>,
    }

    impl<F> PinnedDrop for JournalFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(end) = this.project().end.take() {
                end.finish(Outcome::Cancelled);
            }
        }
    }
}

impl<F, B, E> Future for JournalFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<RecordingResponse<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let Some(end) = this.end.take() else {
            return Poll::Ready(result.map(|res| res.map(RecordingResponse::off)));
        };
        let res = match result {
            Ok(res) => res,
            Err(e) => {
                end.finish(Outcome::Cancelled);
                return Poll::Ready(Err(e));
            }
        };
        // A trailers-only response carries its status in the headers.
        if let Some(outcome) = Outcome::from_headers(res.headers()) {
            end.finish(outcome);
            return Poll::Ready(Ok(res.map(RecordingResponse::off)));
        }
        let (parts, body) = res.into_parts();
        let body = RecordingResponse {
            inner: body,
            decoder: FrameDecoder::default(),
            end: Some(end),
        };
        Poll::Ready(Ok(http::Response::from_parts(parts, body)))
    }
}

/// A request body whose messages go into the journal as they pass, with
/// the client's half-close or cancellation; what the server does not read
/// (a fault answered first) is read and recorded after it lets go.
pub struct RecordingRequest<B> {
    inner: Option<Pin<Box<B>>>,
    record: Option<RequestRecord>,
    drain: fn(Pin<Box<B>>, RequestRecord),
}

impl<B> RecordingRequest<B> {
    /// Passes `inner` through unrecorded (the journal is off).
    fn off(inner: B) -> Self {
        Self {
            inner: Some(Box::pin(inner)),
            record: None,
            drain: |_, _| {},
        }
    }
}

impl<B> std::fmt::Debug for RecordingRequest<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingRequest")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl<B> Drop for RecordingRequest<B> {
    fn drop(&mut self) {
        if let (Some(inner), Some(record)) = (self.inner.take(), self.record.take()) {
            (self.drain)(inner, record);
        }
    }
}

impl<B> Body for RecordingRequest<B>
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
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = ready!(inner.as_mut().poll_frame(cx));
        if let Some(record) = this.record.as_mut()
            && record.frame(frame.as_ref())
        {
            // The client's side is over: nothing is left to drain.
            this.record = None;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner
            .as_ref()
            .map_or_else(http_body::SizeHint::default, |b| b.size_hint())
    }
}

pin_project! {
    /// A response body whose messages and end go into the journal.
    pub struct RecordingResponse<B> {
        #[pin]
        inner: B,
        decoder: FrameDecoder,
        end: Option<EndRecorder>,
    }

    impl<B> PinnedDrop for RecordingResponse<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(end) = this.project().end.take() {
                end.finish(Outcome::NoStatus);
            }
        }
    }
}

impl<B> RecordingResponse<B> {
    /// Passes `inner` through unrecorded.
    fn off(inner: B) -> Self {
        Self {
            inner,
            decoder: FrameDecoder::default(),
            end: None,
        }
    }
}

impl<B: Default> Default for RecordingResponse<B> {
    fn default() -> Self {
        Self::off(B::default())
    }
}

impl<B: Body<Data = Bytes>> Body for RecordingResponse<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let (Some(Ok(frame)), Some(end)) = (&frame, this.end.as_ref())
            && let (Some(data), Some(_)) = (frame.data_ref(), end.method)
        {
            record_messages(
                this.decoder,
                data,
                &end.journal,
                end.seq,
                Call::push_response,
            );
        }
        let ended = match &frame {
            Some(Ok(f)) => f
                .trailers_ref()
                .map(|trailers| Outcome::from_headers(trailers).unwrap_or(Outcome::NoStatus)),
            Some(Err(_)) | None => Some(Outcome::NoStatus),
        };
        if let Some(outcome) = ended
            && let Some(end) = this.end.take()
        {
            end.finish(outcome);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
