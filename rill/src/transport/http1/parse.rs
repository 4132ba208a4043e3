//! Parsing of HTTP/1.1 requests: the head (with httparse) and chunked bodies.

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderName, HeaderValue, StatusCode};

/// Why a request could not be read; each maps to the answer sent before closing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The peer closed or the socket failed: nothing to answer.
    Closed,
    Bad(&'static str),
    HeadTooLarge,
    BodyTooLarge,
    NotImplemented,
}

impl ReadError {
    pub(crate) fn status(&self) -> Option<StatusCode> {
        match self {
            ReadError::Closed => None,
            ReadError::Bad(_) => Some(StatusCode::BAD_REQUEST),
            ReadError::HeadTooLarge => Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
            ReadError::BodyTooLarge => Some(StatusCode::PAYLOAD_TOO_LARGE),
            ReadError::NotImplemented => Some(StatusCode::NOT_IMPLEMENTED),
        }
    }
}

/// How a request body is delimited.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    Length(usize),
    Chunked,
}

/// Parses a request head; `None` when more bytes are needed.
#[allow(clippy::type_complexity)]
pub(crate) fn parse_head(
    buf: &[u8],
) -> Result<Option<(http::Request<Bytes>, usize, bool, Framing)>, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut parsed = httparse::Request::new(&mut headers);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ReadError::HeadTooLarge),
        Err(_) => return Err(ReadError::Bad("malformed request head")),
    };
    let method = http::Method::from_bytes(parsed.method.unwrap_or("").as_bytes())
        .map_err(|_| ReadError::Bad("bad method"))?;
    let path = parsed.path.unwrap_or("");
    if !path.starts_with('/') {
        return Err(ReadError::Bad("request target must be a path"));
    }
    let uri: http::Uri = path.parse().map_err(|_| ReadError::Bad("bad path"))?;
    let http11 = parsed.version == Some(1);
    let mut request = http::Request::new(Bytes::new());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let mut keep_alive = http11;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let map = request.headers_mut();
    for h in parsed.headers.iter() {
        let name =
            HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| ReadError::Bad("header name"))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| ReadError::Bad("header value"))?;
        if name == http::header::CONTENT_LENGTH {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or(ReadError::Bad("bad content-length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(ReadError::Bad("conflicting content-length"));
            }
            length = Some(n);
        } else if name == http::header::TRANSFER_ENCODING {
            // Only `chunked` (possibly listed as the last coding) is understood.
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
            if !last.trim_ascii().eq_ignore_ascii_case(b"chunked") || h.value.contains(&b',') {
                return Err(ReadError::NotImplemented);
            }
            chunked = true;
        } else if name == http::header::CONNECTION {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
        map.append(name, value);
    }
    // Both framings at once is how request smuggling starts: refuse (RFC 9112 §6.3).
    let framing = match (chunked, length) {
        (true, Some(_)) => return Err(ReadError::Bad("both content-length and chunked")),
        (true, None) if !http11 => return Err(ReadError::Bad("chunked in HTTP/1.0")),
        (true, None) => Framing::Chunked,
        (false, n) => Framing::Length(n.unwrap_or(0)),
    };
    Ok(Some((request, len, keep_alive, framing)))
}

/// Incremental decoder of a chunked body (RFC 9112 §7.1); chunk extensions and trailer
/// fields are read and ignored.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    pub(crate) body: BytesMut,
    limit: usize,
    state: ChunkState,
}

#[derive(Debug, PartialEq, Eq)]
enum ChunkState {
    Size,
    Data(usize),
    DataEnd,
    Trailers,
}

/// Longest chunk-size line or trailer line accepted.
const MAX_LINE: usize = 4096;

impl ChunkedDecoder {
    pub(crate) fn new(limit: usize) -> Self {
        ChunkedDecoder {
            body: BytesMut::new(),
            limit,
            state: ChunkState::Size,
        }
    }

    /// Consumes what it can from `buf`; `Ok(true)` once the body is complete.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<bool, ReadError> {
        loop {
            match self.state {
                ChunkState::Size => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(false);
                    };
                    let size = line.split(|&b| b == b';').next().unwrap_or_default();
                    let size = std::str::from_utf8(size.trim_ascii())
                        .ok()
                        .filter(|s| !s.is_empty() && s.len() <= 16)
                        .and_then(|s| usize::from_str_radix(s, 16).ok())
                        .ok_or(ReadError::Bad("bad chunk size"))?;
                    if self.body.len().saturating_add(size) > self.limit {
                        return Err(ReadError::BodyTooLarge);
                    }
                    self.state = if size == 0 {
                        ChunkState::Trailers
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    if buf.is_empty() {
                        return Ok(false);
                    }
                    let n = left.min(buf.len());
                    self.body.extend_from_slice(&buf.split_to(n));
                    self.state = if n == left {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left - n)
                    };
                }
                ChunkState::DataEnd => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(false);
                    };
                    if !line.is_empty() {
                        return Err(ReadError::Bad("chunk data longer than its size"));
                    }
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(false);
                    };
                    if line.is_empty() {
                        return Ok(true);
                    }
                }
            }
        }
    }
}

