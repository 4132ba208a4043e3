//! A small HTTP/1.1 server loop for gRPC-Web: one request at a time per connection
//! (keep-alive, no pipelining in parallel), bodies by `Content-Length` or chunked, responses
//! chunked and flushed chunk by chunk so server streams reach the browser as they happen.
//!
//! Anything malformed or over a limit gets a 4xx answer and the connection is closed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;
use http::{HeaderName, HeaderValue, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_util::sync::CancellationToken;

use super::BoxIo;

/// The first bytes of every HTTP/2 connection (RFC 9113 §3.4).
pub(crate) const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Limits of one connection.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Largest request head (request line and headers), bytes.
    pub(crate) max_head: usize,
    /// Largest request body, bytes.
    pub(crate) max_body: usize,
    /// How long a kept-alive connection may wait for its next request, and a request may
    /// take to arrive whole.
    pub(crate) read_timeout: Duration,
}

/// A response body: chunks to send as they come.
pub(crate) type Body = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

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

/// Why a request could not be read; each maps to the answer sent before closing.
#[derive(Debug, PartialEq, Eq)]
enum ReadError {
    /// The peer closed or the socket failed: nothing to answer.
    Closed,
    Bad(&'static str),
    HeadTooLarge,
    BodyTooLarge,
    NotImplemented,
}

impl ReadError {
    fn status(&self) -> Option<StatusCode> {
        match self {
            ReadError::Closed => None,
            ReadError::Bad(_) => Some(StatusCode::BAD_REQUEST),
            ReadError::HeadTooLarge => Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
            ReadError::BodyTooLarge => Some(StatusCode::PAYLOAD_TOO_LARGE),
            ReadError::NotImplemented => Some(StatusCode::NOT_IMPLEMENTED),
        }
    }
}

/// Serves HTTP/1.1 requests on `io` with `handle` until the peer closes, a request asks to
/// close, an error occurs, or `shutdown` fires between requests.
pub(crate) async fn serve<F, Fut>(
    io: BoxIo,
    limits: Limits,
    mut handle: F,
    shutdown: CancellationToken,
) where
    F: FnMut(http::Request<Bytes>) -> Fut,
    Fut: Future<Output = (http::Response<()>, Option<Body>)>,
{
    let mut conn = Conn {
        io,
        buf: BytesMut::with_capacity(8 * 1024),
        limits,
    };
    loop {
        let request = tokio::select! {
            // Between requests a shutdown closes the connection; a request in flight finishes.
            () = shutdown.cancelled(), if conn.buf.is_empty() => return,
            request = tokio::time::timeout(conn.limits.read_timeout, conn.read_request()) => request,
        };
        let (request, keep_alive) = match request {
            Ok(Ok(request)) => request,
            Ok(Err(err)) => {
                if let Some(code) = err.status() {
                    tracing::debug!(error = ?err, "bad http/1.1 request");
                    let _ = conn.write_error(code).await;
                }
                return;
            }
            Err(_) => return,
        };
        let (head, body) = handle(request).await;
        let keep_alive = keep_alive && !shutdown.is_cancelled();
        match conn.write_response(head, body, keep_alive).await {
            Ok(()) if keep_alive => {}
            _ => {
                let _ = conn.io.shutdown().await;
                return;
            }
        }
    }
}

struct Conn {
    io: BoxIo,
    buf: BytesMut,
    limits: Limits,
}

impl Conn {
    /// Reads more bytes into the buffer; EOF is `Closed`.
    async fn fill(&mut self) -> Result<(), ReadError> {
        match self.io.read_buf(&mut self.buf).await {
            Ok(0) | Err(_) => Err(ReadError::Closed),
            Ok(_) => Ok(()),
        }
    }

