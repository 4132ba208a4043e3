//! Opening byte streams to addresses: TCP, Unix sockets, custom connectors; TLS on top.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};

use crate::resolver::{Address, AddressKind};
use crate::transport::BoxIo;

pub(crate) type ConnectFuture = Pin<Box<dyn Future<Output = std::io::Result<BoxIo>> + Send>>;

/// Opens a new byte stream to an address (one per connection attempt).
pub(crate) trait Connector: Send + Sync + 'static {
    fn connect(&self, address: &Address) -> ConnectFuture;
}

impl<F> Connector for F
where
    F: Fn(&Address) -> ConnectFuture + Send + Sync + 'static,
{
    fn connect(&self, address: &Address) -> ConnectFuture {
        self(address)
    }
}

/// The TLS handshake a connector runs over each new stream, if any.
#[cfg(feature = "tls")]
pub(crate) type Tls = Option<crate::tls::Connector>;
#[cfg(not(feature = "tls"))]
pub(crate) type Tls = Option<NoTls>;

/// Without the `tls` feature there is no TLS connector.
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
pub(crate) enum NoTls {}

/// Wraps `raw` (the plain stream of a connection attempt) in TLS when configured.
pub(crate) fn with_tls(raw: Arc<dyn Connector>, tls: Tls) -> impl Connector {
    move |address: &Address| -> ConnectFuture {
        let stream = raw.connect(address);
        let tls = tls.clone();
        Box::pin(async move {
            let io = stream.await?;
            match tls {
                None => Ok(io),
                #[cfg(feature = "tls")]
                Some(tls) => tls.connect(io).await,
                #[cfg(not(feature = "tls"))]
                Some(never) => match never {},
            }
        })
    }
}

/// Connects to TCP and Unix socket addresses.
pub(crate) fn dial(address: &Address) -> ConnectFuture {
    let address = address.clone();
    Box::pin(async move {
        let io: BoxIo = match &address.0 {
            AddressKind::Tcp(socket) => nodelay(TcpStream::connect(socket).await?)?,
            AddressKind::HostPort(host_port) => nodelay(TcpStream::connect(&**host_port).await?)?,
            AddressKind::Unix(path) => Box::new(UnixStream::connect(path).await?),
            AddressKind::UnixAbstract(name) => Box::new(abstract_socket(name)?),
            AddressKind::Custom(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "no connector for this address",
                ))
            }
        };
        Ok(io)
    })
}

fn nodelay(stream: TcpStream) -> std::io::Result<BoxIo> {
    stream.set_nodelay(true)?;
    Ok(Box::new(stream))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_socket(name: &[u8]) -> std::io::Result<UnixStream> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    // Connecting to a local socket does not block.
    let stream = std::os::unix::net::UnixStream::connect_addr(&address)?;
    stream.set_nonblocking(true)?;
    UnixStream::from_std(stream)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_socket(_: &[u8]) -> std::io::Result<UnixStream> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "abstract unix sockets exist only on Linux",
    ))
}

/// Connection lifecycle options: keepalive (gRFC A8), idle timeout, pooling, health checks.
impl super::Endpoint {
    /// Pings the server every `time` (gRPC's KEEPALIVE_TIME; off by default) and closes the
    /// connection when a ping is not answered within [`keepalive_timeout`](Self::keepalive_timeout),
    /// so a silently dead peer is noticed and calls fail over. Servers limit how often they
    /// accept pings (5 minutes by default in grpc-go); a server that answers GOAWAY
    /// `too_many_pings` makes the channel double `time`. See grpc/grpc `doc/keepalive.md`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let channel = rill::Channel::builder("127.0.0.1:50051")
    ///     .keepalive_time(Duration::from_secs(30))
    ///     .keepalive_timeout(Duration::from_secs(5))
    ///     .connect_lazy()
    ///     .unwrap();
    /// # drop(channel);
    /// ```
    pub fn keepalive_time(mut self, time: Duration) -> Self {
        self.conn.keepalive_time = (!time.is_zero()).then_some(time);
        self
    }

    /// How long a keepalive ping may go unanswered before the connection is closed
    /// (KEEPALIVE_TIMEOUT, 20 s by default).
    pub fn keepalive_timeout(mut self, timeout: Duration) -> Self {
        self.conn.keepalive_timeout = timeout;
        self
    }

    /// Sends keepalive pings even while no call is in flight (grpc-go's
    /// `PermitWithoutStream`; off by default). The server must permit it too.
    pub fn keepalive_while_idle(mut self, enabled: bool) -> Self {
        self.conn.keepalive_while_idle = enabled;
        self
    }

    /// After this long without calls, the channel closes its connections and goes
    /// [`Idle`](crate::client::ConnectivityState::Idle); the next call reconnects (and
    /// re-resolves). 30 minutes by default, as in grpc-go; `Duration::ZERO` never idles.
    ///
    /// ```
    /// use std::time::Duration;
    /// let endpoint = rill::Channel::builder("127.0.0.1:50051").idle_timeout(Duration::from_secs(60));
    /// # drop(endpoint);
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.conn.idle_timeout = (!timeout.is_zero()).then_some(timeout);
        self
    }

    /// Keeps `n` HTTP/2 connections to each address instead of one (at least 1), so a busy
    /// channel is not capped by one connection's concurrent-stream limit and TCP window; each
    /// call goes over the connection with the fewest calls in flight.
    ///
    /// ```
    /// let channel = rill::Channel::builder("127.0.0.1:50051")
    ///     .connections_per_address(4)
    ///     .connect_lazy()
    ///     .unwrap();
    /// # drop(channel);
    /// ```
    pub fn connections_per_address(mut self, n: usize) -> Self {
        self.conn.connections_per_address = n.max(1);
        self
    }

    /// Client-side health checking (grpc/grpc `doc/health-checking.md`): each connection
    /// watches `grpc.health.v1.Health/Watch` for `service` (`""`: the whole server) and is
    /// used only while the server says SERVING. A server without the health service
    /// (UNIMPLEMENTED) is treated as serving, and a warning is logged.
    ///
    /// ```
    /// let channel = rill::Channel::builder("ipv4:127.0.0.1:50051,127.0.0.1:50052")
    ///     .load_balancer(rill::balancer::RoundRobin)
    ///     .health_check_service("user.UserService")
    ///     .connect_lazy()
    ///     .unwrap();
    /// # drop(channel);
    /// ```
    pub fn health_check_service(mut self, service: impl Into<String>) -> Self {
        self.conn.health_check_service = Some(service.into());
        self
    }

    /// Picks the HTTP/2 implementation of the channel's connections: rill's own
    /// ([`Native`](crate::server::Http2Backend::Native), the default: one task per
    /// connection, a unary request leaves as one unit with the other calls' frames) or the
    /// `h2` crate's. Both speak the same protocol; they differ in speed.
    ///
    /// ```
    /// use rill::server::Http2Backend;
    /// let endpoint = rill::Channel::builder("127.0.0.1:50051").http2_backend(Http2Backend::H2);
    /// # drop(endpoint);
    /// ```
    pub fn http2_backend(mut self, backend: crate::server::Http2Backend) -> Self {
        self.conn.native = backend == crate::server::Http2Backend::Native;
        self
    }
}
