//! The connection's incoming bytes: how much to ask the socket for on each read.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;

use crate::transport::BoxIo;

const MIN_READ: usize = 16 * 1024;
const MAX_READ: usize = 256 * 1024;

/// Sizes the reads of one connection. An idle or chatty connection reads 16 KiB at a time;
/// while reads keep filling the buffer (a bulk transfer) the size doubles up to 256 KiB, so
/// a 1 MiB message takes a few reads instead of 64, and the partial frame left at the end
/// of the buffer is moved once per buffer instead of once per read (before this, the
/// receiving end of a 1 MiB stream spent a quarter of its time on such moves). Reads that
/// come back well short halve it again.
///
/// Frames are slices of the buffer, so a buffer is only free again once every frame cut from
/// it is dropped. Two buffers take turns: when one is full, the partial frame at its end
/// moves to the other, which is reused in place if its frames are gone. (Allocating a
/// fresh 256 KiB buffer each time made the allocator hand pages back to the kernel and
/// fault them in again: 250k page faults per 3 GB received.)
pub(super) struct ReadSize {
    next: usize,
    short: u8,
    other: BytesMut,
    /// Bytes read in the connection task's current turn.
    this_turn: usize,
}

impl Default for ReadSize {
    fn default() -> Self {
        ReadSize {
            next: MIN_READ,
            short: 0,
            other: BytesMut::new(),
            this_turn: 0,
        }
    }
}

impl ReadSize {
    /// A new read buffer of the starting size.
    pub(super) fn buffer() -> BytesMut {
        BytesMut::with_capacity(MIN_READ)
    }

    /// Reads what the socket has into `buf`, after making room for a read of the current
    /// size; `Ok(0)` at EOF.
    pub(super) fn poll_read(
        &mut self,
        io: &mut BoxIo,
        buf: &mut BytesMut,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<usize>> {
        if buf.capacity() - buf.len() < self.next / 2 {
            self.reserve(buf, self.next);
        }
        let spare = buf.capacity() - buf.len();
        let n = ready!(tokio_util::io::poll_read_buf(Pin::new(io), cx, buf))?;
        self.this_turn += n;
        self.record(n, spare);
        Poll::Ready(Ok(n))
    }

    /// Starts a turn of the connection task.
    pub(super) fn new_turn(&mut self) {
        self.this_turn = 0;
    }

    /// Whether this turn has read a full buffer: the task should yield, so that the streams'
    /// readers take their frames (and free the buffer) before it reads more.
    pub(super) fn turn_spent(&self) -> bool {
        self.this_turn >= MAX_READ
    }

    /// Makes room for the rest of a frame of `total` bytes whose start is in `buf`, and for
    /// a full read after it: growing by less would move the partial frame again soon.
    pub(super) fn make_room(&mut self, buf: &mut BytesMut, total: usize) {
        let want = (total - buf.len()).max(self.next);
        if buf.capacity() - buf.len() < want {
            self.reserve(buf, want);
        }
    }

    /// Room for `want` more bytes: in `buf` itself if nothing else holds it, else in the
    /// other buffer (reused if free, else new), with `buf`'s bytes moved over.
    fn reserve(&mut self, buf: &mut BytesMut, want: usize) {
        if buf.try_reclaim(want) {
            return;
        }
        // Half a read of room is enough to reuse a buffer (a read is only started with that
        // much), unless a frame larger than a read needs all of it.
        let enough = if want > self.next { want } else { want / 2 };
        let mut next = std::mem::take(&mut self.other);
        if !next.try_reclaim(buf.len() + enough) {
            next = BytesMut::with_capacity(buf.len() + want);
        }
        next.extend_from_slice(buf);
        let mut old = std::mem::replace(buf, next);
        old.clear();
        self.other = old;
    }

    fn record(&mut self, n: usize, spare: usize) {
        if n == spare && n >= self.next / 2 {
            self.next = (self.next * 2).min(MAX_READ);
            self.short = 0;
        } else if n < self.next / 4 {
            self.short += 1;
            if self.short >= 2 {
                self.next = (self.next / 2).max(MIN_READ);
                self.short = 0;
            }
        } else {
            self.short = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_while_reads_fill_the_buffer_and_shrinks_after() {
        let mut r = ReadSize::default();
        for _ in 0..10 {
            let n = r.next;
            r.record(n, n);
        }
        assert_eq!(r.next, MAX_READ, "bulk: capped");
        r.record(100, MAX_READ);
        assert_eq!(r.next, MAX_READ, "one short read is not a trend");
        for _ in 0..20 {
            r.record(100, r.next);
        }
        assert_eq!(r.next, MIN_READ, "small reads: back to the start");
    }

    #[test]
    fn two_buffers_take_turns_when_frames_are_still_held() {
        let mut r = ReadSize::default();
        let mut buf = ReadSize::buffer();
        let first = buf.as_ptr();
        buf.extend_from_slice(&[1; MIN_READ]);
        let frame = buf.split_to(MIN_READ - 10).freeze();
        r.make_room(&mut buf, 100);
        assert_eq!(&buf[..], &[1; 10], "the partial frame moved");
        assert!(buf.capacity() >= MIN_READ);
        drop(frame);
        // The first buffer is free again: the next switch reuses it.
        buf.extend_from_slice(&vec![2; buf.capacity() - buf.len()]);
        let held = buf.split_to(buf.len() - 5).freeze();
        r.make_room(&mut buf, 100);
        assert_eq!(&buf[..], &[2; 5]);
        assert!(std::ptr::eq(buf.as_ptr(), first), "reused in place");
        drop(held);
    }

    #[test]
    fn a_full_but_small_spare_does_not_grow() {
        let mut r = ReadSize::default();
        r.record(1000, 1000);
        assert_eq!(r.next, MIN_READ);
    }
}