/// Takes one CRLF-terminated line (without the CRLF) off `buf`.
fn take_line(buf: &mut BytesMut) -> Result<Option<Bytes>, ReadError> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(pos) if pos > MAX_LINE => Err(ReadError::Bad("line too long")),
        Some(pos) => {
            let line = buf.split_to(pos).freeze();
            buf.advance(2);
            Ok(Some(line))
        }
        None if buf.len() > MAX_LINE => Err(ReadError::Bad("line too long")),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies() {
        let cases: &[(&str, Result<&str, ReadError>)] = &[
            ("0\r\n\r\n", Ok("")),
            ("5\r\nhello\r\n0\r\n\r\n", Ok("hello")),
            (
                "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-trailer: 1\r\n\r\n",
                Ok("abcde"),
            ),
            ("A\r\n0123456789\r\n0\r\n\r\n", Ok("0123456789")),
            ("z\r\n", Err(ReadError::Bad("bad chunk size"))),
            ("\r\n", Err(ReadError::Bad("bad chunk size"))),
            (
                "3\r\nabcd\r\n",
                Err(ReadError::Bad("chunk data longer than its size")),
            ),
            (
                "ffffffffffffffffff\r\n",
                Err(ReadError::Bad("bad chunk size")),
            ),
            ("21\r\n", Err(ReadError::BodyTooLarge)),
        ];
        for (input, want) in cases {
            // Fed whole and byte by byte: the result must not depend on the split.
            for step in [input.len(), 1] {
                let mut decoder = ChunkedDecoder::new(32);
                let mut buf = BytesMut::new();
                let mut result = Ok(false);
                for piece in input.as_bytes().chunks(step) {
                    buf.extend_from_slice(piece);
                    result = decoder.decode(&mut buf);
                    if !matches!(result, Ok(false)) {
                        break;
                    }
                }
                match (want, result) {
                    (Ok(body), Ok(true)) => assert_eq!(&decoder.body[..], body.as_bytes()),
                    (Err(want), Err(got)) => assert_eq!(want, &got, "{input:?}"),
                    (want, got) => panic!("{input:?} step {step}: want {want:?}, got {got:?}"),
                }
            }
        }
    }

    #[test]
    fn request_heads() {
        let ok = "POST /a.B/C HTTP/1.1\r\nhost: x\r\ncontent-length: 7\r\n\r\n";
        let (req, len, keep_alive, framing) = parse_head(ok.as_bytes()).unwrap().unwrap();
        assert_eq!(
            (len, keep_alive, framing),
            (ok.len(), true, Framing::Length(7))
        );
        assert_eq!(req.uri().path(), "/a.B/C");

        let close = "POST / HTTP/1.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
        let (_, _, keep_alive, framing) = parse_head(close.as_bytes()).unwrap().unwrap();
        assert_eq!((keep_alive, framing), (false, Framing::Chunked));

        let http10 = "POST / HTTP/1.0\r\n\r\n";
        assert!(!parse_head(http10.as_bytes()).unwrap().unwrap().2);

        assert!(parse_head(b"POST / HTTP/1.1\r\nhost: x\r\n")
            .unwrap()
            .is_none());
        let bad: &[(&str, ReadError)] = &[
            ("GARBAGE\r\n\r\n", ReadError::Bad("malformed request head")),
            (
                "POST * HTTP/1.1\r\n\r\n",
                ReadError::Bad("request target must be a path"),
            ),
            (
                "POST / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
                ReadError::Bad("conflicting content-length"),
            ),
            (
                "POST / HTTP/1.1\r\ncontent-length: x\r\n\r\n",
                ReadError::Bad("bad content-length"),
            ),
            (
                "POST / HTTP/1.1\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n",
                ReadError::Bad("both content-length and chunked"),
            ),
            (
                "POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
                ReadError::NotImplemented,
            ),
        ];
        for (input, want) in bad {
            assert_eq!(
                parse_head(input.as_bytes()).err().as_ref(),
                Some(want),
                "{input:?}"
            );
        }
    }
}
