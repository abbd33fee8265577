//! Raw connections to a target, opened anew on each call: TCP, TLS or in
//! process. For the contract checks that write HTTP/2 themselves (a client
//! that enforces no deadline of its own, D-1).

use tokio::io::{AsyncRead, AsyncWrite};
#[cfg(feature = "tls")]
use tokio::time::timeout;

#[cfg(feature = "tls")]
use super::reach::PATIENCE;
use super::reach::connect;
use super::{ClientTls, DuplexConnector};

/// A byte stream to a server: TCP, TLS or in process.
pub(crate) trait RawIo: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> RawIo for T {}

/// The future of one [`Dial`].
pub(crate) type Dialing =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Box<dyn RawIo>, String>> + Send>>;

/// Opens a new raw connection to a target each time it is called, for the
/// checks that write HTTP/2 themselves (a client that enforces no deadline
/// of its own). Boxed: the transports differ in type.
pub(crate) type Dial = std::sync::Arc<dyn Fn() -> Dialing + Send + Sync>;

/// Raw connections to the server at `url` (TLS with `tls`'s settings for
/// `https://`, ALPN h2).
pub(crate) fn dial_url(url: &str, tls: &ClientTls) -> Result<Dial, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("invalid endpoint {url:?}: {e}"))?;
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().unwrap_or_default().to_string();
    let addr = format!(
        "{host}:{}",
        uri.port_u16().unwrap_or(if https { 443 } else { 80 })
    );
    let url = url.to_string();
    #[cfg(feature = "tls")]
    let config = if https {
        Some(super::reach::client_config(tls)?)
    } else {
        None
    };
    #[cfg(not(feature = "tls"))]
    let _ = tls;
    Ok(std::sync::Arc::new(move || {
        let (url, addr, host) = (url.clone(), addr.clone(), host.clone());
        #[cfg(feature = "tls")]
        let config = config.clone();
        Box::pin(async move {
            let tcp = connect(&url, &addr).await?;
            #[cfg(feature = "tls")]
            if let Some(config) = config {
                use tokio_rustls::TlsConnector;
                use tokio_rustls::rustls::pki_types::ServerName;
                let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                    .map_err(|e| format!("{url}: {e}"))?;
                let stream = timeout(PATIENCE, TlsConnector::from(config).connect(name, tcp))
                    .await
                    .map_err(|_| format!("{url}: no TLS handshake within {PATIENCE:?}"))?
                    .map_err(|e| format!("{url}: {e}"))?;
                return Ok(Box::new(stream) as Box<dyn RawIo>);
            }
            let _ = host;
            Ok(Box::new(tcp) as Box<dyn RawIo>)
        }) as Dialing
    }))
}

/// Raw in-process connections through `connector`.
pub(crate) fn dial_duplex(connector: DuplexConnector) -> Dial {
    std::sync::Arc::new(move || {
        let opened = connector.connect().map_err(|e| e.to_string());
        Box::pin(async move { opened.map(|io| Box::new(io) as Box<dyn RawIo>) }) as Dialing
    })
}
