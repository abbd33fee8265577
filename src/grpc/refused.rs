//! A call the server never saw, sent again. HTTP/2 lets a server (or a
//! proxy in front of it) turn a stream away unprocessed: with
//! `RST_STREAM(REFUSED_STREAM)`, or with a `GOAWAY` whose last stream id is
//! below the stream's (RFC 9113, sections 8.7 and 6.8). A proxy that
//! rotates its client connections does the second to any busy client:
//! nginx after 1,000 requests on a connection by default. gRPC stacks send
//! such calls again (grpc-go calls it transparent retry); tonic's channel
//! reports them as `INTERNAL: h2 protocol error`, which a contract check
//! would read as the server's answer.
//!
//! A call can also be caught in between: queued in the client for a
//! connection that then closes after its `GOAWAY`, and never written.
//!
//! [`Refused`] sends such a call again, on a new stream, with the same
//! headers and the request body from its first byte, up to
//! [`AGAIN`] times. Nothing else is sent twice: not a call whose response
//! headers came (the server saw it), not one that failed any other way,
//! not one whose request body grew past [`KEPT`] bytes before it was
//! turned away. The call's `grpc-timeout` is sent again as it was: a
//! refusal comes within a round trip, and the client's own bound on the
//! call is above this layer.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Frame;
use pin_project_lite::pin_project;
use tonic::body::Body;
use tower::util::Oneshot;
use tower::{Layer, Service, ServiceExt};

/// How many times one call may be sent again.
pub(crate) const AGAIN: u8 = 3;

/// The request body a call keeps to send again, in bytes: above it, the
/// call is sent once (tonic's default message limit, 4 MiB).
pub(crate) const KEPT: usize = 4 * 1024 * 1024;

/// Layer that applies [`Refused`], counting the calls it sends again.
#[derive(Debug, Clone, Default)]
pub(crate) struct RefusedLayer {
    sent_again: Arc<AtomicU64>,
}

impl RefusedLayer {
    /// How many calls were sent again so far (each counted once); the
    /// contract suite reports it.
    #[cfg(any(test, feature = "contract"))]
    pub(crate) fn sent_again(&self) -> Arc<AtomicU64> {
        self.sent_again.clone()
    }
}

impl<S> Layer<S> for RefusedLayer {
    type Service = Refused<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Refused {
            inner,
            sent_again: self.sent_again.clone(),
        }
    }
}

/// A client-side service that sends a refused call again (module docs).
#[derive(Debug, Clone)]
pub(crate) struct Refused<S> {
    inner: S,
    sent_again: Arc<AtomicU64>,
}

impl<S, B> Service<Request<Body>> for Refused<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone,
    S::Error: std::error::Error + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RefusedFuture<S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let tape = Tape::new(body);
        let first = Request::from_parts(parts.clone(), Tape::player(&tape));
        // The clone waits for its readiness; the ready one takes the call.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        RefusedFuture {
            state: State::First {
                fut: ready.call(first),
            },
            again: Again {
                service: ready,
                parts,
                tape,
                left: AGAIN,
                sent_again: self.sent_again.clone(),
            },
        }
    }
}

/// What a call needs to be sent again.
struct Again<S> {
    service: S,
    parts: http::request::Parts,
    tape: Arc<Mutex<Tape>>,
    left: u8,
    sent_again: Arc<AtomicU64>,
}

