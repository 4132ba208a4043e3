//! A channel: one lazily (re)connected HTTP/2 connection that many calls share.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};

use crate::transport::client::{ConnConfig, Connection};
use crate::transport::{BoxIo, Io};
use crate::{Error, Status};

type ConnectFuture = Pin<Box<dyn Future<Output = std::io::Result<BoxIo>> + Send>>;

/// Opens a new byte stream to the server (TCP, Unix socket, in-memory, later TLS).
trait Connector: Send + Sync + 'static {
    fn connect(&self) -> ConnectFuture;
}

impl<F> Connector for F
where
    F: Fn() -> ConnectFuture + Send + Sync + 'static,
{
    fn connect(&self) -> ConnectFuture {
        self()
    }
}

/// Where a channel connects, parsed from a target string.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Address {
    Tcp(String),
    Unix(String),
}

/// A parsed target: where to connect, the `:authority`, and whether the scheme asks for TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    address: Address,
    authority: String,
    /// The host part, for TLS server-name verification.
    host: String,
    tls: bool,
}

/// Parses gRPC naming targets: `host:port`, `http(s)://host:port`, `dns:[//auth/]host:port`,
/// `ipv4:addr:port`, `ipv6:[addr]:port`, `unix:path`, `unix:///abs/path`.
fn parse_target(target: &str) -> Result<Target, Error> {
    let bad = |reason: &str| Error::InvalidTarget {
        target: target.to_string(),
        reason: reason.to_string(),
    };
    if let Some(path) = target.strip_prefix("unix:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(bad("empty unix socket path"));
        }
        return Ok(Target {
            address: Address::Unix(path.to_string()),
            authority: "localhost".to_string(),
            host: "localhost".to_string(),
            tls: false,
        });
    }
    if let Some((scheme, _)) = target.split_once("://") {
        if !matches!(scheme, "http" | "https" | "dns") {
            return Err(bad(&format!(
                "unsupported scheme {scheme:?} (use http://, https://, dns:, ipv4:, ipv6: or unix:)"
            )));
        }
    }
    let tls = target.starts_with("https://");
    let hostport = if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        rest.trim_end_matches('/')
    } else if let Some(rest) = target.strip_prefix("dns:") {
        // dns:[//authority/]host[:port]: the DNS server authority is ignored.
        match rest.strip_prefix("//") {
            Some(with_auth) => with_auth.split_once('/').map(|(_, h)| h).unwrap_or(""),
            None => rest,
        }
    } else if let Some(rest) = target
        .strip_prefix("ipv4:")
        .or_else(|| target.strip_prefix("ipv6:"))
    {
        // The first address of a list.
        rest.split(',').next().unwrap_or("")
    } else {
        target
    };
    if hostport.is_empty() || hostport.contains('/') {
        return Err(bad("expected host:port"));
    }
    let with_port = if has_port(hostport) {
        hostport.to_string()
    } else {
        format!("{hostport}:443")
    };
    let host = with_port
        .rsplit_once(':')
        .map(|(h, _)| h.to_string())
        .unwrap_or_default();
    Ok(Target {
        address: Address::Tcp(with_port.clone()),
        authority: with_port,
        host,
        tls,
    })
}

fn has_port(hostport: &str) -> bool {
    match hostport.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>().is_ok() && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    }
}

struct Inner {
    authority: String,
    scheme: &'static str,
    connector: Box<dyn Connector>,
    config: ConnConfig,
    connect_timeout: Duration,
    current: Mutex<Option<Connection>>,
    connecting: tokio::sync::Mutex<()>,
}

/// A virtual connection to a server: cheap to clone, shared by every call and client.
///
/// Connects lazily (on the first call) or eagerly ([`Channel::connect`]); reconnects on the next
/// call after the connection drops (calls in flight then fail with UNAVAILABLE).
#[derive(Clone)]
pub struct Channel {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("authority", &self.inner.authority)
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// Connects to `target` now, failing if the server cannot be reached.
    ///
    /// Targets: `http://host:port`, `host:port`, `dns:///host:port`, `unix:/path/to.sock`.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), rill::Error> {
    /// let channel = rill::Channel::connect("http://127.0.0.1:50051").await?;
    /// # drop(channel); Ok(()) }
    /// ```
    pub async fn connect(target: &str) -> Result<Channel, Error> {
        Endpoint::new(target).connect().await
    }

    /// A channel to `target` that connects on its first call.
    ///
    /// ```
    /// let channel = rill::Channel::lazy("http://127.0.0.1:50051").unwrap();
    /// # drop(channel);
    /// ```
    pub fn lazy(target: &str) -> Result<Channel, Error> {
        Endpoint::new(target).connect_lazy()
    }

