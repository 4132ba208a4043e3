//! Incremental decoding of Length-Prefixed-Message frames from DATA frame chunks.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::HEADER_LEN;
use crate::compression::{self, CompressionEncoding};
use crate::Status;

/// What the decoder expects next.
#[derive(Clone, Copy, Debug)]
enum State {
    /// The 5-byte prefix of the next message.
    Header,
    /// The payload of a message whose prefix was read.
    Body { compressed: bool, len: usize },
}

/// Splits a byte stream into gRPC message payloads, decompressing them as needed.
///
/// A message inside one chunk is a slice of it (no copy). One spread over several chunks is
/// copied, as its bytes arrive, into one buffer: the chunks are slices of the connection's
/// read buffers, and holding them until a large message is complete would keep several
/// read buffers alive. Nothing is allocated for a declared length before its bytes are here.
///
/// Errors are sticky: after one, every call reports it again and pushed data is dropped.
#[derive(Debug)]
pub(crate) struct FrameDecoder {
    chunks: VecDeque<Bytes>,
    /// Bytes in `chunks`.
    queued: usize,
    /// The start of a message spread over chunks. Its memory is reused once the caller drops
    /// the message: a fresh allocation per large message costs more than the copy (the
    /// allocator returns the pages to the kernel, and each new buffer faults them in again).
    join: BytesMut,
    state: State,
    max_message_size: usize,
    encoding: Option<CompressionEncoding>,
    error: Option<Status>,
    /// Whether the message last returned by `next_message` had its Compressed-Flag set.
    last_compressed: bool,
    /// The payload length on the wire (before decompression) of that message.
    last_wire_len: usize,
}

impl FrameDecoder {
    /// Creates a decoder for a stream whose `grpc-encoding` is `encoding` (`None` = identity).
    pub(crate) fn new(max_message_size: usize, encoding: Option<CompressionEncoding>) -> Self {
        FrameDecoder {
            chunks: VecDeque::new(),
            queued: 0,
            join: BytesMut::new(),
            state: State::Header,
            max_message_size,
            encoding,
            error: None,
            last_compressed: false,
            last_wire_len: 0,
        }
    }

    /// Adds a chunk of the stream; chunks may split messages anywhere.
    pub(crate) fn push(&mut self, data: Bytes) {
        if self.error.is_none() && !data.is_empty() {
            self.queued += data.len();
            self.chunks.push_back(data);
        }
    }

    /// The next complete message payload, `Ok(None)` if more data is needed.
    pub(crate) fn next_message(&mut self) -> Result<Option<Bytes>, Status> {
        if let Some(err) = &self.error {
            return Err(err.clone());
        }
        let result = self.advance();
        if let Err(err) = &result {
            self.error = Some(err.clone());
            self.chunks = VecDeque::new();
            self.queued = 0;
            self.join = BytesMut::new();
        }
        result
    }

    /// Checks that the stream ended on a message boundary.
    pub(crate) fn finish(&self) -> Result<(), Status> {
        if let Some(err) = &self.error {
            return Err(err.clone());
        }
        let partial = matches!(self.state, State::Body { .. }) || self.buffered() > 0;
        if partial {
            return Err(Status::internal(format!(
                "truncated message: stream ended with {} bytes of an incomplete message",
                self.buffered()
            )));
        }
        Ok(())
    }

    /// Whether the message last returned by [`FrameDecoder::next_message`] arrived compressed
    /// (its Compressed-Flag was set); `false` before the first message.
    pub(crate) fn last_compressed(&self) -> bool {
        self.last_compressed
    }

    /// The wire size (payload length, before decompression) of the message last returned by
    /// [`FrameDecoder::next_message`]: what gRFC A66's `compressed_message_size` metrics count.
    pub(crate) fn last_wire_len(&self) -> usize {
        self.last_wire_len
    }

    /// Bytes received but not yet returned as messages.
    #[allow(dead_code)] // contract API, not used by the transport yet
    pub(crate) fn buffered(&self) -> usize {
        self.queued + self.join.len()
    }

    /// The next `n` bytes once they are all here: a slice when one chunk holds them, else
    /// joined (what has arrived is joined at once, releasing its chunks).
    fn take(&mut self, n: usize) -> Option<Bytes> {
        if self.join.is_empty() {
            if let Some(front) = self.chunks.front_mut().filter(|f| f.len() >= n) {
                self.queued -= n;
                let out = front.split_to(n);
                if front.is_empty() {
                    self.chunks.pop_front();
                }
                return Some(out);
            }
        }
        self.join_up_to(n);
        (self.join.len() == n).then(|| self.join.split().freeze())
    }

    /// Moves queued bytes into `join` until it holds `n` bytes or nothing is queued.
    fn join_up_to(&mut self, n: usize) {
        self.join.reserve((n - self.join.len()).min(self.queued));
        while self.join.len() < n {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let want = (n - self.join.len()).min(front.len());
            self.join.extend_from_slice(&front[..want]);
            front.advance(want);
            self.queued -= want;
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
    }

    /// Decodes a header and/or body as far as the buffered data allows.
    fn advance(&mut self) -> Result<Option<Bytes>, Status> {
        if let State::Header = self.state {
            if self.queued < HEADER_LEN {
                return Ok(None);
            }
            let Some(h) = self.take(HEADER_LEN) else {
                return Ok(None);
            };
            let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]);
            self.state = self.read_header(h[0], len)?;
        }
        let State::Body { compressed, len } = self.state else {
            return Ok(None);
        };
        let Some(payload) = self.take(len) else {
            return Ok(None);
        };
        self.state = State::Header;
        self.last_compressed = compressed;
        self.last_wire_len = len;
        match (compressed, self.encoding) {
            (true, Some(enc)) => {
                compression::decompress(enc, &payload, self.max_message_size).map(Some)
            }
            _ => Ok(Some(payload)),
        }
    }

    /// Validates a message prefix before any of its payload is buffered.
    fn read_header(&self, flag: u8, len: u32) -> Result<State, Status> {
        let compressed = match flag {
            0 => false,
            1 => true,
            other => {
                return Err(Status::internal(format!(
                    "invalid compressed flag {other} in message header"
                )))
            }
        };
        if compressed && self.encoding.is_none() {
            return Err(Status::internal(
                "compressed flag set but no grpc-encoding was negotiated",
            ));
        }
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > self.max_message_size {
            return Err(Status::resource_exhausted(format!(
                "message length too large: found {len} bytes, the limit is {} bytes",
                self.max_message_size
            )));
        }
        Ok(State::Body { compressed, len })
    }
}
