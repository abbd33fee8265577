//! Wire-level faults: one test per protocol breakage, each run over the
//! in-process transport and over TCP loopback, stating what a tonic client
//! (0.14) then observes. The README's table is this file in prose.

use std::time::Duration;

use orders_testkit::fault::{Fault, WireFault};
use orders_testkit::pb::*;
use orders_testkit::prelude::{OrderMock, OrderServiceClient};
use orders_testkit::rpc::{GetOrder, WatchOrderStatus};
use tonic::Code;
use tonic::transport::Channel;

/// A mock with one seeded order and `fault` on the first GetOrder, reached
/// in process or over TCP.
struct Setup {
    mock: OrderMock,
    client: OrderServiceClient<Channel>,
    id: String,
}

async fn setup(fault: WireFault, tcp: bool) -> Setup {
    setup_on(Fault::wire(fault).on(GetOrder).first(1), tcp).await
}

async fn setup_on(fault: Fault, tcp: bool) -> Setup {
    let builder = OrderMock::builder();
    let mock = if tcp {
        builder
            .serve_tcp("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap()
    } else {
        builder.start().await
    };
    let id = mock.seed_order(Order {
        customer_id: "c-1".into(),
        ..Default::default()
    });
    mock.inject(fault);
    let channel = if tcp {
        Channel::from_shared(format!("http://{}", mock.local_addr().unwrap()))
            .unwrap()
            .connect()
            .await
            .unwrap()
    } else {
        mock.channel()
    };
    Setup {
        mock,
        client: OrderServiceClient::new(channel),
        id,
    }
}

impl Setup {
    async fn get(&self) -> Result<Order, tonic::Status> {
        let mut client = self.client.clone();
        let req = GetOrderRequest {
            order_id: self.id.clone(),
        };
        tokio::time::timeout(Duration::from_secs(10), client.get_order(req))
            .await
            .expect("the call ends")
            .map(tonic::Response::into_inner)
    }

    /// The first call fails with `code` and a message containing `text`;
    /// the next one (the fault fired once) is answered normally.
    async fn fails_once(&self, code: Code, text: &str) {
        let err = self.get().await.expect_err("the fault fired");
        assert_eq!(err.code(), code, "{err:?}");
        assert!(err.message().contains(text), "{err:?}");
        assert_eq!(self.get().await.expect("then normal").order_id, self.id);
    }
}

async fn on_both_transports<F, Fut>(test: F)
where
    F: Fn(bool) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    test(false).await;
    test(true).await;
}

#[tokio::test]
async fn goaway_graceful_completes_the_call_and_the_client_reconnects() {
    on_both_transports(|tcp| async move {
        let s = setup(WireFault::GoAway, tcp).await;
        assert_eq!(s.get().await.unwrap().order_id, s.id, "the call completes");
        // Its calls done, the connection closes: the server saw it go.
        s.mock.tasks().wait_for_open_connections(|n| *n == 0).await;
        assert_eq!(s.get().await.unwrap().order_id, s.id);
        assert_eq!(
            s.mock.tasks().connections(),
            2,
            "a new connection after GOAWAY"
        );
    })
    .await;
}

#[tokio::test]
async fn goaway_immediate_fails_the_call_in_flight_and_the_client_reconnects() {
    on_both_transports(|tcp| async move {
        let s = setup(WireFault::GoAwayNow, tcp).await;
        let err = s.get().await.unwrap_err();
        assert_eq!(err.code(), Code::Unknown, "{err:?}");
        assert!(err.message().contains("transport error"), "{err:?}");
        assert_eq!(s.get().await.unwrap().order_id, s.id);
        assert_eq!(s.mock.tasks().connections(), 2);
    })
    .await;
}

#[tokio::test]
async fn trailers_only_error_arrives_as_the_status() {
    on_both_transports(|tcp| async move {
        let s = setup(
            WireFault::TrailersOnly(tonic::Status::unavailable("down")),
            tcp,
        )
        .await;
        s.fails_once(Code::Unavailable, "down").await;
    })
    .await;
}

#[tokio::test]
async fn a_response_without_grpc_status_is_unknown_missing_trailer() {
    on_both_transports(|tcp| async move {
        let s = setup(WireFault::NoStatus, tcp).await;
        s.fails_once(Code::Unknown, "missing grpc-status trailer")
            .await;
    })
    .await;
}

#[tokio::test]
async fn a_wrong_content_type_goes_unnoticed_by_tonic() {
    on_both_transports(|tcp| async move {
        let s = setup(WireFault::ContentType("text/html".into()), tcp).await;
        // tonic 0.14 does not check the response's content-type.
        assert_eq!(s.get().await.unwrap().order_id, s.id);
        let call = &s.mock.journal().wait_for_ended(1).await[0];
        assert!(call.outcome.code() == Some(Code::Ok));
    })
    .await;
}

#[tokio::test]
async fn invalid_status_details_make_the_tonic_client_panic() {
    on_both_transports(|tcp| async move {
        let s = setup(WireFault::InvalidDetails, tcp).await;
        let mut client = s.client.clone();
        let id = s.id.clone();
        // tonic's Status::from_header_map expects base64 and panics.
        let joined =
            tokio::spawn(async move { client.get_order(GetOrderRequest { order_id: id }).await })
                .await;
        assert!(joined.expect_err("the client panicked").is_panic());
        assert_eq!(s.get().await.unwrap().order_id, s.id, "the server is fine");
    })
    .await;
}

