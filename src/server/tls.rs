//! TLS for a mock served over TCP ([`OrderMockBuilder::tls`](crate::OrderMockBuilder::tls),
//! `serve --tls-cert --tls-key [--client-ca]`), so that clients can be
//! tested against a mock that looks like staging: a certificate chain and
//! key in PEM, HTTP/2 by ALPN, and optionally mutual TLS.
//!
//! *Needs the `tls` feature (on by default, through `cli`).*

use std::fmt;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

/// Why a TLS set-up was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

fn certs(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError(format!("{what}: not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError(format!("{what}: no certificate in the PEM")));
    }
    Ok(certs)
}

fn provider() -> Arc<tokio_rustls::rustls::crypto::CryptoProvider> {
    Arc::new(tokio_rustls::rustls::crypto::ring::default_provider())
}

/// A server certificate and key, and the CA client certificates must
/// chain to when mutual TLS is on.
///
/// ```
/// use orders_testkit::server::tls::ServerTls;
/// let err = ServerTls::from_pem(b"not pem", b"not pem").unwrap_err();
/// assert!(err.to_string().contains("certificate"));
/// ```
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("alpn", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Serves `cert_chain` (PEM, leaf first) with `key` (PEM: PKCS#8,
    /// PKCS#1 or SEC1); clients need no certificate.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        Self::build(cert_chain, key, None)
    }

    /// Mutual TLS: as [`from_pem`](Self::from_pem), and every client must
    /// present a certificate that chains to a CA of `client_ca` (PEM).
    pub fn mutual(cert_chain: &[u8], key: &[u8], client_ca: &[u8]) -> Result<Self, TlsError> {
        Self::build(cert_chain, key, Some(client_ca))
    }

    fn build(cert_chain: &[u8], key: &[u8], client_ca: Option<&[u8]>) -> Result<Self, TlsError> {
        let chain = certs("the certificate chain", cert_chain)?;
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| TlsError(format!("the key: not a PEM private key: {e}")))?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(format!("TLS versions: {e}")))?;
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = RootCertStore::empty();
                for ca in certs("the client CA", pem)? {
                    roots
                        .add(ca)
                        .map_err(|e| TlsError(format!("the client CA: {e}")))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .map_err(|e| TlsError(format!("the client CA: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsError(format!("the certificate and key do not go together: {e}")))?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// The TLS handshake on one accepted connection (`None` if it failed).
    pub(crate) fn accept<IO>(
        &self,
        io: IO,
    ) -> impl Future<Output = Option<tokio_rustls::server::TlsStream<IO>>> + Send + use<IO>
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let accept = TlsAcceptor::from(Arc::clone(&self.config)).accept(io);
        async move { accept.await.ok() }
    }
}
