//! The load test's baseline: the benchmarks' bare tonic OrderService
//! (constants of the mock's shape; no model, no journal, no layers), its
//! watches one message long as the load mix's, served over TCP on
//! 127.0.0.1 with tonic's own server. Prints `listening on ADDR`.

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
    tonic::transport::Server::builder()
        .add_routes(bare::routes_with(1))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
        .await
        .expect("the bare server runs");
}
