//! Opening byte streams to addresses: TCP, Unix sockets, custom connectors; TLS on top.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

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
