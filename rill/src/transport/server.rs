//! Server side of an HTTP/2 connection: handshake, accepting streams, graceful shutdown.

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use tokio::time::Sleep;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::body::reset_status;
use super::http2::stream::NativeResponder;
use super::{status_from_h2, BoxIo, RecvBody, SendBody};
use crate::Status;

/// Up to three header fields, those present in order: a response's fixed gRPC fields.
pub(crate) type Fields = [Option<(http::HeaderName, http::HeaderValue)>; 3];

/// HTTP/2 settings the server announces.
#[derive(Clone, Debug)]
pub(crate) struct ConnConfig {
    pub(crate) max_concurrent_streams: Option<u32>,
    pub(crate) max_header_list_size: u32,
    pub(crate) initial_stream_window: u32,
    pub(crate) initial_connection_window: u32,
    pub(crate) max_frame_size: u32,
    pub(crate) handshake_timeout: Duration,
    /// Close (GOAWAY) a connection that has had no open stream for this long.
    pub(crate) idle_timeout: Option<Duration>,
    /// Which HTTP/2 implementation serves connections.
    pub(crate) backend: Backend,
    /// Keepalive enforcement (native backend): minimum time between client pings.
    pub(crate) keepalive_min_time: Duration,
    /// Keepalive enforcement (native backend): whether pings without streams are allowed.
    pub(crate) keepalive_permit_without_stream: bool,
    /// Native backend: drain (two-phase GOAWAY) a connection this old...
    pub(crate) max_connection_age: Option<Duration>,
    /// ...and close it this long after that, calls or not.
    pub(crate) max_connection_age_grace: Option<Duration>,
    /// Native connections open on this server (shared by the clones of one server's config).
    pub(crate) open_connections: Arc<std::sync::atomic::AtomicUsize>,
}

/// The HTTP/2 implementation behind a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    H2,
    Native,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            max_concurrent_streams: Some(1024),
            max_header_list_size: 16 * 1024,
            initial_stream_window: 1024 * 1024,
            initial_connection_window: 2 * 1024 * 1024,
            max_frame_size: 16 * 1024,
            handshake_timeout: Duration::from_secs(20),
            idle_timeout: None,
            backend: Backend::Native,
            keepalive_min_time: Duration::from_secs(5 * 60),
            keepalive_permit_without_stream: false,
            max_connection_age: None,
            max_connection_age_grace: None,
            open_connections: Arc::default(),
        }
    }
}

/// What is known about a connection's peer, shared by all its streams.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnectionInfo {
    pub(crate) remote_addr: Option<SocketAddr>,
    /// The client's certificate chain and names, on an mTLS connection.
    #[cfg(feature = "tls")]
    pub(crate) peer_identity: Option<Arc<crate::tls::PeerIdentity>>,
}

/// What the transport hands the server for each new stream.
pub(crate) struct IncomingStream {
    pub(crate) head: http::request::Parts,
    pub(crate) body: RecvBody,
    pub(crate) responder: Responder,
    pub(crate) info: ConnectionInfo,
}

/// Called once per accepted stream; the returned future runs as its own task.
pub(crate) type StreamHandler =
    Arc<dyn Fn(IncomingStream) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Sends the response head of one stream.
pub(crate) enum Responder {
    H2(h2::server::SendResponse<Bytes>),
    Native(NativeResponder),
}

impl Responder {
    pub(crate) fn native(inner: NativeResponder) -> Self {
        Responder::Native(inner)
    }

    /// Sends response headers and returns the body sender.
    pub(crate) fn send_headers(&mut self, head: http::Response<()>) -> Result<SendBody, Status> {
        match self {
            Responder::H2(inner) => inner
                .send_response(head, false)
                .map(SendBody::new)
                .map_err(status_from_h2),
            Responder::Native(inner) => inner.send_headers(head).map(SendBody::native),
        }
    }

    /// Whether [`send_unary`](Self::send_unary) is available: the native transport sends
    /// headers, message and trailers as one unit.
    pub(crate) fn sends_unary_at_once(&self) -> bool {
        matches!(self, Responder::Native(_))
    }

    /// A unary OK response without custom metadata, where
    /// [`sends_unary_at_once`](Self::sends_unary_at_once): HTTP 200 with `fields` (gRPC's
    /// fixed response fields, those present), the message, and `grpc-status: 0`, without
    /// building header maps.
    pub(crate) fn send_unary_ok(&mut self, fields: Fields, data: Bytes) -> Result<(), Status> {
        match self {
            Responder::H2(_) => Err(Status::internal("h2 sends a unary response in parts")),
            Responder::Native(inner) => inner.send_unary_ok(fields, data),
        }
    }

    /// The whole response of a unary call at once (native transport; h2 sends the parts in
    /// turn without waiting for flow control).
    pub(crate) fn send_unary(
        &mut self,
        head: http::Response<()>,
        data: Bytes,
        trailers: http::HeaderMap,
    ) -> Result<(), Status> {
        match self {
            Responder::H2(inner) => {
                let mut send = inner.send_response(head, false).map_err(status_from_h2)?;
                send.send_data(data, false).map_err(status_from_h2)?;
                send.send_trailers(trailers).map_err(status_from_h2)
            }
            Responder::Native(inner) => inner.send_unary(head, data, trailers),
        }
    }

