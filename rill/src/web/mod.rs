//! gRPC-Web: browsers calling the server directly, over HTTP/1.1 or HTTP/2, on the same port
//! as native gRPC ([PROTOCOL-WEB](https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md)).
//!
//! Enabled with [`Server::accept_grpc_web`](crate::server::Server::accept_grpc_web) or
//! [`Server::grpc_web_config`](crate::server::Server::grpc_web_config). A gRPC-Web call is
//! translated in process into an ordinary gRPC call on an in-memory HTTP/2 connection to the
//! server's own call path, so routing, interceptors, layers, deadlines, limits and
//! compression all apply exactly as for native clients; the answer is translated back:
//! response headers become the HTTP response head, messages go out as they come (base64 per
//! chunk in `-text` mode), and the trailers become the final `0x80` frame of the body.
//! Unary and server-streaming calls are served (browsers cannot stream requests).
//!
//! ```no_run
//! # async fn run(svc: impl rill::server::Service) -> Result<(), rill::Error> {
//! rill::server::Server::builder()
//!     .accept_grpc_web(true)
//!     .add_service(svc)
//!     .serve("127.0.0.1:8080".parse().unwrap())
//!     .await
//! # }
//! ```

mod bridge;
pub(crate) mod codec;
mod cors;

use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::header::{self, HeaderValue};
use http::{Method, Response, StatusCode};
use tokio_util::sync::CancellationToken;

pub use cors::GrpcWebConfig;

use crate::transport::server::StreamHandler;
use crate::transport::server::{serve_connection, ConnConfig, ConnectionInfo, IncomingStream};
use crate::transport::{http1, BoxIo, RecvBody};
use crate::Status;
pub(crate) use bridge::Bridge;
use bridge::{bridge_request, ResponseFrames};
use codec::Mode;

/// A response body: chunks ready for the wire.
pub(crate) type WebBody = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// A response to a gRPC-Web (or CORS) request: the head, and a body unless it has none.
pub(crate) struct WebResponse {
    pub(crate) head: Response<()>,
    pub(crate) body: Option<WebBody>,
}

/// What every connection needs to serve gRPC-Web.
pub(crate) struct Web {
    config: GrpcWebConfig,
    /// The server's native handler, which serves the translated calls.
    native: StreamHandler,
    /// Settings of the in-memory connections to the native handler.
    bridge_conn: ConnConfig,
    /// Largest request body accepted (a base64 body of the largest message).
    pub(crate) max_body: usize,
}

impl Web {
    pub(crate) fn new(
        config: GrpcWebConfig,
        native: StreamHandler,
        conn: &ConnConfig,
        max_message: usize,
    ) -> Arc<Web> {
        let mut bridge_conn = conn.clone();
        bridge_conn.idle_timeout = None;
        Arc::new(Web {
            config,
            native,
            bridge_conn,
            max_body: max_message.saturating_add(5).saturating_mul(4) / 3 + 1024,
        })
    }

    /// A stream handler for one HTTP/2 connection: gRPC-Web and CORS requests are served
    /// through `bridge` (shared by the connection's streams), everything else goes to the
    /// native handler.
    fn h2_handler(self: &Arc<Self>, bridge: Arc<Bridge>) -> StreamHandler {
        let web = self.clone();
        Arc::new(move |stream: IncomingStream| {
            let is_web = stream.head.method == Method::OPTIONS
                || stream
                    .head
                    .headers
                    .get(header::CONTENT_TYPE)
                    .is_some_and(|v| codec::is_grpc_web_content_type(v.as_bytes()));
            if is_web {
                Box::pin(web.clone().serve_h2_stream(bridge.clone(), stream))
            } else {
                (web.native)(stream)
            }
        })
    }

    /// Serves one accepted connection: HTTP/2 (native gRPC and gRPC-Web) or HTTP/1.1
    /// (gRPC-Web), told apart by the first bytes.
    pub(crate) async fn serve_connection(
        self: Arc<Self>,
        mut io: BoxIo,
        conn: &ConnConfig,
        info: ConnectionInfo,
        shutdown: CancellationToken,
    ) {
        let (is_h2, prefix) = match http1::sniff(&mut io, conn.handshake_timeout).await {
            Ok(sniffed) => sniffed,
            Err(err) => {
                tracing::debug!(remote_addr = ?info.remote_addr, error = %err, "no request");
                return;
            }
        };
        let io: BoxIo = Box::new(http1::Rewind::new(prefix, io));
        let bridge = Arc::new(Bridge::new(self.clone(), info.clone()));
        if is_h2 {
            let handler = self.h2_handler(bridge);
            serve_connection(io, conn, info, handler, shutdown).await;
            return;
        }
        let limits = http1::Limits {
            max_head: conn.max_header_list_size as usize,
            max_body: self.max_body,
            read_timeout: conn.handshake_timeout,
        };
        let handle = move |request: http::Request<Bytes>| {
            let (web, bridge) = (self.clone(), bridge.clone());
            async move {
                let response = web.handle(&bridge, request).await;
                (response.head, response.body)
            }
        };
        http1::serve(io, limits, handle, shutdown).await;
    }

