//! The addresses resolvers produce and subchannels connect to.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// One address of a server: a socket address, a `host:port` to look up when connecting, or
/// a Unix socket. What a [`Resolver`](super::Resolver) produces; each becomes a subchannel.
///
/// ```
/// use rill::resolver::Address;
/// let tcp: Address = "127.0.0.1:50051".parse().unwrap();
/// assert_eq!(tcp.socket_addr(), Some("127.0.0.1:50051".parse().unwrap()));
/// let unix: Address = "unix:/run/app.sock".parse().unwrap();
/// assert_eq!(unix.to_string(), "unix:/run/app.sock");
/// let named: Address = "replica-1.internal:50051".parse().unwrap();
/// assert_eq!(named.socket_addr(), None);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Address(pub(crate) Kind);

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Tcp(SocketAddr),
    /// A `host:port` looked up (getaddrinfo) each time a connection is made.
    HostPort(Arc<str>),
    Unix(Arc<Path>),
    UnixAbstract(Arc<[u8]>),
    /// The one address of a channel over a custom connector; shown as its authority.
    Custom(Arc<str>),
}

/// Why a string is not an [`Address`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid address {input:?}: expected ip:port, [ipv6]:port, host:port or unix:path")]
pub struct AddressParseError {
    input: String,
}

impl Address {
    /// A TCP address.
    ///
    /// ```
    /// let address = rill::resolver::Address::tcp(([10, 0, 0, 1], 50051).into());
    /// assert_eq!(address.to_string(), "10.0.0.1:50051");
    /// ```
    pub fn tcp(address: SocketAddr) -> Address {
        Address(Kind::Tcp(address))
    }

    /// A Unix domain socket at `path`.
    ///
    /// ```
    /// let address = rill::resolver::Address::unix("/run/app.sock");
    /// assert_eq!(address.unix_path(), Some(std::path::Path::new("/run/app.sock")));
    /// ```
    pub fn unix(path: impl Into<PathBuf>) -> Address {
        Address(Kind::Unix(Arc::from(path.into().into_boxed_path())))
    }

    /// A Unix socket in Linux's abstract namespace (`name` without the leading NUL byte).
    ///
    /// ```
    /// let address = rill::resolver::Address::unix_abstract("app");
    /// assert_eq!(address.to_string(), "unix-abstract:app");
    /// ```
    pub fn unix_abstract(name: impl AsRef<[u8]>) -> Address {
        Address(Kind::UnixAbstract(Arc::from(name.as_ref())))
    }

    pub(crate) fn custom(name: &str) -> Address {
        Address(Kind::Custom(Arc::from(name)))
    }

    /// The socket address, for TCP addresses given as one.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match &self.0 {
            Kind::Tcp(address) => Some(*address),
            _ => None,
        }
    }

    /// The path, for Unix socket addresses.
    pub fn unix_path(&self) -> Option<&Path> {
        match &self.0 {
            Kind::Unix(path) => Some(path),
            _ => None,
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(address: SocketAddr) -> Self {
        Address::tcp(address)
    }
}

impl FromStr for Address {
    type Err = AddressParseError;

    /// Parses `ip:port`, `[ipv6]:port`, `host:port`, `unix:path` (or `unix://path`) and
    /// `unix-abstract:name`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AddressParseError {
            input: s.to_string(),
        };
        if let Some(name) = s.strip_prefix("unix-abstract:") {
            return Ok(Address::unix_abstract(name));
        }
        if let Some(path) = s.strip_prefix("unix:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            return if path.is_empty() {
                Err(err())
            } else {
                Ok(Address::unix(path))
            };
        }
        if let Ok(address) = s.parse::<SocketAddr>() {
            return Ok(Address::tcp(address));
        }
        if has_port(s) && !s.contains('/') && !s.starts_with(':') {
            return Ok(Address(Kind::HostPort(Arc::from(s))));
        }
        Err(err())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Tcp(address) => write!(f, "{address}"),
            Kind::HostPort(hostport) => f.write_str(hostport),
            Kind::Unix(path) => write!(f, "unix:{}", path.display()),
            Kind::UnixAbstract(name) => {
                write!(f, "unix-abstract:{}", String::from_utf8_lossy(name))
            }
            Kind::Custom(name) => f.write_str(name),
        }
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// Whether `hostport` ends in a `:port` (an IPv6 host must then be in brackets).
pub(crate) fn has_port(hostport: &str) -> bool {
    match hostport.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>().is_ok()
                && !host.is_empty()
                && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for s in [
            "127.0.0.1:1",
            "[::1]:50051",
            "example.com:443",
            "unix:/tmp/x.sock",
            "unix-abstract:name",
        ] {
            let address: Address = s.parse().unwrap();
            assert_eq!(address.to_string(), s);
        }
        assert_eq!(
            "unix:///tmp/x".parse::<Address>().unwrap().to_string(),
            "unix:/tmp/x"
        );
        for bad in ["", "example.com", "::1", "unix:", "a/b:1", ":80", "h:99999"] {
            assert!(bad.parse::<Address>().is_err(), "{bad:?}");
        }
    }
}
