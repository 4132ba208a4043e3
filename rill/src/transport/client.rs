//! Client side of an HTTP/2 connection: handshake, opening streams, connection liveness
//! (keepalive pings, gRFC A8).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::http2::client::{NativeClient, NativePending};
use super::{status_from_h2, BoxIo, RecvBody, SendBody};
use crate::balancer::{CallGuard, CallStats};
use crate::Status;

/// How the client's connections behave: HTTP/2 settings, keepalive, pooling, health checks
/// and the channel's idle timeout.
#[derive(Clone, Debug)]
pub(crate) struct ConnConfig {
    pub(crate) initial_stream_window: u32,
    pub(crate) initial_connection_window: u32,
    pub(crate) max_header_list_size: u32,
    /// KEEPALIVE_TIME: ping this often (`None`: never).
    pub(crate) keepalive_time: Option<Duration>,
    /// KEEPALIVE_TIMEOUT: close the connection if a ping is not answered within this.
    pub(crate) keepalive_timeout: Duration,
    /// Ping even while no call is in flight.
    pub(crate) keepalive_while_idle: bool,
    /// Connections each subchannel keeps open (pooling).
    pub(crate) connections_per_address: usize,
    /// The channel goes IDLE after this long without calls (`None`: never).
    pub(crate) idle_timeout: Option<Duration>,
    /// Client-side health checking: the service name to watch (`""` is the whole server).
    pub(crate) health_check_service: Option<String>,
    /// rill's own HTTP/2 connection (`true`) or the `h2` crate's.
    pub(crate) native: bool,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            initial_stream_window: 1024 * 1024,
            initial_connection_window: 2 * 1024 * 1024,
            max_header_list_size: 16 * 1024,
            keepalive_time: None,
            keepalive_timeout: Duration::from_secs(20),
            keepalive_while_idle: false,
            connections_per_address: 1,
            idle_timeout: Some(Duration::from_secs(30 * 60)),
            health_check_service: None,
            native: true,
        }
    }
}

/// Per-connection DATA frame overhead budget (bytes), see `Connection::handshake`.
const DATA_FRAME_BUDGET: usize = 16 * 1024 * 1024;

/// One HTTP/2 connection; cheap to clone, shared by all calls of a channel.
#[derive(Clone, Debug)]
pub(crate) struct Connection {
    link: Link,
    /// Cancelled when the connection has ended (or cannot open streams any more).
    closed: CancellationToken,
    /// Streams in flight on this connection.
    in_flight: Arc<AtomicUsize>,
    /// The subchannel's call counters.
    stats: Arc<CallStats>,
    /// The server closed the connection with GOAWAY ENHANCE_YOUR_CALM: we pinged too often.
    too_many_pings: Arc<AtomicBool>,
}

/// The HTTP/2 implementation under a connection.
#[derive(Clone, Debug)]
enum Link {
    H2 {
        send: h2::client::SendRequest<Bytes>,
        /// Dropped with the last clone: tells the driver to let the connection close.
        _handles: Arc<tokio_util::sync::DropGuard>,
    },
    Native(NativeClient),
}

impl Connection {
    /// Performs the HTTP/2 handshake over `io` and drives the connection in a background task,
    /// pinging every `keepalive_time` if set.
    pub(crate) async fn handshake(
        io: BoxIo,
        config: &ConnConfig,
        keepalive_time: Option<Duration>,
        stats: Arc<CallStats>,
    ) -> Result<Connection, Status> {
        if config.native {
            let client = NativeClient::connect(io, config, keepalive_time).await?;
            return Ok(Connection {
                closed: client.closed.clone(),
                too_many_pings: client.too_many_pings.clone(),
                link: Link::Native(client),
                in_flight: Arc::new(AtomicUsize::new(0)),
                stats,
            });
        }
        Self::h2_handshake(io, config, keepalive_time, stats).await
    }

