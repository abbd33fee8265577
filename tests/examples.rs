//! The examples in examples/, exercised: deadline propagation over a
//! two-hop chain, the retrying client, round robin and failover.

mod common;

#[path = "../examples/failover.rs"]
#[allow(dead_code)]
mod failover;
#[path = "../examples/middle_service.rs"]
#[allow(dead_code)]
mod middle_service;
#[path = "../examples/retry_client.rs"]
#[allow(dead_code)]
mod retry_client;
#[path = "../examples/round_robin.rs"]
#[allow(dead_code)]
mod round_robin;

use std::time::Duration;

use orders_testkit::OrderMock;
use orders_testkit::fault::Fault;
use orders_testkit::grpc::propagation::Propagation;
use orders_testkit::mock::cluster::MockCluster;
use orders_testkit::pb::{GetOrderRequest, Order};
use orders_testkit::rpc::GetOrder;
use tonic::{Code, Request};

fn rules() -> Propagation {
    Propagation::new(Duration::from_millis(20), Duration::from_millis(100))
}

#[tokio::test]
async fn d_propagation_outgoing_deadline_is_incoming_less_elapsed_and_margin() {
    let c = OrderMock::start().await;
    let id = c.seed_order(Order {
        order_id: "o-1".into(),
        ..Default::default()
    });
    let work = Duration::from_millis(50);
    let (mut a, _b) = middle_service::start_b(&c, rules(), work);
    for incoming in [
        Duration::from_millis(500),
        Duration::from_secs(2),
        Duration::from_millis(300),
    ] {
        c.journal().clear();
        let mut req = Request::new(GetOrderRequest {
            order_id: id.clone(),
        });
        req.set_timeout(incoming);
        a.get_order(req).await.expect("enough time");
        let calls = c.journal().wait_for_ended(1).await;
        let given = calls[0].deadline.expect("C got a deadline");
        // No later than B's own (incoming less B's elapsed work) less the margin.
        assert!(
            given <= incoming - work - rules().margin,
            "{given:?} for {incoming:?}"
        );
        assert!(given >= rules().threshold);
    }
}

#[tokio::test]
async fn d_propagation_below_threshold_fails_fast_and_c_sees_no_call() {
    let c = OrderMock::start().await;
    let (mut a, _b) = middle_service::start_b(&c, rules(), Duration::from_millis(50));
    let mut req = Request::new(GetOrderRequest {
        order_id: "o-1".into(),
    });
    req.set_timeout(Duration::from_millis(150)); // 150 - 50 - 20 = 80 < 100
    let err = a.get_order(req).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert!(err.message().contains("insufficient time remaining"));
    assert!(
        c.journal().calls_to(GetOrder).is_empty(),
        "C was never called"
    );
}

#[tokio::test]
async fn d_propagation_without_incoming_deadline_invents_none() {
    let c = OrderMock::start().await;
    let (mut a, _b) = middle_service::start_b(&c, rules(), Duration::ZERO);
    let _ = a
        .get_order(GetOrderRequest {
            order_id: "x".into(),
        })
        .await;
    let calls = c.journal().wait_for_ended(1).await;
    assert_eq!(calls[0].deadline, None);
}

#[tokio::test]
async fn retry_client_survives_first_n_failures() {
    let mock = OrderMock::start().await;
    let id = mock.seed_order(Order {
        order_id: "o-1".into(),
        ..Default::default()
    });
    mock.inject(
        Fault::unavailable("warming up", Duration::from_millis(1))
            .on(GetOrder)
            .first(2),
    );
    let order = retry_client::get_with_retry(&mut mock.client(), &id, 5)
        .await
        .unwrap();
    assert_eq!(order.order_id, "o-1");
    let calls = mock.journal().wait_for_ended(3).await;
    let codes: Vec<_> = calls.iter().map(|c| c.outcome.code().unwrap()).collect();
    assert_eq!(codes, [Code::Unavailable, Code::Unavailable, Code::Ok]);
    // Too few attempts: the last UNAVAILABLE comes back.
    mock.faults().clear();
    mock.inject(
        Fault::unavailable("down", Duration::from_millis(1))
            .on(GetOrder)
            .first(3),
    );
    let err = retry_client::get_with_retry(&mut mock.client(), &id, 3)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
}

#[tokio::test]
async fn round_robin_example_spreads_evenly() {
    let cluster = MockCluster::start(3).await;
    assert_eq!(round_robin::spread(&cluster, 30).await, [10, 10, 10]);
}

#[tokio::test]
async fn failover_example_sends_everything_to_the_serving_replica() {
    let cluster = MockCluster::start(3).await;
    let (served, failed) = failover::fail_over(&cluster, 20).await;
    assert_eq!(failed, 0);
    assert_eq!(served, [0, 0, 20]);
}
