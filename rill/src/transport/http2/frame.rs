//! HTTP/2 frames (RFC 9113 §4, §6): parsing with every size and flag check, and encoding.
//!
//! Parsing never panics on peer input: a malformed frame is an [`H2Error`] that says whether
//! it ends the connection or only its stream.

use bytes::{BufMut, Bytes, BytesMut};

pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub(crate) const HEADER_LEN: usize = 9;
pub(crate) const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
pub(crate) const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
pub(crate) const MAX_WINDOW: i64 = (1 << 31) - 1;
pub(crate) const DEFAULT_WINDOW: u32 = 65_535;

pub(crate) const DATA: u8 = 0;
pub(crate) const HEADERS: u8 = 1;
pub(crate) const PRIORITY: u8 = 2;
pub(crate) const RST_STREAM: u8 = 3;
pub(crate) const SETTINGS: u8 = 4;
pub(crate) const PUSH_PROMISE: u8 = 5;
pub(crate) const PING: u8 = 6;
pub(crate) const GOAWAY: u8 = 7;
pub(crate) const WINDOW_UPDATE: u8 = 8;
pub(crate) const CONTINUATION: u8 = 9;

pub(crate) const END_STREAM: u8 = 0x1;
pub(crate) const ACK: u8 = 0x1;
pub(crate) const END_HEADERS: u8 = 0x4;
pub(crate) const PADDED: u8 = 0x8;
pub(crate) const PRIORITY_FLAG: u8 = 0x20;

/// HTTP/2 error codes (RFC 9113 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reason(pub(crate) u32);

impl Reason {
    pub(crate) const NO_ERROR: Reason = Reason(0);
    pub(crate) const PROTOCOL_ERROR: Reason = Reason(1);
    pub(crate) const FLOW_CONTROL_ERROR: Reason = Reason(3);
    pub(crate) const STREAM_CLOSED: Reason = Reason(5);
    pub(crate) const FRAME_SIZE_ERROR: Reason = Reason(6);
    pub(crate) const REFUSED_STREAM: Reason = Reason(7);
    pub(crate) const CANCEL: Reason = Reason(8);
    pub(crate) const COMPRESSION_ERROR: Reason = Reason(9);
    pub(crate) const ENHANCE_YOUR_CALM: Reason = Reason(11);
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.0 {
            0 => "NO_ERROR",
            1 => "PROTOCOL_ERROR",
            2 => "INTERNAL_ERROR",
            3 => "FLOW_CONTROL_ERROR",
            4 => "SETTINGS_TIMEOUT",
            5 => "STREAM_CLOSED",
            6 => "FRAME_SIZE_ERROR",
            7 => "REFUSED_STREAM",
            8 => "CANCEL",
            9 => "COMPRESSION_ERROR",
            10 => "CONNECT_ERROR",
            11 => "ENHANCE_YOUR_CALM",
            12 => "INADEQUATE_SECURITY",
            13 => "HTTP_1_1_REQUIRED",
            n => return write!(f, "error code {n:#x}"),
        };
        f.write_str(name)
    }
}

/// A protocol violation: the whole connection (GOAWAY) or one stream (RST_STREAM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum H2Error {
    Connection(Reason, &'static str),
    Stream(u32, Reason),
}

pub(crate) fn conn_err<T>(reason: Reason, why: &'static str) -> Result<T, H2Error> {
    Err(H2Error::Connection(reason, why))
}

/// The fixed 9-byte frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) len: u32,
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    pub(crate) stream: u32,
}

