//! Byte streams the transport runs over: TCP, Unix sockets, or any in-memory pair.

use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream rill can speak HTTP/2 over: anything `AsyncRead + AsyncWrite`, such as a
/// `TcpStream`, a `UnixStream`, a TLS stream or one end of `tokio::io::duplex`.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A type-erased [`Io`], so everything above the socket is one concrete type.
pub(crate) type BoxIo = Box<dyn Io>;
