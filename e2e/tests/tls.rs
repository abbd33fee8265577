//! `serve` over TLS (`--tls-cert`, `--tls-key`, `--client-ca`) with the test
//! PKI of `tests/tls/` (regenerate with `tests/tls/gen.sh`): clients that
//! trust the CA get answers, others are refused; mutual TLS refuses clients
//! without a certificate; `verify --tls-ca` and `record --tls-ca` work
//! against it; bad flags exit 2 with the reason.

mod common;

use std::process::Command;

use common::process::Served;
use orders_testkit::pb::GetOrderRequest;
use orders_testkit::pb::order_service_client::OrderServiceClient;
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

fn pki(name: &str) -> String {
    format!("{}/tests/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(pki(name)).unwrap()
}

fn serve_tls(extra: &[&str]) -> Served {
    let (cert, key) = (pki("server.pem"), pki("server.key"));
    let mut args = vec!["--tls-cert", &cert, "--tls-key", &key];
    args.extend_from_slice(extra);
    Served::start(&args)
}

fn https(served: &Served) -> String {
    format!("https://127.0.0.1:{}", served.addr.port())
}

/// A GetOrder of an unknown order: NOT_FOUND is a real answer from the mock.
async fn ask(endpoint: Endpoint) -> Result<Code, String> {
    let channel = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
    let err = OrderServiceClient::new(channel)
        .get_order(GetOrderRequest {
            order_id: "o-none".into(),
        })
        .await
        .err()
        .ok_or("an unknown order was found")?;
    match err.code() {
        Code::NotFound => Ok(Code::NotFound),
        other => Err(format!("{other:?}: {}", err.message())),
    }
}

fn trusting(url: &str, identity: bool) -> Endpoint {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read("ca.pem")));
    if identity {
        tls = tls.identity(Identity::from_pem(read("client.pem"), read("client.key")));
    }
    Endpoint::from_shared(url.to_string())
        .unwrap()
        .tls_config(tls)
        .unwrap()
}

#[tokio::test]
async fn serve_over_tls_answers_a_client_that_trusts_its_ca() {
    let served = serve_tls(&[]);
    assert_eq!(
        ask(trusting(&https(&served), false)).await,
        Ok(Code::NotFound)
    );
}

#[tokio::test]
async fn serve_over_tls_refuses_plaintext_and_untrusting_clients() {
    let served = serve_tls(&[]);
    let plaintext = Endpoint::from_shared(served.url()).unwrap();
    assert!(ask(plaintext).await.is_err(), "plaintext got an answer");
    let untrusting = Endpoint::from_shared(https(&served))
        .unwrap()
        .tls_config(ClientTlsConfig::new().with_webpki_roots())
        .unwrap();
    assert!(
        ask(untrusting).await.is_err(),
        "a client without the CA got an answer"
    );
    // The server still answers a good client after the bad ones.
    assert_eq!(
        ask(trusting(&https(&served), false)).await,
        Ok(Code::NotFound)
    );
}

#[tokio::test]
async fn mutual_tls_needs_a_client_certificate_from_the_ca() {
    let ca = pki("ca.pem");
    let served = serve_tls(&["--client-ca", &ca]);
    assert_eq!(
        ask(trusting(&https(&served), true)).await,
        Ok(Code::NotFound)
    );
    assert!(
        ask(trusting(&https(&served), false)).await.is_err(),
        "a client without a certificate got an answer"
    );
}

#[test]
fn verify_with_tls_ca_passes_against_serve_over_tls() {
    let served = serve_tls(&[]);
    let out = Command::new(orders_testkit_e2e::cli_binary())
        .args(["verify", "--endpoint", &https(&served), "--tls-ca"])
        .arg(pki("ca.pem"))
        .args(["--cases", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" passed"), "{stdout}");
}

#[tokio::test]
async fn record_with_tls_ca_forwards_to_serve_over_tls() {
    let served = serve_tls(&[]);
    let out = std::env::temp_dir().join(format!("orders-testkit-tls-{}.toml", std::process::id()));
    let ca = pki("ca.pem");
    let recorder = Served::spawn(&[
        "record",
        "--upstream",
        &https(&served),
        "--tls-ca",
        &ca,
        "--listen",
        "127.0.0.1:0",
        "--out",
        out.to_str().unwrap(),
    ]);
    let through = Endpoint::from_shared(recorder.url()).unwrap();
    assert_eq!(ask(through).await, Ok(Code::NotFound));
    recorder.signal("-TERM");
    assert!(recorder.wait().success());
    let file = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert!(file.contains("code = \"NOT_FOUND\""), "{file}");
    assert!(file.contains("o-none"), "{file}");
}

#[test]
fn bad_tls_flags_exit_two_with_the_reason() {
    let run = |args: &[&str]| {
        Command::new(orders_testkit_e2e::cli_binary())
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap()
    };
    let (cert, key, ca) = (pki("server.pem"), pki("server.key"), pki("ca.pem"));
    let alone = run(&["--tls-cert", &cert]);
    assert_eq!(alone.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&alone.stderr).contains("--tls-key"));
    let wrong_key = run(&["--tls-cert", &cert, "--tls-key", &ca]);
    assert_eq!(wrong_key.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&wrong_key.stderr).contains("key"),
        "{}",
        String::from_utf8_lossy(&wrong_key.stderr)
    );
    let missing = run(&["--tls-cert", "/nonexistent.pem", "--tls-key", &key]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent.pem"));
}
