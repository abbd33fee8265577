//! Fault injection over duplex: the mock's four patterns, a user-style
//! service wrapped in FaultLayer, determinism, and snapshots of every kind
//! of injected error payload.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use orders_testkit::OrderMock;
use orders_testkit::fault::{Fault, FaultLayer, FaultPlan};
use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::order_service_server::{OrderService, OrderServiceServer};
use orders_testkit::pb::*;
use orders_testkit::rpc::{
    CreateOrder, GetOrder, ProcessOrders, SubmitLineItems, WatchOrderStatus,
};
use orders_testkit::server::InProcessServer;
use orders_testkit::service::orders::BoxStream;
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_types::{ErrorDetails, StatusExt};
use tower::Layer;

fn timed<T>(msg: T, ms: u64) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("grpc-timeout", format!("{ms}m").parse().unwrap());
    r
}

#[tokio::test]
async fn d1_delay_200ms_vs_deadline_50ms_unary_is_deadline_exceeded() {
    let mock = OrderMock::start().await;
    mock.inject(Fault::delay(Duration::from_millis(200)).on(GetOrder));
    // A bare HTTP/2 client: tonic's own client timer would race the server.
    let mut client = raw_client(&mock).await;
    let st = client
        .get_order(timed(
            GetOrderRequest {
                order_id: "x".into(),
            },
            50,
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded, "{st:?}");
    let calls = mock.journal().wait_for_ended(1).await;
    assert_eq!(calls[0].deadline, Some(Duration::from_millis(50)));
    assert_eq!(calls[0].outcome.code(), Some(Code::DeadlineExceeded));
    snapshot_status("fault_delay_deadline_exceeded", &st);
}

#[tokio::test]
async fn d1_delay_200ms_vs_deadline_50ms_server_stream_is_deadline_exceeded() {
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    mock.inject(Fault::delay(Duration::from_millis(200)).on(WatchOrderStatus));
    let mut client = raw_client(&mock).await;
    let st = client
        .watch_order_status(timed(
            WatchOrderStatusRequest {
                order_id: id.clone(),
            },
            50,
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded, "{st:?}");
    // Between messages too: the stream is cut at the deadline.
    mock.faults().clear();
    mock.inject(Fault::delay_between(Duration::from_millis(200)).on(WatchOrderStatus));
    let mut s = client
        .watch_order_status(timed(
            WatchOrderStatusRequest {
                order_id: id.clone(),
            },
            50,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(s.message().await.unwrap().is_some());
    mock.advance(&id, OrderActionType::Confirm).unwrap();
    let st = s.message().await.unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded, "{st:?}");
    mock.journal().wait_for_ended(3).await;
    let watches = mock.journal().calls_to(WatchOrderStatus);
    assert_eq!(watches.len(), 2);
    assert!(
        watches
            .iter()
            .all(|c| c.deadline == Some(Duration::from_millis(50)))
    );
    assert!(
        watches
            .iter()
            .all(|c| c.outcome.code() == Some(Code::DeadlineExceeded))
    );
}

#[tokio::test]
async fn d1_with_tonic_client_cancelled_only_after_the_deadline() {
    let mock = OrderMock::start().await;
    mock.inject(Fault::delay(Duration::from_millis(200)).on(GetOrder));
    let mut req = Request::new(GetOrderRequest {
        order_id: "x".into(),
    });
    req.set_timeout(Duration::from_millis(50));
    let started = tokio::time::Instant::now();
    let st = mock.client().get_order(req).await.unwrap_err();
    assert!(
        matches!(st.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{st:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(50));
}

#[tokio::test]
async fn hang_until_deadline_on_the_mock() {
    let mock = OrderMock::start().await;
    mock.inject(Fault::hang().on(CreateOrder));
    let st = raw_client(&mock)
        .await
        .create_order(timed(valid_req(), 30))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::DeadlineExceeded);
    assert_eq!(mock.store().order_count(), 0, "D-4: nothing created");
}

#[tokio::test]
async fn server_stream_abort_after_n_messages() {
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    mock.inject(Fault::abort_after(2, Status::unavailable("watch node lost")).on(WatchOrderStatus));
    let mut s = mock
        .client()
        .watch_order_status(WatchOrderStatusRequest {
            order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        s.message().await.unwrap().unwrap().status(),
        OrderStatus::Pending
    );
    mock.advance(&id, OrderActionType::Confirm).unwrap();
    assert_eq!(
        s.message().await.unwrap().unwrap().status(),
        OrderStatus::Confirmed
    );
    mock.advance(&id, OrderActionType::Ship).unwrap();
    let st = s.message().await.unwrap_err();
    assert_eq!(st.code(), Code::Unavailable);
    snapshot_status("fault_abort_after_n", &st);
}

#[tokio::test]
async fn client_stream_status_fault() {
    let mock = OrderMock::start().await;
    mock.inject(
        Fault::fail(tonic::Status::resource_exhausted("batch queue full"))
            .on(SubmitLineItems)
            .first(1),
    );
    let mut c = mock.client();
    let st = c
        .submit_line_items(tokio_stream::iter(vec![item("a", 1, 1)]))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::ResourceExhausted);
    let ok = c
        .submit_line_items(tokio_stream::iter(vec![item("a", 1, 1)]))
        .await
        .unwrap();
    assert_eq!(ok.into_inner().item_count, 1);
}

#[tokio::test]
async fn bidi_abort_after_first_result() {
    let mock = OrderMock::start().await;
    let id = create(&mock).await;
    mock.inject(Fault::abort_after(1, Status::aborted("processor restarted")).on(ProcessOrders));
    let mut out = mock
        .client()
        .process_orders(tokio_stream::iter(vec![
            action(&id, OrderActionType::Confirm),
            action(&id, OrderActionType::Ship),
        ]))
        .await
        .unwrap()
        .into_inner();
    assert!(out.message().await.unwrap().unwrap().success);
    let st = out.message().await.unwrap_err();
    assert_eq!(st.code(), Code::Aborted);
}

#[tokio::test]
async fn reset_and_drop_connection_then_the_client_recovers() {
    let mock = OrderMock::start().await;
    mock.inject(Fault::reset().on(GetOrder).first(1));
    mock.inject(Fault::drop_connection().on(CreateOrder).first(1));
    let mut c = mock.client();
    let st = c
        .get_order(GetOrderRequest {
            order_id: "x".into(),
        })
        .await
        .unwrap_err();
    assert_ne!(st.code(), Code::Ok);
    assert!(!st.message().is_empty());
    let st = tokio::time::timeout(GUARD, c.create_order(valid_req()))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            st.code(),
            Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled
        ),
        "{st:?}"
    );
    // The channel reconnects over a fresh duplex pair and carries on.
    // The first call after a drop may still race the old connection: a few
    // tries at most.
    let mut created = None;
    for _ in 0..5 {
        match tokio::time::timeout(GUARD, c.create_order(valid_req()))
            .await
            .unwrap()
        {
            Ok(r) => {
                created = Some(r.into_inner());
                break;
            }
            Err(e) if e.code() == Code::Unavailable => continue,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(!created.expect("the client recovers").order_id.is_empty());
}

#[tokio::test]
async fn rate_limit_on_the_mock_carries_retry_info() {
    let mock = OrderMock::start().await;
    mock.inject(Fault::rate_limit(3, Duration::from_secs(60)).on(GetOrder));
    let mut c = mock.client();
    for _ in 0..3 {
        assert_eq!(
            c.get_order(GetOrderRequest {
                order_id: "x".into()
            })
            .await
            .unwrap_err()
            .code(),
            Code::NotFound
        );
    }
    let st = c
        .get_order(GetOrderRequest {
            order_id: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::ResourceExhausted);
    let retry = st.get_details_retry_info().unwrap().retry_delay.unwrap();
    assert!(retry <= Duration::from_secs(60) && retry > Duration::ZERO);
    // E-7: a transient failure says when to retry. Snapshot with the delay redacted.
    let redacted = Status::with_error_details(
        st.code(),
        st.message(),
        ErrorDetails::with_retry_info(Some(Duration::from_secs(1))),
    );
    snapshot_status("fault_rate_limit_retry_info_redacted", &redacted);
}

#[tokio::test]
async fn same_seed_same_faults_on_the_same_calls() {
    async fn run(seed: u64) -> Vec<Code> {
        let mock = OrderMock::builder()
            .faults(
                FaultPlan::seeded(seed)
                    .with(Fault::fail(tonic::Status::unavailable("flaky")).probability(0.3)),
            )
            .start()
            .await;
        let mut c = mock.client();
        for i in 0..40 {
            let _ = c
                .get_order(GetOrderRequest {
                    order_id: format!("o-{i}"),
                })
                .await;
        }
        mock.journal()
            .wait_for_ended(40)
            .await
            .iter()
            .map(|c| c.outcome.code().unwrap())
            .collect()
    }
    let a = run(99).await;
    assert_eq!(a, run(99).await);
    assert_ne!(a, run(100).await);
    assert!(a.contains(&Code::Unavailable) && a.contains(&Code::NotFound));
}

/// Every kind of detail tonic-types offers, with custom trailers: the
/// payloads reviewers see in snapshots.
#[tokio::test]
async fn snapshots_of_every_kind_of_injected_error_payload() {
    let mut details = ErrorDetails::new();
    details
        .set_retry_info(Some(Duration::from_millis(1500)))
        .set_debug_info(
            vec!["frame 1".into(), "frame 2".into()],
            "injected debug info",
        )
        .add_quota_failure_violation("project:p1", "daily order quota")
        .set_error_info(
            "ORDER_BACKEND_DOWN",
            "orders.example.com",
            HashMap::from([
                ("zone".to_string(), "eu-1".to_string()),
                ("attempt".to_string(), "3".to_string()),
                ("backend".to_string(), "db-7".to_string()),
            ]),
        )
        .add_precondition_failure_violation("STOCK", "p1", "not enough stock")
        .add_bad_request_violation("items[0].quantity", "must be at least 1")
        .set_request_info("req-123", "serving data")
        .set_resource_info("orders.v1.Order", "o-1", "tenant-9", "locked")
        .add_help_link("runbook", "https://example.com/runbook")
        .set_localized_message("en-GB", "The order service is down");
    let mut status = Status::with_error_details(Code::Unavailable, "everything at once", details);
    status
        .metadata_mut()
        .insert("x-fault", "injected".parse().unwrap());
    status
        .metadata_mut()
        .insert("retry-after-ms", "1500".parse().unwrap());
    let mock = OrderMock::start().await;
    mock.inject(Fault::fail(status).on(GetOrder));
    mock.inject(Fault::unavailable("replica draining", Duration::from_millis(250)).on(CreateOrder));
    let mut c = mock.client();
    let st = c
        .get_order(GetOrderRequest {
            order_id: "x".into(),
        })
        .await
        .unwrap_err();
    snapshot_status("fault_status_every_detail_kind", &st);
    let st = c.create_order(valid_req()).await.unwrap_err();
    assert_eq!(
        st.get_details_retry_info().unwrap().retry_delay,
        Some(Duration::from_millis(250))
    );
    snapshot_status("fault_unavailable_retry_info", &st);
}

/// A user's own service, not the mock.
#[derive(Clone)]
struct UserOrders;

#[tonic::async_trait]
impl OrderService for UserOrders {
    async fn create_order(
        &self,
        _: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        Ok(Response::new(CreateOrderResponse {
            order_id: "user-1".into(),
            created_at: None,
        }))
    }
    async fn get_order(&self, r: Request<GetOrderRequest>) -> Result<Response<Order>, Status> {
        Ok(Response::new(Order {
            order_id: r.into_inner().order_id,
            ..Default::default()
        }))
    }
    type WatchOrderStatusStream = BoxStream<OrderStatusUpdate>;
    async fn watch_order_status(
        &self,
        r: Request<WatchOrderStatusRequest>,
    ) -> Result<Response<Self::WatchOrderStatusStream>, Status> {
        let id = r.into_inner().order_id;
        let updates = (0..5).map(move |_| {
            Ok(OrderStatusUpdate {
                order_id: id.clone(),
                ..Default::default()
            })
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(updates))))
    }
    async fn submit_line_items(
        &self,
        _: Request<Streaming<LineItem>>,
    ) -> Result<Response<SubmitLineItemsResponse>, Status> {
        Err(Status::unimplemented("not here"))
    }
    type ProcessOrdersStream = BoxStream<OrderResult>;
    async fn process_orders(
        &self,
        _: Request<Streaming<OrderAction>>,
    ) -> Result<Response<Self::ProcessOrdersStream>, Status> {
        Err(Status::unimplemented("not here"))
    }
}

#[tokio::test]
async fn fault_layer_wraps_a_user_service_in_process() {
    let plan = FaultPlan::new()
        .with(
            Fault::fail(tonic::Status::unavailable("injected"))
                .on(CreateOrder)
                .first(1),
        )
        .with(Fault::abort_after(3, Status::data_loss("cut")).on(WatchOrderStatus));
    let routes = tonic::service::Routes::new(OrderServiceServer::new(UserOrders)).prepare();
    let server = InProcessServer::start(FaultLayer::new(plan.clone()).layer(routes));
    let mut c = OrderServiceClient::new(server.channel());
    assert_eq!(
        c.create_order(valid_req()).await.unwrap_err().code(),
        Code::Unavailable
    );
    assert_eq!(
        c.create_order(valid_req())
            .await
            .unwrap()
            .into_inner()
            .order_id,
        "user-1"
    );
    let mut s = c
        .watch_order_status(WatchOrderStatusRequest {
            order_id: "w".into(),
        })
        .await
        .unwrap()
        .into_inner();
    for _ in 0..3 {
        assert!(s.message().await.unwrap().is_some());
    }
    assert_eq!(s.message().await.unwrap_err().code(), Code::DataLoss);
}

#[tokio::test]
async fn fault_layer_on_tonic_server_builder_over_loopback() {
    let plan = FaultPlan::new().with(
        Fault::fail(tonic::Status::permission_denied("injected"))
            .on(GetOrder)
            .every(2),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .layer(FaultLayer::new(plan))
            .add_service(OrderServiceServer::new(UserOrders))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let mut c = OrderServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let get = || GetOrderRequest {
        order_id: "g".into(),
    };
    assert!(c.get_order(get()).await.is_ok());
    assert_eq!(
        c.get_order(get()).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert!(c.get_order(get()).await.is_ok());
    server.abort();
}
