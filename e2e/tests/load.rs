//! `serve` under sustained load: 64 concurrent clients over 8 TCP
//! connections (loopback) running a mix of all four streaming patterns,
//! with the journal bounded (`--journal-max`). Reports calls/s, p50/p99
//! latency and the server's resident memory (after warm-up, at the end,
//! peak); fails only on a failed call or on memory growing past
//! `GROWTH_BOUND` after warm-up, never on a time.
//!
//! Opt-in (`--ignored`); sizes from the environment:
//! `LOAD_CALLS` (default 20,000; the documented run uses 200,000) and
//! `LOAD_JOURNAL_MAX` (default 5,000):
//!
//! ```sh
//! LOAD_CALLS=200000 cargo test --release --test load -- --ignored --nocapture
//! ```

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::process::Served;
use orders_testkit::pb::*;
use orders_testkit::prelude::OrderServiceClient;
use tonic::transport::Channel;

const CLIENTS: usize = 64;
const CONNECTIONS: usize = 8;
/// How much the server's resident memory may grow after warm-up.
const GROWTH_BOUND_KIB: u64 = 32 * 1024;
/// A call that takes longer than this is a hang, reported as a failure.
const CALL_GUARD: Duration = Duration::from_secs(30);

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// One call of the mix, chosen by `n`: unary, server streaming, client
/// streaming, bidi. None of them grows the model's state.
async fn one_call(
    client: &mut OrderServiceClient<Channel>,
    n: usize,
    ids: &[String],
) -> Result<(), String> {
    let id = ids[n % ids.len()].clone();
    let fail = |e: tonic::Status| format!("{:?} {}", e.code(), e.message());
    match n % 4 {
        0 => {
            client
                .get_order(GetOrderRequest { order_id: id })
                .await
                .map_err(fail)?;
        }
        1 => {
            let mut updates = client
                .watch_order_status(WatchOrderStatusRequest { order_id: id })
                .await
                .map_err(fail)?
                .into_inner();
            while updates.message().await.map_err(fail)?.is_some() {}
        }
        2 => {
            let items = (0..3).map(|i| LineItem {
                product_id: format!("p-{i}"),
                quantity: 1 + i,
                price_cents: 100,
            });
            client
                .submit_line_items(tokio_stream::iter(items))
                .await
                .map_err(fail)?;
        }
        _ => {
            let actions = vec![
                OrderAction {
                    order_id: format!("o-missing-{}", n % 7),
                    action: OrderActionType::Confirm.into(),
                },
                OrderAction {
                    order_id: id,
                    action: OrderActionType::Confirm.into(),
                },
            ];
            let mut results = client
                .process_orders(tokio_stream::iter(actions))
                .await
                .map_err(fail)?
                .into_inner();
            while results.message().await.map_err(fail)?.is_some() {}
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load: run with --ignored (LOAD_CALLS, LOAD_JOURNAL_MAX set the size)"]
async fn serve_holds_sustained_load_with_a_bounded_journal() {
    let calls = env("LOAD_CALLS", 20_000);
    let journal_max = env("LOAD_JOURNAL_MAX", 5_000);
    let warm_up = (2 * journal_max).max(calls / 10).min(calls / 2);
    let served = Served::start(&["--journal-max", &journal_max.to_string()]);
    let pid = served.pid();

    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        channels.push(
            Channel::from_shared(served.url())
                .unwrap()
                .connect()
                .await
                .unwrap(),
        );
    }
    // Terminal orders: every watch ends after its first message.
    let mut seeding = OrderServiceClient::new(channels[0].clone());
    let mut ids = Vec::new();
    for i in 0..16 {
        let created = seeding
            .create_order(CreateOrderRequest {
                customer_id: format!("load-{i}"),
                items: vec![LineItem {
                    product_id: "p".into(),
                    quantity: 1,
                    price_cents: 1,
                }],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let cancel = vec![OrderAction {
            order_id: created.order_id.clone(),
            action: OrderActionType::Cancel.into(),
        }];
        let mut r = seeding
            .process_orders(tokio_stream::iter(cancel))
            .await
            .unwrap()
            .into_inner();
        while r.message().await.unwrap().is_some() {}
        ids.push(created.order_id);
    }
    let ids = Arc::new(ids);

    let next = Arc::new(AtomicUsize::new(0));
    let warm_rss = Arc::new(std::sync::Mutex::new(None::<u64>));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..CLIENTS {
        let mut client = OrderServiceClient::new(channels[w % CONNECTIONS].clone());
        let (next, ids, warm_rss) = (Arc::clone(&next), Arc::clone(&ids), Arc::clone(&warm_rss));
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= calls {
                    break;
                }
                if n == warm_up {
                    *warm_rss.lock().unwrap() = Some(memory_kib(pid).0);
                }
                let t = Instant::now();
                match tokio::time::timeout(CALL_GUARD, one_call(&mut client, n, &ids)).await {
                    Ok(Ok(())) => latencies.push(t.elapsed().as_micros() as u64),
                    Ok(Err(e)) => errors.push(format!("call {n}: {e}")),
                    Err(_) => errors.push(format!("call {n}: no answer within {CALL_GUARD:?}")),
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(calls);
    let mut errors = Vec::new();
    for w in workers {
        let (l, e) = w.await.unwrap();
        latencies.extend(l);
        errors.extend(e);
    }
    let elapsed = started.elapsed();
    let (end_rss, peak_rss) = memory_kib(pid);
    let warm = warm_rss.lock().unwrap().unwrap_or(end_rss);
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let report = format!(
        "load: {calls} calls (mix of all four patterns), {CLIENTS} clients, {CONNECTIONS} connections, \
         journal max {journal_max}\n  {:.0} calls/s, p50 {} µs, p99 {} µs\n  \
         server RSS: {warm} KiB after warm-up ({warm_up} calls), {end_rss} KiB at the end \
         (growth {} KiB, bound {GROWTH_BOUND_KIB} KiB), peak {peak_rss} KiB\n  errors: {}",
        calls as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        end_rss as i64 - warm as i64,
        errors.len(),
    );
    println!("{report}");
    let _ = std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/../target"));
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/load-report.txt"),
        &report,
    );
    assert!(
        errors.is_empty(),
        "{report}\nfirst errors: {:?}",
        &errors[..errors.len().min(5)]
    );
    assert!(
        warm > 0 && end_rss > 0,
        "could not read the server's memory"
    );
    assert!(
        end_rss <= warm + GROWTH_BOUND_KIB,
        "memory grew past the bound after warm-up\n{report}"
    );
}