    /// Sends headers that end the stream: a Trailers-Only gRPC response or a plain HTTP error.
    pub(crate) fn send_final(&mut self, head: http::Response<()>) -> Result<(), Status> {
        match self {
            Responder::H2(inner) => inner
                .send_response(head, true)
                .map(drop)
                .map_err(status_from_h2),
            Responder::Native(inner) => inner.send_final(head),
        }
    }

    /// Ready when the client resets the stream before response headers are sent.
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<Status> {
        match self {
            Responder::H2(inner) => match ready!(inner.poll_reset(cx)) {
                Ok(reason) => Poll::Ready(reset_status(reason)),
                Err(err) => Poll::Ready(status_from_h2(err)),
            },
            Responder::Native(inner) => inner.poll_reset(cx),
        }
    }
}

/// Serves one connection until the peer closes it or `shutdown` fires and in-flight streams end.
pub(crate) async fn serve_connection(
    io: BoxIo,
    config: &ConnConfig,
    info: ConnectionInfo,
    handler: StreamHandler,
    shutdown: CancellationToken,
) {
    if config.backend == Backend::Native {
        return super::http2::serve(io, config, info, handler, shutdown).await;
    }
    let mut builder = h2::server::Builder::new();
    builder
        .max_header_list_size(config.max_header_list_size)
        .initial_window_size(config.initial_stream_window)
        .initial_connection_window_size(config.initial_connection_window)
        .max_frame_size(config.max_frame_size);
    if let Some(n) = config.max_concurrent_streams {
        builder.max_concurrent_streams(n);
    }
    let handshake = tokio::time::timeout(config.handshake_timeout, builder.handshake(io));
    let mut conn = match handshake.await {
        Ok(Ok(conn)) => conn,
        Ok(Err(err)) => {
            tracing::debug!(remote_addr = ?info.remote_addr, error = %err, "http/2 handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(remote_addr = ?info.remote_addr, "http/2 handshake timed out");
            return;
        }
    };

    let mut draining = false;
    let mut shutdown_signal = std::pin::pin!(shutdown.cancelled_owned());
    let activity = Activity::default();
    let mut idle = config
        .idle_timeout
        .map(|d| (d, Box::pin(tokio::time::sleep(d))));
    loop {
        let next = poll_fn(|cx| {
            if !draining && shutdown_signal.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Some(Event::Shutdown));
            }
            if !draining {
                if let Some((limit, sleep)) = idle.as_mut() {
                    if activity.idle_for(*limit, sleep, cx) {
                        tracing::debug!(remote_addr = ?info.remote_addr, "closing idle connection");
                        return Poll::Ready(Some(Event::Idle));
                    }
                }
            }
            conn.poll_accept(cx).map(|next| next.map(Event::Stream))
        })
        .await;
        match next {
            // Shutdown: GOAWAY now, keep driving the connection until streams end.
            Some(Event::Shutdown) => {
                draining = true;
                conn.graceful_shutdown();
            }
            // Idle: no stream to wait for, and the peer need not cooperate (ack our PING).
            Some(Event::Idle) => {
                draining = true;
                conn.abrupt_shutdown(h2::Reason::NO_ERROR);
            }
            Some(Event::Stream(Ok((request, respond)))) => {
                let (head, body) = request.into_parts();
                let stream = IncomingStream {
                    head,
                    body: RecvBody::new(body),
                    responder: Responder::H2(respond),
                    info: info.clone(),
                };
                let guard = activity.start();
                let call = handler(stream);
                tokio::spawn(async move {
                    call.await;
                    drop(guard);
                });
            }
            Some(Event::Stream(Err(err))) => {
                tracing::debug!(remote_addr = ?info.remote_addr, error = %err, "http/2 connection error");
                break;
            }
            None => break,
        }
    }
}

/// What woke the connection loop.
enum Event<T> {
    Stream(T),
    Shutdown,
    Idle,
}

/// Open streams of a connection and when the last one ended, for the idle timeout.
#[derive(Clone, Default)]
struct Activity {
    inner: Arc<std::sync::Mutex<(usize, Option<Instant>)>>,
}

/// Marks one stream open until dropped.
struct StreamGuard(Activity);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if let Ok(mut state) = self.0.inner.lock() {
            state.0 = state.0.saturating_sub(1);
            if state.0 == 0 {
                state.1 = Some(Instant::now());
            }
        }
    }
}

impl Activity {
    fn start(&self) -> StreamGuard {
        if let Ok(mut state) = self.inner.lock() {
            state.0 += 1;
        }
        StreamGuard(self.clone())
    }

    /// Whether the connection has had no stream for `limit`; otherwise re-arms `sleep` for
    /// the earliest moment it could be.
    fn idle_for(&self, limit: Duration, sleep: &mut Pin<Box<Sleep>>, cx: &mut Context<'_>) -> bool {
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return false;
            }
            let (open, last_end) = self.inner.lock().map(|s| *s).unwrap_or((1, None));
            let now = Instant::now();
            let idle_since = match (open, last_end) {
                (0, Some(t)) => t,
                // Never had a stream: idle since the sleep was first armed.
                (0, None) => return true,
                _ => now,
            };
            if now.duration_since(idle_since) >= limit {
                return true;
            }
            sleep.as_mut().reset((idle_since + limit).into());
        }
    }
}
