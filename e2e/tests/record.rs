//! Record and replay: `orders-testkit record` in front of a running `serve`
//! (seeded orders, a stub, a fault, a token), then `serve --scenario` on
//! the file it wrote. The replayed calls get byte-identical messages, the
//! same statuses and the same details, for all four streaming patterns; the
//! file holds no secret. Library-level tests cover the deadline sent
//! upstream, a watch the caller cut, and the journal's marks.

mod common;

use std::time::Duration;

use common::process::Served;
use orders_testkit::mock::{Answerer, CallNotes as _};
use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::*;
use orders_testkit::prelude::{OrderMock, Stub};
use orders_testkit::rpc::GetOrder;
use orders_testkit::scenario::{Recorder, Scenario};
use prost::Message;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

const UPSTREAM: &str = r#"
[[orders]]
orderId = "o-pending"
customerId = "cust-1"
items = [{ productId = "p1", quantity = 2, priceCents = 1999 }]

[[orders]]
orderId = "o-delivered"
customerId = "cust-2"
status = "ORDER_STATUS_DELIVERED"
items = [{ productId = "p2", quantity = 1, priceCents = 500 }]

[[stubs]]
rpc = "GetOrder"
when = { orderId = "o-archived" }
fail = { code = "FAILED_PRECONDITION", message = "order archived", trailers = { "x-why" = "archived" } }

[[faults]]
kind = "status"
rpc = "CreateOrder"
code = "UNAVAILABLE"
message = "warming up"
retry_after_ms = 100
first = 1
"#;

/// What a call got: its messages (encoded) and its status, details included.
#[derive(Debug, PartialEq)]
struct Got {
    messages: Vec<Vec<u8>>,
    code: Code,
    message: String,
    details: Vec<u8>,
}

impl Got {
    fn ok(messages: Vec<Vec<u8>>) -> Self {
        Self {
            messages,
            code: Code::Ok,
            message: String::new(),
            details: Vec::new(),
        }
    }

    fn failed(messages: Vec<Vec<u8>>, status: Status) -> Self {
        Self {
            messages,
            code: status.code(),
            message: status.message().to_string(),
            details: status.details().to_vec(),
        }
    }
}

fn unary<T: Message>(result: Result<tonic::Response<T>, Status>) -> Got {
    match result {
        Ok(res) => Got::ok(vec![res.into_inner().encode_to_vec()]),
        Err(status) => Got::failed(Vec::new(), status),
    }
}

async fn stream<T: Message + Default>(
    result: Result<tonic::Response<tonic::Streaming<T>>, Status>,
) -> Got {
    let mut stream = match result {
        Ok(res) => res.into_inner(),
        Err(status) => return Got::failed(Vec::new(), status),
    };
    let mut messages = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(m)) => messages.push(m.encode_to_vec()),
            Ok(None) => return Got::ok(messages),
            Err(status) => return Got::failed(messages, status),
        }
    }
}

/// Every request carries the caller's token and a tenant header.
fn req<T>(message: T) -> Request<T> {
    let mut req = Request::new(message);
    req.metadata_mut()
        .insert("authorization", "Bearer up-token".parse().unwrap());
    req.metadata_mut()
        .insert("x-tenant", "acme".parse().unwrap());
    req.set_timeout(Duration::from_secs(10));
    req
}

fn items() -> Vec<LineItem> {
    vec![
        LineItem {
            product_id: "p1".into(),
            quantity: 2,
            price_cents: 250,
        },
        LineItem {
            product_id: "p2".into(),
            quantity: 1,
            price_cents: 1000,
        },
    ]
}

fn action(order: &str, action: OrderActionType) -> OrderAction {
    OrderAction {
        order_id: order.into(),
        action: action as i32,
    }
}

