//! What one served connection carries (`transport::MAX_CONCURRENT_STREAMS`,
//! `transport::CONNECTION_WINDOW`): 2,048 calls open at once, and 10,000
//! concurrent unary calls all answered (those past the limit wait in the
//! client for a free stream), in process and over TCP. Before the 16 MiB
//! connection window, h2's budget of unread small DATA frames closed such a
//! connection with ENHANCE_YOUR_CALM ("too_many_data_frames") at about
//! 2,100 pending requests when no stream limit held them back.

use orders_testkit::OrderMock;
use orders_testkit::pb::*;
use orders_testkit::prelude::OrderServiceClient;
use orders_testkit::rpc::WatchOrderStatus;
use orders_testkit::server::MAX_CONCURRENT_STREAMS;
use tonic::transport::Channel;

async fn mock_and_channel(tcp: bool) -> (OrderMock, Channel) {
    if tcp {
        let mock = OrderMock::builder()
            .serve_tcp("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let channel = Channel::from_shared(format!("http://{}", mock.local_addr().unwrap()))
            .unwrap()
            .connect()
            .await
            .unwrap();
        (mock, channel)
    } else {
        let mock = OrderMock::start().await;
        let channel = mock.channel();
        (mock, channel)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_holds_max_concurrent_streams_calls_open_at_once() {
    for tcp in [false, true] {
        let (mock, channel) = mock_and_channel(tcp).await;
        let id = mock.seed_order(Order::default());
        let client = OrderServiceClient::new(channel);
        let mut open = Vec::new();
        for _ in 0..MAX_CONCURRENT_STREAMS {
            let mut c = client.clone();
            let id = id.clone();
            open.push(tokio::spawn(async move {
                let mut s = c
                    .watch_order_status(WatchOrderStatusRequest { order_id: id })
                    .await
                    .unwrap()
                    .into_inner();
                s.message().await.unwrap().expect("the current status");
                s
            }));
        }
        let mut streams = Vec::new();
        for o in open {
            streams.push(o.await.unwrap());
        }
        let calls = mock.journal().calls_to(WatchOrderStatus);
        assert_eq!(calls.len(), MAX_CONCURRENT_STREAMS as usize);
        assert!(calls.iter().all(|c| c.ended.is_none()), "all open at once");
        assert_eq!(mock.tasks().connections(), 1, "on one connection");
        drop(streams);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_unary_calls_on_one_connection_are_all_answered() {
    for tcp in [false, true] {
        let (mock, channel) = mock_and_channel(tcp).await;
        let id = mock.seed_order(Order::default());
        let client = OrderServiceClient::new(channel);
        let calls: Vec<_> = (0..10_000)
            .map(|_| {
                let mut c = client.clone();
                let id = id.clone();
                tokio::spawn(async move { c.get_order(GetOrderRequest { order_id: id }).await })
            })
            .collect();
        let mut failed = Vec::new();
        for call in calls {
            if let Err(e) = call.await.unwrap() {
                failed.push(e);
            }
        }
        assert!(
            failed.is_empty(),
            "{} failed, first: {:?}",
            failed.len(),
            failed.first()
        );
        assert_eq!(mock.tasks().connections(), 1);
    }
}
