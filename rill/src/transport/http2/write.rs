//! The connection's outgoing bytes: small frames are copied into one buffer, large DATA
//! payloads are kept as `Bytes` and written with the rest in one vectored write.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWrite;

/// Payloads at least this large are not copied.
const COPY_LIMIT: usize = 1024;
/// Slices per vectored write: a full output buffer of 16 KiB DATA frames is 128 payloads,
/// each after a header.
const MAX_SLICES: usize = 256;

#[derive(Default)]
pub(crate) struct WriteBuf {
    chunks: VecDeque<Bytes>,
    pub(crate) cur: BytesMut,
    len: usize,
}

impl WriteBuf {
    /// Bytes waiting to be written.
    pub(crate) fn len(&self) -> usize {
        self.len + self.cur.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a payload after whatever `cur` holds, without copying a large one.
    pub(crate) fn put_bytes(&mut self, data: Bytes) {
        if data.len() < COPY_LIMIT {
            self.cur.extend_from_slice(&data);
            return;
        }
        if !self.cur.is_empty() {
            let head = self.cur.split().freeze();
            self.len += head.len();
            self.chunks.push_back(head);
        }
        self.len += data.len();
        self.chunks.push_back(data);
    }

    /// Writes as much as the socket takes; `Ready(Ok)` once everything is written.
    pub(crate) fn poll_write<W: AsyncWrite + ?Sized>(
        &mut self,
        mut io: Pin<&mut W>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        while !self.is_empty() {
            let n = {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let mut count = 0;
                for chunk in self.chunks.iter().take(MAX_SLICES - 1) {
                    slices[count] = IoSlice::new(chunk);
                    count += 1;
                }
                // `cur` goes last, and only if every chunk before it is in this write.
                if self.chunks.len() == count && !self.cur.is_empty() {
                    slices[count] = IoSlice::new(&self.cur);
                    count += 1;
                }
                match io.as_mut().poll_write_vectored(cx, &slices[..count]) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()))
                    }
                    Poll::Ready(Ok(n)) => n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            };
            self.advance(n);
        }
        Poll::Ready(Ok(()))
    }

    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            match self.chunks.front_mut() {
                Some(chunk) => {
                    let take = n.min(chunk.len());
                    chunk.advance(take);
                    self.len -= take;
                    n -= take;
                    if chunk.is_empty() {
                        self.chunks.pop_front();
                    }
                }
                None => {
                    let take = n.min(self.cur.len());
                    self.cur.advance(take);
                    n -= take;
                    if take == 0 {
                        break;
                    }
                }
            }
        }
        if self.cur.is_empty() && self.cur.capacity() > 1 << 20 {
            // Give back the memory a burst needed.
            self.cur = BytesMut::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_and_large_pieces_are_written_in_order() {
        let mut buf = WriteBuf::default();
        buf.cur.extend_from_slice(b"head");
        buf.put_bytes(Bytes::from(vec![b'x'; 5000]));
        buf.cur.extend_from_slice(b"tail");
        buf.put_bytes(Bytes::from_static(b"small"));
        let mut out: Vec<u8> = Vec::new();
        std::future::poll_fn(|cx| buf.poll_write(Pin::new(&mut out), cx))
            .await
            .unwrap();
        let mut want = b"head".to_vec();
        want.extend(vec![b'x'; 5000]);
        want.extend_from_slice(b"tailsmall");
        assert_eq!(out, want);
        assert!(buf.is_empty());
    }
}
