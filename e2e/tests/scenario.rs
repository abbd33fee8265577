//! `serve --scenario FILE`: the example file in the repo through the real
//! binary, and broken files refused with file, line and problem.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use orders_testkit::pb::order_service_client::OrderServiceClient;
use orders_testkit::pb::{GetOrderRequest, OrderStatus, WatchOrderStatusRequest};
use orders_testkit::scenario::Scenario;
use tonic::{Code, Request};
use tonic_types::StatusExt;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/scenario.toml");

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(scenario: &str) -> (Child, String) {
    let mut child = Command::new(orders_testkit_e2e::cli_binary())
        .args(["serve", "--addr", "127.0.0.1:0", "--scenario", scenario])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(common::GUARD)
        .expect("the address is printed");
    let addr = line
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string();
    (Child(child), format!("http://{addr}"))
}

#[tokio::test]
async fn serve_scenario_example_file() {
    let (_child, url) = serve(EXAMPLE);
    let mut c = OrderServiceClient::connect(url).await.unwrap();
    // Seeded orders.
    let shipped = c
        .get_order(GetOrderRequest {
            order_id: "o-shipped".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shipped.status(), OrderStatus::Shipped);
    assert_eq!(shipped.items[0].price_cents, 1999);
    let pending = c
        .get_order(GetOrderRequest {
            order_id: "o-pending".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pending.status(), OrderStatus::Pending);
    // A stubbed order.
    let legacy = c
        .get_order(GetOrderRequest {
            order_id: "o-legacy".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(legacy.status(), OrderStatus::Delivered);
    // A metadata stub.
    let mut req = Request::new(common::valid_req());
    req.metadata_mut()
        .insert("x-tenant", "blocked".parse().unwrap());
    assert_eq!(
        c.create_order(req).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert!(c.create_order(common::valid_req()).await.is_ok());
    // A scripted watch that fails midway.
    let mut w = c
        .watch_order_status(WatchOrderStatusRequest {
            order_id: "o-flaky-watch".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        w.message().await.unwrap().unwrap().status(),
        OrderStatus::Pending
    );
    assert_eq!(
        w.message().await.unwrap().unwrap().status(),
        OrderStatus::Confirmed
    );
    let st = w.message().await.unwrap_err();
    assert_eq!(st.code(), Code::Unavailable);
    assert_eq!(
        st.get_details_retry_info().unwrap().retry_delay,
        Some(Duration::from_millis(100))
    );
    // A fault on the first SubmitLineItems only.
    let items = || tokio_stream::iter(vec![common::item("p", 1, 1)]);
    let st = c.submit_line_items(items()).await.unwrap_err();
    assert_eq!(st.code(), Code::Unavailable);
    assert!(c.submit_line_items(items()).await.is_ok());
}

fn serve_broken(text: &str) -> (Option<i32>, String, String) {
    let path = std::env::temp_dir().join(format!(
        "orders-testkit-scenario-{}-broken-{}.toml",
        std::process::id(),
        text.len()
    ));
    std::fs::write(&path, text).unwrap();
    let out = Command::new(orders_testkit_e2e::cli_binary())
        .args(["serve", "--addr", "127.0.0.1:0", "--scenario"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

#[test]
fn serve_refuses_a_broken_scenario_naming_file_line_and_problem() {
    let text = "seed = 1\n\n[[faults]]\nkind = \"explode\"\nrpc = \"GetOrder\"\n";
    let (code, stdout, stderr) = serve_broken(text);
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty(), "the server did not start: {stdout}");
    assert!(
        stderr.starts_with("orders-testkit: bad scenario: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("broken-") && stderr.contains(".toml: line 3: "),
        "{stderr}"
    );
    assert!(stderr.ends_with(
        "unknown fault kind \"explode\": expected status, delay, delay_between, hang, abort, lose_answer, cut, fail_action, reset, drop_connection, rate_limit or wire"
    ), "{stderr}");
}

fn problem(text: &str) -> String {
    Scenario::parse("s.toml", text).unwrap_err().to_string()
}

#[test]
fn scenario_errors_name_the_line() {
    assert_eq!(
        problem("seed = 1\nsede = 2\n").lines().next().unwrap(),
        "s.toml: line 2: unknown field `sede`, expected one of `seed`, `fail_fast_ms`, `orders`, `stubs`, `faults`, `fallthrough`, `serving`"
    );
    assert_eq!(
        problem("seed = \n"),
        "s.toml: line 1: string values must be quoted, expected literal string"
    );
    assert_eq!(
        problem("\n[[stubs]]\nrpc = \"GetOrder\"\nfail = { code = \"NOPE\", message = \"x\" }\n"),
        "s.toml: line 2: fail: unknown status code \"NOPE\": expected a name like UNAVAILABLE"
    );
    assert_eq!(
        problem("[[stubs]]\nrpc = \"GetOrder\"\n"),
        "s.toml: line 1: stub for GetOrder needs exactly one of respond, stream, replies, fail"
    );
    assert_eq!(
        problem("[[faults]]\nkind = \"hang\"\nfirst = 1\nevery = 2\n"),
        "s.toml: line 1: a fault takes at most one of first, every, after, between"
    );
    // The error points at the field's line, not the entry's header.
    assert!(
        problem("[[orders]]\norderId = \"a\"\nstatus = \"SHIPPED\"\n")
            .starts_with("s.toml: line 3: order: not a valid orders.v1.Order: ")
    );
    assert_eq!(
        Scenario::load(std::path::Path::new("/nonexistent/s.toml"))
            .unwrap_err()
            .to_string(),
        "/nonexistent/s.toml: cannot read: No such file or directory (os error 2)"
    );
}

#[tokio::test]
async fn scenario_when_matches_fields_in_either_spelling() {
    let scenario = Scenario::parse(
        "s.toml",
        "[[stubs]]\nrpc = \"GetOrder\"\nwhen = { order_id = \"a\" }\nrespond = { orderId = \"a\", customerId = \"snake\", status = \"ORDER_STATUS_PENDING\" }\n\n[[stubs]]\nrpc = \"GetOrder\"\nwhen = { orderId = \"b\" }\nrespond = { order_id = \"b\", customer_id = \"camel\", status = \"ORDER_STATUS_SHIPPED\" }\n",
    )
    .unwrap();
    let mock = scenario.start().await;
    let mut c = mock.client();
    assert_eq!(
        c.get_order(GetOrderRequest {
            order_id: "a".into()
        })
        .await
        .unwrap()
        .into_inner()
        .customer_id,
        "snake"
    );
    assert_eq!(
        c.get_order(GetOrderRequest {
            order_id: "b".into()
        })
        .await
        .unwrap()
        .into_inner()
        .customer_id,
        "camel"
    );
    assert_eq!(
        c.get_order(GetOrderRequest {
            order_id: "c".into()
        })
        .await
        .unwrap_err()
        .code(),
        Code::NotFound
    );
}

/// `serving = false`: health answers NOT_SERVING from the start (the
/// server and OrderService alike), and `serving = true` is the default.
#[tokio::test]
async fn scenario_serving_false_starts_not_serving() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    for (text, expected) in [
        ("serving = false\n", ServingStatus::NotServing),
        ("", ServingStatus::Serving),
    ] {
        let mock = Scenario::parse("s.toml", text).unwrap().start().await;
        for service in ["", "orders.v1.OrderService"] {
            let status = mock
                .health_client()
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap()
                .into_inner()
                .status;
            assert_eq!(status, expected as i32, "{text:?} {service:?}");
        }
    }
    let problem = Scenario::parse("s.toml", "serving = \"no\"\n")
        .unwrap_err()
        .to_string();
    assert!(problem.contains("line 1"), "{problem}");
}
