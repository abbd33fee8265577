//! The live page of `serve --admin` in a real browser: headless Chromium,
//! driven through ChromeDriver's WebDriver API, loads the page while calls
//! are made, and the test reads the calls from the page's table (DOM),
//! checks them against the journal, uses a filter, and keeps a screenshot
//! at `target/tmp/admin-page.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them). Without them (outside CI) the test is reported as ignored, with
//! the reason; in CI, or when run anyway, it fails saying what to install.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use common::GUARD;
use common::http1::{admin_api, send};
use orders_testkit::OrderMock;
use orders_testkit::layers::auth::Permission;
use orders_testkit::pb::GetOrderRequest;
use serde_json::{Value, json};

/// ChromeDriver as a child process, killed on drop. Its temporary files
/// and the browser's (profile, sockets) go to a folder of its own, removed
/// with it: killed, ChromeDriver leaves its profile folder behind.
struct Driver {
    child: Child,
    addr: SocketAddr,
    tmp: std::path::PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

impl Driver {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let tmp =
            std::env::temp_dir().join(format!("orders-testkit-chromium-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let mut child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .env("TMPDIR", &tmp)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver not found: apt-get install chromium chromium-driver, then touch e2e/build.rs");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if line.contains("started successfully") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(GUARD).expect("chromedriver starts");
        Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            tmp,
        }
    }

    /// One WebDriver command; its `value`.
    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let body = if method == "GET" || method == "DELETE" {
            String::new()
        } else {
            body.to_string()
        };
        let answer = send(
            self.addr,
            method,
            path,
            &[("content-type", "application/json")],
            &body,
        )
        .await;
        let json = answer.json();
        assert_eq!(answer.status, 200, "{method} {path}: {}", answer.body);
        json["value"].clone()
    }
}

/// A browser session; its commands.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    async fn command(&self, method: &str, what: &str, body: Value) -> Value {
        self.driver
            .command(method, &format!("/session/{}/{what}", self.id), body)
            .await
    }

    /// Runs `script` in the page; it calls `done(value)` when its condition
    /// holds (the page's own events wake it: no polling here).
    async fn until(&self, script: &str) -> Value {
        let wrapped = format!(
            "const done = arguments[arguments.length - 1]; \
             const check = () => {{ {script} }}; \
             if (!check()) new MutationObserver((_, obs) => {{ if (check()) obs.disconnect(); }}) \
               .observe(document.body, {{ subtree: true, childList: true, characterData: true, attributes: true }});"
        );
        self.command(
            "POST",
            "execute/async",
            json!({ "script": wrapped, "args": [] }),
        )
        .await
    }
}

fn get(id: &str) -> tonic::Request<GetOrderRequest> {
    authed(GetOrderRequest {
        order_id: id.into(),
    })
}

