//! What answers at a URL, judged on the wire by the testkit's own bytes
//! before a run or a recording starts: a target that is not a gRPC server
//! as addressed (HTTP/1, HTTP/2 without gRPC, plaintext where TLS is
//! spoken and the reverse, mutual TLS without a client certificate) gets
//! one line naming what it is and what to pass, never rule failures.
//!
//! The judgement reads only what the server sends back to an HTTP/2
//! preface and to one gRPC call (`GetOrder` of an empty request): any
//! answer with `content-type: application/grpc` or a `grpc-status` is a
//! gRPC server, whatever it said; anything unclear is left to the run.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::ClientTls;

/// How long each step may take (connect, first bytes, handshake, answer).
pub(super) const PATIENCE: Duration = Duration::from_secs(5);
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame: what an HTTP/2 client sends after the preface.
const EMPTY_SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];

/// What a server sent back to an HTTP/2 preface.
#[derive(Debug, PartialEq)]
enum Speaks {
    /// An HTTP/1 status line.
    Http1(String),
    /// A TLS record (an alert, most often).
    Tls,
    /// An HTTP/2 frame.
    Http2,
    /// Nothing before it closed or before [`PATIENCE`].
    Silent,
    /// Something else (its first bytes).
    Unknown(Vec<u8>),
}

/// Reads what the first bytes of an answer are.
fn classify(bytes: &[u8]) -> Speaks {
    if bytes.starts_with(b"HTTP/") {
        let line = bytes.split(|b| *b == b'\r' || *b == b'\n').next();
        return Speaks::Http1(String::from_utf8_lossy(line.unwrap_or_default()).into_owned());
    }
    match bytes {
        [] => Speaks::Silent,
        // A record of type alert (21) or handshake (22), version 3.x.
        [21 | 22, 3, ..] => Speaks::Tls,
        // A frame header: 24-bit length, then the type SETTINGS (4).
        [_, _, _, 4, ..] => Speaks::Http2,
        other => Speaks::Unknown(other.iter().take(8).copied().collect()),
    }
}

pub(super) async fn connect(url: &str, addr: &str) -> Result<TcpStream, String> {
    match timeout(PATIENCE, TcpStream::connect(addr)).await {
        Ok(Ok(tcp)) => {
            let _ = tcp.set_nodelay(true);
            Ok(tcp)
        }
        Ok(Err(e)) => Err(format!(
            "{url}: nothing answers at {addr} ({e}): is the target running, and is this its port?"
        )),
        Err(_) => Err(format!(
            "{url}: connecting to {addr} took over {PATIENCE:?}: is the address reachable?"
        )),
    }
}