    /// The next request and whether the connection stays open after it.
    async fn read_request(&mut self) -> Result<(http::Request<Bytes>, bool), ReadError> {
        let (mut request, head_len, keep_alive, framing) = loop {
            if let Some(parsed) = parse_head(&self.buf)? {
                break parsed;
            }
            if self.buf.len() > self.limits.max_head {
                return Err(ReadError::HeadTooLarge);
            }
            self.fill().await?;
        };
        if head_len > self.limits.max_head {
            return Err(ReadError::HeadTooLarge);
        }
        self.buf.advance(head_len);
        if request
            .headers()
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
        {
            let _ = self.io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
        }
        let body = match framing {
            Framing::Length(len) => {
                if len > self.limits.max_body {
                    return Err(ReadError::BodyTooLarge);
                }
                while self.buf.len() < len {
                    self.fill().await?;
                }
                self.buf.split_to(len).freeze()
            }
            Framing::Chunked => {
                let mut decoder = ChunkedDecoder::new(self.limits.max_body);
                loop {
                    if decoder.decode(&mut self.buf)? {
                        break decoder.body.freeze();
                    }
                    self.fill().await?;
                }
            }
        };
        *request.body_mut() = body;
        Ok((request, keep_alive))
    }

    async fn write_error(&mut self, code: StatusCode) -> std::io::Result<()> {
        let mut resp = http::Response::new(());
        *resp.status_mut() = code;
        self.write_response(resp, None, false).await
    }

    /// Writes a response; with a body, chunked and flushed per chunk while watching the
    /// socket so a browser that goes away ends the call.
    async fn write_response(
        &mut self,
        head: http::Response<()>,
        body: Option<Body>,
        keep_alive: bool,
    ) -> std::io::Result<()> {
        let no_body = body.is_none() || head.status() == StatusCode::NO_CONTENT;
        let mut out = BytesMut::with_capacity(256);
        let code = head.status();
        out.extend_from_slice(
            format!(
                "HTTP/1.1 {} {}\r\n",
                code.as_u16(),
                code.canonical_reason().unwrap_or("")
            )
            .as_bytes(),
        );
        for (name, value) in head.headers() {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if no_body {
            if code != StatusCode::NO_CONTENT {
                out.extend_from_slice(b"content-length: 0\r\n");
            }
        } else {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        if !keep_alive {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        self.io.write_all(&out).await?;
        self.io.flush().await?;
        let Some(mut body) = body.filter(|_| !no_body) else {
            return Ok(());
        };
        loop {
            let next = tokio::select! {
                next = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)) => next,
                // Only EOF or an error can end this: a browser sends nothing while waiting.
                gone = self.watch_peer() => return Err(gone),
            };
            let Some(chunk) = next else { break };
            if chunk.is_empty() {
                continue;
            }
            let mut frame = BytesMut::with_capacity(chunk.len() + 16);
            frame.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            frame.extend_from_slice(&chunk);
            frame.extend_from_slice(b"\r\n");
            self.io.write_all(&frame).await?;
            self.io.flush().await?;
        }
        self.io.write_all(b"0\r\n\r\n").await?;
        self.io.flush().await
    }

    /// Reads (and keeps, up to the head limit) whatever the peer sends while a response
    /// streams; completes only when the peer has gone or sent too much.
    async fn watch_peer(&mut self) -> std::io::Error {
        loop {
            if self.buf.len() > self.limits.max_head {
                return std::io::Error::other("pipelined data over the limit");
            }
            match self.io.read_buf(&mut self.buf).await {
                Ok(0) => return std::io::ErrorKind::UnexpectedEof.into(),
                Ok(_) => {}
                Err(err) => return err,
            }
        }
    }
}

/// How a request body is delimited.
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
}

/// Parses a request head; `None` when more bytes are needed.
#[allow(clippy::type_complexity)]
fn parse_head(
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
struct ChunkedDecoder {
    body: BytesMut,
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
    fn new(limit: usize) -> Self {
        ChunkedDecoder {
            body: BytesMut::new(),
            limit,
            state: ChunkState::Size,
        }
    }

    /// Consumes what it can from `buf`; `Ok(true)` once the body is complete.
    fn decode(&mut self, buf: &mut BytesMut) -> Result<bool, ReadError> {
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