/// A call with the application's token (which the page must not show).
fn authed<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("authorization", "Bearer app-secret-token".parse().unwrap());
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    orders_testkit_no_chromium,
    ignore = "chromium or chromedriver not found when built: apt-get install chromium chromium-driver, then touch e2e/build.rs"
)]
async fn the_live_page_shows_calls_as_they_arrive_in_headless_chromium() {
    let (mock, api) = admin_api(
        OrderMock::builder()
            .token("admin-secret-token", Permission::Admin)
            .token("app-secret-token", Permission::ReadWrite),
    )
    .await;
    let admin_auth = [("authorization", "Bearer admin-secret-token")];
    let added = send(
        api,
        "POST",
        "/api/stubs",
        &admin_auth,
        r#"{"rpc": "GetOrder", "name": "shipped", "when": {"orderId": "o-1"}, "respond": {"orderId": "o-1", "status": "ORDER_STATUS_SHIPPED"}}"#,
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.body);
    let mut client = mock.client();
    // Two calls before the page is open.
    client.get_order(get("o-1")).await.unwrap();
    let _ = client.get_order(get("o-2")).await;

    let driver = Driver::start();
    let session = driver
        .command(
            "POST",
            "/session",
            json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                             "--no-first-run", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync",
                             "--window-size=1400,900"]
                }
            }}}),
        )
        .await;
    let session = Session {
        driver: &driver,
        id: session["sessionId"].as_str().unwrap().to_string(),
    };
    session
        .command(
            "POST",
            "timeouts",
            json!({ "script": 20_000, "pageLoad": 20_000 }),
        )
        .await;
    session
        .command(
            "POST",
            "url",
            json!({ "url": format!("http://{api}/?access_token=admin-secret-token") }),
        )
        .await;
    // The page is live (its event stream open) and shows the first two calls.
    session
        .until(r#"if (document.getElementById("live").textContent === "live" && document.querySelectorAll("tr.call").length === 2) { done(true); return true; } return false;"#)
        .await;

    // Three more calls while the page is open: they arrive through the stream.
    client
        .create_order(authed(common::valid_req()))
        .await
        .unwrap();
    client.get_order(get("o-1")).await.unwrap();
    let _ = client.get_order(get("o-3")).await;
    let rows = session
        .until(
            r#"const rows = [...document.querySelectorAll("tr.call")];
               if (rows.length < 5) return false;
               done(rows.map((r) => ({ seq: Number(r.dataset.seq), method: r.dataset.method, outcome: r.dataset.outcome,
                                       cells: [...r.cells].map((c) => c.textContent) })));
               return true;"#,
        )
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 5, "{rows:?}");
    let journal = mock.journal().calls();
    let mut shown: Vec<(u64, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["seq"].as_u64().unwrap(),
                r["method"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    shown.sort();
    let expected: Vec<(u64, String, String)> = journal
        .iter()
        .map(|c| {
            (
                c.seq,
                c.method.unwrap().name().to_string(),
                orders_testkit::grpc::payload::code_name(c.outcome.code().unwrap()).to_string(),
            )
        })
        .collect();
    assert_eq!(shown, expected);
    // The newest first; its cells: request, outcome, answerer; the token redacted.
    let newest = &rows[0]["cells"];
    assert_eq!(newest[2], "GetOrder");
    assert!(
        newest[3]
            .as_str()
            .unwrap()
            .contains("authorization: <redacted>"),
        "{newest}"
    );
    assert_eq!(newest[5], "{\"orderId\":\"o-3\"}");
    assert!(
        newest[7].as_str().unwrap().starts_with("NOT_FOUND"),
        "{newest}"
    );
    assert_eq!(newest[8], "model");
    let stubbed = rows.iter().find(|r| r["seq"] == 3).unwrap();
    assert_eq!(stubbed["cells"][8], "stub GetOrder \"shipped\"");

    // The stub's hit count follows.
    session
        .until(r#"const hits = document.querySelector("tr.stub .hits"); if (hits && hits.textContent === "2") { done(true); return true; } return false;"#)
        .await;
    // The method filter.
    let visible = session
        .command(
            "POST",
            "execute/sync",
            json!({ "script": r#"const s = document.getElementById("method-filter"); s.value = "CreateOrder"; s.dispatchEvent(new Event("change"));
                       return [...document.querySelectorAll("tr.call")].filter((r) => !r.hidden).map((r) => r.dataset.method);"#, "args": [] }),
        )
        .await;
    assert_eq!(visible, json!(["CreateOrder"]));
    // No token anywhere on the page.
    let text = session
        .command(
            "POST",
            "execute/sync",
            json!({ "script": "return document.documentElement.outerHTML;", "args": [] }),
        )
        .await;
    let text = text.as_str().unwrap();
    assert!(!text.contains("secret-token"), "a token shows on the page");

    // A watch driven from the page: the browser pushes the statuses.
    session
        .command(
            "POST",
            "execute/sync",
            json!({ "script": r#"document.getElementById("drive-watches").click(); return true;"#, "args": [] }),
        )
        .await;
    session
        .until(r#"if (document.getElementById("drive-watches").disabled) { done(true); return true; } return false;"#)
        .await;
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = mock.client();
    tokio::spawn(async move {
        use tokio_stream::StreamExt as _;
        let req = authed(orders_testkit::pb::WatchOrderStatusRequest {
            order_id: "o-page".into(),
        });
        let mut stream = watcher.watch_order_status(req).await.unwrap().into_inner();
        while let Some(Ok(update)) = stream.next().await {
            let _ = seen_tx.send(update.status());
        }
    });
    let push = |status: &str| {
        format!(
            r#"const row = document.querySelector("tr.live-call");
               if (!row) return false;
               row.querySelector("select").value = "ORDER_STATUS_{status}";
               row.querySelector("button.push").click();
               done(true); return true;"#
        )
    };
    let pushed = |text: &str| {
        format!(
            r#"const cell = document.querySelector("tr.live-call .pushed");
               if (cell && cell.textContent === "{text}") {{ done(true); return true; }} return false;"#
        )
    };
    session.until(&push("PENDING")).await;
    session.until(&pushed("PENDING")).await;
    assert_eq!(
        tokio::time::timeout(GUARD, seen.recv()).await.unwrap(),
        Some(orders_testkit::pb::OrderStatus::Pending)
    );
    assert!(
        seen.try_recv().is_err(),
        "nothing before the page pushes it"
    );
    session.until(&push("SHIPPED")).await;
    session.until(&pushed("PENDING → SHIPPED")).await;
    assert_eq!(
        tokio::time::timeout(GUARD, seen.recv()).await.unwrap(),
        Some(orders_testkit::pb::OrderStatus::Shipped)
    );
    mock.verify().assert_ok();

    // The screenshot, kept under target/.
    session
        .command(
            "POST",
            "execute/sync",
            json!({ "script": r#"const s = document.getElementById("method-filter"); s.value = ""; s.dispatchEvent(new Event("change")); return true;"#, "args": [] }),
        )
        .await;
    let png = session.command("GET", "screenshot", Value::Null).await;
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("admin-page.png");
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
    driver
        .command("DELETE", &format!("/session/{}", session.id), Value::Null)
        .await;
}
