//! HPACK (RFC 7541): decoding under size limits, and the connection's encoder.
//!
//! The encoder runs on the connection task as each header block goes into the write buffer,
//! so blocks reach the peer in the order the dynamic table changed. It adds only gRPC's
//! recurring fields to the table (`content-type: application/grpc`, `grpc-status: 0`, the
//! encodings) and never evicts: after the first response each of them costs one byte.

use bytes::{BufMut, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::frame::{H2Error, Reason};

/// Our SETTINGS_HEADER_TABLE_SIZE: the peer's encoder may use this much dynamic table.
pub(crate) const HEADER_TABLE_SIZE: usize = 4096;

/// The most of the peer's table our encoder uses (RFC 7541's default size).
const ENCODER_TABLE_SIZE: usize = 4096;
/// Fields added to the peer's table at most (each one we add is looked up linearly).
const ENCODER_ENTRIES: usize = 16;

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

fn put_string(buf: &mut BytesMut, value: &[u8]) {
    put_int(buf, 0, 7, value.len());
    buf.put_slice(value);
}

/// A header block as the connection task encodes it: a response head, a request head, or
/// trailers (no pseudo-headers).
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) pseudo: Pseudo,
    /// Fields written before `fields`: gRPC's fixed ones, kept out of a map (a `HeaderMap`
    /// allocates twice as soon as it holds a field).
    pub(crate) lead: Lead,
    pub(crate) fields: HeaderMap,
}

/// Up to three fields in order, without allocating.
#[derive(Debug, Default)]
pub(crate) struct Lead([Option<(HeaderName, HeaderValue)>; 3]);

impl Lead {
    /// The fields of `pairs` that are present, in order; at most three are kept.
    pub(crate) fn new<const N: usize>(pairs: [Option<(HeaderName, HeaderValue)>; N]) -> Lead {
        let mut lead = Lead::default();
        for (slot, pair) in lead.0.iter_mut().zip(pairs.into_iter().flatten()) {
            *slot = Some(pair);
        }
        lead
    }
}

/// The pseudo-header fields that open a header block (RFC 9113 §8.3).
#[derive(Debug)]
pub(crate) enum Pseudo {
    /// Trailers.
    None,
    Status(StatusCode),
    Request {
        method: http::Method,
        scheme: Option<http::uri::Scheme>,
        authority: Option<http::uri::Authority>,
        path: Option<http::uri::PathAndQuery>,
    },
}

impl Head {
    pub(crate) fn new(head: http::Response<()>) -> Box<Head> {
        let parts = head.into_parts().0;
        Box::new(Head {
            pseudo: Pseudo::Status(parts.status),
            lead: Lead::default(),
            fields: parts.headers,
        })
    }

    /// A response head or trailers made of `lead` alone.
    pub(crate) fn lead(pseudo: Pseudo, lead: Lead) -> Box<Head> {
        Box::new(Head {
            pseudo,
            lead,
            fields: HeaderMap::new(),
        })
    }

    pub(crate) fn status(status: StatusCode) -> Box<Head> {
        Box::new(Head {
            pseudo: Pseudo::Status(status),
            lead: Lead::default(),
            fields: HeaderMap::new(),
        })
    }

    pub(crate) fn request(head: http::Request<()>) -> Box<Head> {
        let parts = head.into_parts().0;
        let uri = parts.uri.into_parts();
        Box::new(Head {
            pseudo: Pseudo::Request {
                method: parts.method,
                scheme: uri.scheme,
                authority: uri.authority,
                path: uri.path_and_query,
            },
            lead: Lead::default(),
            fields: parts.headers,
        })
    }

    pub(crate) fn trailers(fields: HeaderMap) -> Box<Head> {
        Box::new(Head {
            pseudo: Pseudo::None,
            lead: Lead::default(),
            fields,
        })
    }
}

/// The sending side of the connection's HPACK state: what it added to the peer's table.
#[derive(Debug)]
pub(crate) struct Encoder {
    /// Fields added to the peer's dynamic table, oldest first; none is ever evicted.
    table: Vec<(Key, Box<[u8]>)>,
    size: usize,
    /// The table size we use: the peer's SETTINGS_HEADER_TABLE_SIZE, at most ours.
    max: usize,
    /// The peer changed its table size: the next block starts with size updates.
    resized: bool,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            table: Vec::new(),
            size: 0,
            max: ENCODER_TABLE_SIZE,
            resized: false,
        }
    }
}

