//! FaultLayer in isolation, with tower-test: no network, virtual time.
//! One test or more per fault kind, and the selection rules.

mod common;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use orders_testkit::fault::{Fault, FaultLayer, FaultPlan, FaultRequest};
use orders_testkit::grpc::frame::encode_frame;
use orders_testkit::rpc::{GetOrder, Method, WatchOrderStatus};
use orders_testkit::server::ConnectionControl;
use tokio::time::Instant;
use tonic::Code;
use tower::{Layer, Service, ServiceExt};
use tower_test::mock;

type Req = http::Request<tonic::body::Body>;
/// What the service behind the layer gets.
type Inner = http::Request<FaultRequest<tonic::body::Body>>;
type Res = http::Response<tonic::body::Body>;

fn req(method: Method) -> Req {
    http::Request::builder()
        .uri(method.path())
        .body(tonic::body::Body::empty())
        .unwrap()
}

fn with_timeout(mut r: Req, ms: u64) -> Req {
    r.headers_mut()
        .insert("grpc-timeout", format!("{ms}m").parse().unwrap());
    r
}

/// A service answering every call with these messages and OK.
fn ok_with(messages: &[&[u8]]) -> Res {
    let frames: Vec<Result<http_body::Frame<Bytes>, tonic::Status>> = messages
        .iter()
        .map(|m| Ok(http_body::Frame::data(encode_frame(m))))
        .chain(std::iter::once(Ok(http_body::Frame::trailers({
            let mut t = http::HeaderMap::new();
            t.insert("grpc-status", "0".parse().unwrap());
            t
        }))))
        .collect();
    http::Response::new(tonic::body::Body::new(http_body_util::StreamBody::new(
        tokio_stream::iter(frames),
    )))
}

/// Calls the layered service; the inner service answers `messages` if reached.
/// Returns the response and whether the inner service saw the call.
async fn call(plan: &FaultPlan, request: Req, messages: &[&'static [u8]]) -> (Res, bool) {
    let (inner, mut handle) = mock::pair::<Inner, Res>();
    let mut svc = FaultLayer::new(plan.clone()).layer(inner);
    let messages: Vec<&'static [u8]> = messages.to_vec();
    let responder = tokio::spawn(async move {
        if let Some((_, send)) = handle.next_request().await {
            send.send_response(ok_with(&messages));
            true
        } else {
            false
        }
    });
    let res = svc
        .ready()
        .await
        .map_err(|_| ())
        .unwrap()
        .call(request)
        .await
        .map_err(|_| ())
        .unwrap();
    drop(svc);
    (res.map(tonic::body::Body::new), responder.await.unwrap())
}

/// Reads a whole response: its messages and its final status.
async fn read(res: Res) -> (Vec<Bytes>, Option<tonic::Status>) {
    if let Some(st) = tonic::Status::from_header_map(res.headers()) {
        return (vec![], Some(st));
    }
    let mut body = res.into_body();
    let mut data = Vec::new();
    let mut status = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => match f.into_data() {
                Ok(d) => data.push(d),
                Err(f) => status = f.trailers_ref().and_then(tonic::Status::from_header_map),
            },
            Err(e) => {
                status = Some(tonic::Status::unknown(format!("body error: {e}")));
                break;
            }
        }
    }
    let mut dec = orders_testkit::grpc::frame::FrameDecoder::default();
    let mut messages = vec![];
    for d in data {
        dec.push(&d);
        while let Some(m) = dec.next_message() {
            messages.push(m.unwrap());
        }
    }
    (messages, status)
}

