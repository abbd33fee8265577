//! `serve` under sustained load: 64 concurrent clients over 8 TCP
//! connections (loopback) running a mix of all four streaming patterns,
//! at `serve`'s default journal bounds (or `--journal-max` from
//! `LOAD_JOURNAL_MAX`). The same generator runs, in the same test, against
//! the benchmarks' bare tonic OrderService (constants of the same shape,
//! no model, no journal, no layers: the `bare_orders` example), and the
//! report gives the throughput ratio. Reports calls/s, p50/p99 latency and
//! the server's resident memory (idle, after warm-up, at the end, peak);
//! fails only on a failed call or on memory past its bound, never on a
//! time:
//!
//! - at the defaults, `serve`'s memory stays within `DEFAULT_GROWTH_KIB` of
//!   its idle size (the journal's 64 MiB budget, and room for the
//!   allocator and the connections);
//! - with `--journal-max`, it grows at most `GROWTH_BOUND_KIB` after
//!   warm-up;
//! - one SubmitLineItems call of 2,000,000 items leaves `serve` within
//!   16 MiB of where it started (the journal keeps 1 MiB of any call).
//!
//! Opt-in (`--ignored`); sizes from the environment: `LOAD_CALLS`
//! (default 20,000; the documented run uses 200,000), `LOAD_JOURNAL_MAX`
//! (unset: the defaults), `LOAD_ITEMS` (default 2,000,000), `LOAD_ONLY`
//! (one kind of the mix: 0 unary, 1 server stream, 2 client stream, 3 bidi):
//!
//! ```sh
//! cargo build --release -p orders-testkit-e2e --examples
//! LOAD_CALLS=200000 cargo test --release -p orders-testkit-e2e --test load -- --ignored --nocapture
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
/// How much the server's resident memory may grow after warm-up, with a
/// journal bounded in calls.
const GROWTH_BOUND_KIB: u64 = 32 * 1024;
/// How far above its idle size `serve`'s memory may be at the end, at the
/// default journal bounds: the journal's 64 MiB budget and 32 MiB for the
/// allocator, the connections and the runtime.
const DEFAULT_GROWTH_KIB: u64 = 96 * 1024;
/// How far one huge call may leave `serve` above where it started.
const ONE_CALL_BOUND_KIB: u64 = 16 * 1024;
/// A call that takes longer than this is a hang, reported as a failure.
const CALL_GUARD: Duration = Duration::from_secs(30);

