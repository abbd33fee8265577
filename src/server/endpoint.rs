//! The client side for URLs: an endpoint with the limits every client of
//! the testkit uses.

use std::time::Duration;

use tonic::transport::Endpoint;

use super::MAX_HEADER_LIST_SIZE;

/// An endpoint for a server at `url` (`http://`, or `https://` with the
/// `tls` feature, trusting the web PKI roots and `tls_ca` if given), with
/// the header-list size every client of the testkit accepts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let endpoint = orders_testkit::server::endpoint("http://127.0.0.1:50051", None).unwrap();
/// let _channel = endpoint.connect_lazy();
/// assert!(orders_testkit::server::endpoint("not a url", None).is_err());
/// # }
/// ```
pub fn endpoint(url: &str, tls_ca: Option<&std::path::Path>) -> Result<Endpoint, String> {
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
        let _ = tls_ca;
        Err(format!("{url}: https needs orders-testkit's `tls` feature"))
    }
    #[cfg(feature = "tls")]
    {
        let mut tls = tonic::transport::ClientTlsConfig::new().with_webpki_roots();
        if let Some(path) = tls_ca {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read the CA {}: {e}", path.display()))?;
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| format!("TLS set-up failed: {e}"))?;
        Ok(endpoint)
    }
}