/// The name of an entry we added to the peer's table.
#[derive(Debug, PartialEq, Eq)]
enum Key {
    Field(HeaderName),
    /// A pseudo-header, by its static table index.
    Pseudo(usize),
}

/// Writes an indexed field; `true`, so that it reads as "found and written".
fn put_indexed(buf: &mut BytesMut, index: usize) -> bool {
    put_int(buf, 0x80, 7, index);
    true
}

/// Fields worth a place in the peer's table: the same on almost every gRPC response.
fn recurring(name: &HeaderName, value: &HeaderValue) -> bool {
    match name.as_str() {
        "content-type" | "grpc-accept-encoding" | "grpc-encoding" | "te" | "user-agent" => true,
        "grpc-status" => value.as_bytes() == b"0",
        _ => false,
    }
}

impl Encoder {
    /// The peer's SETTINGS_HEADER_TABLE_SIZE. A change empties our use of the table (RFC 7541
    /// §4.2: the next block starts with a size update).
    pub(crate) fn set_peer_table_size(&mut self, size: u32) {
        let max = (size as usize).min(ENCODER_TABLE_SIZE);
        if max != self.max {
            self.max = max;
            self.table.clear();
            self.size = 0;
            self.resized = true;
        }
    }

    fn start_block(&mut self, buf: &mut BytesMut) {
        if self.resized {
            self.resized = false;
            // Down to 0 evicts everything the peer holds for us; then up to the size we use.
            put_int(buf, 0x20, 5, 0);
            if self.max > 0 {
                put_int(buf, 0x20, 5, self.max);
            }
        }
    }

    /// Encodes a header block: the pseudo-headers, then the fields.
    pub(crate) fn encode_block(&mut self, head: &Head, buf: &mut BytesMut) {
        self.start_block(buf);
        match &head.pseudo {
            Pseudo::None => {}
            Pseudo::Status(status) => Self::encode_status(*status, buf),
            Pseudo::Request {
                method,
                scheme,
                authority,
                path,
            } => self.encode_request_line(method, scheme, authority, path, buf),
        }
        for (name, value) in head.lead.0.iter().flatten() {
            self.encode_field(name, value, buf);
        }
        for (name, value) in &head.fields {
            self.encode_field(name, value, buf);
        }
    }

    fn encode_request_line(
        &mut self,
        method: &http::Method,
        scheme: &Option<http::uri::Scheme>,
        authority: &Option<http::uri::Authority>,
        path: &Option<http::uri::PathAndQuery>,
        buf: &mut BytesMut,
    ) {
        // Static table (RFC 7541 Appendix A): 2 GET, 3 POST, 6 http, 7 https; names 1
        // :authority, 2 :method, 4 :path, 6 :scheme.
        match *method {
            http::Method::POST => put_int(buf, 0x80, 7, 3),
            http::Method::GET => put_int(buf, 0x80, 7, 2),
            ref other => {
                put_int(buf, 0x00, 4, 2);
                put_string(buf, other.as_str().as_bytes());
            }
        }
        match scheme.as_ref().map(http::uri::Scheme::as_str) {
            Some("https") => put_int(buf, 0x80, 7, 7),
            Some("http") | None => put_int(buf, 0x80, 7, 6),
            Some(other) => {
                put_int(buf, 0x00, 4, 6);
                put_string(buf, other.as_bytes());
            }
        }
        // The authority and the method paths recur on every call of a channel.
        if let Some(authority) = authority {
            self.encode_recurring(1, ":authority", authority.as_str(), buf);
        }
        let path = path.as_ref().map_or("/", http::uri::PathAndQuery::as_str);
        self.encode_recurring(4, ":path", path, buf);
    }

