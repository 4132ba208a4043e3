//! A small HTTP/1.1 server loop for gRPC-Web: one request at a time per connection
//! (keep-alive, no pipelining in parallel), bodies by `Content-Length` or chunked, responses
//! chunked and flushed chunk by chunk so server streams reach the browser as they happen.
//!
//! Anything malformed or over a limit gets a 4xx answer and the connection is closed.

mod parse;
mod sniff;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::BoxIo;
pub(crate) use parse::{parse_head, ChunkedDecoder};
use parse::{Framing, ReadError};
pub(crate) use sniff::{sniff, Rewind};

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
        // A browser that goes away while the call runs cancels it (the future is dropped).
        let (head, body) = tokio::select! {
            response = handle(request) => response,
            _ = conn.watch_peer() => return,
        };
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
        if let Framing::Length(len) = framing {
            // Refused before the client is invited to send it.
            if len > self.limits.max_body {
                return Err(ReadError::BodyTooLarge);
            }
        }
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
