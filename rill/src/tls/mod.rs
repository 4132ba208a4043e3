//! TLS and mutual TLS with rustls: certificates and keys from PEM, ALPN `h2`, the peer's
//! identity for handlers (feature `tls`, on by default).
//!
//! Server: [`Server::tls_config`](crate::server::Server::tls_config) with a
//! [`ServerTlsConfig`]; client: `https://` targets (system roots) or
//! [`Endpoint::tls_config`](crate::client::Endpoint::tls_config) with a [`ClientTlsConfig`].

mod client;
mod identity;
mod server;

pub(crate) use client::Connector;
pub use identity::PeerIdentity;
pub(crate) use server::Acceptor;

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM input holds no certificate.
    #[error("no certificate found in the PEM input")]
    NoCertificates,
    /// A PEM input holds no usable private key.
    #[error("no private key found in the PEM input: {0}")]
    NoPrivateKey(String),
    /// A PEM input is malformed.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// rustls refused the configuration (bad key, unsupported certificate…).
    #[error("tls configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built (e.g. an empty CA set).
    #[error("client certificate verifier: {0}")]
    Verifier(String),
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// One or more X.509 certificates (a CA bundle, say), parsed from PEM.
#[derive(Clone, Debug)]
pub struct Certificates {
    pub(crate) ders: Vec<CertificateDer<'static>>,
}

impl Certificates {
    /// Parses every `CERTIFICATE` block of `pem`.
    ///
    /// ```
    /// let err = rill::tls::Certificates::from_pem("not pem").unwrap_err();
    /// assert!(matches!(err, rill::tls::TlsError::NoCertificates));
    /// ```
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Certificates, TlsError> {
        let ders = CertificateDer::pem_slice_iter(pem.as_ref())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Pem(e.to_string()))?;
        if ders.is_empty() {
            return Err(TlsError::NoCertificates);
        }
        Ok(Certificates { ders })
    }

    /// Reads and parses a PEM file.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Certificates, TlsError> {
        Certificates::from_pem(read(path.as_ref())?)
    }
}

/// A certificate chain and its private key: who a server (or an mTLS client) is.
#[derive(Debug)]
pub struct Identity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Identity {
    /// An identity from a PEM certificate chain (leaf first) and a PEM private key (PKCS#8,
    /// PKCS#1 or SEC1).
    pub fn from_pem(
        cert_chain: impl AsRef<[u8]>,
        key: impl AsRef<[u8]>,
    ) -> Result<Identity, TlsError> {
        let chain = Certificates::from_pem(cert_chain)?.ders;
        let key = PrivateKeyDer::from_pem_slice(key.as_ref())
            .map_err(|e| TlsError::NoPrivateKey(e.to_string()))?;
        Ok(Identity { chain, key })
    }

    /// Reads an identity from two PEM files.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Identity, TlsError> {
        Identity::from_pem(read(cert_chain.as_ref())?, read(key.as_ref())?)
    }
}

/// TLS settings of a server.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerTlsConfig {
    pub(crate) identity: Identity,
    pub(crate) client_ca: Option<Certificates>,
    pub(crate) client_auth_optional: bool,
}

impl ServerTlsConfig {
    /// Serves TLS as `identity`; clients are not asked for certificates.
    pub fn new(identity: Identity) -> Self {
        ServerTlsConfig {
            identity,
            client_ca: None,
            client_auth_optional: false,
        }
    }

    /// Requires clients to present a certificate signed by one of `roots` (mTLS).
    pub fn client_ca(mut self, roots: Certificates) -> Self {
        self.client_ca = Some(roots);
        self
    }

    /// With [`client_ca`](Self::client_ca): also accept clients without a certificate
    /// (handlers then see no [`PeerIdentity`]).
    pub fn client_auth_optional(mut self, optional: bool) -> Self {
        self.client_auth_optional = optional;
        self
    }
}

/// TLS settings of a client channel.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ClientTlsConfig {
    pub(crate) roots: Option<Certificates>,
    pub(crate) domain: Option<String>,
    pub(crate) identity: Option<Identity>,
}

impl ClientTlsConfig {
    /// Verifies the server against the system's root certificates.
    pub fn new() -> Self {
        ClientTlsConfig::default()
    }

    /// Verifies the server against `roots` instead of the system's roots.
    pub fn ca_certificates(mut self, roots: Certificates) -> Self {
        self.roots = Some(roots);
        self
    }

    /// Expects the server certificate to be for `domain` (SNI and verification), instead of
    /// the target's host (what `--server_host_override` does).
    pub fn domain_name(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Presents `identity` to servers that ask for a client certificate (mTLS).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }
}

/// The crypto provider every rill TLS config uses.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

const ALPN_H2: &[u8] = b"h2";
