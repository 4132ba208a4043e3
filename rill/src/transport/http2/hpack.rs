//! HPACK (RFC 7541): decoding with loona-hpack under size limits, and a stateless encoder.
//!
//! The encoder never uses the dynamic table (literals without indexing, static-table names),
//! so a block can be encoded by the stream's own task without touching connection state and
//! whatever SETTINGS_HEADER_TABLE_SIZE the peer picks is respected. gRPC's fixed response
//! fields are constants encoded once.

use bytes::{BufMut, BytesMut};
use http::HeaderMap;

use super::frame::{H2Error, Reason};

/// `:status: 200` (static table index 8).
const STATUS_200: u8 = 0x88;
/// `content-type: application/grpc`: literal without indexing, static name index 31.
const CONTENT_TYPE_GRPC: &[u8] = b"\x0f\x10\x10application/grpc";
/// `grpc-status: 0`, the common trailer.
const GRPC_STATUS_OK: &[u8] = b"\x00\x0bgrpc-status\x010";

/// Our SETTINGS_HEADER_TABLE_SIZE: the peer's encoder may use this much dynamic table.
pub(crate) const HEADER_TABLE_SIZE: usize = 4096;

/// Encodes an HPACK integer with an `n`-bit prefix whose high bits are `first`.
fn put_int(buf: &mut BytesMut, first: u8, n: u32, mut value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        buf.put_u8(first | value as u8);
        return;
    }
    buf.put_u8(first | max as u8);
    value -= max;
    while value >= 128 {
        buf.put_u8((value % 128) as u8 | 0x80);
        value /= 128;
    }
    buf.put_u8(value as u8);
}

fn put_literal(buf: &mut BytesMut, name: &[u8], value: &[u8]) {
    buf.put_u8(0x00);
    put_int(buf, 0, 7, name.len());
    buf.put_slice(name);
    put_int(buf, 0, 7, value.len());
    buf.put_slice(value);
}

/// Encodes a response head (status and headers).
pub(crate) fn encode_response(head: &http::response::Parts, buf: &mut BytesMut) {
    match head.status.as_u16() {
        200 => buf.put_u8(STATUS_200),
        code => {
            // Literal without indexing, static name `:status` (index 8).
            buf.put_u8(0x08);
            let digits = code.to_string();
            put_int(buf, 0, 7, digits.len());
            buf.put_slice(digits.as_bytes());
        }
    }
    encode_fields(&head.headers, buf);
}

/// Encodes regular fields (response headers or trailers).
pub(crate) fn encode_fields(headers: &HeaderMap, buf: &mut BytesMut) {
    for (name, value) in headers {
        let (name, value) = (name.as_str().as_bytes(), value.as_bytes());
        if name == b"content-type" && value == b"application/grpc" {
            buf.put_slice(CONTENT_TYPE_GRPC);
        } else if name == b"grpc-status" && value == b"0" {
            buf.put_slice(GRPC_STATUS_OK);
        } else {
            put_literal(buf, name, value);
        }
    }
}

/// The peer's header blocks, decoded under SETTINGS_MAX_HEADER_LIST_SIZE.
pub(crate) struct Decoder {
    inner: super::hpack_decode::HpackDecoder,
    max_list: usize,
}

/// One decoded block: fields in order, or how far over the limit it went.
pub(crate) struct Block {
    pub(crate) fields: Vec<(bytes::Bytes, bytes::Bytes)>,
    /// RFC 7541 §4.1 size (name + value + 32 per field) of the whole list.
    pub(crate) list_size: usize,
}

impl Decoder {
    pub(crate) fn new(max_list: u32) -> Decoder {
        Decoder {
            inner: super::hpack_decode::HpackDecoder::new(HEADER_TABLE_SIZE),
            max_list: max_list as usize,
        }
    }

    /// Decodes a whole block. An HPACK error is a connection error (COMPRESSION_ERROR): the
    /// shared table can no longer be trusted. Fields past the list limit are counted, not
    /// kept, so a "bomb" (a large entry referenced many times) costs no memory.
    pub(crate) fn decode(&mut self, block: &[u8]) -> Result<Block, H2Error> {
        let mut fields = Vec::with_capacity(8);
        let mut list_size = 0usize;
        let max = self.max_list;
        self.inner
            .decode(block, |name, value| {
                list_size = list_size.saturating_add(name.len() + value.len() + 32);
                if list_size <= max {
                    fields.push((name, value));
                }
            })
            .map_err(|_| H2Error::Connection(Reason::COMPRESSION_ERROR, "HPACK decoding failed"))?;
        Ok(Block { fields, list_size })
    }

    pub(crate) fn max_list(&self) -> usize {
        self.max_list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_responses_decode_to_the_same_fields() {
        let mut head = http::Response::new(()).into_parts().0;
        head.headers
            .insert("content-type", "application/grpc".parse().unwrap());
        head.headers
            .insert("grpc-accept-encoding", "gzip,zstd".parse().unwrap());
        head.headers
            .insert("x-long", "v".repeat(300).parse().unwrap());
        let mut buf = BytesMut::new();
        encode_response(&head, &mut buf);
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        trailers.insert("grpc-message", "fine".parse().unwrap());
        encode_fields(&trailers, &mut buf);
        head.status = http::StatusCode::NOT_FOUND;
        encode_response(&head, &mut buf);

        let mut dec = Decoder::new(64 * 1024);
        let block = dec.decode(&buf).unwrap();
        let got: Vec<(String, String)> = block
            .fields
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = [
            (":status", "200".to_string()),
            ("content-type", "application/grpc".into()),
            ("grpc-accept-encoding", "gzip,zstd".into()),
            ("x-long", "v".repeat(300)),
            ("grpc-status", "0".into()),
            ("grpc-message", "fine".into()),
            (":status", "404".into()),
            ("content-type", "application/grpc".into()),
            ("grpc-accept-encoding", "gzip,zstd".into()),
            ("x-long", "v".repeat(300)),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_bomb_is_counted_not_copied_and_garbage_is_a_compression_error() {
        let mut block = BytesMut::new();
        // Literal with incremental indexing, new name: a 4000-byte value enters the table.
        block.put_u8(0x40);
        put_int(&mut block, 0, 7, 6);
        block.put_slice(b"x-bomb");
        put_int(&mut block, 0, 7, 4000);
        block.put_slice(&[b'b'; 4000]);
        for _ in 0..500 {
            block.put_u8(0x80 | 62);
        }
        let mut dec = Decoder::new(16 * 1024);
        let out = dec.decode(&block).unwrap();
        assert!(out.list_size > 2_000_000);
        assert!(out.fields.len() <= 4);

        let err = Decoder::new(1024).decode(&[0x80 | 100]).err();
        assert!(matches!(
            err,
            Some(H2Error::Connection(Reason::COMPRESSION_ERROR, _))
        ));
    }
}