#[tokio::test]
async fn status_fault_answers_without_calling_the_service() {
    let plan = FaultPlan::new().with(Fault::fail(tonic::Status::unavailable("down")).on(GetOrder));
    let (res, reached) = call(&plan, req(Method::GetOrder), &[b"x"]).await;
    let (_, st) = read(res).await;
    assert_eq!(st.unwrap().code(), Code::Unavailable);
    assert!(!reached);
    // Another RPC is not selected.
    let (res, reached) = call(&plan, req(Method::CreateOrder), &[b"x"]).await;
    assert!(reached);
    assert_eq!(read(res).await.0.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn delay_fault_waits_then_calls() {
    let plan = FaultPlan::new().with(Fault::delay(Duration::from_millis(200)));
    let start = Instant::now();
    let (res, reached) = call(&plan, req(Method::GetOrder), &[b"x"]).await;
    assert!(reached);
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert_eq!(read(res).await.1.unwrap().code(), Code::Ok);
}

#[tokio::test(start_paused = true)]
async fn d1_delay_past_deadline_is_deadline_exceeded_at_the_deadline() {
    let plan = FaultPlan::new().with(Fault::delay(Duration::from_millis(200)));
    let start = Instant::now();
    let (res, reached) = call(&plan, with_timeout(req(Method::GetOrder), 50), &[b"x"]).await;
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(50),
        "virtual time: exactly the deadline"
    );
    assert!(!reached, "D-4: the service never saw the call");
    assert_eq!(read(res).await.1.unwrap().code(), Code::DeadlineExceeded);
}

#[tokio::test(start_paused = true)]
async fn jitter_is_bounded_and_seeded() {
    let delays = |seed| async move {
        let plan = FaultPlan::seeded(seed).with(Fault::delay_jitter(
            Duration::from_millis(10),
            Duration::from_millis(90),
        ));
        let mut out = vec![];
        for _ in 0..8 {
            let start = Instant::now();
            call(&plan, req(Method::GetOrder), &[]).await;
            out.push(start.elapsed());
        }
        out
    };
    let a = delays(42).await;
    assert_eq!(a, delays(42).await, "same seed, same delays");
    assert_ne!(a, delays(43).await);
    assert!(
        a.iter()
            .all(|d| *d >= Duration::from_millis(10) && *d <= Duration::from_millis(100))
    );
}

#[tokio::test(start_paused = true)]
async fn hang_fault_ends_at_the_deadline() {
    let plan = FaultPlan::new().with(Fault::hang());
    let start = Instant::now();
    let (res, reached) = call(&plan, with_timeout(req(Method::GetOrder), 75), &[b"x"]).await;
    assert_eq!(start.elapsed(), Duration::from_millis(75));
    assert!(!reached);
    assert_eq!(read(res).await.1.unwrap().code(), Code::DeadlineExceeded);
}

#[tokio::test(start_paused = true)]
async fn hang_without_deadline_never_answers() {
    let plan = FaultPlan::new().with(Fault::hang());
    let (inner, _handle) = mock::pair::<Inner, Res>();
    let mut svc = FaultLayer::new(plan).layer(inner);
    let fut = svc
        .ready()
        .await
        .map_err(|_| ())
        .unwrap()
        .call(req(Method::GetOrder));
    // Virtual time: an hour passes in no time, and still no answer.
    assert!(
        tokio::time::timeout(Duration::from_secs(3600), fut)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn abort_fault_passes_n_messages_then_the_status() {
    let plan = FaultPlan::new()
        .with(Fault::abort_after(2, tonic::Status::aborted("stream cut")).on(WatchOrderStatus));
    let (res, reached) = call(
        &plan,
        req(Method::WatchOrderStatus),
        &[b"one", b"two", b"three"],
    )
    .await;
    assert!(reached);
    let (messages, st) = read(res).await;
    assert_eq!(
        messages,
        [Bytes::from_static(b"one"), Bytes::from_static(b"two")]
    );
    assert_eq!(st.unwrap().code(), Code::Aborted);
}

#[tokio::test]
async fn abort_after_more_than_sent_leaves_the_call_alone() {
    let plan = FaultPlan::new().with(Fault::abort_after(5, tonic::Status::aborted("cut")));
    let (res, _) = call(&plan, req(Method::WatchOrderStatus), &[b"a", b"b"]).await;
    let (messages, st) = read(res).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(st.unwrap().code(), Code::Ok);
}

#[tokio::test(start_paused = true)]
async fn delay_between_messages_and_cut_at_deadline() {
    let plan = FaultPlan::new().with(Fault::delay_between(Duration::from_millis(30)));
    let start = Instant::now();
    let (res, _) = call(&plan, req(Method::WatchOrderStatus), &[b"a", b"b", b"c"]).await;
    let (messages, st) = read(res).await;
    assert_eq!(messages.len(), 3);
    assert_eq!(st.unwrap().code(), Code::Ok);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(60),
        "two pauses between three messages"
    );

    let start = Instant::now();
    let (res, _) = call(
        &plan,
        with_timeout(req(Method::WatchOrderStatus), 45),
        &[b"a", b"b", b"c"],
    )
    .await;
    let (messages, st) = read(res).await;
    assert_eq!(messages.len(), 2, "the third would come after the deadline");
    assert_eq!(st.unwrap().code(), Code::DeadlineExceeded);
    assert_eq!(start.elapsed(), Duration::from_millis(45));
}

#[tokio::test]
async fn reset_fault_fails_the_body() {
    let plan = FaultPlan::new().with(Fault::reset());
    let (res, reached) = call(&plan, req(Method::GetOrder), &[b"x"]).await;
    assert!(!reached);
    assert!(tonic::Status::from_header_map(res.headers()).is_none());
    let (_, st) = read(res).await;
    assert!(st.unwrap().message().starts_with("body error"));
}

#[tokio::test]
async fn drop_connection_fault_uses_the_connection_control() {
    let plan = FaultPlan::new().with(Fault::drop_connection());
    let control = ConnectionControl::new();
    let mut r = req(Method::GetOrder);
    r.extensions_mut().insert(control.clone());
    let (inner, _handle) = mock::pair::<Inner, Res>();
    let mut svc = FaultLayer::new(plan.clone()).layer(inner);
    let mut fut = svc.ready().await.map_err(|_| ()).unwrap().call(r);
    // One poll (a zero timeout polls the future first): the layer has acted,
    // and the call itself never resolves; the connection takes it away.
    assert!(
        tokio::time::timeout(Duration::ZERO, &mut fut)
            .await
            .is_err()
    );
    assert!(control.is_dropped());
    // Without a control (a server that offers none) it resets the stream.
    let (res, reached) = call(&plan, req(Method::GetOrder), &[b"x"]).await;
    assert!(!reached);
    assert!(
        read(res)
            .await
            .1
            .unwrap()
            .message()
            .starts_with("body error")
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limit_admits_n_per_window_with_retry_info() {
    use tonic_types::StatusExt;
    let plan = FaultPlan::new().with(Fault::rate_limit(2, Duration::from_millis(100)));
    for _ in 0..2 {
        assert!(call(&plan, req(Method::GetOrder), &[b"x"]).await.1);
    }
    tokio::time::advance(Duration::from_millis(40)).await;
    let (res, reached) = call(&plan, req(Method::GetOrder), &[b"x"]).await;
    assert!(!reached);
    let st = read(res).await.1.unwrap();
    assert_eq!(st.code(), Code::ResourceExhausted);
    assert_eq!(
        st.get_details_retry_info().unwrap().retry_delay,
        Some(Duration::from_millis(60))
    );
    tokio::time::advance(Duration::from_millis(60)).await;
    assert!(
        call(&plan, req(Method::GetOrder), &[b"x"]).await.1,
        "a new window admits again"
    );
}

async fn fired(plan: &FaultPlan, requests: impl IntoIterator<Item = Req>) -> Vec<bool> {
    let mut out = vec![];
    for r in requests {
        let (res, reached) = call(plan, r, &[b"x"]).await;
        drop(res);
        out.push(!reached);
    }
    out
}

#[tokio::test]
async fn schedules_first_every_after_between() {
    let st = || tonic::Status::unavailable("x");
    let cases = [
        (
            Fault::fail(st()).first(2),
            [true, true, false, false, false, false],
        ),
        (
            Fault::fail(st()).every(3),
            [false, false, true, false, false, true],
        ),
        (
            Fault::fail(st()).after(4),
            [false, false, false, false, true, true],
        ),
        (
            Fault::fail(st()).between(2, 3),
            [false, true, true, false, false, false],
        ),
    ];
    for (fault, expected) in cases {
        let plan = FaultPlan::new().with(fault);
        let got = fired(&plan, (0..6).map(|_| req(Method::GetOrder))).await;
        assert_eq!(got, expected);
    }
}

#[tokio::test]
async fn header_selection_and_counting_only_selected_calls() {
    let plan = FaultPlan::new().with(
        Fault::fail(tonic::Status::unavailable("x"))
            .when_header("x-tenant", "a")
            .first(1),
    );
    let tenant = |v: &str| {
        let mut r = req(Method::GetOrder);
        r.headers_mut().insert("x-tenant", v.parse().unwrap());
        r
    };
    let got = fired(
        &plan,
        [tenant("b"), tenant("a"), tenant("a"), req(Method::GetOrder)],
    )
    .await;
    assert_eq!(got, [false, true, false, false]);
}

#[tokio::test]
async fn probability_is_deterministic_per_seed() {
    let run = |seed| async move {
        let plan = FaultPlan::seeded(seed)
            .with(Fault::fail(tonic::Status::unavailable("x")).probability(0.5));
        fired(&plan, (0..64).map(|_| req(Method::GetOrder))).await
    };
    let a = run(1234).await;
    assert_eq!(
        a,
        run(1234).await,
        "same seed, same faults on the same calls"
    );
    assert_ne!(a, run(4321).await);
    let hits = a.iter().filter(|x| **x).count();
    assert!((16..=48).contains(&hits), "about half of 64: {hits}");
    assert!(
        fired(
            &FaultPlan::new().with(Fault::reset().probability(0.0)),
            (0..10).map(|_| req(Method::GetOrder))
        )
        .await
        .iter()
        .all(|x| !x)
    );
}