    async fn h2_handshake(
        io: BoxIo,
        config: &ConnConfig,
        keepalive_time: Option<Duration>,
        stats: Arc<CallStats>,
    ) -> Result<Connection, Status> {
        let (send, mut conn) = h2::client::Builder::new()
            .initial_window_size(config.initial_stream_window)
            .initial_connection_window_size(config.initial_connection_window)
            .max_header_list_size(config.max_header_list_size)
            // h2 charges each small DATA frame against a budget and refunds it only when the
            // frame is read; frames a server sends after we cancel a stream are charged and
            // never refunded, so cancelling fast small-message streams would end the
            // connection (ENHANCE_YOUR_CALM "too_many_data_frames"). A larger budget keeps
            // the guard (bounded per-frame overhead, ~64k tiny frames) without that failure.
            .data_frame_budget(DATA_FRAME_BUDGET)
            .enable_push(false)
            .handshake::<_, Bytes>(io)
            .await
            .map_err(|e| Status::unavailable(format!("http/2 handshake failed: {e}")))?;
        let closed = CancellationToken::new();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let too_many_pings = Arc::new(AtomicBool::new(false));
        let pinger = keepalive_time.and_then(|time| Some((time, conn.ping_pong()?)));
        let (flag, calm) = (closed.clone(), too_many_pings.clone());
        let unused = CancellationToken::new();
        let handles = Arc::new(unused.clone().drop_guard());
        let mut probe = Some(send.clone());
        let driver = tokio::spawn(async move {
            let note = |err: &h2::Error| {
                if err.is_go_away() && err.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM) {
                    calm.store(true, Ordering::Relaxed);
                }
            };
            // A GOAWAY does not end the h2 connection while streams or handles remain: after
            // each poll, a probe handle asks whether new streams are still allowed, so that
            // the subchannel moves on at once while calls in flight finish here. The probe
            // is dropped when the last `Connection` is, letting the connection close.
            let mut conn = std::pin::pin!(conn);
            let mut unused = std::pin::pin!(unused.cancelled());
            let result = std::future::poll_fn(|cx| {
                if probe.is_some() && unused.as_mut().poll(cx).is_ready() {
                    probe = None;
                }
                let polled = conn.as_mut().poll(cx);
                // Also when the connection has just ended: its GOAWAY says why.
                if let Some(Poll::Ready(Err(err))) = probe.as_mut().map(|p| p.poll_ready(cx)) {
                    note(&err);
                    tracing::debug!(error = %err, "server sent GOAWAY: no new calls here");
                    flag.cancel();
                    probe = None;
                }
                polled
            })
            .await;
            if let Err(err) = result {
                note(&err);
                tracing::debug!(error = %err, "client connection ended");
            }
            flag.cancel();
        });
        if let Some((time, pinger)) = pinger {
            let keepalive = Keepalive {
                time,
                timeout: config.keepalive_timeout,
                while_idle: config.keepalive_while_idle,
                in_flight: in_flight.clone(),
            };
            tokio::spawn(keepalive.run(pinger, closed.clone(), driver));
        }
        Ok(Connection {
            link: Link::H2 {
                send,
                _handles: handles,
            },
            closed,
            in_flight,
            stats,
            too_many_pings,
        })
    }

    /// Whether the connection has ended (a new one is needed).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Completes when the connection has ended.
    pub(crate) async fn closed(&self) {
        self.closed.cancelled().await
    }

    /// Streams in flight on this connection.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Whether the server ended the connection because we pinged too often.
    pub(crate) fn ended_for_too_many_pings(&self) -> bool {
        self.too_many_pings.load(Ordering::Relaxed)
    }

    /// Opens a stream: sends the request headers and returns the body sender and the response.
    pub(crate) async fn start_call(
        &self,
        head: http::Request<()>,
    ) -> Result<(SendBody, PendingResponse), Status> {
        let (send, pending, _) = self.open(head, None, true).await?;
        Ok((send, pending))
    }

    /// Opens a stream whose whole request body is `body`, if given: rill's own connection
    /// sends the head, the body and END_STREAM as one unit; otherwise the body comes back,
    /// for the caller to send.
    pub(crate) async fn start_call_with(
        &self,
        head: http::Request<()>,
        body: Option<Bytes>,
    ) -> Result<(SendBody, PendingResponse, Option<Bytes>), Status> {
        self.open(head, body, true).await
    }

    /// Opens a stream of the channel's own (a health check): not counted as a call by load
    /// balancing or the idle timeout.
    pub(crate) async fn start_internal_call(
        &self,
        head: http::Request<()>,
    ) -> Result<(SendBody, PendingResponse), Status> {
        let (send, pending, _) = self.open(head, None, false).await?;
        Ok((send, pending))
    }

    async fn open(
        &self,
        head: http::Request<()>,
        body: Option<Bytes>,
        is_call: bool,
    ) -> Result<(SendBody, PendingResponse, Option<Bytes>), Status> {
        let stats = is_call.then(|| self.stats.clone());
        let call = CallGuard::new(stats, self.in_flight.clone());
        let send = match &self.link {
            Link::H2 { send, .. } => send,
            Link::Native(client) => {
                let end = body.is_some();
                return match client.open(head, body, end) {
                    Ok((send, pending)) => Ok((
                        SendBody::native(send),
                        PendingResponse {
                            inner: Pending::Native(pending),
                            call,
                        },
                        None,
                    )),
                    Err(status) => {
                        call.failed(&status);
                        Err(status)
                    }
                };
            }
        };
        let mut send = match send.clone().ready().await {
            Ok(send) => send,
            Err(e) => {
                self.closed.cancel();
                let status = status_from_h2(e);
                call.failed(&status);
                return Err(status);
            }
        };
        let (response, stream) = match send.send_request(head, false) {
            Ok(sent) => sent,
            Err(e) => {
                let status = status_from_h2(e);
                call.failed(&status);
                return Err(status);
            }
        };
        let pending = PendingResponse {
            inner: Pending::H2(response),
            call,
        };
        Ok((SendBody::new(stream), pending, body))
    }
}

