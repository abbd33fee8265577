//! Scale: memory per idle mock, 10,000 concurrent calls on one mock, 1,000
//! watchers of one order; each against its bare-tonic baseline in the same
//! run. Prints a table.
//!
//! `cargo bench --bench scale`

#[path = "common/bare.rs"]
mod bare;

use std::time::{Duration, Instant};

use orders_testkit::OrderMock;
use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::{GetOrderRequest, Order, OrderActionType, WatchOrderStatusRequest};
use orders_testkit::server::InProcessServer;

const MOCKS: usize = 1_000;
const CALLS: usize = 10_000;
const WATCHERS: usize = 1_000;

/// Resident set size of this process, in KiB (Linux /proc).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

async fn memory() -> (f64, f64) {
    // Warm up the shared parts (descriptor pool, reflection) first.
    drop(OrderMock::start().await);
    let before = rss_kib();
    let bare: Vec<_> = (0..MOCKS)
        .map(|_| InProcessServer::start(bare::routes()))
        .collect();
    let bare_kib = (rss_kib().saturating_sub(before)) as f64 / MOCKS as f64;
    drop(bare);
    let before = rss_kib();
    let mut mocks = Vec::with_capacity(MOCKS);
    for _ in 0..MOCKS {
        mocks.push(OrderMock::start().await);
    }
    let mock_kib = (rss_kib().saturating_sub(before)) as f64 / MOCKS as f64;
    drop(mocks);
    (bare_kib, mock_kib)
}

async fn concurrent<C>(client: OrderServiceClient<C>) -> Duration
where
    C: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + 'static,
    C::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <C::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    C::Future: Send,
{
    let started = Instant::now();
    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let mut c = client.clone();
            tokio::spawn(async move {
                c.get_order(GetOrderRequest {
                    order_id: format!("o-{}", i % 10),
                })
                .await
                .is_ok()
            })
        })
        .collect();
    let mut ok = 0;
    for call in calls {
        if call.await.unwrap_or(false) {
            ok += 1;
        }
    }
    assert_eq!(ok, CALLS, "every call answered");
    started.elapsed()
}

async fn watchers() -> Duration {
    let mock = OrderMock::start().await;
    mock.journal().set_enabled(false);
    let id = mock.seed_order(Order {
        order_id: "w".into(),
        ..Default::default()
    });
    let client = mock.client();
    let mut streams = Vec::with_capacity(WATCHERS);
    for _ in 0..WATCHERS {
        let mut s = client
            .clone()
            .watch_order_status(WatchOrderStatusRequest {
                order_id: id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        s.message().await.unwrap().unwrap();
        streams.push(s);
    }
    let started = Instant::now();
    for a in [
        OrderActionType::Confirm,
        OrderActionType::Ship,
        OrderActionType::Deliver,
    ] {
        mock.advance(&id, a).unwrap();
    }
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let mut n = 0;
                while let Ok(Some(_)) = s.message().await {
                    n += 1;
                }
                n
            })
        })
        .collect();
    for r in readers {
        assert_eq!(r.await.unwrap(), 3, "every watcher got every transition");
    }
    started.elapsed()
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent: skip the heavy part then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("scale: run with `cargo bench --bench scale`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (bare_kib, mock_kib) = memory().await;
        println!("memory per idle server ({MOCKS} alive): bare {bare_kib:.1} KiB, mock {mock_kib:.1} KiB, ratio {:.2}", mock_kib / bare_kib.max(0.001));

        let bare_server = InProcessServer::start(bare::routes());
        let bare_time = concurrent(OrderServiceClient::new(bare_server.channel())).await;
        let mock = OrderMock::start().await;
        for i in 0..10 {
            mock.seed_order(Order { order_id: format!("o-{i}"), ..Default::default() });
        }
        let mock_time = concurrent(mock.client()).await;
        println!(
            "{CALLS} concurrent GetOrder on one server: bare {bare_time:?}, mock {mock_time:?}, ratio {:.2}",
            mock_time.as_secs_f64() / bare_time.as_secs_f64()
        );
        let w = watchers().await;
        println!("{WATCHERS} watchers of one order, 3 transitions each delivered: {w:?}");
    });
}
