//! The mock on tokio's paused clock: a consumer's retry loop with a 30 s
//! budget, 5 retries and backoff up to 10 s runs in virtual time, and two
//! runs leave the same journal, times and the model's timestamps included.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::valid_req;
use orders_testkit::grpc::deadline::passed;
use orders_testkit::prelude::*;
use tokio::time::Instant;

/// A consumer's create with retries: a 30 s budget, each attempt at most
/// 2 s, backoff doubling from 500 ms up to 10 s, at most 5 retries.
async fn create_with_retries(client: &mut OrderServiceClient) -> Result<String, tonic::Status> {
    let budget = Instant::now() + Duration::from_secs(30);
    let mut backoff = Duration::from_millis(500);
    let mut attempt = 0;
    loop {
        let left = budget.saturating_duration_since(Instant::now());
        let mut req = tonic::Request::new(valid_req());
        req.set_timeout(left.min(Duration::from_secs(2)));
        req.metadata_mut()
            .insert("idempotency-key", "checkout-1".parse().unwrap());
        match client.create_order(req).await {
            Ok(res) => return Ok(res.into_inner().order_id),
            Err(st) if passed(&st) && attempt < 5 => {
                attempt += 1;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            Err(st) => return Err(st),
        }
    }
}

type OrderServiceClient =
    orders_testkit::pb::order_service_client::OrderServiceClient<tonic::transport::Channel>;

/// One run: the journal as text, every time relative to the mock's start.
async fn run() -> (String, Duration) {
    let epoch = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mock = OrderMock::builder().virtual_clock(epoch).start().await;
    mock.inject(Fault::hang().on(CreateOrder).first(5));
    let t0 = Instant::now();
    let id = create_with_retries(&mut mock.client()).await.unwrap();
    let took = t0.elapsed();
    let order = mock.warehouse().order(&id).unwrap();
    let mut text = format!("order {id} created_at {:?}\n", order.created_at.unwrap());
    for call in mock.journal().wait_for_ended(6).await {
        text.push_str(&format!(
            "#{} {:?} +{:?} ..{:?} deadline {:?} -> {:?} {:?}\n",
            call.seq,
            call.method,
            call.started - t0,
            call.ended.map(|e| e - t0),
            call.deadline,
            call.outcome.code(),
            call.responses_of(CreateOrder),
        ));
    }
    (text, took)
}

#[tokio::test(start_paused = true)]
async fn a_thirty_second_retry_loop_runs_in_virtual_time_and_replays_the_same_journal() {
    let wall = std::time::Instant::now();
    let (first, took) = run().await;
    let (second, _) = run().await;
    let wall = wall.elapsed();
    println!("{first}virtual {took:?} per run, wall-clock {wall:?} for both");
    // 5 attempts cut at 2 s, backoff 0.5 + 1 + 2 + 4 + 8 s, then success.
    assert_eq!(took, Duration::from_millis(5 * 2000 + 15_500));
    assert_eq!(first, second, "two runs, one journal");
    assert_eq!(first.lines().count(), 7, "{first}");
    // Virtual: both runs took far less than one run's 25.5 s of the clock.
    assert!(wall < took / 2, "wall-clock {wall:?}");
}