    /// An [`Endpoint`] to configure (TLS, connect timeout) before connecting.
    ///
    /// ```
    /// use std::time::Duration;
    /// let channel = rill::Channel::builder("http://127.0.0.1:50051")
    ///     .connect_timeout(Duration::from_secs(3))
    ///     .connect_lazy()
    ///     .unwrap();
    /// # drop(channel);
    /// ```
    pub fn builder(target: &str) -> Endpoint {
        Endpoint::new(target)
    }

    /// A channel over an already open byte stream (e.g. one end of `tokio::io::duplex`).
    ///
    /// It cannot reconnect: once that stream closes, calls fail with UNAVAILABLE.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (client_io, _server_io) = tokio::io::duplex(64 * 1024);
    /// let channel = rill::Channel::from_io(client_io);
    /// # drop(channel); }
    /// ```
    pub fn from_io<I: Io>(io: I) -> Channel {
        let slot: Mutex<Option<BoxIo>> = Mutex::new(Some(Box::new(io)));
        let connector = move || -> ConnectFuture {
            let io = slot.lock().ok().and_then(|mut s| s.take());
            Box::pin(async move {
                io.ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::NotConnected,
                        "the channel's single connection has closed",
                    )
                })
            })
        };
        Channel::from_connector("localhost".to_string(), "http", Box::new(connector))
    }

    /// A channel whose connections come from `connect` (custom transports, test pipes).
    ///
    /// ```
    /// let channel = rill::Channel::with_connector("example.test", || async {
    ///     tokio::net::TcpStream::connect("127.0.0.1:50051").await
    /// });
    /// # drop(channel);
    /// ```
    pub fn with_connector<F, Fut, I>(authority: &str, connect: F) -> Channel
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::io::Result<I>> + Send + 'static,
        I: Io,
    {
        let connector = move || -> ConnectFuture {
            let fut = connect();
            Box::pin(async move { fut.await.map(|io| Box::new(io) as BoxIo) })
        };
        Channel::from_connector(authority.to_string(), "http", Box::new(connector))
    }

    fn from_connector(
        authority: String,
        scheme: &'static str,
        connector: Box<dyn Connector>,
    ) -> Channel {
        Channel::with_settings(authority, scheme, connector, DEFAULT_CONNECT_TIMEOUT)
    }

    fn with_settings(
        authority: String,
        scheme: &'static str,
        connector: Box<dyn Connector>,
        connect_timeout: Duration,
    ) -> Channel {
        Channel {
            inner: Arc::new(Inner {
                authority,
                scheme,
                connector,
                config: ConnConfig::default(),
                connect_timeout,
                current: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The `:authority` calls on this channel carry.
    pub(crate) fn authority(&self) -> &str {
        &self.inner.authority
    }

    /// The `:scheme` calls on this channel carry: `https` over TLS, else `http`.
    pub(crate) fn scheme(&self) -> &'static str {
        self.inner.scheme
    }

    fn live_connection(&self) -> Option<Connection> {
        let current = self.inner.current.lock().ok()?;
        current.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    /// The live connection, connecting (once, for all waiting calls) if there is none.
    pub(crate) async fn connection(&self) -> Result<Connection, Status> {
        if let Some(conn) = self.live_connection() {
            return Ok(conn);
        }
        let _connecting = self.inner.connecting.lock().await;
        if let Some(conn) = self.live_connection() {
            return Ok(conn);
        }
        let io = tokio::time::timeout(self.inner.connect_timeout, self.inner.connector.connect())
            .await
            .map_err(|_| Status::unavailable("connect timed out"))?
            .map_err(|e| Status::unavailable(format!("connect failed: {e}")))?;
        let conn = Connection::handshake(io, &self.inner.config).await?;
        if let Ok(mut current) = self.inner.current.lock() {
            *current = Some(conn.clone());
        }
        Ok(conn)
    }
}

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// How to reach a server: the target plus connection settings; builds [`Channel`]s.
#[derive(Clone, Debug)]
pub struct Endpoint {
    target: String,
    connect_timeout: Duration,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::ClientTlsConfig>,
}

impl Endpoint {
    /// An endpoint for `target` (see [`Channel::connect`] for the forms); nothing is checked
    /// until a channel is built.
    ///
    /// ```
    /// let endpoint = rill::client::Endpoint::new("http://127.0.0.1:50051");
    /// # drop(endpoint);
    /// ```
    pub fn new(target: &str) -> Endpoint {
        Endpoint {
            target: target.to_string(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// How long connecting (TCP + TLS + HTTP/2 preface) may take; default 20 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Endpoint {
        self.connect_timeout = timeout;
        self
    }

    /// Speaks TLS with these settings (roots, expected server name, client identity);
    /// `https://` targets use TLS with the system roots without this.
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: crate::tls::ClientTlsConfig) -> Endpoint {
        self.tls = Some(config);
        self
    }

    /// A channel that connects on its first call.
    pub fn connect_lazy(&self) -> Result<Channel, Error> {
        let target = parse_target(&self.target)?;
        let tls = self.tls_connector(&target)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let address = target.address.clone();
        let connector = move || -> ConnectFuture {
            let address = address.clone();
            let tls = tls.clone();
            Box::pin(async move {
                let io: BoxIo = match address {
                    Address::Tcp(hostport) => {
                        let stream = TcpStream::connect(hostport).await?;
                        stream.set_nodelay(true)?;
                        Box::new(stream)
                    }
                    Address::Unix(path) => Box::new(UnixStream::connect(path).await?),
                };
                match tls {
                    None => Ok(io),
                    Some(tls) => tls.connect(io).await,
                }
            })
        };
        Ok(Channel::with_settings(
            target.authority,
            scheme,
            Box::new(connector),
            self.connect_timeout,
        ))
    }

    /// A channel connected now; fails if the server cannot be reached.
    pub async fn connect(&self) -> Result<Channel, Error> {
        let channel = self.connect_lazy()?;
        channel
            .connection()
            .await
            .map_err(|status| Error::Connect {
                target: self.target.clone(),
                status,
            })?;
        Ok(channel)
    }

    #[cfg(feature = "tls")]
    fn tls_connector(&self, target: &Target) -> Result<Option<crate::tls::Connector>, Error> {
        let config = match (&self.tls, target.tls) {
            (Some(config), _) => config.clone(),
            (None, true) => crate::tls::ClientTlsConfig::new(),
            (None, false) => return Ok(None),
        };
        Ok(Some(crate::tls::Connector::new(&config, &target.host)?))
    }

    #[cfg(not(feature = "tls"))]
    fn tls_connector(&self, target: &Target) -> Result<Option<NoTls>, Error> {
        if target.tls {
            return Err(Error::InvalidTarget {
                target: self.target.clone(),
                reason: "https:// needs rill's `tls` feature".to_string(),
            });
        }
        Ok(None)
    }
}

/// Stands in for the TLS connector when the `tls` feature is off.
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
struct NoTls;

#[cfg(not(feature = "tls"))]
impl NoTls {
    async fn connect(&self, io: BoxIo) -> std::io::Result<BoxIo> {
        Ok(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let cases: &[(&str, Address, &str)] = &[
            (
                "127.0.0.1:50051",
                Address::Tcp("127.0.0.1:50051".into()),
                "127.0.0.1:50051",
            ),
            (
                "http://localhost:8080",
                Address::Tcp("localhost:8080".into()),
                "localhost:8080",
            ),
            (
                "http://localhost:8080/",
                Address::Tcp("localhost:8080".into()),
                "localhost:8080",
            ),
            (
                "dns:///example.com:9000",
                Address::Tcp("example.com:9000".into()),
                "example.com:9000",
            ),
            (
                "dns://8.8.8.8/example.com:9000",
                Address::Tcp("example.com:9000".into()),
                "example.com:9000",
            ),
            (
                "dns:example.com",
                Address::Tcp("example.com:443".into()),
                "example.com:443",
            ),
            (
                "ipv4:10.0.0.1:1,10.0.0.2:2",
                Address::Tcp("10.0.0.1:1".into()),
                "10.0.0.1:1",
            ),
            (
                "ipv6:[::1]:50051",
                Address::Tcp("[::1]:50051".into()),
                "[::1]:50051",
            ),
            (
                "unix:/tmp/s.sock",
                Address::Unix("/tmp/s.sock".into()),
                "localhost",
            ),
            (
                "unix:///tmp/s.sock",
                Address::Unix("/tmp/s.sock".into()),
                "localhost",
            ),
            (
                "unix:rel.sock",
                Address::Unix("rel.sock".into()),
                "localhost",
            ),
        ];
        for (target, address, authority) in cases {
            let parsed = parse_target(target).unwrap();
            assert_eq!(&parsed.address, address, "{target}");
            assert_eq!(&parsed.authority, authority, "{target}");
            assert!(!parsed.tls, "{target}");
        }
        let tls = parse_target("https://example.com").unwrap();
        assert!(tls.tls);
        assert_eq!(
            (tls.authority.as_str(), tls.host.as_str()),
            ("example.com:443", "example.com")
        );
    }

    #[test]
    fn rejects_bad_targets() {
        for target in [
            "",
            "unix:",
            "http://",
            "http://a/b/c",
            "https://",
            "ftp://h:1",
        ] {
            assert!(
                parse_target(target).is_err(),
                "{target:?} should be rejected"
            );
        }
    }
}