impl Head {
    /// Parses a header from at least 9 bytes; the reserved bit of the stream id is ignored.
    pub(crate) fn parse(b: &[u8]) -> Head {
        Head {
            len: u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// One parsed frame. Header-block fragments stay raw: HPACK decoding needs the whole block.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// `flow_len` is the whole payload incl. padding: what flow control counts.
    Data {
        stream: u32,
        data: Bytes,
        end_stream: bool,
        flow_len: u32,
    },
    Headers {
        stream: u32,
        fragment: Bytes,
        end_stream: bool,
        end_headers: bool,
        depends_on: Option<u32>,
    },
    Priority {
        stream: u32,
        depends_on: u32,
    },
    RstStream {
        stream: u32,
        reason: Reason,
    },
    Settings {
        ack: bool,
        values: Vec<(u16, u32)>,
    },
    Ping {
        ack: bool,
        payload: [u8; 8],
    },
    GoAway {
        last_stream: u32,
        reason: Reason,
    },
    WindowUpdate {
        stream: u32,
        increment: u32,
    },
    Continuation {
        stream: u32,
        fragment: Bytes,
        end_headers: bool,
    },
    /// Frames of unknown type are ignored (§5.5), but still end a header block.
    Unknown,
}

/// Strips padding (§6.1): the pad length may not cover the rest of the payload.
fn unpad(head: &Head, mut payload: Bytes) -> Result<Bytes, H2Error> {
    if !head.has(PADDED) {
        return Ok(payload);
    }
    if payload.is_empty() {
        return conn_err(Reason::FRAME_SIZE_ERROR, "padded frame without pad length");
    }
    let pad = usize::from(payload[0]);
    if pad >= payload.len() {
        return conn_err(Reason::PROTOCOL_ERROR, "padding exceeds the frame payload");
    }
    let end = payload.len() - pad;
    Ok(payload.split_to(end).split_off(1))
}

/// Parses the payload of a frame whose header has already been checked against
/// SETTINGS_MAX_FRAME_SIZE.
pub(crate) fn parse(head: Head, payload: Bytes) -> Result<Frame, H2Error> {
    let stream = head.stream;
    let need_stream = |frame: &'static str| {
        if stream == 0 {
            conn_err(Reason::PROTOCOL_ERROR, frame)
        } else {
            Ok(())
        }
    };
    let need_conn = |frame: &'static str| {
        if stream != 0 {
            conn_err(Reason::PROTOCOL_ERROR, frame)
        } else {
            Ok(())
        }
    };
    Ok(match head.kind {
        DATA => {
            need_stream("DATA on stream 0")?;
            Frame::Data {
                stream,
                flow_len: head.len,
                end_stream: head.has(END_STREAM),
                data: unpad(&head, payload)?,
            }
        }
        HEADERS => {
            need_stream("HEADERS on stream 0")?;
            let mut fragment = unpad(&head, payload)?;
            let mut depends_on = None;
            if head.has(PRIORITY_FLAG) {
                if fragment.len() < 5 {
                    return conn_err(Reason::FRAME_SIZE_ERROR, "HEADERS priority truncated");
                }
                let dep = u32::from_be_bytes([fragment[0], fragment[1], fragment[2], fragment[3]]);
                depends_on = Some(dep & 0x7fff_ffff);
                fragment = fragment.split_off(5);
            }
            Frame::Headers {
                stream,
                fragment,
                end_stream: head.has(END_STREAM),
                end_headers: head.has(END_HEADERS),
                depends_on,
            }
        }
        PRIORITY => {
            need_stream("PRIORITY on stream 0")?;
            if payload.len() != 5 {
                return Err(H2Error::Stream(stream, Reason::FRAME_SIZE_ERROR));
            }
            let dep = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
            Frame::Priority {
                stream,
                depends_on: dep & 0x7fff_ffff,
            }
        }
        RST_STREAM => {
            need_stream("RST_STREAM on stream 0")?;
            if payload.len() != 4 {
                return conn_err(Reason::FRAME_SIZE_ERROR, "RST_STREAM length");
            }
            Frame::RstStream {
                stream,
                reason: Reason(u32::from_be_bytes([
                    payload[0], payload[1], payload[2], payload[3],
                ])),
            }
        }
        SETTINGS => {
            need_conn("SETTINGS on a stream")?;
            let ack = head.has(ACK);
            if ack && !payload.is_empty() {
                return conn_err(Reason::FRAME_SIZE_ERROR, "SETTINGS ack with payload");
            }
            if payload.len() % 6 != 0 {
                return conn_err(Reason::FRAME_SIZE_ERROR, "SETTINGS length");
            }
            let values = payload
                .chunks_exact(6)
                .map(|c| {
                    (
                        u16::from_be_bytes([c[0], c[1]]),
                        u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
                    )
                })
                .collect();
            Frame::Settings { ack, values }
        }
        PUSH_PROMISE => return conn_err(Reason::PROTOCOL_ERROR, "PUSH_PROMISE from a client"),
        PING => {
            need_conn("PING on a stream")?;
            let Ok(bytes) = <[u8; 8]>::try_from(&payload[..]) else {
                return conn_err(Reason::FRAME_SIZE_ERROR, "PING length");
            };
            Frame::Ping {
                ack: head.has(ACK),
                payload: bytes,
            }
        }
        GOAWAY => {
            need_conn("GOAWAY on a stream")?;
            if payload.len() < 8 {
                return conn_err(Reason::FRAME_SIZE_ERROR, "GOAWAY length");
            }
            let last = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
            Frame::GoAway {
                last_stream: last & 0x7fff_ffff,
                reason: Reason(u32::from_be_bytes([
                    payload[4], payload[5], payload[6], payload[7],
                ])),
            }
        }
        WINDOW_UPDATE => {
            if payload.len() != 4 {
                return conn_err(Reason::FRAME_SIZE_ERROR, "WINDOW_UPDATE length");
            }
            let inc = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
            Frame::WindowUpdate {
                stream,
                increment: inc & 0x7fff_ffff,
            }
        }
        CONTINUATION => {
            need_stream("CONTINUATION on stream 0")?;
            Frame::Continuation {
                stream,
                fragment: payload,
                end_headers: head.has(END_HEADERS),
            }
        }
        _ => Frame::Unknown,
    })
}