/// The tests here measure a machine to themselves: one at a time.
/// (A tokio mutex: the guard is held across the test's awaits.)
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
    // LOAD_ONLY=k runs one kind of the mix only (0 unary, 1 server stream,
    // 2 client stream, 3 bidi), for the ratio by kind.
    let kind = std::env::var("LOAD_ONLY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(n % 4);
    match kind {
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

/// What one run of the generator measured.
struct Run {
    calls_per_s: f64,
    p50: u64,
    p99: u64,
    idle: u64,
    warm: u64,
    end: u64,
    peak: u64,
    errors: Vec<String>,
}

/// Orders for the mix: terminal ones on `serve` (every watch ends after
/// its first message); any ids on the bare server.
async fn seed(channel: &Channel, real: bool) -> Vec<String> {
    if !real {
        return (0..16).map(|i| format!("ord-{i:06}")).collect();
    }
    let mut seeding = OrderServiceClient::new(channel.clone());
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
    ids
}

/// The mix, `calls` calls by `CLIENTS` clients over `CONNECTIONS`
/// connections to `served`.
async fn run(served: &Served, real: bool, calls: usize, warm_up: usize) -> Run {
    let pid = served.pid();
    let idle = memory_kib(pid).0;
    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        channels.push(
            Channel::from_shared(served.url())
                .unwrap()
                .tcp_nodelay(true)
                .connect()
                .await
                .unwrap(),
        );
    }
    let ids = Arc::new(seed(&channels[0], real).await);
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
    let (end, peak) = memory_kib(pid);
    let warm = warm_rss.lock().unwrap().unwrap_or(end);
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Run {
        calls_per_s: calls as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        idle,
        warm,
        end,
        peak,
        errors,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load: run with --ignored (LOAD_CALLS, LOAD_JOURNAL_MAX set the size)"]
async fn serve_holds_sustained_load_with_a_bounded_journal() {
    let _alone = ALONE.lock().await;
    let calls = env("LOAD_CALLS", 20_000);
    let journal_max = std::env::var("LOAD_JOURNAL_MAX")
        .ok()
        .and_then(|v| v.parse::<usize>().ok());
    let warm_up = (2 * journal_max.unwrap_or(0))
        .max(calls / 10)
        .min(calls / 2);
    let args: Vec<String> = match journal_max {
        Some(n) => vec!["--journal-max".into(), n.to_string()],
        None => Vec::new(),
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // The baseline first, then serve; each alone on the machine.
    let bare = {
        let served = Served::bare();
        run(&served, false, calls, warm_up).await
    };
    let served = Served::start(&args);
    let mock = run(&served, true, calls, warm_up).await;
    let ratio = mock.calls_per_s / bare.calls_per_s;
    let journal = match journal_max {
        Some(n) => format!("journal max {n} calls"),
        None => "journal at the defaults (100,000 calls, 64 MiB)".into(),
    };
    let report = format!(
        "load: {calls} calls (mix of all four patterns), {CLIENTS} clients, {CONNECTIONS} connections, {journal}\n  \
         serve: {:.0} calls/s, p50 {} µs, p99 {} µs\n  \
         bare tonic, same generator: {:.0} calls/s, p50 {} µs, p99 {} µs\n  \
         throughput ratio serve/bare: {ratio:.2}\n  \
         serve RSS: {} KiB idle, {} KiB after warm-up ({warm_up} calls), {} KiB at the end \
         (growth {} KiB after warm-up, {} KiB over idle), peak {} KiB\n  errors: {}",
        mock.calls_per_s,
        mock.p50,
        mock.p99,
        bare.calls_per_s,
        bare.p50,
        bare.p99,
        mock.idle,
        mock.warm,
        mock.end,
        mock.end as i64 - mock.warm as i64,
        mock.end as i64 - mock.idle as i64,
        mock.peak,
        mock.errors.len() + bare.errors.len(),
    );
    println!("{report}");
    let _ = std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/../target"));
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/load-report.txt"),
        &report,
    );
    for errors in [&mock.errors, &bare.errors] {
        assert!(
            errors.is_empty(),
            "{report}\nfirst errors: {:?}",
            &errors[..errors.len().min(5)]
        );
    }
    assert!(
        mock.idle > 0 && mock.warm > 0 && mock.end > 0,
        "could not read the server's memory"
    );
    match journal_max {
        Some(_) => assert!(
            mock.end <= mock.warm + GROWTH_BOUND_KIB,
            "memory grew past the bound after warm-up\n{report}"
        ),
        None => assert!(
            mock.end <= mock.idle + DEFAULT_GROWTH_KIB,
            "at the defaults, memory went past {DEFAULT_GROWTH_KIB} KiB over idle\n{report}"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load: run with --ignored (LOAD_ITEMS sets the size)"]
async fn one_huge_client_stream_leaves_serve_where_it_started() {
    let _alone = ALONE.lock().await;
    let items = env("LOAD_ITEMS", 2_000_000);
    let served = Served::start(&[]);
    let pid = served.pid();
    let channel = Channel::from_shared(served.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = OrderServiceClient::new(channel);
    let item = |i: usize| LineItem {
        product_id: format!("p-{}", i % 1000),
        quantity: 1,
        price_cents: 1,
    };
    // One small call first: the connection and the runtime are warm.
    client
        .submit_line_items(tokio_stream::iter((0..10).map(item)))
        .await
        .unwrap();
    let (before, _) = memory_kib(pid);
    let answer = tokio::time::timeout(
        Duration::from_secs(600),
        client.submit_line_items(tokio_stream::iter((0..items).map(item))),
    )
    .await
    .expect("the call ends within 10 minutes")
    .expect("the contract allows any number of items");
    assert_eq!(answer.into_inner().item_count as usize, items);
    let (after, peak) = memory_kib(pid);
    let report = format!(
        "one SubmitLineItems call of {items} items: serve RSS {before} KiB before, {after} KiB after \
         ({} KiB more; bound {ONE_CALL_BOUND_KIB} KiB), peak {peak} KiB",
        after as i64 - before as i64
    );
    println!("{report}");
    assert!(
        before > 0 && after > 0,
        "could not read the server's memory"
    );
    assert!(after <= before + ONE_CALL_BOUND_KIB, "{report}");
}
