//! The contract suite through a real L7 proxy: nginx's `grpc_pass` (the
//! article's proxy-based load balancing puts one in front of staging)
//! between the suite and a correct server on loopback. The suite passes
//! through it, and what the proxy answers when its upstream is down is an
//! unreachable target, not a broken rule.
//!
//! Needs Debian's `nginx` (`.ci/run` installs it). Without it (outside CI)
//! the tests are reported as ignored, with the reason; in CI they fail.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use orders_testkit::OrderMock;
use orders_testkit::contract::{CheckStatus, Suite, Target};
use orders_testkit::fault::{Fault, FaultPlan};
use orders_testkit::layers::auth::Permission;

/// Debian's nginx. Where it is missing outside CI, build.rs marks these
/// tests ignored; a run without it fails and says what to install.
fn nginx() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx not found: apt-get install nginx, then touch e2e/build.rs")
}

/// nginx in the foreground with a config of its own, killed on drop.
struct Nginx {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// nginx in front of `upstream`, closing each client connection after
/// `requests` requests (its `keepalive_requests`: a GOAWAY, then the
/// close). Every request's client connection number goes to
/// `logs/connections.log`.
async fn start_nginx(bin: &PathBuf, upstream: SocketAddr, name: &str, requests: u32) -> Nginx {
    let dir = std::env::temp_dir().join(format!(
        "orders-testkit-nginx-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let addr = free_port();
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/logs/error.log warn;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n  log_format conn '$connection';\n  access_log {d}/logs/connections.log conn;\n\
           client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           server {{\n    listen {addr} http2;\n    http2_max_concurrent_streams 1024;\n\
             keepalive_requests {requests};\n\
             location / {{\n      grpc_pass grpc://{upstream};\n\
               grpc_read_timeout 60s;\n      grpc_send_timeout 60s;\n      grpc_buffer_size 64k;\n    }}\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(bin)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx starts");
    let nginx = Nginx { child, dir, addr };
    // Ready when it accepts connections (a bounded wait on a condition).
    let ready = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(ready.is_ok(), "nginx listens on {addr}");
    nginx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    orders_testkit_no_nginx,
    ignore = "nginx not found when built: apt-get install nginx, then touch e2e/build.rs"
)]
async fn suite_passes_through_nginx_grpc_pass_while_it_rotates_client_connections() {
    let bin = nginx();
    let transient = Fault::unavailable("transient, on request", Duration::from_millis(25))
        .when_header("x-proxy-transient", "1");
    let mock = OrderMock::builder()
        .token("proxy-rw", Permission::ReadWrite)
        .token("proxy-read", Permission::Read)
        .token("proxy-write", Permission::Write)
        .fail_fast(Duration::from_millis(100))
        .faults(FaultPlan::new().with(transient))
        .serve_tcp("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let upstream = mock.local_addr().unwrap();
    // Every 16 requests nginx sends GOAWAY and closes the connection: the
    // calls it turned away unprocessed are the suite's to send again, not
    // the target's failures (nginx's default is every 1,000).
    let proxy = start_nginx(&bin, upstream, "pass", 16).await;
    let report = Suite::default()
        .cases(8)
        .fail_fast(Duration::from_millis(100))
        .read_token("proxy-read")
        .write_token("proxy-write")
        .run(
            Target::endpoint(format!("http://{}", proxy.addr))
                .token("proxy-rw")
                .transient_header("x-proxy-transient", "1"),
        )
        .await;
    println!("{}", report.table());
    report.assert_passed();
    let skipped: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.status == CheckStatus::Skipped)
        .map(|r| &r.id)
        .collect();
    assert!(skipped.is_empty(), "skipped behind the proxy: {skipped:?}");
    assert!(
        mock.journal().len() > 100,
        "the calls went through the proxy to the server"
    );
    // nginx did rotate: its log names each request's client connection.
    let log = std::fs::read_to_string(proxy.dir.join("logs/connections.log")).unwrap();
    let requests = log.lines().count();
    let connections: std::collections::HashSet<&str> = log.lines().collect();
    assert!(
        requests > 100 && connections.len() >= requests / 16,
        "{requests} requests on {} client connections",
        connections.len()
    );
    println!(
        "{requests} requests through nginx on {} client connections",
        connections.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    orders_testkit_no_nginx,
    ignore = "nginx not found when built: apt-get install nginx, then touch e2e/build.rs"
)]
async fn proxy_with_its_upstream_down_is_an_unreachable_target() {
    let bin = nginx();
    let down = free_port(); // nothing listens there
    let proxy = start_nginx(&bin, down, "down", 1000).await;
    let report = Suite::default()
        .cases(1)
        .run(Target::endpoint(format!("http://{}", proxy.addr)))
        .await;
    assert!(!report.passed());
    assert_eq!(report.results.len(), 1, "{}", report.table());
    let only = &report.results[0];
    assert_eq!(only.id, "CONNECT", "{}", report.table());
    let c = only.counterexample.as_ref().unwrap();
    assert!(c.got.contains("upstream is down"), "{c:?}");
    // And the CLI says so with exit code 2, not 1.
    let out = tokio::process::Command::new(orders_testkit_e2e::cli_binary())
        .args(["verify", "--endpoint", &format!("http://{}", proxy.addr)])
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Judged on the wire (nginx's 502 page) or by the first call: either
    // line names the proxy's upstream.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("upstream is down"), "{stderr}");
}