/// Writes a frame header.
pub(crate) fn put_head(buf: &mut BytesMut, len: usize, kind: u8, flags: u8, stream: u32) {
    let len = len as u32;
    buf.put_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    buf.put_u32(stream);
}

pub(crate) fn put_settings(buf: &mut BytesMut, values: &[(u16, u32)]) {
    put_head(buf, values.len() * 6, SETTINGS, 0, 0);
    for (id, value) in values {
        buf.put_u16(*id);
        buf.put_u32(*value);
    }
}

pub(crate) fn put_settings_ack(buf: &mut BytesMut) {
    put_head(buf, 0, SETTINGS, ACK, 0);
}

pub(crate) fn put_ping(buf: &mut BytesMut, ack: bool, payload: [u8; 8]) {
    put_head(buf, 8, PING, if ack { ACK } else { 0 }, 0);
    buf.put_slice(&payload);
}

pub(crate) fn put_window_update(buf: &mut BytesMut, stream: u32, increment: u32) {
    put_head(buf, 4, WINDOW_UPDATE, 0, stream);
    buf.put_u32(increment);
}

pub(crate) fn put_rst(buf: &mut BytesMut, stream: u32, reason: Reason) {
    put_head(buf, 4, RST_STREAM, 0, stream);
    buf.put_u32(reason.0);
}

pub(crate) fn put_goaway(buf: &mut BytesMut, last_stream: u32, reason: Reason, debug: &[u8]) {
    put_head(buf, 8 + debug.len(), GOAWAY, 0, 0);
    buf.put_u32(last_stream);
    buf.put_u32(reason.0);
    buf.put_slice(debug);
}

