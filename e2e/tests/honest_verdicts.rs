//! `verify` and `record` against targets that are not a gRPC server as
//! addressed: each is a connection error (exit 2) with one line naming what
//! answers and what to pass, never rule failures. Real servers of the kind
//! each time: Python's `http.server` (HTTP/1), Node's `http2` (HTTP/2
//! without gRPC), `serve` over TLS, plaintext and mutual TLS.

mod common;

use std::process::{Command, Output, Stdio};

use common::foreign::Foreign;
use common::process::Served;

fn pki(name: &str) -> String {
    format!("{}/tests/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn cli(args: &[&str]) -> Output {
    Command::new(orders_testkit_e2e::cli_binary())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `verify --cases 1 ARGS…` must exit 2 with one line on stderr that
/// contains each of `names`, and print no rule verdict.
fn connect_error(args: &[&str], names: &[&str]) {
    let mut all = vec!["verify", "--cases", "1"];
    all.extend(args);
    let out = cli(&all);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "{args:?}\n{stdout}\n{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    for name in names {
        assert!(stderr.contains(name), "{name:?} in {stderr}");
    }
    assert!(!stdout.contains("FAIL"), "no rule failures: {stdout}");
}

/// An HTTP/1 server (Python's http.server), printing its address.
const HTTP1: &str = "import http.server, sys, threading
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)
print(f'listening on 127.0.0.1:{s.server_address[1]}', flush=True)
threading.Thread(target=s.serve_forever, daemon=True).start()
sys.stdin.read()";

/// An HTTP/2 server that is not gRPC (Node's http2): a web page.
const HTTP2: &str = "const s = require('http2').createServer((q, r) => {
  r.writeHead(200, { 'content-type': 'text/html' }); r.end('<h1>hello</h1>'); });
s.listen(0, '127.0.0.1', () => console.log('listening on 127.0.0.1:' + s.address().port));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();";

#[test]
fn connect_an_http1_server_is_named_not_failed() {
    let server = Foreign::start("python3", "-c", &[HTTP1]);
    connect_error(&["--endpoint", &server.url], &["speaks HTTP/1", "HTTP/2"]);
}

#[test]
fn connect_an_http2_server_without_grpc_is_named_not_failed() {
    let server = Foreign::start("node", "-e", &[HTTP2]);
    connect_error(
        &["--endpoint", &server.url],
        &["does not speak gRPC", "200 OK", "text/html"],
    );
}

#[test]
fn connect_plaintext_against_tls_says_use_https() {
    let (cert, key) = (pki("server.pem"), pki("server.key"));
    let served = Served::start(&["--tls-cert", &cert, "--tls-key", &key]);
    connect_error(
        &["--endpoint", &served.url()],
        &["speaks TLS", "use https://", "--tls-ca"],
    );
}

#[test]
fn connect_tls_against_plaintext_says_use_http() {
    let served = Served::start(&[]);
    let url = format!("https://localhost:{}", served.addr.port());
    connect_error(
        &["--endpoint", &url, "--tls-ca", &pki("ca.pem")],
        &["plaintext HTTP/2", "use http://"],
    );
}

#[test]
fn connect_untrusted_certificate_says_pass_tls_ca() {
    let (cert, key) = (pki("server.pem"), pki("server.key"));
    let served = Served::start(&["--tls-cert", &cert, "--tls-key", &key]);
    let url = format!("https://localhost:{}", served.addr.port());
    connect_error(&["--endpoint", &url], &["not trusted", "--tls-ca"]);
}

#[test]
fn mutual_tls_without_a_client_certificate_says_pass_one_and_passes_with_it() {
    let (cert, key, ca) = (pki("server.pem"), pki("server.key"), pki("ca.pem"));
    let served = Served::start(&["--tls-cert", &cert, "--tls-key", &key, "--client-ca", &ca]);
    let url = format!("https://localhost:{}", served.addr.port());
    connect_error(
        &["--endpoint", &url, "--tls-ca", &ca],
        &["requires a client certificate", "--tls-cert", "--tls-key"],
    );
    // A certificate the server's CA did not sign for clients is refused.
    connect_error(
        &[
            "--endpoint",
            &url,
            "--tls-ca",
            &ca,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
        &["refused the client certificate"],
    );
    let (client, client_key) = (pki("client.pem"), pki("client.key"));
    let out = cli(&[
        "verify",
        "--endpoint",
        &url,
        "--tls-ca",
        &ca,
        "--tls-cert",
        &client,
        "--tls-key",
        &client_key,
        "--cases",
        "1",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[test]
fn record_against_a_closed_port_exits_two_and_writes_nothing() {
    // A port that was just free: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out =
        std::env::temp_dir().join(format!("orders-testkit-closed-{}.toml", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let run = cli(&[
        "record",
        "--upstream",
        &format!("http://127.0.0.1:{port}"),
        "--listen",
        "127.0.0.1:0",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("nothing answers"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!out.exists(), "nothing written");
}

#[tokio::test]
async fn record_logs_an_upstream_gone_later_and_never_records_it() {
    use orders_testkit::pb::GetOrderRequest;
    use orders_testkit::pb::order_service_client::OrderServiceClient;
    use std::io::{BufRead, BufReader, Read};

    let upstream = Served::start(&[]);
    let out = std::env::temp_dir().join(format!("orders-testkit-gone-{}.toml", std::process::id()));
    /// Kills the recorder if the test fails before it exits.
    struct Reaped(std::process::Child);
    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let recorder = Command::new(orders_testkit_e2e::cli_binary())
        .args([
            "record",
            "--upstream",
            &upstream.url(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--out", out.to_str().unwrap(), "--grace-ms", "100"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut recorder = Reaped(recorder);
    let mut line = String::new();
    BufReader::new(recorder.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.split_whitespace().last().unwrap().to_string();
    let mut client = OrderServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let ask = |id: &str| GetOrderRequest {
        order_id: id.into(),
    };
    let said = client.get_order(ask("o-said")).await.unwrap_err();
    assert_eq!(said.code(), tonic::Code::NotFound);
    drop(upstream);
    // Refused (UNAVAILABLE) or cut on the dead connection (CANCELLED,
    // UNKNOWN): a failure the upstream never said.
    let gone = client.get_order(ask("o-gone")).await.unwrap_err();
    let transport = [
        tonic::Code::Unavailable,
        tonic::Code::Cancelled,
        tonic::Code::Unknown,
    ];
    assert!(transport.contains(&gone.code()), "{gone:?}");
    let _ = Command::new("kill")
        .args(["-TERM", &recorder.0.id().to_string()])
        .status();
    let mut stderr = String::new();
    recorder
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(recorder.0.wait().unwrap().success(), "{stderr}");
    let file = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert!(file.contains("o-said"), "{file}");
    assert!(
        !file.contains("o-gone"),
        "a transport failure is not recorded: {file}"
    );
    assert!(
        stderr.contains("not recorded: the upstream was not reached"),
        "{stderr}"
    );
}
