//! MockCluster: balancing, failover and draining, counted from the
//! replicas' journals.

mod common;

use std::time::Duration;

use common::*;
use orders_testkit::mock::cluster::{MockCluster, Policy};
use orders_testkit::pb::GetOrderRequest;
use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::rpc::{CreateOrder, GetOrder};
use tonic::Code;

fn counts(
    cluster: &MockCluster,
    f: impl Fn(&orders_testkit::journal::Journal) -> usize,
) -> Vec<usize> {
    (0..cluster.len())
        .map(|i| cluster.journal(i).map_or(0, |j| f(&j)))
        .collect()
}

#[tokio::test]
async fn round_robin_spreads_300_calls_evenly() {
    let cluster = MockCluster::start(3).await;
    let balanced = cluster.balanced(Policy::RoundRobin);
    tokio::time::timeout(GUARD, balanced.wait_for_serving(3))
        .await
        .unwrap();
    let mut client = balanced.client();
    for i in 0..300 {
        let st = client
            .get_order(GetOrderRequest {
                order_id: format!("o-{i}"),
            })
            .await
            .unwrap_err();
        assert_eq!(st.code(), Code::NotFound);
    }
    let per_replica = counts(&cluster, |j| j.calls_to(GetOrder).len());
    assert_eq!(per_replica.iter().sum::<usize>(), 300);
    for n in &per_replica {
        assert!(
            (90..=110).contains(n),
            "each within ±10% of 100: {per_replica:?}"
        );
    }
}

#[tokio::test]
async fn power_of_two_choices_uses_every_replica() {
    let cluster = MockCluster::start(3).await;
    let balanced = cluster.balanced(Policy::PowerOfTwoChoices);
    tokio::time::timeout(GUARD, balanced.wait_for_serving(3))
        .await
        .unwrap();
    let mut client = balanced.client();
    for _ in 0..300 {
        client.create_order(valid_req()).await.unwrap();
    }
    let per_replica = counts(&cluster, |j| j.calls_to(CreateOrder).len());
    assert_eq!(per_replica.iter().sum::<usize>(), 300);
    assert!(per_replica.iter().all(|n| *n > 30), "{per_replica:?}");
    // One replicated service: every order is in the shared store.
    assert_eq!(cluster.store().order_count(), 300);
}

#[tokio::test]
async fn a_stopped_replica_is_left_out_and_calls_keep_succeeding() {
    let cluster = MockCluster::start(3).await;
    let balanced = cluster.balanced(Policy::RoundRobin);
    tokio::time::timeout(GUARD, balanced.wait_for_serving(3))
        .await
        .unwrap();
    cluster.stop(1);
    // The client acts once the replica's health watch breaks.
    tokio::time::timeout(GUARD, balanced.wait_for_serving(2))
        .await
        .unwrap();
    assert_eq!(balanced.serving(), [true, false, true]);
    let mut client = balanced.client();
    for _ in 0..100 {
        client
            .create_order(valid_req())
            .await
            .expect("no call goes to the stopped replica");
    }
    let per_replica = counts(&cluster, |j| j.calls_to(CreateOrder).len());
    assert_eq!(per_replica, [50, 0, 50]);
    // Back again: it rejoins the rotation.
    cluster.restart(1).await.unwrap();
    tokio::time::timeout(GUARD, balanced.wait_for_serving(3))
        .await
        .unwrap();
    for _ in 0..30 {
        client.create_order(valid_req()).await.unwrap();
    }
    assert_eq!(cluster.journal(1).unwrap().calls_to(CreateOrder).len(), 10);
    assert_eq!(cluster.store().order_count(), 130);
}

#[tokio::test]
async fn a_drained_replica_gets_no_new_calls() {
    let cluster = MockCluster::start(3).await;
    for policy in [Policy::RoundRobin, Policy::PowerOfTwoChoices] {
        let balanced = cluster.balanced(policy);
        tokio::time::timeout(GUARD, balanced.wait_for_serving(3))
            .await
            .unwrap();
        cluster.set_serving(2, false);
        tokio::time::timeout(GUARD, balanced.wait_for_serving(2))
            .await
            .unwrap();
        let before = cluster.journal(2).unwrap().calls_to(GetOrder).len();
        let mut client = balanced.client();
        for i in 0..60 {
            let _ = client
                .get_order(GetOrderRequest {
                    order_id: format!("d-{i}"),
                })
                .await;
        }
        assert_eq!(
            cluster.journal(2).unwrap().calls_to(GetOrder).len(),
            before,
            "{policy:?}"
        );
        cluster.set_serving(2, true);
        tokio::time::timeout(GUARD, balanced.wait_for_serving(3))
            .await
            .unwrap();
    }
}

/// tonic's own balancer over TCP, with one endpoint dead: every call is
/// either served by a live replica or fails as a transport failure (tonic keeps the
/// dead endpoint in rotation; how many fail is printed, not asserted).
#[tokio::test]
async fn tonic_balance_list_with_a_dead_endpoint_serves_or_fails_in_transport() {
    let cluster = MockCluster::serve_tcp(3).await.unwrap();
    let endpoints = cluster
        .addrs()
        .into_iter()
        .map(|a| tonic::transport::Endpoint::from_shared(format!("http://{a}")).unwrap());
    let channel = tonic::transport::Channel::balance_list(endpoints);
    let mut client = OrderServiceClient::new(channel);
    for _ in 0..30 {
        client.create_order(valid_req()).await.unwrap();
    }
    let spread = counts(&cluster, |j| j.calls_to(CreateOrder).len());
    assert_eq!(spread.iter().sum::<usize>(), 30);
    cluster.stop(0);
    let mut failures = 0;
    let mut failed_at = vec![];
    let mut codes = std::collections::BTreeSet::new();
    for i in 0..60 {
        let mut req = tonic::Request::new(valid_req());
        req.set_timeout(Duration::from_secs(5));
        if let Err(st) = client.create_order(req).await {
            failures += 1;
            failed_at.push(i);
            codes.insert(format!("{:?}", st.code()));
        }
    }
    eprintln!(
        "tonic balance_list: spread {spread:?}; after stopping replica 0, {failures} of 60 calls failed (at {failed_at:?}, codes {codes:?})"
    );
    let after = counts(&cluster, |j| j.calls_to(CreateOrder).len());
    assert_eq!(after[0], 0, "the stopped replica's journal is gone with it");
    assert_eq!(after[1] + after[2] + failures, 60 + spread[1] + spread[2]);
    // tonic: UNAVAILABLE when it cannot connect, UNKNOWN "transport error"
    // when the connection breaks under a call.
    assert!(
        codes.iter().all(|c| c == "Unavailable" || c == "Unknown"),
        "failures are transport failures only: {codes:?}"
    );
}
