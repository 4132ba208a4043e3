//! Telling HTTP/2 from HTTP/1.x on a fresh connection, and replaying the bytes read to do so.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use crate::transport::BoxIo;

/// The first bytes of every HTTP/2 connection (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads the first bytes of a connection, enough to tell HTTP/2 (the preface) from
/// HTTP/1.x; returns them so they can be replayed. `true` means HTTP/2 (or not enough bytes
/// to say otherwise before EOF).
pub(crate) async fn sniff(io: &mut BoxIo, timeout: Duration) -> std::io::Result<(bool, Bytes)> {
    let mut buf = BytesMut::with_capacity(H2_PREFACE.len());
    let read = async {
        while buf.len() < H2_PREFACE.len() {
            if !H2_PREFACE.starts_with(&buf) {
                return Ok(false);
            }
            if io.read_buf(&mut buf).await? == 0 {
                break;
            }
        }
        Ok::<_, std::io::Error>(H2_PREFACE.starts_with(&buf[..buf.len().min(H2_PREFACE.len())]))
    };
    let is_h2 = tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    Ok((is_h2, buf.freeze()))
}

/// A byte stream with bytes already read from it put back in front.
pub(crate) struct Rewind {
    prefix: Bytes,
    inner: BoxIo,
}

impl Rewind {
    pub(crate) fn new(prefix: Bytes, inner: BoxIo) -> Rewind {
        Rewind { prefix, inner }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn sniffing_tells_h2_from_http1() {
        for (input, want_h2) in [
            (H2_PREFACE, true),
            (&b"POST / HTTP/1.1\r\n\r\n"[..], false),
            (&b"PRI * HTTP/1.1\r\n\r\n"[..], false),
            (&b"PR"[..], true), // EOF before it could differ: let HTTP/2 fail on it
        ] {
            let (mut client, server) = tokio::io::duplex(1024);
            client.write_all(input).await.unwrap();
            drop(client);
            let mut io: BoxIo = Box::new(server);
            let (is_h2, prefix) = sniff(&mut io, Duration::from_secs(5)).await.unwrap();
            assert_eq!(is_h2, want_h2, "{input:?}");
            // What was read is replayed in front of the rest.
            let mut rewound = Rewind::new(prefix, io);
            let mut all = Vec::new();
            rewound.read_to_end(&mut all).await.unwrap();
            assert_eq!(all, input);
        }
    }
}
