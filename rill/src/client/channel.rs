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

/// Parses gRPC naming targets: `host:port`, `http://host:port`, `dns:[//auth/]host:port`,
/// `ipv4:addr:port`, `ipv6:[addr]:port`, `unix:path`, `unix:///abs/path`.
fn parse_target(target: &str) -> Result<(Address, String), Error> {
    let bad = |reason: &str| Error::InvalidTarget {
        target: target.to_string(),
        reason: reason.to_string(),
    };
    if let Some(path) = target.strip_prefix("unix:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(bad("empty unix socket path"));
        }
        return Ok((Address::Unix(path.to_string()), "localhost".to_string()));
    }
    if target.starts_with("https://") {
        return Err(bad(
            "TLS targets need a TLS channel (not available in this build)",
        ));
    }
    if let Some((scheme, _)) = target.split_once("://") {
        if !matches!(scheme, "http" | "dns") {
            return Err(bad(&format!(
                "unsupported scheme {scheme:?} (use http://, dns:, ipv4:, ipv6: or unix:)"
            )));
        }
    }
    let hostport = if let Some(rest) = target.strip_prefix("http://") {
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
    Ok((Address::Tcp(with_port.clone()), with_port))
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
        let channel = Channel::lazy(target)?;
        channel
            .connection()
            .await
            .map_err(|status| Error::Connect {
                target: target.to_string(),
                status,
            })?;
        Ok(channel)
    }

    /// A channel to `target` that connects on its first call.
    ///
    /// ```
    /// let channel = rill::Channel::lazy("http://127.0.0.1:50051").unwrap();
    /// # drop(channel);
    /// ```
    pub fn lazy(target: &str) -> Result<Channel, Error> {
        let (address, authority) = parse_target(target)?;
        let connector = move || -> ConnectFuture {
            let address = address.clone();
            Box::pin(async move {
                Ok(match address {
                    Address::Tcp(hostport) => {
                        let stream = TcpStream::connect(hostport).await?;
                        stream.set_nodelay(true)?;
                        Box::new(stream) as BoxIo
                    }
                    Address::Unix(path) => Box::new(UnixStream::connect(path).await?) as BoxIo,
                })
            })
        };
        Ok(Channel::from_connector(authority, Box::new(connector)))
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
        Channel::from_connector("localhost".to_string(), Box::new(connector))
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
        Channel::from_connector(authority.to_string(), Box::new(connector))
    }

    fn from_connector(authority: String, connector: Box<dyn Connector>) -> Channel {
        Channel {
            inner: Arc::new(Inner {
                authority,
                connector,
                config: ConnConfig::default(),
                connect_timeout: Duration::from_secs(20),
                current: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The `:authority` calls on this channel carry.
    pub(crate) fn authority(&self) -> &str {
        &self.inner.authority
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
            let (a, auth) = parse_target(target).unwrap();
            assert_eq!(&a, address, "{target}");
            assert_eq!(&auth, authority, "{target}");
        }
    }

    #[test]
    fn rejects_bad_targets() {
        for target in [
            "",
            "unix:",
            "http://",
            "http://a/b/c",
            "https://x:1",
            "ftp://h:1",
        ] {
            assert!(
                parse_target(target).is_err(),
                "{target:?} should be rejected"
            );
        }
    }
}