/// Sends an HTTP/2 preface over `io` and reads the first bytes that come
/// back (none when the server closes or keeps silent for [`PATIENCE`]).
async fn first_answer<IO>(io: &mut IO) -> std::io::Result<Vec<u8>>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut hello = PREFACE.to_vec();
    hello.extend_from_slice(&EMPTY_SETTINGS);
    io.write_all(&hello).await?;
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    let read = async {
        // Enough to tell a frame header or a status line from the rest.
        while got.len() < 9 {
            match io.read(&mut buf).await? {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        Ok::<_, std::io::Error>(())
    };
    match timeout(PATIENCE, read).await {
        Ok(Err(e)) if got.is_empty() => Err(e),
        _ => Ok(got),
    }
}

/// What a plaintext server speaks; one that answers the HTTP/2 preface
/// with neither a frame nor TLS is asked again in HTTP/1.1 (some HTTP/1
/// servers answer an unknown version without a status line).
async fn sniff(url: &str, addr: &str) -> Result<Speaks, String> {
    let mut tcp = connect(url, addr).await?;
    let speaks = classify(&first_answer(&mut tcp).await.unwrap_or_default());
    if !matches!(speaks, Speaks::Silent | Speaks::Unknown(_)) {
        return Ok(speaks);
    }
    let mut tcp = connect(url, addr).await?;
    let request = format!("OPTIONS * HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut got = Vec::new();
    let asked = async {
        tcp.write_all(request.as_bytes()).await?;
        let mut buf = [0u8; 64];
        while got.len() < 16 {
            match tcp.read(&mut buf).await? {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        Ok::<_, std::io::Error>(())
    };
    let _ = timeout(PATIENCE, asked).await;
    Ok(match classify(&got) {
        http1 @ Speaks::Http1(_) => http1,
        _ => speaks,
    })
}

/// Checks that the server at `url` speaks gRPC as addressed (scheme, TLS
/// settings); the error is one line saying what answers instead and what
/// to pass.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::server::{ClientTls, reach};
/// if let Err(line) = reach("http://127.0.0.1:50051", &ClientTls::default()).await {
///     eprintln!("{line}");
/// }
/// # }
/// ```
pub async fn reach(url: &str, tls: &ClientTls) -> Result<(), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("invalid endpoint {url:?}: {e}"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => {
            return Err(format!(
                "{url}: the URL must start with http:// or https://"
            ));
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| format!("{url}: the URL names no host"))?;
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let addr = format!("{host}:{port}");
    match (https, sniff(url, &addr).await?) {
        (_, Speaks::Http1(line)) => Err(format!(
            "{url}: the server speaks HTTP/1 (it answered {line:?}), and gRPC needs HTTP/2: \
             is this the gRPC port?"
        )),
        (false, Speaks::Tls) => Err(format!(
            "{url}: the server speaks TLS: use https://{addr} (and --tls-ca PEM when its \
             certificate is not from a public CA)"
        )),
        (false, Speaks::Silent) => Err(format!(
            "{url}: the server closed the connection (or kept silent) on an HTTP/2 preface: \
             if it speaks TLS, use https://{addr}"
        )),
        (_, Speaks::Unknown(first)) => Err(format!(
            "{url}: the server answers neither HTTP/2 nor TLS (its first bytes: {first:02x?})"
        )),
        (false, Speaks::Http2) => {
            grpc_answer(url, "http", &addr, connect(url, &addr).await?, tls).await
        }
        (true, Speaks::Http2) => Err(format!(
            "{url}: the server speaks plaintext HTTP/2, not TLS: use http://{addr}"
        )),
        (true, Speaks::Tls | Speaks::Silent) => over_tls(url, host, &addr, tls).await,
    }
}

/// One gRPC call over `io`: a gRPC server answers with its content type or
/// a `grpc-status`, whatever the status.
async fn grpc_answer<IO>(
    url: &str,
    scheme: &str,
    addr: &str,
    io: IO,
    tls: &ClientTls,
) -> Result<(), String>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut client, connection) = match timeout(PATIENCE, h2::client::handshake(io)).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return transport(url, &e, tls),
        Err(_) => return Err(format!("{url}: no HTTP/2 handshake within {PATIENCE:?}")),
    };
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = http::Request::post(format!("{scheme}://{addr}/orders.v1.OrderService/GetOrder"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .map_err(|e| format!("{url}: {e}"))?;
    let answer = async {
        let (response, mut body) = client.send_request(request, false)?;
        // An empty GetOrderRequest: no compression, length 0.
        body.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), true)?;
        response.await
    };
    let got = timeout(PATIENCE, answer).await;
    driver.abort();
    let response = match got {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => return transport(url, &e, tls),
        // Slow is not wrong: the run's own deadlines judge it.
        Err(_) => return Ok(()),
    };
    let headers = response.headers();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content-type");
    if content_type.starts_with("application/grpc") || headers.contains_key("grpc-status") {
        return Ok(());
    }
    Err(format!(
        "{url}: an HTTP/2 server that does not speak gRPC: it answered a gRPC call with HTTP {} \
         ({content_type}) and no grpc-status (is this the gRPC port, or a proxy whose gRPC \
         upstream is down?)",
        response.status()
    ))
}

/// An HTTP/2 failure: a TLS alert it carries is named; anything else is
/// left to the run to judge.
fn transport(url: &str, e: &h2::Error, tls: &ClientTls) -> Result<(), String> {
    match e.get_io() {
        Some(io) => tls_failure(url, io, tls).map_or(Ok(()), Err),
        None => Ok(()),
    }
}

#[cfg(not(feature = "tls"))]
async fn over_tls(url: &str, _: &str, _: &str, _: &ClientTls) -> Result<(), String> {
    Err(format!("{url}: https needs orders-testkit's `tls` feature"))
}

#[cfg(not(feature = "tls"))]
fn tls_failure(_: &str, _: &std::io::Error, _: &ClientTls) -> Option<String> {
    None
}

/// A TLS handshake with the client's own settings, then one gRPC call.
#[cfg(feature = "tls")]
async fn over_tls(url: &str, host: &str, addr: &str, tls: &ClientTls) -> Result<(), String> {
    use tokio_rustls::TlsConnector;
    use tokio_rustls::rustls::pki_types::ServerName;

    let config = client_config(tls)?;
    let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
        .map_err(|e| format!("{url}: {host} is not a TLS server name: {e}"))?;
    let connector = TlsConnector::from(config);
    let handshake = async || {
        let tcp = connect(url, addr).await?;
        match timeout(PATIENCE, connector.connect(name.clone(), tcp)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(tls_failure(url, &e, tls)
                .unwrap_or_else(|| format!("{url}: the TLS handshake failed: {e}"))),
            Err(_) => Err(format!("{url}: no TLS handshake within {PATIENCE:?}")),
        }
    };
    // A TLS 1.3 server judges the client's certificate after the client's
    // side of the handshake is done: its verdict comes with the first read.
    let mut stream = handshake().await?;
    match first_answer(&mut stream).await {
        Err(e) => Err(tls_failure(url, &e, tls)
            .unwrap_or_else(|| format!("{url}: the TLS connection failed: {e}"))),
        Ok(first) => match classify(&first) {
            Speaks::Http2 => grpc_answer(url, "https", addr, handshake().await?, tls).await,
            Speaks::Http1(line) => Err(format!(
                "{url}: the server speaks HTTP/1 over TLS (it answered {line:?}), and gRPC \
                 needs HTTP/2"
            )),
            _ => Err(format!(
                "{url}: the server closed the TLS connection (or kept silent) on an HTTP/2 \
                 preface"
            )),
        },
    }
}

/// The web PKI roots and the CA given, the identity given, ALPN h2.
#[cfg(feature = "tls")]
pub(super) fn client_config(
    tls: &ClientTls,
) -> Result<std::sync::Arc<tokio_rustls::rustls::ClientConfig>, String> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    use super::endpoint::read_pem;

    let certs = |what: &str, pem: &[u8]| {
        CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("the {what} is not PEM certificates: {e}"))
    };
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = tls.ca_path() {
        for cert in certs("CA", &read_pem("CA", path)?)? {
            roots
                .add(cert)
                .map_err(|e| format!("the CA {}: {e}", path.display()))?;
        }
    }
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let mut config = match tls.identity_paths() {
        Some((cert, key)) => {
            let chain = certs("client certificate", &read_pem("client certificate", cert)?)?;
            let key = PrivateKeyDer::from_pem_slice(&read_pem("client key", key)?)
                .map_err(|e| format!("the client key {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the client certificate and key: {e}"))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(std::sync::Arc::new(config))
}

/// Names a TLS failure and what to pass, from rustls's typed error.
#[cfg(feature = "tls")]
fn tls_failure(url: &str, e: &std::io::Error, tls: &ClientTls) -> Option<String> {
    use tokio_rustls::rustls::{AlertDescription as Alert, Error};

    let error = e.get_ref()?.downcast_ref::<Error>()?;
    Some(match error {
        Error::InvalidCertificate(why) => format!(
            "{url}: the server's certificate is not trusted ({why:?}): pass --tls-ca with the \
             CA that signed it"
        ),
        Error::AlertReceived(Alert::CertificateRequired | Alert::HandshakeFailure)
            if tls.identity_paths().is_none() =>
        {
            format!(
                "{url}: the server requires a client certificate (mutual TLS): pass --tls-cert \
                 and --tls-key"
            )
        }
        Error::AlertReceived(alert) if tls.identity_paths().is_some() => format!(
            "{url}: the server refused the client certificate of --tls-cert ({alert:?}): it \
             must chain to a CA the server trusts"
        ),
        Error::InvalidMessage(_) => {
            format!("{url}: the server does not speak TLS ({error}): use http://")
        }
        other => format!("{url}: the TLS handshake failed: {other}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bytes_tell_what_a_server_speaks() {
        assert_eq!(
            classify(b"HTTP/1.0 400 Bad request version\r\n"),
            Speaks::Http1("HTTP/1.0 400 Bad request version".into())
        );
        assert_eq!(classify(&[21, 3, 3, 0, 2, 2, 50]), Speaks::Tls);
        assert_eq!(classify(&[0, 0, 6, 4, 0, 0, 0, 0, 0]), Speaks::Http2);
        assert_eq!(classify(b""), Speaks::Silent);
        assert_eq!(
            classify(b"SSH-2.0-x"),
            Speaks::Unknown(b"SSH-2.0-".to_vec())
        );
    }
}
