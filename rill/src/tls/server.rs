//! The server's TLS handshake.

use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use super::{provider, PeerIdentity, ServerTlsConfig, TlsError, ALPN_H2};
use crate::transport::{BoxIo, Io};

/// Accepts TLS connections for a server.
#[derive(Clone)]
pub(crate) struct Acceptor {
    inner: TlsAcceptor,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor").finish_non_exhaustive()
    }
}

impl Acceptor {
    pub(crate) fn new(config: &ServerTlsConfig) -> Result<Acceptor, TlsError> {
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let builder = match &config.client_ca {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in &ca.ders {
                    roots.add(cert.clone())?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
                let verifier = if config.client_auth_optional {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| TlsError::Verifier(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let identity = config.identity.clone();
        let mut server = builder.with_single_cert(identity.chain, identity.key)?;
        server.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(Acceptor {
            inner: TlsAcceptor::from(Arc::new(server)),
        })
    }

    /// The same settings, also offering ALPN `http/1.1` (after `h2`, which is preferred), for
    /// a server that serves gRPC-Web to HTTP/1.1 clients.
    pub(crate) fn with_http1(&self) -> Acceptor {
        let mut config = (**self.inner.config()).clone();
        config.alpn_protocols = vec![ALPN_H2.to_vec(), b"http/1.1".to_vec()];
        Acceptor {
            inner: TlsAcceptor::from(Arc::new(config)),
        }
    }

    /// Runs the handshake (bounded by `timeout`); returns the stream and the client's identity.
    pub(crate) async fn accept<I: Io>(
        &self,
        io: I,
        timeout: Duration,
    ) -> std::io::Result<(BoxIo, Option<Arc<PeerIdentity>>)> {
        let stream = tokio::time::timeout(timeout, self.inner.accept(io))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "tls handshake timed out")
            })??;
        let peer = stream
            .get_ref()
            .1
            .peer_certificates()
            .filter(|certs| !certs.is_empty())
            .map(|certs| Arc::new(PeerIdentity::new(certs.to_vec())));
        Ok((Box::new(stream), peer))
    }
}