    /// A pseudo-header worth a place in the peer's table (static name index `name_index`).
    fn encode_recurring(&mut self, name_index: usize, name: &str, value: &str, buf: &mut BytesMut) {
        let key = Key::Pseudo(name_index);
        if self
            .find(|k| *k == key, value.as_bytes())
            .is_some_and(|i| put_indexed(buf, i))
        {
            return;
        }
        let index = self.fits(name.len() + value.len());
        let (first, bits) = if index { (0x40, 6) } else { (0x00, 4) };
        put_int(buf, first, bits, name_index);
        put_string(buf, value.as_bytes());
        if index {
            self.add(key, value.as_bytes(), name.len());
        }
    }

    /// The HPACK index of an entry we added with this name and value.
    fn find(&self, is_name: impl Fn(&Key) -> bool, value: &[u8]) -> Option<usize> {
        let k = self
            .table
            .iter()
            .position(|(n, v)| is_name(n) && &v[..] == value)?;
        // The newest entry is index 62 (RFC 7541 §2.3.3).
        Some(62 + self.table.len() - 1 - k)
    }

    /// Whether an entry of this name and value length may go into the peer's table.
    fn fits(&self, len: usize) -> bool {
        self.table.len() < ENCODER_ENTRIES && self.size + len + 32 <= self.max
    }

    fn add(&mut self, key: Key, value: &[u8], name_len: usize) {
        self.size += name_len + value.len() + 32;
        self.table.push((key, value.into()));
    }

    fn encode_status(status: StatusCode, buf: &mut BytesMut) {
        // Static table indexes of the common statuses (RFC 7541 Appendix A).
        let indexed = match status.as_u16() {
            200 => Some(8),
            204 => Some(9),
            206 => Some(10),
            304 => Some(11),
            400 => Some(12),
            404 => Some(13),
            500 => Some(14),
            _ => None,
        };
        match indexed {
            Some(index) => put_int(buf, 0x80, 7, index),
            None => {
                // Literal without indexing, static name `:status` (index 8).
                put_int(buf, 0x00, 4, 8);
                put_string(buf, status.as_str().as_bytes());
            }
        }
    }