#[tokio::test]
async fn a_compressed_flag_without_grpc_encoding_is_internal() {
    on_both_transports(|tcp| async move {
        let s = setup(WireFault::CompressedWithoutEncoding, tcp).await;
        s.fails_once(Code::Internal, "compressed-flag but no grpc-encoding")
            .await;
    })
    .await;
}

#[tokio::test]
async fn a_message_over_the_clients_limit_is_out_of_range() {
    on_both_transports(|tcp| async move {
        let s = setup(WireFault::Oversized(4 * 1024 * 1024 + 1), tcp).await;
        s.fails_once(Code::OutOfRange, "decoded message length too large")
            .await;
    })
    .await;
}

#[tokio::test]
async fn an_unknown_status_code_is_unknown() {
    on_both_transports(|tcp| async move {
        let s = setup(WireFault::UnknownCode(42), tcp).await;
        s.fails_once(Code::Unknown, "a code outside the 17").await;
    })
    .await;
}

#[tokio::test]
async fn a_malformed_grpc_message_is_unknown_with_a_decoding_error() {
    on_both_transports(|tcp| async move {
        let s = setup(WireFault::MalformedMessage, tcp).await;
        s.fails_once(Code::Unknown, "Error deserializing status message header")
            .await;
    })
    .await;
}

#[tokio::test]
async fn rst_stream_codes_map_to_grpc_codes() {
    on_both_transports(|tcp| async move {
        for (reason, code) in [
            (0x8, Code::Cancelled),
            (0x7, Code::Unavailable),
            (0x2, Code::Internal),
        ] {
            let s = setup(WireFault::RstStream(reason), tcp).await;
            s.fails_once(code, "h2 protocol error").await;
        }
    })
    .await;
}

#[tokio::test]
async fn two_messages_on_a_unary_response_go_unnoticed_by_tonic() {
    on_both_transports(|tcp| async move {
        let s = setup(WireFault::TwoMessages, tcp).await;
        // tonic 0.14 takes the first message of a unary response.
        assert_eq!(s.get().await.unwrap().order_id, s.id);
        let call = &s.mock.journal().wait_for_ended(1).await[0];
        assert_eq!(call.responses.len(), 2, "two messages went out");
    })
    .await;
}

#[tokio::test]
async fn deferred_headers_are_transparent_to_a_unary_call() {
    on_both_transports(|tcp| async move {
        let s = setup(WireFault::DeferHeaders, tcp).await;
        assert_eq!(s.get().await.unwrap().order_id, s.id);
    })
    .await;
}

#[tokio::test]
async fn deferred_headers_hold_a_watch_open_until_its_first_message() {
    on_both_transports(|tcp| async move {
        let s = setup_on(
            Fault::wire(WireFault::DeferHeaders).on(WatchOrderStatus),
            tcp,
        )
        .await;
        let mut client = s.client.clone();
        let mut updates = client
            .watch_order_status(WatchOrderStatusRequest {
                order_id: s.id.clone(),
            })
            .await
            .expect("headers come with the first message")
            .into_inner();
        let first = updates.message().await.unwrap().unwrap();
        assert_eq!(first.order_id, s.id);
    })
    .await;
}

#[tokio::test]
async fn wire_faults_follow_the_usual_selection() {
    on_both_transports(|tcp| async move {
        let fault = Fault::wire(WireFault::UnknownCode(99))
            .on(GetOrder)
            .when_header("x-chaos", "1")
            .every(2);
        let s = setup_on(fault, tcp).await;
        let mut client = s.client.clone();
        let call = |chaos: bool| {
            let mut req = tonic::Request::new(GetOrderRequest {
                order_id: s.id.clone(),
            });
            if chaos {
                req.metadata_mut().insert("x-chaos", "1".parse().unwrap());
            }
            req
        };
        let mut codes = Vec::new();
        for chaos in [false, true, true, true, true] {
            codes.push(match client.get_order(call(chaos)).await {
                Ok(_) => Code::Ok,
                Err(e) => e.code(),
            });
        }
        // Only calls with the header count; every second of them fires.
        assert_eq!(
            codes,
            [Code::Ok, Code::Ok, Code::Unknown, Code::Ok, Code::Unknown]
        );
    })
    .await;
}

#[cfg(feature = "scenario")]
#[tokio::test]
async fn a_scenario_file_states_wire_faults_as_data() {
    let scenario = orders_testkit::scenario::Scenario::parse(
        "wire.toml",
        r#"
[[orders]]
orderId = "o-1"
customerId = "c-1"

[[faults]]
kind = "wire"
wire = "rst_stream"
http2_code = 7
rpc = "GetOrder"
first = 1
"#,
    )
    .unwrap();
    let mock = scenario.start().await;
    let mut client = mock.client();
    let get = || GetOrderRequest {
        order_id: "o-1".into(),
    };
    let err = client.get_order(get()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "RST_STREAM(REFUSED_STREAM)");
    assert!(client.get_order(get()).await.is_ok());
    let bad = orders_testkit::scenario::Scenario::parse(
        "wire.toml",
        "[[faults]]\nkind = \"wire\"\nwire = \"rst_stream\"\n",
    )
    .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "wire.toml: line 1: wire fault \"rst_stream\" needs http2_code"
    );
}