/// The same calls, in the same order, on any channel.
async fn session(channel: Channel) -> Vec<(&'static str, Got)> {
    let mut c = OrderServiceClient::new(channel);
    let create = CreateOrderRequest {
        customer_id: "cust-9".into(),
        items: items(),
        ..Default::default()
    };
    let mut out = Vec::new();
    out.push((
        "create, the fault",
        unary(c.create_order(req(create.clone())).await),
    ));
    out.push(("create again", unary(c.create_order(req(create)).await)));
    out.push((
        "create invalid",
        unary(c.create_order(req(CreateOrderRequest::default())).await),
    ));
    for id in ["o-pending", "o-missing", "o-archived"] {
        let got = c
            .get_order(req(GetOrderRequest {
                order_id: id.into(),
            }))
            .await;
        out.push(("get", unary(got)));
    }
    let watch = c
        .watch_order_status(req(WatchOrderStatusRequest {
            order_id: "o-delivered".into(),
        }))
        .await;
    out.push(("watch a delivered order", stream(watch).await));
    let watch = c
        .watch_order_status(req(WatchOrderStatusRequest {
            order_id: "o-missing".into(),
        }))
        .await;
    out.push(("watch a missing order", stream(watch).await));
    let submit = c.submit_line_items(req(tokio_stream::iter(items()))).await;
    out.push(("submit", unary(submit)));
    let mut bad = items();
    bad[1].quantity = 0;
    let submit = c.submit_line_items(req(tokio_stream::iter(bad))).await;
    out.push(("submit invalid", unary(submit)));
    let actions = vec![
        action("o-pending", OrderActionType::Confirm),
        action("o-pending", OrderActionType::Ship),
        action("o-missing", OrderActionType::Confirm),
        action("o-pending", OrderActionType::Ship),
    ];
    let process = c.process_orders(req(tokio_stream::iter(actions))).await;
    out.push(("process", stream(process).await));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_then_replay_gives_the_same_bytes_statuses_and_details_on_all_four_patterns() {
    let dir = std::env::temp_dir().join(format!("orders-testkit-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let upstream_file = dir.join("upstream.toml");
    std::fs::write(&upstream_file, UPSTREAM).unwrap();
    let recorded = dir.join("recorded.toml");

    let upstream = Served::start(&[
        "--scenario",
        upstream_file.to_str().unwrap(),
        "--token",
        "up-token=rw",
    ]);
    let recorder = Served::spawn(&[
        "record",
        "--upstream",
        &upstream.url(),
        "-H",
        "x-api-key: k-secret",
        "--listen",
        "127.0.0.1:0",
        "--out",
        recorded.to_str().unwrap(),
    ]);
    let through_recorder = Channel::from_shared(recorder.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let original = session(through_recorder).await;

    // What the session itself shows, so that the comparison below means something.
    assert_eq!(original[0].1.code, Code::Unavailable, "{original:?}");
    assert!(!original[0].1.details.is_empty(), "the fault's RetryInfo");
    assert_eq!(original[1].1.code, Code::Ok, "{original:?}");
    assert_eq!(original[2].1.code, Code::InvalidArgument);
    assert_eq!(original[4].1.code, Code::NotFound);
    assert_eq!(original[5].1.code, Code::FailedPrecondition);
    assert!(!original[6].1.messages.is_empty(), "the watch streamed");
    assert_eq!(original[10].1.messages.len(), 4, "one result per action");

    recorder.signal("-TERM");
    assert!(recorder.wait().success(), "record exits 0 on SIGTERM");
    drop(upstream);
    let file = std::fs::read_to_string(&recorded).unwrap();
    for secret in ["up-token", "k-secret", "Bearer", "authorization"] {
        assert!(!file.contains(secret), "{secret} in the recording:\n{file}");
    }
    assert!(
        file.contains("x-tenant: acme"),
        "other metadata is noted:\n{file}"
    );
    Scenario::parse("recorded.toml", &file).unwrap_or_else(|e| panic!("{e}\n{file}"));

    let replay = Served::start(&["--scenario", recorded.to_str().unwrap()]);
    let to_replay = Channel::from_shared(replay.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let replayed = session(to_replay.clone()).await;
    for ((what, a), (_, b)) in original.iter().zip(&replayed) {
        assert_eq!(a, b, "{what}: recorded vs replayed");
    }
    assert_eq!(original.len(), replayed.len());

    // What was not recorded is refused.
    let err = OrderServiceClient::new(to_replay)
        .get_order(GetOrderRequest {
            order_id: "o-never-asked".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    if std::env::var_os("KEEP_RECORDING").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn the_callers_deadline_and_metadata_go_upstream_with_the_recorders_headers() {
    let real = OrderMock::start().await;
    let recorder = Recorder::builder(real.channel())
        .header("x-api-key", "k-1")
        .unwrap()
        .token("t-1")
        .unwrap()
        .start()
        .await;
    let mut req = Request::new(GetOrderRequest {
        order_id: "o-1".into(),
    });
    req.set_timeout(Duration::from_secs(5));
    req.metadata_mut()
        .insert("x-tenant", "acme".parse().unwrap());
    let err = OrderServiceClient::new(recorder.channel())
        .get_order(req)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let upstream = real.journal().wait_for_ended(1).await;
    let sent_on = upstream[0].deadline.expect("a deadline went upstream");
    assert!(
        sent_on <= Duration::from_secs(5) && sent_on > Duration::from_secs(1),
        "{sent_on:?}"
    );
    assert_eq!(
        upstream[0].header("x-tenant"),
        Some("acme"),
        "passed through"
    );
    assert_eq!(upstream[0].header("x-api-key"), Some("k-1"), "-H added");
    assert_eq!(upstream[0].header("authorization"), Some("Bearer t-1"));
    let recorded = recorder.journal().wait_for_ended(1).await;
    assert_eq!(recorded[0].answered_by(), [Answerer::Proxy]);
    let file = recorder.scenario();
    assert!(!file.contains("k-1") && !file.contains("t-1"), "{file}");
}

#[tokio::test]
async fn a_mock_proxies_only_what_no_stub_matches() {
    let real = OrderMock::start().await;
    let id = real.seed_order(Order {
        customer_id: "real".into(),
        ..Default::default()
    });
    let mock = OrderMock::builder().proxy(real.channel()).start().await;
    Stub::on(GetOrder)
        .when(|r| r.order_id == "o-stub")
        .named("local")
        .respond(Order {
            customer_id: "stubbed".into(),
            status: OrderStatus::Pending as i32,
            ..Default::default()
        })
        .mount(&mock);
    let mut c = mock.client();
    let a = c
        .get_order(GetOrderRequest {
            order_id: "o-stub".into(),
        })
        .await
        .unwrap();
    let b = c.get_order(GetOrderRequest { order_id: id }).await.unwrap();
    assert_eq!(a.into_inner().customer_id, "stubbed");
    assert_eq!(b.into_inner().customer_id, "real");
    let calls = mock.journal().wait_for_ended(2).await;
    assert_eq!(
        calls[0].answered_by(),
        [Answerer::Stub("GetOrder \"local\"".into())]
    );
    assert_eq!(calls[1].answered_by(), [Answerer::Proxy]);
    assert_eq!(
        real.journal().len(),
        1,
        "only the unmatched call went upstream"
    );
}

#[tokio::test]
async fn a_watch_the_caller_cut_replays_held_open() {
    let real = OrderMock::start().await;
    let id = real.seed_order(Order::default());
    let recorder = Recorder::builder(real.channel()).start().await;
    let mut updates = OrderServiceClient::new(recorder.channel())
        .watch_order_status(WatchOrderStatusRequest {
            order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = updates
        .message()
        .await
        .unwrap()
        .expect("the current status");
    drop(updates);
    recorder.journal().wait_for_ended(1).await;
    let file = recorder.scenario();
    assert!(file.contains("then_hold = true"), "{file}");

    let replay = Scenario::parse("cut.toml", &file).unwrap().start().await;
    let mut req = Request::new(WatchOrderStatusRequest { order_id: id });
    req.set_timeout(Duration::from_millis(200));
    let mut again = replay
        .client()
        .watch_order_status(req)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.message().await.unwrap(), Some(first));
    let held = again.message().await.unwrap_err();
    assert_eq!(
        held.code(),
        Code::DeadlineExceeded,
        "open until the deadline"
    );
}
