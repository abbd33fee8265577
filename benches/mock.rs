//! Criterion benches of the mock against a bare tonic service on the same
//! transport, each baseline measured in the same run.
//!
//! `cargo bench --bench mock`

#[path = "common/bare.rs"]
mod bare;

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use orders_testkit::fault::{Fault, FaultLayer, FaultPlan};
use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::*;
use orders_testkit::rpc::{CreateOrder, WatchOrderStatus};
use orders_testkit::server::InProcessServer;
use orders_testkit::{OrderMock, Stub};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tower::Layer;

fn rt() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn create_req() -> CreateOrderRequest {
    CreateOrderRequest {
        customer_id: "bench".into(),
        items: vec![LineItem {
            product_id: "p".into(),
            quantity: 1,
            price_cents: 100,
        }],
        shipping_address: None,
    }
}

fn start(c: &mut Criterion) {
    let rt = rt();
    let mut g = c.benchmark_group("start");
    g.bench_function("bare_duplex", |b| {
        b.to_async(&rt).iter(|| async {
            let server = InProcessServer::start(bare::routes());
            let mut c = OrderServiceClient::new(server.channel());
            c.get_order(GetOrderRequest {
                order_id: "x".into(),
            })
            .await
            .unwrap();
        })
    });
    g.bench_function("mock_duplex", |b| {
        b.to_async(&rt).iter(|| async {
            let mock = OrderMock::start().await;
            let _ = mock
                .client()
                .get_order(GetOrderRequest {
                    order_id: "x".into(),
                })
                .await;
        })
    });
    g.bench_function("bare_tcp", |b| {
        b.to_async(&rt).iter(|| async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(
                tonic::transport::Server::builder()
                    .add_routes(bare::routes())
                    .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
            );
            let mut c = OrderServiceClient::connect(format!("http://{addr}"))
                .await
                .unwrap();
            c.get_order(GetOrderRequest {
                order_id: "x".into(),
            })
            .await
            .unwrap();
            server.abort();
        })
    });
    g.finish();
}

fn unary(c: &mut Criterion) {
    let rt = rt();
    let _enter = rt.enter();
    let (bare_server, mock, quiet) = rt.block_on(async {
        let quiet = OrderMock::start().await;
        quiet.journal().set_enabled(false);
        (
            InProcessServer::start(bare::routes()),
            OrderMock::start().await,
            quiet,
        )
    });
    let id = mock.seed_order(Order {
        order_id: "o-1".into(),
        ..Default::default()
    });
    quiet.seed_order(Order {
        order_id: "o-1".into(),
        ..Default::default()
    });
    let bare_client = OrderServiceClient::new(bare_server.channel());
    let mut g = c.benchmark_group("unary");
    for (name, client) in [
        ("bare", bare_client),
        ("mock", mock.client()),
        ("mock_no_journal", quiet.client()),
    ] {
        let get = GetOrderRequest {
            order_id: id.clone(),
        };
        g.bench_with_input(BenchmarkId::new("GetOrder", name), &client, |b, client| {
            b.to_async(&rt).iter(|| {
                let mut c = client.clone();
                let req = get.clone();
                async move { c.get_order(req).await.unwrap() }
            })
        });
        g.bench_with_input(
            BenchmarkId::new("CreateOrder", name),
            &client,
            |b, client| {
                b.to_async(&rt).iter(|| {
                    let mut c = client.clone();
                    async move { c.create_order(create_req()).await.unwrap() }
                })
            },
        );
        // The journal grows with every call: keep memory flat between groups.
        mock.journal().clear();
    }
    g.finish();
}

fn streams(c: &mut Criterion) {
    let rt = rt();
    let _enter = rt.enter();
    let (bare_server, mock) = rt.block_on(async {
        (
            InProcessServer::start(bare::routes()),
            OrderMock::start().await,
        )
    });
    mock.journal().set_enabled(false);
    let updates: Vec<_> = (0..bare::STREAM_LEN)
        .map(|_| OrderStatusUpdate {
            order_id: "s".into(),
            status: 2,
            previous_status: 1,
            updated_at: None,
        })
        .collect();
    // The same update a thousand times: a throughput load, not a watch.
    Stub::on(WatchOrderStatus)
        .stream(updates)
        .off_contract()
        .mount(&mock);
    let mut g = c.benchmark_group("server_stream");
    g.throughput(Throughput::Elements(bare::STREAM_LEN as u64));
    for (name, client) in [
        ("bare", OrderServiceClient::new(bare_server.channel())),
        ("mock", mock.client()),
    ] {
        g.bench_with_input(
            BenchmarkId::new("1000_messages", name),
            &client,
            |b, client| {
                b.to_async(&rt).iter(|| {
                    let mut c = client.clone();
                    async move {
                        let mut s = c
                            .watch_order_status(WatchOrderStatusRequest {
                                order_id: "s".into(),
                            })
                            .await
                            .unwrap()
                            .into_inner();
                        let mut n = 0;
                        while s.message().await.unwrap().is_some() {
                            n += 1;
                        }
                        assert_eq!(n, bare::STREAM_LEN);
                    }
                })
            },
        );
    }
    g.finish();

    let mut g = c.benchmark_group("bidi_ping_pong");
    for (name, client) in [
        ("bare", OrderServiceClient::new(bare_server.channel())),
        ("mock", mock.client()),
    ] {
        let (tx, rx) = mpsc::channel::<OrderAction>(1);
        let mut out = rt.block_on(async {
            client
                .clone()
                .process_orders(ReceiverStream::new(rx))
                .await
                .unwrap()
                .into_inner()
        });
        g.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    tx.send(OrderAction {
                        order_id: "nope".into(),
                        action: 1,
                    })
                    .await
                    .unwrap();
                    out.message().await.unwrap().unwrap()
                })
            })
        });
    }
    g.finish();
}

fn fault_layer(c: &mut Criterion) {
    let rt = rt();
    let _enter = rt.enter();
    let plan = FaultPlan::new().with(Fault::hang().on(CreateOrder).when_header("x-never", "1"));
    let (plain, layered) = rt.block_on(async {
        (
            InProcessServer::start(bare::routes()),
            InProcessServer::start(FaultLayer::new(plan).layer(bare::routes())),
        )
    });
    let mut g = c.benchmark_group("fault_layer_no_match");
    for (name, server) in [("no_layer", &plain), ("fault_layer", &layered)] {
        let client = OrderServiceClient::new(server.channel());
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| {
                let mut c = client.clone();
                async move {
                    c.get_order(GetOrderRequest {
                        order_id: "x".into(),
                    })
                    .await
                    .unwrap()
                }
            })
        });
    }
    g.finish();
}

fn contract(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("contract");
    g.sample_size(10).measurement_time(Duration::from_secs(25));
    g.bench_function("default_suite_vs_embedded_mock", |b| {
        b.iter(|| {
            rt.block_on(async {
                let report = orders_testkit::contract::Suite::default()
                    .run(orders_testkit::contract::Target::embedded())
                    .await;
                assert!(report.passed());
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(30);
    targets = start, unary, streams, fault_layer, contract
}
criterion_main!(benches);