    fn encode_field(&mut self, name: &HeaderName, value: &HeaderValue, buf: &mut BytesMut) {
        let is_name = |k: &Key| matches!(k, Key::Field(n) if n == name);
        if self
            .find(is_name, value.as_bytes())
            .is_some_and(|i| put_indexed(buf, i))
        {
            return;
        }
        let index = recurring(name, value) && self.fits(name.as_str().len() + value.len());
        // Literal with incremental indexing (6-bit prefix) or without (4-bit prefix).
        let (first, bits) = if index { (0x40, 6) } else { (0x00, 4) };
        match name.as_str() {
            "content-type" => put_int(buf, first, bits, 31),
            other => {
                buf.put_u8(first);
                put_string(buf, other.as_bytes());
            }
        }
        put_string(buf, value.as_bytes());
        if index {
            self.add(
                Key::Field(name.clone()),
                value.as_bytes(),
                name.as_str().len(),
            );
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

    fn decoded(dec: &mut Decoder, block: &[u8]) -> Vec<(String, String)> {
        dec.decode(block)
            .unwrap()
            .fields
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn lead_fields_go_first_and_are_indexed_like_map_fields() {
        let value = |v: &'static str| HeaderValue::from_static(v);
        let lead = Lead::new([
            Some((http::header::CONTENT_TYPE, value("application/grpc"))),
            None,
            Some((HeaderName::from_static("grpc-encoding"), value("gzip"))),
        ]);
        let mut head = Head::lead(Pseudo::Status(StatusCode::OK), lead);
        head.fields.insert("x-after", value("1"));
        let trailers = Head::lead(
            Pseudo::None,
            Lead::new([Some((HeaderName::from_static("grpc-status"), value("0")))]),
        );
        let mut enc = Encoder::default();
        let mut dec = Decoder::new(64 * 1024);
        let mut sizes = Vec::new();
        for _ in 0..2 {
            let mut buf = BytesMut::new();
            enc.encode_block(&head, &mut buf);
            assert_eq!(
                decoded(&mut dec, &buf),
                pairs(&[
                    (":status", "200"),
                    ("content-type", "application/grpc"),
                    ("grpc-encoding", "gzip"),
                    ("x-after", "1"),
                ])
            );
            let mut tbuf = BytesMut::new();
            enc.encode_block(&trailers, &mut tbuf);
            assert_eq!(decoded(&mut dec, &tbuf), pairs(&[("grpc-status", "0")]));
            sizes.push((buf.len(), tbuf.len()));
        }
        // The second time each gRPC field is one table index; x-after stays a literal
        // (1 + 8 + 2 bytes).
        assert_eq!(sizes[1], (3 + 11, 1));
        assert!(sizes[0].0 > sizes[1].0 && sizes[0].1 > 1);
    }

    #[test]
    fn encoded_blocks_decode_to_the_same_fields_and_repeats_shrink_to_indexes() {
        let mut head = Head {
            pseudo: Pseudo::Status(StatusCode::OK),
            lead: Lead::default(),
            fields: HeaderMap::new(),
        };
        head.fields
            .insert("content-type", "application/grpc".parse().unwrap());
        head.fields
            .insert("grpc-accept-encoding", "gzip,zstd".parse().unwrap());
        head.fields
            .insert("x-long", "v".repeat(300).parse().unwrap());
        let mut fields = HeaderMap::new();
        fields.insert("grpc-status", "0".parse().unwrap());
        fields.insert("grpc-message", "fine".parse().unwrap());
        let trailers = Head::trailers(fields);
        let long = "v".repeat(300);
        let want_head = pairs(&[
            (":status", "200"),
            ("content-type", "application/grpc"),
            ("grpc-accept-encoding", "gzip,zstd"),
            ("x-long", &long),
        ]);
        let want_trailers = pairs(&[("grpc-status", "0"), ("grpc-message", "fine")]);

        let mut enc = Encoder::default();
        let mut dec = Decoder::new(64 * 1024);
        let mut sizes = Vec::new();
        for round in 0..3 {
            let mut buf = BytesMut::new();
            enc.encode_block(&head, &mut buf);
            assert_eq!(decoded(&mut dec, &buf), want_head, "round {round}");
            sizes.push(buf.len());
            let mut buf = BytesMut::new();
            enc.encode_block(&trailers, &mut buf);
            assert_eq!(decoded(&mut dec, &buf), want_trailers, "round {round}");
            sizes.push(buf.len());
        }
        // Recurring fields are one byte once in the table; x-long and grpc-message stay
        // literals (2 + 6 + 3 + 300 and 1 + 13 + 5 bytes).
        assert_eq!(&sizes[2..4], &[1 + 1 + 1 + 311, 1 + 19]);
        assert_eq!(sizes[2..4], sizes[4..6]);

        // Other statuses and a peer that shrinks its table to 0, then grows it again.
        head.pseudo = Pseudo::Status(StatusCode::IM_A_TEAPOT);
        enc.set_peer_table_size(0);
        let mut buf = BytesMut::new();
        enc.encode_block(&head, &mut buf);
        let mut want = want_head.clone();
        want[0].1 = "418".into();
        assert_eq!(decoded(&mut dec, &buf), want);
        enc.set_peer_table_size(65536);
        for _ in 0..2 {
            let mut buf = BytesMut::new();
            enc.encode_block(&trailers, &mut buf);
            assert_eq!(decoded(&mut dec, &buf), want_trailers);
        }
    }

    #[test]
    fn the_table_is_never_overfilled_and_entries_are_never_evicted() {
        let mut enc = Encoder::default();
        let mut dec = Decoder::new(1 << 20);
        for i in 0..40 {
            let mut fields = HeaderMap::new();
            // Distinct recurring fields, each over 100 bytes: the table fills up, then the
            // rest stay literals; earlier entries keep their meaning.
            fields.insert("grpc-accept-encoding", format!("{i:0100}").parse().unwrap());
            fields.insert("content-type", "application/grpc".parse().unwrap());
            let mut buf = BytesMut::new();
            enc.encode_block(&Head::trailers(fields), &mut buf);
            let got = decoded(&mut dec, &buf);
            assert_eq!(got[0].1, format!("{i:0100}"));
            assert_eq!(got[1].1, "application/grpc");
        }
        assert!(enc.size <= ENCODER_TABLE_SIZE && enc.table.len() <= ENCODER_ENTRIES);
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
