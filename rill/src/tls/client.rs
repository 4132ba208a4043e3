//! The client's TLS handshake.

use std::sync::Arc;

use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::{provider, ClientTlsConfig, TlsError, ALPN_H2};
use crate::transport::{BoxIo, Io};

/// Opens TLS connections for a channel.
#[derive(Clone)]
pub(crate) struct Connector {
    inner: TlsConnector,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl Connector {
    /// A connector for a server at `host` (unless the config overrides the expected name).
    pub(crate) fn new(config: &ClientTlsConfig, host: &str) -> Result<Connector, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        match &config.roots {
            Some(ca) => {
                for cert in &ca.ders {
                    roots.add(cert.clone())?;
                }
            }
            None => {
                // Unreadable system certificates are skipped; none at all fails the handshake.
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let mut client = match &config.identity {
            Some(identity) => {
                let identity = identity.clone();
                builder.with_client_auth_cert(identity.chain, identity.key)?
            }
            None => builder.with_no_client_auth(),
        };
        client.alpn_protocols = vec![ALPN_H2.to_vec()];
        let name = config.domain.as_deref().unwrap_or(host);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        let server_name = ServerName::try_from(name.to_string())
            .map_err(|e| TlsError::Pem(format!("invalid server name {name:?}: {e}")))?;
        Ok(Connector {
            inner: TlsConnector::from(Arc::new(client)),
            server_name,
        })
    }

    /// Runs the handshake over `io`; the server must agree on HTTP/2 (ALPN `h2`).
    pub(crate) async fn connect<I: Io>(&self, io: I) -> std::io::Result<BoxIo> {
        let stream = self.inner.connect(self.server_name.clone(), io).await?;
        if stream.get_ref().1.alpn_protocol() != Some(ALPN_H2) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the server did not negotiate HTTP/2 (ALPN h2) over TLS",
            ));
        }
        Ok(Box::new(stream))
    }
}