    /// One gRPC-Web request that arrived as an HTTP/2 stream.
    async fn serve_h2_stream(self: Arc<Self>, bridge: Arc<Bridge>, stream: IncomingStream) {
        let IncomingStream {
            head,
            mut body,
            mut responder,
            ..
        } = stream;
        let body = match read_body(&mut body, self.max_body).await {
            Ok(body) => body,
            Err(code) => {
                let _ = responder.send_final(plain(code));
                return;
            }
        };
        let response = self
            .handle(&bridge, http::Request::from_parts(head, body))
            .await;
        let Some(mut chunks) = response.body else {
            let _ = responder.send_final(response.head);
            return;
        };
        let Ok(mut send) = responder.send_headers(response.head) else {
            return;
        };
        loop {
            let next = tokio::select! {
                next = std::future::poll_fn(|cx| chunks.as_mut().poll_next(cx)) => next,
                // The browser went away: dropping the body cancels the call.
                _ = std::future::poll_fn(|cx| send.poll_reset(cx)) => return,
            };
            match next {
                Some(chunk) => {
                    if send.send_data(chunk, false).await.is_err() {
                        return;
                    }
                }
                None => break,
            }
        }
        let _ = send.finish();
    }

    /// Serves one request: CORS checks and preflight, then the call through `bridge`.
    pub(crate) async fn handle(
        &self,
        bridge: &Bridge,
        request: http::Request<Bytes>,
    ) -> WebResponse {
        let (head, body) = request.into_parts();
        let origin = head.headers.get(header::ORIGIN).cloned();
        if let Some(origin) = &origin {
            if !self.config.origin_allowed(origin) {
                return empty(plain(StatusCode::FORBIDDEN));
            }
        }
        if head.method == Method::OPTIONS {
            let resp = match &origin {
                Some(origin) => self.config.preflight(origin, &head.headers),
                None => {
                    let mut resp = plain(StatusCode::NO_CONTENT);
                    resp.headers_mut()
                        .insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
                    resp
                }
            };
            return empty(resp);
        }
        let mut response = self.call(bridge, head, body).await;
        if let Some(origin) = &origin {
            self.config
                .add_response_headers(origin, response.head.headers_mut());
        }
        response
    }

    /// A POST carrying a gRPC-Web call.
    async fn call(&self, bridge: &Bridge, head: http::request::Parts, body: Bytes) -> WebResponse {
        if head.method != Method::POST {
            let mut resp = plain(StatusCode::METHOD_NOT_ALLOWED);
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
            return empty(resp);
        }
        let Some(mode) = head
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| Mode::from_content_type(v.as_bytes()))
        else {
            return empty(plain(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        };
        let body = match mode {
            Mode::Binary => body,
            Mode::Text => match codec::decode_text(&body) {
                Ok(body) => body,
                Err(err) => return trailers_only(mode, &Status::internal(err.to_string())),
            },
        };
        // The response is text when the request is, or when the client asks for it with
        // `Accept: application/grpc-web-text` (PROTOCOL-WEB, "Text-encoded streams").
        let wants_text = head
            .headers
            .get_all(header::ACCEPT)
            .iter()
            .any(|v| v.as_bytes().starts_with(b"application/grpc-web-text"));
        let mode = if wants_text { Mode::Text } else { mode };
        let connection = match bridge.connection().await {
            Ok(connection) => connection,
            Err(status) => return trailers_only(mode, &status),
        };
        let (mut send, pending) = match connection.start_call(bridge_request(&head)).await {
            Ok(call) => call,
            Err(status) => return trailers_only(mode, &status),
        };
        if let Err(status) = send.send_data(body, true).await {
            return trailers_only(mode, &status);
        }
        let (parts, recv) = match pending.head().await {
            Ok(response) => response,
            Err(status) => return trailers_only(mode, &status),
        };
        let mut resp = Response::new(());
        *resp.status_mut() = parts.status;
        *resp.headers_mut() = parts.headers;
        if parts.status != StatusCode::OK {
            return empty(resp);
        }
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(mode.content_type()),
        );
        // Trailers-Only: the status is in the headers and nothing follows (PROTOCOL-WEB keeps
        // this form; clients read grpc-status from the head).
        if resp.headers().contains_key("grpc-status") {
            return empty(resp);
        }
        let frames = ResponseFrames::new(mode, recv, connection);
        WebResponse {
            head: resp,
            body: Some(Box::pin(frames)),
        }
    }
}

/// Reads a whole HTTP/2 request body, up to `limit` bytes (413 beyond).
async fn read_body(body: &mut RecvBody, limit: usize) -> Result<Bytes, StatusCode> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = std::future::poll_fn(|cx| body.poll_data(cx)).await {
        let chunk = chunk.map_err(|_| StatusCode::BAD_REQUEST)?;
        if buf.len() + chunk.len() > limit {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn plain(code: StatusCode) -> Response<()> {
    let mut resp = Response::new(());
    *resp.status_mut() = code;
    resp
}

fn empty(head: Response<()>) -> WebResponse {
    WebResponse { head, body: None }
}

/// A Trailers-Only answer for a call that failed before reaching the server's call path.
fn trailers_only(mode: Mode, status: &Status) -> WebResponse {
    let mut resp = Response::new(());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(mode.content_type()),
    );
    status.add_to_headers(resp.headers_mut());
    empty(resp)
}