/// Writes a header block as HEADERS plus CONTINUATION frames of at most `max_frame` bytes.
pub(crate) fn put_header_block(
    buf: &mut BytesMut,
    stream: u32,
    block: &[u8],
    end_stream: bool,
    max_frame: usize,
) {
    let mut chunks = block.chunks(max_frame.max(1)).peekable();
    let first = chunks.next().unwrap_or(&[]);
    let mut flags = if end_stream { END_STREAM } else { 0 };
    if chunks.peek().is_none() {
        flags |= END_HEADERS;
    }
    put_head(buf, first.len(), HEADERS, flags, stream);
    buf.put_slice(first);
    while let Some(chunk) = chunks.next() {
        let flags = if chunks.peek().is_none() {
            END_HEADERS
        } else {
            0
        };
        put_head(buf, chunk.len(), CONTINUATION, flags, stream);
        buf.put_slice(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_bytes(bytes: &[u8]) -> Result<Frame, H2Error> {
        let head = Head::parse(bytes);
        parse(head, Bytes::copy_from_slice(&bytes[HEADER_LEN..]))
    }

    fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut buf = BytesMut::new();
        put_head(&mut buf, payload.len(), kind, flags, stream);
        buf.put_slice(payload);
        buf.to_vec()
    }

    #[test]
    fn frames_parse_and_malformed_ones_map_to_the_right_error() {
        use Reason as R;
        let cases: Vec<(Vec<u8>, Result<(), H2Error>)> = vec![
            (raw(DATA, 0, 0, b"x"), conn_err(R::PROTOCOL_ERROR, "")),
            (
                raw(DATA, PADDED, 1, &[5, 1, 2]),
                conn_err(R::PROTOCOL_ERROR, ""),
            ),
            (raw(DATA, PADDED, 1, &[1, 9, 0]), Ok(())),
            (raw(HEADERS, 0, 0, b""), conn_err(R::PROTOCOL_ERROR, "")),
            (
                raw(HEADERS, PRIORITY_FLAG, 1, &[0, 0]),
                conn_err(R::FRAME_SIZE_ERROR, ""),
            ),
            (
                raw(PRIORITY, 0, 1, &[0; 4]),
                Err(H2Error::Stream(1, R::FRAME_SIZE_ERROR)),
            ),
            (
                raw(RST_STREAM, 0, 1, &[0; 3]),
                conn_err(R::FRAME_SIZE_ERROR, ""),
            ),
            (
                raw(RST_STREAM, 0, 0, &[0; 4]),
                conn_err(R::PROTOCOL_ERROR, ""),
            ),
            (
                raw(SETTINGS, ACK, 0, &[0; 6]),
                conn_err(R::FRAME_SIZE_ERROR, ""),
            ),
            (
                raw(SETTINGS, 0, 0, &[0; 5]),
                conn_err(R::FRAME_SIZE_ERROR, ""),
            ),
            (raw(SETTINGS, 0, 1, &[]), conn_err(R::PROTOCOL_ERROR, "")),
            (raw(PING, 0, 0, &[0; 7]), conn_err(R::FRAME_SIZE_ERROR, "")),
            (raw(PING, 0, 1, &[0; 8]), conn_err(R::PROTOCOL_ERROR, "")),
            (
                raw(GOAWAY, 0, 0, &[0; 7]),
                conn_err(R::FRAME_SIZE_ERROR, ""),
            ),
            (
                raw(WINDOW_UPDATE, 0, 0, &[0; 3]),
                conn_err(R::FRAME_SIZE_ERROR, ""),
            ),
            (
                raw(PUSH_PROMISE, 0, 1, &[0; 4]),
                conn_err(R::PROTOCOL_ERROR, ""),
            ),
            (
                raw(CONTINUATION, 0, 0, &[]),
                conn_err(R::PROTOCOL_ERROR, ""),
            ),
            (raw(0xfa, 0, 0, b"whatever"), Ok(())),
        ];
        for (bytes, want) in cases {
            let got = parse_bytes(&bytes).map(drop);
            match (&got, &want) {
                (Err(H2Error::Connection(a, _)), Err(H2Error::Connection(b, _))) => {
                    assert_eq!(a, b, "{bytes:?}")
                }
                _ => assert_eq!(got, want, "{bytes:?}"),
            }
        }
    }

    #[test]
    fn padding_is_stripped_but_counted_for_flow_control() {
        let frame =
            parse_bytes(&raw(DATA, PADDED | END_STREAM, 3, &[2, b'h', b'i', 0, 0])).unwrap();
        assert_eq!(
            frame,
            Frame::Data {
                stream: 3,
                data: Bytes::from_static(b"hi"),
                end_stream: true,
                flow_len: 5
            }
        );
    }

    #[test]
    fn header_blocks_are_split_at_the_max_frame_size() {
        let mut buf = BytesMut::new();
        put_header_block(&mut buf, 1, &[7; 10], true, 4);
        let heads: Vec<Head> = [0, 13, 26]
            .iter()
            .map(|&at| Head::parse(&buf[at..]))
            .collect();
        assert_eq!(
            (heads[0].kind, heads[0].flags, heads[0].len),
            (HEADERS, END_STREAM, 4)
        );
        assert_eq!((heads[1].kind, heads[1].flags), (CONTINUATION, 0));
        assert_eq!(
            (heads[2].kind, heads[2].flags, heads[2].len),
            (CONTINUATION, END_HEADERS, 2)
        );
        assert_eq!(buf.len(), 3 * HEADER_LEN + 10);
    }
}
