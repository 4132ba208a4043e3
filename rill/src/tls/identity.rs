//! The authenticated peer of an mTLS connection, as handlers see it.

use rustls_pki_types::CertificateDer;

/// The client's certificate chain on an mTLS connection, and the names it proves.
///
/// Servers put it in each request's extensions:
///
/// ```
/// # fn f(req: &rill::Request<()>) {
/// if let Some(peer) = req.extensions().get::<std::sync::Arc<rill::tls::PeerIdentity>>() {
///     println!("client: {:?}", peer.subject_alt_names());
/// }
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PeerIdentity {
    chain: Vec<CertificateDer<'static>>,
    names: Vec<String>,
    common_name: Option<String>,
}

impl PeerIdentity {
    pub(crate) fn new(chain: Vec<CertificateDer<'static>>) -> Self {
        let (names, common_name) = chain
            .first()
            .map(|leaf| parse_names(leaf.as_ref()))
            .unwrap_or_default();
        PeerIdentity {
            chain,
            names,
            common_name,
        }
    }

    /// The certificate chain as DER bytes, leaf first.
    pub fn certificates(&self) -> impl Iterator<Item = &[u8]> {
        self.chain.iter().map(|c| c.as_ref())
    }

    /// The leaf certificate's subject alternative names: DNS names, URIs (e.g. SPIFFE ids),
    /// emails and IP addresses, as text.
    pub fn subject_alt_names(&self) -> &[String] {
        &self.names
    }

    /// The leaf certificate's subject common name, if any.
    pub fn common_name(&self) -> Option<&str> {
        self.common_name.as_deref()
    }
}

fn parse_names(der: &[u8]) -> (Vec<String>, Option<String>) {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return (Vec::new(), None);
    };
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) | GeneralName::URI(n) | GeneralName::RFC822Name(n) => {
                    names.push((*n).to_string())
                }
                GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes)
                            .ok()
                            .map(std::net::IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        names.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    (names, common_name)
}
