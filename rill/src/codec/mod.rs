//! gRPC message encoding: prost messages in and out of Length-Prefixed-Message frames.
//!
//! Each message on the wire is a 1-byte Compressed-Flag, a 4-byte big-endian length and the
//! (possibly compressed) protobuf payload.

mod batch;
mod framing;

pub(crate) use batch::{batch, AfterBatch};
pub(crate) use framing::FrameDecoder;

use bytes::{BufMut, Bytes, BytesMut};

use crate::compression::{self, CompressionEncoding};
use crate::Status;

/// Size of the Compressed-Flag plus Message-Length prefix.
pub(crate) const HEADER_LEN: usize = 5;

/// How [`encode_message`] frames a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EncodeOptions {
    /// Compress with this encoding (the one announced in `grpc-encoding`), if any.
    pub(crate) compression: Option<CompressionEncoding>,
    /// Largest payload (after compression) allowed on the wire.
    pub(crate) max_message_size: usize,
    /// Messages whose encoding is shorter than this are sent uncompressed.
    pub(crate) compression_threshold: usize,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            compression: None,
            max_message_size: usize::MAX,
            // Compressing an empty message only makes it larger.
            compression_threshold: 1,
        }
    }
}

/// Encodes a prost message into one framed gRPC message.
pub(crate) fn encode_message<M: prost::Message>(
    msg: &M,
    opts: EncodeOptions,
) -> Result<Bytes, Status> {
    MessageEncoder::default().encode(msg, opts)
}

/// Encodes the messages of one stream into frames, reusing one buffer: once the frames
/// handed out before are written and dropped, the next message is encoded into the same
/// memory. A fresh allocation per message costs large messages more than the copy itself
/// (the allocator hands the pages back to the kernel and each new buffer faults them in
/// again: 3× the server CPU per MiB streamed, measured).
#[derive(Default)]
pub(crate) struct MessageEncoder {
    buf: BytesMut,
}

impl MessageEncoder {
    /// Encodes `msg` into one framed gRPC message.
    pub(crate) fn encode<M: prost::Message>(
        &mut self,
        msg: &M,
        opts: EncodeOptions,
    ) -> Result<Bytes, Status> {
        let encoded_len = msg.encoded_len();
        let compress_with = opts
            .compression
            .filter(|_| encoded_len >= opts.compression_threshold);
        let buf = &mut self.buf;
        buf.clear();
        match compress_with {
            None => {
                // Checked before encoding so an oversized message is never serialized.
                check_size(encoded_len, opts.max_message_size)?;
                buf.reserve(HEADER_LEN + encoded_len);
                buf.put_bytes(0, HEADER_LEN);
                msg.encode(buf)
                    .map_err(|e| Status::internal(format!("could not encode message: {e}")))?;
            }
            Some(enc) => {
                let plain = msg.encode_to_vec();
                buf.reserve(HEADER_LEN + plain.len() / 2);
                buf.put_bytes(0, HEADER_LEN);
                compression::compress(enc, &plain, buf).map_err(|e| {
                    Status::internal(format!("could not compress message with {enc}: {e}"))
                })?;
            }
        }
        finish_frame(buf.split(), compress_with.is_some(), opts.max_message_size)
    }
}

/// Fills in the prefix of `buf` (header placeholder + payload) after checking the payload size.
fn finish_frame(mut buf: BytesMut, compressed: bool, max: usize) -> Result<Bytes, Status> {
    let payload_len = buf.len() - HEADER_LEN;
    check_size(payload_len, max)?;
    // The Message-Length field is a u32, whatever the configured maximum.
    let wire_len =
        u32::try_from(payload_len).map_err(|_| too_large(payload_len, u32::MAX as usize))?;
    buf[0] = u8::from(compressed);
    buf[1..HEADER_LEN].copy_from_slice(&wire_len.to_be_bytes());
    Ok(buf.freeze())
}

/// Decodes a (decompressed) message payload; a malformed one is `INTERNAL`.
pub(crate) fn decode_message<M: prost::Message + Default>(buf: Bytes) -> Result<M, Status> {
    M::decode(buf).map_err(|e| Status::internal(format!("could not decode message: {e}")))
}

/// Fails with `RESOURCE_EXHAUSTED` when `len` exceeds `max`.
fn check_size(len: usize, max: usize) -> Result<(), Status> {
    if len > max {
        Err(too_large(len, max))
    } else {
        Ok(())
    }
}

/// The error for a message over the send limit.
fn too_large(len: usize, max: usize) -> Status {
    Status::resource_exhausted(format!("message too large to send: {len} > {max}"))
}

#[cfg(test)]
mod tests;
