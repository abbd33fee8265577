//! The client side for URLs: an endpoint with the limits every client of
//! the testkit uses, and what it trusts and presents over TLS.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::transport::Endpoint;

use super::MAX_HEADER_LIST_SIZE;

/// What a client of an `https://` URL trusts beyond the web PKI roots (a
/// CA in PEM) and the certificate it presents for mutual TLS (a chain and
/// key in PEM). Files are read when an endpoint is made.
///
/// ```
/// use orders_testkit::server::ClientTls;
/// let tls = ClientTls::default()
///     .ca("ca.pem")
///     .identity("client.pem", "client.key");
/// assert_eq!(tls.ca_path(), Some(std::path::Path::new("ca.pem")));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientTls {
    ca: Option<PathBuf>,
    identity: Option<(PathBuf, PathBuf)>,
}

impl ClientTls {
    /// Trusts the CA certificate in this PEM file too.
    pub fn ca(mut self, pem: impl Into<PathBuf>) -> Self {
        self.ca = Some(pem.into());
        self
    }

    /// Presents this certificate chain and key (PEM files) to servers that
    /// ask for one (mutual TLS).
    pub fn identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.identity = Some((cert.into(), key.into()));
        self
    }

    /// The CA file, if one was given.
    pub fn ca_path(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    /// The certificate and key files, if given.
    pub fn identity_paths(&self) -> Option<(&Path, &Path)> {
        self.identity
            .as_ref()
            .map(|(c, k)| (c.as_path(), k.as_path()))
    }
}

/// Reads a PEM file named by `flag` for an error message.
#[cfg(feature = "tls")]
pub(crate) fn read_pem(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

/// An endpoint for a server at `url` (`http://`, or `https://` with the
/// `tls` feature, trusting the web PKI roots and `tls`'s CA, presenting its
/// identity if given), with the header-list size every client of the
/// testkit accepts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::server::{ClientTls, endpoint};
/// let endpoint = endpoint("http://127.0.0.1:50051", &ClientTls::default()).unwrap();
/// let _channel = endpoint.connect_lazy();
/// assert!(orders_testkit::server::endpoint("not a url", &ClientTls::default()).is_err());
/// # }
/// ```
pub fn endpoint(url: &str, tls: &ClientTls) -> Result<Endpoint, String> {
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
    let mut endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| format!("invalid endpoint {url:?}: {e}"))?
        .http2_max_header_list_size(MAX_HEADER_LIST_SIZE)
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true);
    if !url.starts_with("https://") {
        return Ok(endpoint);
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = tls;
        Err(format!("{url}: https needs orders-testkit's `tls` feature"))
    }
    #[cfg(feature = "tls")]
    {
        use tonic::transport::{Certificate, ClientTlsConfig, Identity};
        let mut config = ClientTlsConfig::new().with_webpki_roots();
        if let Some(path) = &tls.ca {
            config = config.ca_certificate(Certificate::from_pem(read_pem("CA", path)?));
        }
        if let Some((cert, key)) = &tls.identity {
            config = config.identity(Identity::from_pem(
                read_pem("client certificate", cert)?,
                read_pem("client key", key)?,
            ));
        }
        endpoint = endpoint
            .tls_config(config)
            .map_err(|e| format!("TLS set-up failed: {e}"))?;
        Ok(endpoint)
    }
}

/// An error with its causes, on one line (a cause whose words the line
/// already ends with is not said twice).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}