pin_project! {
    /// The future of [`Refused`]: the first attempt, then any sent again.
    pub(crate) struct RefusedFuture<S>
    where
        S: Service<Request<Body>>,
    {
        #[pin]
        state: State<S>,
        again: Again<S>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S>
    where
        S: Service<Request<Body>>,
    {
        First { #[pin] fut: S::Future },
        Again { #[pin] fut: Oneshot<S, Request<Body>> },
    }
}

impl<S, B> Future for RefusedFuture<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone,
    S::Error: std::error::Error + 'static,
{
    type Output = Result<Response<B>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let result = match this.state.as_mut().project() {
                StateProj::First { fut } => ready!(fut.poll(cx)),
                StateProj::Again { fut } => ready!(fut.poll(cx)),
            };
            let again = &mut *this.again;
            match result {
                Ok(response) => {
                    // Answered: the server saw the call, which is never
                    // sent again; the rest of its body passes unkept.
                    lock(&again.tape).forget();
                    return Poll::Ready(Ok(response));
                }
                Err(e) if again.left > 0 && refused(&e) && lock(&again.tape).rewind() => {
                    if again.left == AGAIN {
                        again.sent_again.fetch_add(1, Ordering::Relaxed);
                    }
                    again.left -= 1;
                    let req = Request::from_parts(again.parts.clone(), Tape::player(&again.tape));
                    this.state.set(State::Again {
                        fut: again.service.clone().oneshot(req),
                    });
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// Whether `error` says the call never reached the server: a `GOAWAY`
/// from the peer that left its stream out, the peer's
/// `RST_STREAM(REFUSED_STREAM)`, or a connection that closed (after a
/// `GOAWAY`) with the call still queued in the client, unsent (hyper's
/// "canceled").
pub(crate) fn refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_canceled)
        {
            return true;
        }
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.is_remote()
                && (h2.is_go_away() || h2.reason() == Some(h2::Reason::REFUSED_STREAM));
        }
        next = e.source();
    }
    false
}

/// A request body shared by the attempts of one call: the frames already
/// taken from it, kept until the call is answered, then the rest.
struct Tape {
    /// The rest of the request body (`None` once it ended).
    source: Option<Body>,
    /// Data frames taken so far, while `kept`.
    taken: Vec<Bytes>,
    size: usize,
    /// Whether the call can still be sent again: no answer yet, and the
    /// body taken is within [`KEPT`].
    kept: bool,
    /// The attempt the body now belongs to; an older attempt's body ends.
    attempt: u32,
}

impl Tape {
    fn new(body: Body) -> Arc<Mutex<Tape>> {
        Arc::new(Mutex::new(Tape {
            source: Some(body),
            taken: Vec::new(),
            size: 0,
            kept: true,
            attempt: 0,
        }))
    }

    /// The body of the tape's current attempt.
    fn player(tape: &Arc<Mutex<Tape>>) -> Body {
        Body::new(Player {
            tape: tape.clone(),
            attempt: lock(tape).attempt,
            at: 0,
        })
    }

    /// Starts a new attempt from the first frame, if the call can be sent
    /// again.
    fn rewind(&mut self) -> bool {
        if self.kept {
            self.attempt += 1;
        }
        self.kept
    }

    /// Stops keeping frames: the call was answered or grew too large.
    fn forget(&mut self) {
        self.kept = false;
        self.taken = Vec::new();
    }
}

fn lock(tape: &Mutex<Tape>) -> MutexGuard<'_, Tape> {
    tape.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One attempt's request body: the kept frames from `at`, then the rest of
/// the source.
struct Player {
    tape: Arc<Mutex<Tape>>,
    attempt: u32,
    at: usize,
}

impl http_body::Body for Player {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let tape = self.tape.clone();
        let mut tape = lock(&tape);
        if tape.attempt != self.attempt {
            // This attempt was turned away; its stream is gone.
            return Poll::Ready(None);
        }
        if tape.kept
            && let Some(data) = tape.taken.get(self.at)
        {
            let data = data.clone();
            self.at += 1;
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        let Some(source) = tape.source.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = ready!(Pin::new(source).poll_frame(cx));
        match &frame {
            None => tape.source = None,
            Some(Ok(frame)) if tape.kept => {
                if let Some(data) = frame.data_ref() {
                    tape.size += data.len();
                    if tape.size > KEPT {
                        tape.forget();
                    } else {
                        tape.taken.push(data.clone());
                        self.at = tape.taken.len();
                    }
                }
            }
            Some(_) => {}
        }
        Poll::Ready(frame)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tonic::transport::{Channel, Endpoint};

    use super::*;
    use crate::OrderMock;
    use crate::pb::order_service_client::OrderServiceClient;
    use crate::pb::{CreateOrderRequest, GetOrderRequest, LineItem};

    /// Writes one HTTP/2 frame.
    async fn frame(io: &mut DuplexStream, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let len = (payload.len() as u32).to_be_bytes();
        let mut head = vec![len[1], len[2], len[3], kind, flags];
        head.extend_from_slice(&stream.to_be_bytes());
        io.write_all(&head).await.unwrap();
        io.write_all(payload).await.unwrap();
    }

    /// A peer that reads the client's preface and its first stream's
    /// HEADERS, answers with GOAWAY(last stream 0, NO_ERROR), and closes:
    /// the stream was turned away unprocessed.
    async fn go_away_at_once(mut io: DuplexStream) {
        frame(&mut io, 0x4, 0, 0, &[]).await; // SETTINGS
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // Preface (24 bytes), then frames until a HEADERS (type 0x1).
        loop {
            let n = io.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            seen.extend_from_slice(&buf[..n]);
            let mut at = 24;
            let mut headers = false;
            while seen.len() >= at + 9 {
                let len = u32::from_be_bytes([0, seen[at], seen[at + 1], seen[at + 2]]) as usize;
                headers |= seen[at + 3] == 0x1;
                at += 9 + len;
            }
            if headers {
                break;
            }
        }
        let mut goaway = 0u32.to_be_bytes().to_vec();
        goaway.extend_from_slice(&0u32.to_be_bytes()); // NO_ERROR
        frame(&mut io, 0x7, 0, 0, &goaway).await;
        io.flush().await.unwrap();
    }

    /// A channel whose first connection goes away at once and whose later
    /// ones reach `mock`; counts the connections.
    fn first_connection_goes_away(mock: &OrderMock, opened: Arc<AtomicUsize>) -> Channel {
        let connector = mock.connector().clone();
        Endpoint::from_static("http://refused.test").connect_with_connector_lazy(tower::service_fn(
            move |_: http::Uri| {
                let conn = if opened.fetch_add(1, Ordering::SeqCst) == 0 {
                    let (client, server) = tokio::io::duplex(64 * 1024);
                    tokio::spawn(go_away_at_once(server));
                    Ok(client)
                } else {
                    connector.connect()
                };
                async move { conn.map(TokioIo::new) }
            },
        ))
    }

    /// A client through the layer to `mock`, its first connection going
    /// away at once; the connections opened and the calls sent again.
    struct ThroughRefusal {
        client: OrderServiceClient<Refused<Channel>>,
        opened: Arc<AtomicUsize>,
        sent_again: Arc<AtomicU64>,
    }

    fn through_refusal(mock: &OrderMock) -> ThroughRefusal {
        let opened = Arc::new(AtomicUsize::new(0));
        let layer = RefusedLayer::default();
        let channel = first_connection_goes_away(mock, opened.clone());
        ThroughRefusal {
            client: OrderServiceClient::new(layer.layer(channel)),
            opened,
            sent_again: layer.sent_again(),
        }
    }

    fn order(customer: &str) -> CreateOrderRequest {
        CreateOrderRequest {
            customer_id: customer.into(),
            items: vec![LineItem {
                product_id: "p".into(),
                quantity: 1,
                price_cents: 100,
            }],
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_call_turned_away_by_goaway_is_sent_again_and_made_once() {
        let mock = OrderMock::start().await;
        let mut through = through_refusal(&mock);
        let made = through
            .client
            .create_order(order("c-goaway"))
            .await
            .unwrap();
        assert_eq!(
            through.opened.load(Ordering::SeqCst),
            2,
            "sent again on a new connection"
        );
        assert_eq!(through.sent_again.load(Ordering::Relaxed), 1);
        assert_eq!(mock.journal().len(), 1, "the server saw it once");
        let id = made.into_inner().order_id;
        let stored = mock
            .client()
            .get_order(GetOrderRequest { order_id: id })
            .await;
        assert_eq!(stored.unwrap().into_inner().customer_id, "c-goaway");
    }

    #[tokio::test]
    async fn a_call_the_mock_forwards_is_sent_again_when_its_upstream_turns_it_away() {
        let upstream = OrderMock::start().await;
        let opened = Arc::new(AtomicUsize::new(0));
        let channel = first_connection_goes_away(&upstream, opened.clone());
        let front = OrderMock::builder().proxy(channel).start().await;
        let made = front.client().create_order(order("c-proxied")).await;
        assert!(made.is_ok(), "{made:?}");
        assert_eq!(opened.load(Ordering::SeqCst), 2);
        assert_eq!(upstream.journal().len(), 1, "the upstream saw it once");
    }

    #[tokio::test]
    async fn without_the_layer_the_same_call_fails_as_an_h2_error() {
        // The case above is a real refusal: tonic alone reports it.
        let mock = OrderMock::start().await;
        let channel = first_connection_goes_away(&mock, Arc::new(AtomicUsize::new(0)));
        let err = OrderServiceClient::new(channel)
            .create_order(order("c-bare"))
            .await
            .unwrap_err();
        assert!(err.message().contains("h2 protocol error"), "{err:?}");
        assert!(refused(&err), "{err:?}");
        assert_eq!(mock.journal().len(), 0, "the server never saw it");
    }

    #[tokio::test]
    async fn a_streamed_request_is_sent_again_from_its_first_message() {
        let mock = OrderMock::start().await;
        let mut through = through_refusal(&mock);
        let items: Vec<LineItem> = (1..=3)
            .map(|n| LineItem {
                product_id: format!("p{n}"),
                quantity: n,
                price_cents: 100,
            })
            .collect();
        let summary = through
            .client
            .submit_line_items(tokio_stream::iter(items))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(through.opened.load(Ordering::SeqCst), 2);
        assert_eq!(through.sent_again.load(Ordering::Relaxed), 1);
        assert_eq!(summary.item_count, 3);
        assert_eq!(summary.total_cents, (1 + 2 + 3) * 100);
    }

    fn body_of(parts: &[&'static str]) -> Body {
        let frames = parts
            .iter()
            .map(|s| Ok::<_, tonic::Status>(Frame::data(Bytes::from_static(s.as_bytes()))));
        Body::new(http_body_util::StreamBody::new(tokio_stream::iter(
            frames.collect::<Vec<_>>(),
        )))
    }

    async fn next_data(body: &mut Body) -> Option<Bytes> {
        use http_body_util::BodyExt;
        let frame = body.frame().await?.unwrap();
        Some(frame.into_data().unwrap())
    }

    #[tokio::test]
    async fn a_rewound_body_plays_the_frames_taken_then_the_rest() {
        let tape = Tape::new(body_of(&["a", "b", "c"]));
        let mut first = Tape::player(&tape);
        assert_eq!(next_data(&mut first).await.unwrap(), "a");
        assert!(lock(&tape).rewind());
        let mut second = Tape::player(&tape);
        assert_eq!(
            next_data(&mut first).await,
            None,
            "the refused attempt's body ended"
        );
        let mut played = Vec::new();
        while let Some(data) = next_data(&mut second).await {
            played.push(data);
        }
        assert_eq!(played, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn an_answered_call_keeps_nothing_and_cannot_be_rewound() {
        let tape = Tape::new(body_of(&["a", "b"]));
        let mut body = Tape::player(&tape);
        assert_eq!(next_data(&mut body).await.unwrap(), "a");
        lock(&tape).forget();
        assert_eq!(next_data(&mut body).await.unwrap(), "b");
        assert!(lock(&tape).taken.is_empty());
        assert!(!lock(&tape).rewind());
    }

    /// A peer that answers each call's headers, reads two request
    /// messages, then resets the stream with REFUSED_STREAM; counts calls.
    async fn answers_then_refuses(io: DuplexStream, calls: Arc<AtomicUsize>) {
        let Ok(mut conn) = h2::server::handshake(io).await else {
            return;
        };
        while let Some(Ok((req, mut respond))) = conn.accept().await {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let headers = http::Response::builder()
                    .header("content-type", "application/grpc")
                    .body(())
                    .unwrap();
                let mut stream = respond.send_response(headers, false).unwrap();
                let mut body = req.into_body();
                for _ in 0..2 {
                    if let Some(Ok(data)) = body.data().await {
                        let _ = body.flow_control().release_capacity(data.len());
                    }
                }
                stream.send_reset(h2::Reason::REFUSED_STREAM);
            });
        }
    }

    #[tokio::test]
    async fn a_call_refused_after_its_response_headers_is_not_sent_again() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let channel = Endpoint::from_static("http://answered.test").connect_with_connector_lazy(
            tower::service_fn(move |_: http::Uri| {
                let (client, server) = tokio::io::duplex(64 * 1024);
                tokio::spawn(answers_then_refuses(server, seen.clone()));
                async move { Ok::<_, std::io::Error>(TokioIo::new(client)) }
            }),
        );
        let layer = RefusedLayer::default();
        let mut client = OrderServiceClient::new(layer.layer(channel));
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let action = |id: &str| crate::pb::OrderAction {
            order_id: id.into(),
            ..Default::default()
        };
        tx.send(action("o-1")).await.unwrap();
        let mut results = client
            .process_orders(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        // The headers came: the second message goes after them.
        tx.send(action("o-2")).await.unwrap();
        let err = results.message().await.unwrap_err();
        assert!(refused(&err), "the stream was refused: {err:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "sent once");
        assert_eq!(layer.sent_again().load(Ordering::Relaxed), 0);
    }
}
