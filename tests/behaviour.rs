//! `ServerBehaviour`: each way of differing from tonic does what it says,
//! observed on the HTTP response the layer produces.

use std::convert::Infallible;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use orders_testkit::layers::behaviour::{BehaviourLayer, ServerBehaviour};
use prost::Message;
use tokio::sync::mpsc;
use tower::{Layer, Service, ServiceExt};

type Body = http_body_util::StreamBody<
    tokio_stream::wrappers::ReceiverStream<Result<Frame<Bytes>, Infallible>>,
>;

type Frames = mpsc::Sender<Result<Frame<Bytes>, Infallible>>;

/// A server whose response headers are ready at once and whose body frames
/// come from the returned sender.
fn streaming_server() -> (
    impl Service<
        http::Request<()>,
        Response = http::Response<Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone,
    Frames,
) {
    let (tx, rx) = mpsc::channel(4);
    let rx = std::sync::Arc::new(std::sync::Mutex::new(Some(rx)));
    let svc = tower::service_fn(move |_req: http::Request<()>| {
        let rx = rx.lock().unwrap().take().expect("one call");
        async move {
            let mut res = http::Response::new(http_body_util::StreamBody::new(
                tokio_stream::wrappers::ReceiverStream::new(rx),
            ));
            res.headers_mut()
                .insert("content-type", "application/grpc".parse().unwrap());
            Ok::<_, Infallible>(res)
        }
    });
    (svc, tx)
}

fn request() -> http::Request<()> {
    http::Request::builder()
        .uri("/orders.v1.OrderService/ProcessOrders")
        .body(())
        .unwrap()
}

fn trailers(code: &str, message: &str) -> http::HeaderMap {
    let mut t = http::HeaderMap::new();
    t.insert("grpc-status", code.parse().unwrap());
    t.insert("grpc-message", message.parse().unwrap());
    t
}

#[tokio::test]
async fn deferred_headers_wait_for_the_first_message() {
    let (inner, tx) = streaming_server();
    let mut svc = BehaviourLayer::new(ServerBehaviour::new().defer_headers()).layer(inner);
    let call = svc.ready().await.unwrap().call(request());
    tokio::pin!(call);
    for _ in 0..10 {
        tokio::task::yield_now().await;
        assert!(
            matches!(futures_util::poll!(call.as_mut()), Poll::Pending),
            "no headers before the first message"
        );
    }
    tx.send(Ok(Frame::data(Bytes::from_static(b"\0\0\0\0\x01A"))))
        .await
        .unwrap();
    let res = call.await.unwrap();
    let first = res.into_body().frame().await.unwrap().unwrap();
    assert_eq!(
        first.into_data().unwrap(),
        Bytes::from_static(b"\0\0\0\0\x01A")
    );
}

#[tokio::test]
async fn without_deferral_headers_come_at_once() {
    let (inner, _tx) = streaming_server();
    let mut svc = BehaviourLayer::new(ServerBehaviour::new()).layer(inner);
    let res = svc.ready().await.unwrap().call(request()).await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/grpc");
}

#[tokio::test]
async fn errors_after_headers_move_a_trailers_only_status_into_trailers() {
    let inner = tower::service_fn(|_req: http::Request<()>| async {
        Ok::<_, Infallible>(
            tonic::Status::not_found("order x not found").into_http::<tonic::body::Body>(),
        )
    });
    let mut svc = BehaviourLayer::new(ServerBehaviour::new().errors_after_headers()).layer(inner);
    let res = svc.ready().await.unwrap().call(request()).await.unwrap();
    assert!(
        !res.headers().contains_key("grpc-status"),
        "{:?}",
        res.headers()
    );
    let t = res
        .into_body()
        .collect()
        .await
        .unwrap()
        .trailers()
        .cloned()
        .expect("trailers");
    assert_eq!(t["grpc-status"], "5");
    assert_eq!(
        tonic::Status::from_header_map(&t).unwrap().message(),
        "order x not found"
    );
}

#[tokio::test]
async fn errors_trailers_only_merge_an_immediate_error_into_the_headers() {
    let (inner, tx) = streaming_server();
    let mut svc = BehaviourLayer::new(ServerBehaviour::new().errors_trailers_only()).layer(inner);
    tx.send(Ok(Frame::trailers(trailers("3", "bad"))))
        .await
        .unwrap();
    let res = svc.ready().await.unwrap().call(request()).await.unwrap();
    assert_eq!(res.headers()["grpc-status"], "3");
    assert_eq!(res.headers()["grpc-message"], "bad");
    let body = res.into_body().collect().await.unwrap();
    assert!(body.trailers().is_none() && body.to_bytes().is_empty());
}

#[tokio::test]
async fn details_on_every_error_repeat_code_and_message() {
    let inner = tower::service_fn(|_req: http::Request<()>| async {
        Ok::<_, Infallible>(
            tonic::Status::unavailable("try later").into_http::<tonic::body::Body>(),
        )
    });
    let mut svc = BehaviourLayer::new(
        ServerBehaviour::new()
            .details_on_every_error()
            .extra_metadata(),
    )
    .layer(inner);
    let res = svc.ready().await.unwrap().call(request()).await.unwrap();
    assert!(res.headers().contains_key("x-behaviour-extra"));
    let st = tonic::Status::from_header_map(res.headers()).unwrap();
    let details = tonic_types::pb::Status::decode(st.details()).unwrap();
    assert_eq!(details.code, tonic::Code::Unavailable as i32);
    assert_eq!(details.message, "try later");
}

#[tokio::test(start_paused = true)]
async fn latency_holds_each_response_within_its_bounds() {
    let inner = tower::service_fn(|_req: http::Request<()>| async {
        Ok::<_, Infallible>(tonic::Status::ok("").into_http::<tonic::body::Body>())
    });
    let (min, max) = (Duration::from_millis(20), Duration::from_millis(80));
    let mut svc =
        BehaviourLayer::new(ServerBehaviour::new().latency(min, max).seed(3)).layer(inner);
    for _ in 0..5 {
        let call = svc.ready().await.unwrap().call(request());
        tokio::pin!(call);
        assert!(matches!(futures_util::poll!(call.as_mut()), Poll::Pending));
        tokio::time::advance(min - Duration::from_millis(1)).await;
        assert!(
            matches!(futures_util::poll!(call.as_mut()), Poll::Pending),
            "not before the minimum"
        );
        tokio::time::advance(max - min + Duration::from_millis(1)).await;
        assert!(
            matches!(futures_util::poll!(call.as_mut()), Poll::Ready(Ok(_))),
            "by the maximum"
        );
    }
}
