//! The load test's baseline: the benchmarks' bare tonic OrderService
//! (constants of the mock's shape; no model, no journal, no layers), its
//! watches one message long as the load mix's, served over TCP on
//! 127.0.0.1 by hyper with the HTTP/2 and TCP settings `serve` has, so that
//! what differs is the work per call, not the transport. Prints
//! `listening on ADDR`.
//!
//! (tonic's own `Server` was the first baseline: over `serve_with_incoming`
//! its p99 showed 40 ms stalls, nagle against delayed ACKs, that neither
//! `serve` nor this one has.)

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;

#[allow(dead_code)]
#[path = "../../benches/common/bare.rs"]
mod bare;

#[tokio::main]
async fn main() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    println!("listening on {addr}");
    let routes = bare::routes_with(1);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(routes.clone());
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            builder
                .max_concurrent_streams(2048)
                .initial_connection_window_size(16 << 20);
            let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
        });
    }
}