/// Pings the server every `time`; closes the connection when a ping goes unanswered for
/// `timeout` (grpc/grpc `doc/keepalive.md`).
struct Keepalive {
    time: Duration,
    timeout: Duration,
    while_idle: bool,
    in_flight: Arc<AtomicUsize>,
}

impl Keepalive {
    async fn run(
        self,
        mut pinger: h2::PingPong,
        closed: CancellationToken,
        driver: tokio::task::JoinHandle<()>,
    ) {
        loop {
            tokio::select! {
                _ = closed.cancelled() => return,
                _ = tokio::time::sleep(self.time) => {}
            }
            if !self.while_idle && self.in_flight.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let ping = pinger.ping(h2::Ping::opaque());
            tokio::select! {
                _ = closed.cancelled() => return,
                answer = tokio::time::timeout(self.timeout, ping) => match answer {
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) => return, // the connection is ending anyway
                    Err(_) => {
                        tracing::debug!(timeout = ?self.timeout, "keepalive ping unanswered: closing the connection");
                        // Dropping the connection fails its streams with UNAVAILABLE.
                        driver.abort();
                        closed.cancel();
                        return;
                    }
                },
            }
        }
    }
}

/// The response head of a stream, not yet received.
#[derive(Debug)]
pub(crate) struct PendingResponse {
    inner: Pending,
    call: CallGuard,
}

enum Pending {
    H2(h2::client::ResponseFuture),
    Native(NativePending),
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

impl PendingResponse {
    /// Waits for the response headers.
    pub(crate) async fn head(self) -> Result<(http::response::Parts, RecvBody), Status> {
        let call = self.call;
        let (head, body) = match self.inner {
            Pending::H2(response) => match response.await {
                Ok(response) => {
                    let (head, body) = response.into_parts();
                    (head, RecvBody::new(body))
                }
                Err(e) => {
                    let status = status_from_h2(e);
                    call.failed(&status);
                    return Err(status);
                }
            },
            Pending::Native(mut pending) => {
                match std::future::poll_fn(|cx| pending.recv.poll_head(cx)).await {
                    Ok(head) => (head, RecvBody::native(pending.recv)),
                    Err(status) => {
                        call.failed(&status);
                        return Err(status);
                    }
                }
            }
        };
        if head.headers.contains_key("grpc-status") {
            // Trailers-Only: the call has ended.
            call.trailers(&head.headers);
            return Ok((head, body));
        }
        Ok((head, body.tracked(call)))
    }
}
