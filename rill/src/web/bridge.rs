//! The in-process hop: a gRPC-Web call becomes an ordinary gRPC call on an in-memory HTTP/2
//! connection to the server's own call path, and the answer's DATA and trailers become the
//! gRPC-Web body.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::Method;
use tokio_util::sync::CancellationToken;

use super::codec::{self, Mode};
use super::Web;
use crate::transport::client::{self, Connection};
use crate::transport::server::{serve_connection, ConnectionInfo};
use crate::transport::{BoxIo, RecvBody};
use crate::Status;

/// An in-process HTTP/2 connection to the server's own call path, opened on first use and
/// carrying the real connection's peer information.
pub(crate) struct Bridge {
    web: Arc<Web>,
    info: ConnectionInfo,
    connection: std::sync::Mutex<Option<Connection>>,
}

impl Bridge {
    pub(crate) fn new(web: Arc<Web>, info: ConnectionInfo) -> Bridge {
        Bridge {
            web,
            info,
            connection: std::sync::Mutex::new(None),
        }
    }

    pub(super) async fn connection(&self) -> Result<Connection, Status> {
        let open = self
            .connection
            .lock()
            .ok()
            .and_then(|c| c.as_ref().filter(|c| !c.is_closed()).cloned());
        if let Some(connection) = open {
            return Ok(connection);
        }
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let (config, info, handler) = (
            self.web.bridge_conn.clone(),
            self.info.clone(),
            self.web.native.clone(),
        );
        // Ends when the client half is dropped (the real connection is done).
        tokio::spawn(async move {
            let io: BoxIo = Box::new(server_io);
            serve_connection(io, &config, info, handler, CancellationToken::new()).await;
        });
        let client_config = client::ConnConfig {
            max_header_list_size: self.web.bridge_conn.max_header_list_size,
            ..client::ConnConfig::default()
        };
        // No keepalive (in-memory pipe) and no balancer reading its call counts.
        let stats = Default::default();
        let connection =
            Connection::handshake(Box::new(client_io), &client_config, None, stats).await?;
        if let Ok(mut slot) = self.connection.lock() {
            *slot = Some(connection.clone());
        }
        Ok(connection)
    }
}

/// Headers that belong to one HTTP hop (or that the translation sets itself).
fn is_hop_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "host"
            | "expect"
            | "http2-settings"
            | "content-length"
            | "content-type"
    )
}

/// The native gRPC request head for a gRPC-Web request: same path and metadata.
pub(super) fn bridge_request(head: &http::request::Parts) -> http::Request<()> {
    let authority = head
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            head.headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let path = head.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = format!("http://{authority}{path}")
        .parse()
        .or_else(|_| format!("http://localhost{path}").parse())
        .unwrap_or_else(|_| http::Uri::from_static("http://localhost/"));
    let mut request = http::Request::new(());
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    for (name, value) in &head.headers {
        if !is_hop_header(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::server::GRPC_CONTENT_TYPE),
    );
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    request
}

enum State {
    Data,
    Trailers,
    Done,
}

/// The body of a gRPC-Web response: the native response's DATA as it arrives, then its
/// trailers as a 0x80 frame; in `-text` mode each chunk is base64 on its own.
pub(super) struct ResponseFrames {
    mode: Mode,
    recv: RecvBody,
    state: State,
    /// Keeps the in-memory connection up while the body streams.
    _connection: Connection,
}

impl ResponseFrames {
    pub(super) fn new(mode: Mode, recv: RecvBody, connection: Connection) -> Self {
        ResponseFrames {
            mode,
            recv,
            state: State::Data,
            _connection: connection,
        }
    }
}

impl Stream for ResponseFrames {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = &mut *self;
        loop {
            match this.state {
                State::Data => match std::task::ready!(this.recv.poll_data(cx)) {
                    Some(Ok(chunk)) if chunk.is_empty() => continue,
                    Some(Ok(chunk)) => return Poll::Ready(Some(this.mode.encode_chunk(chunk))),
                    // The native side failed mid-stream: the client still gets a status.
                    Some(Err(status)) => {
                        this.state = State::Done;
                        return Poll::Ready(Some(this.status_frame(&status)));
                    }
                    None => this.state = State::Trailers,
                },
                State::Trailers => {
                    let trailers = std::task::ready!(this.recv.poll_trailers(cx));
                    this.state = State::Done;
                    let frame = match trailers {
                        Ok(Some(map)) => codec::encode_trailers(&map),
                        Ok(None) => {
                            let status = Status::internal("server sent no trailers");
                            return Poll::Ready(Some(this.status_frame(&status)));
                        }
                        Err(status) => return Poll::Ready(Some(this.status_frame(&status))),
                    };
                    return Poll::Ready(Some(this.mode.encode_chunk(frame)));
                }
                State::Done => return Poll::Ready(None),
            }
        }
    }
}

impl ResponseFrames {
    fn status_frame(&self, status: &Status) -> Bytes {
        let mut map = HeaderMap::new();
        status.add_to_headers(&mut map);
        self.mode.encode_chunk(codec::encode_trailers(&map))
    }
}
