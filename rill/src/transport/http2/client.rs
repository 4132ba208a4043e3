//! rill's own HTTP/2 client connection: one task owns the connection (as on the server), the
//! calls talk to it over one channel, and a unary request (head, message, END_STREAM) is a
//! single command written with the other calls' frames in one write.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

use super::conn::TURN_BUDGET;
use super::frame::{self, Reason};
use super::hpack::{self, Head};
use super::output::{Output, RecvCredit, StreamMap, StreamState, Written, WRITE_HIGH};
use super::read::ReadSize;
use super::stream::{Command, CommandTx, NativeRecv, NativeSend, Shared};
use crate::transport::client::ConnConfig;
use crate::transport::BoxIo;
use crate::Status;

/// The highest stream id a client may use (RFC 9113 §5.1.1).
const MAX_STREAM_ID: u32 = (1 << 31) - 1;
const KEEPALIVE_PING: [u8; 8] = *b"rill-kap";

/// Opens streams on a native client connection; cheap to clone.
#[derive(Clone)]
pub(crate) struct NativeClient {
    /// Stream ids are taken and the Open command sent under one lock, so the connection
    /// task sees streams in id order (RFC 9113 §5.1.1: ids must increase).
    opener: Arc<Mutex<Opener>>,
    pub(crate) closed: CancellationToken,
    pub(crate) too_many_pings: Arc<AtomicBool>,
}

impl std::fmt::Debug for NativeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeClient").finish_non_exhaustive()
    }
}

struct Opener {
    next_id: u32,
    tx: CommandTx,
}

/// A client stream whose response head has not arrived yet.
pub(crate) struct NativePending {
    pub(crate) recv: NativeRecv,
}

impl NativeClient {
    /// Starts the connection task over `io` (the preface and SETTINGS go out at once),
    /// pinging every `keepalive_time` if set. Ready once the server's SETTINGS arrive (as in
    /// grpc-go: a peer that answers anything else never makes the subchannel READY).
    pub(crate) async fn connect(
        io: BoxIo,
        config: &ConnConfig,
        keepalive_time: Option<Duration>,
    ) -> Result<NativeClient, Status> {
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        let client = Self::start(io, config, keepalive_time, ready_tx);
        match ready.await {
            Ok(Ok(())) => Ok(client),
            Ok(Err(status)) => Err(status),
            Err(_) => Err(Status::unavailable("http/2 handshake failed")),
        }
    }

    fn start(
        io: BoxIo,
        config: &ConnConfig,
        keepalive_time: Option<Duration>,
        ready: tokio::sync::oneshot::Sender<Result<(), Status>>,
    ) -> NativeClient {
        let (tx, rx) = unbounded_channel();
        let closed = CancellationToken::new();
        let too_many_pings = Arc::new(AtomicBool::new(false));
        let mut conn = ClientConn {
            io,
            rx,
            rbuf: ReadSize::buffer(),
            reads: ReadSize::default(),
            out: Output::default(),
            decoder: hpack::Decoder::new(config.max_header_list_size),
            streams: StreamMap::default(),
            done: Vec::new(),
            waiting: VecDeque::new(),
            peer_max_streams: usize::MAX,
            last_opened: 0,
            recently_reset: VecDeque::new(),
            partial: None,
            settings_seen: false,
            ready: Some(ready),
            credit: RecvCredit::new(
                config.initial_stream_window,
                config.initial_connection_window,
            ),
            stream_window: config.initial_stream_window,
            connection_window: config.initial_connection_window,
            goaway: None,
            closing: false,
            handles_gone: false,
            closed: closed.clone(),
            too_many_pings: too_many_pings.clone(),
            keepalive: keepalive_time.map(|time| Keepalive {
                time,
                timeout: config.keepalive_timeout,
                while_idle: config.keepalive_while_idle,
                next: Instant::now() + time,
                awaiting: None,
            }),
        };
        conn.send_preface();
        tokio::spawn(async move {
            let mut timer: Pin<Box<Sleep>> =
                Box::pin(tokio::time::sleep(Duration::from_secs(3600)));
            poll_fn(|cx| {
                if conn.poll_turn(cx).is_ready() {
                    return Poll::Ready(());
                }
                // After the turn: a PING ack it read moves the timer to the next ping.
                if conn.poll_keepalive(&mut timer, cx) {
                    return Poll::Ready(());
                }
                Poll::Pending
            })
            .await;
            conn.end(Status::unavailable("connection closed"));
        });
        NativeClient {
            opener: Arc::new(Mutex::new(Opener { next_id: 1, tx })),
            closed,
            too_many_pings,
        }
    }

    /// Opens a stream: its HEADERS (and `data`, if given) are queued at once.
    pub(crate) fn open(
        &self,
        head: http::Request<()>,
        data: Option<Bytes>,
        end: bool,
    ) -> Result<(NativeSend, NativePending), Status> {
        if self.closed.is_cancelled() {
            return Err(unprocessed("the connection is closing"));
        }
        let shared = Arc::new(Shared::default());
        let mut opener = self.opener.lock().unwrap_or_else(|e| e.into_inner());
        let id = opener.next_id;
        if id > MAX_STREAM_ID {
            drop(opener);
            // Stream ids are used up: calls go to a new connection.
            self.closed.cancel();
            return Err(unprocessed("stream ids exhausted"));
        }
        opener.next_id += 2;
        let tx = opener.tx.clone();
        let cmd = Command::Open {
            id,
            shared: shared.clone(),
            head: Head::request(head),
            data,
            end,
        };
        if opener.tx.send(cmd).is_err() {
            return Err(unprocessed("the connection is closed"));
        }
        drop(opener);
        let mut send = NativeSend::client(id, shared.clone(), tx.clone());
        if end {
            send.mark_ended();
        }
        let recv = NativeRecv {
            id,
            shared,
            tx,
            cancel_on_drop: true,
        };
        Ok((send, NativePending { recv }))
    }
}

/// UNAVAILABLE for a call the server never saw (safe to retry transparently).
pub(super) fn unprocessed(why: &str) -> Status {
    Status::unavailable(format!("{}{why}", crate::transport::UNPROCESSED))
}

/// Keepalive pings (gRFC A8): every `time`, a PING that must be answered within `timeout`.
struct Keepalive {
    time: Duration,
    timeout: Duration,
    while_idle: bool,
    next: Instant,
    /// When the ping in flight was sent.
    awaiting: Option<Instant>,
}

pub(super) struct ClientConn {
    io: BoxIo,
    rx: UnboundedReceiver<Command>,
    pub(super) rbuf: BytesMut,
    pub(super) reads: ReadSize,
    pub(super) out: Output,
    pub(super) decoder: hpack::Decoder,
    pub(super) streams: StreamMap,
    done: Vec<u32>,
    /// Streams opened locally but not yet on the wire: the peer's concurrency limit is
    /// reached. They are in `streams` (marked scheduled) and move to `out.ready` in order.
    pub(super) waiting: VecDeque<u32>,
    pub(super) peer_max_streams: usize,
    /// The highest stream id whose HEADERS were queued.
    pub(super) last_opened: u32,
    pub(super) recently_reset: VecDeque<u32>,
    pub(super) partial: Option<super::recv::PartialBlock>,
    pub(super) settings_seen: bool,
    /// Told when the server's SETTINGS arrive (or the connection ends first).
    pub(super) ready: Option<tokio::sync::oneshot::Sender<Result<(), Status>>>,
    pub(super) credit: RecvCredit,
    pub(super) stream_window: u32,
    connection_window: u32,
    /// The last stream id of the server's GOAWAY.
    pub(super) goaway: Option<u32>,
    pub(super) closing: bool,
    /// Every handle is gone: close once the streams are done.
    handles_gone: bool,
    closed: CancellationToken,
    pub(super) too_many_pings: Arc<AtomicBool>,
    keepalive: Option<Keepalive>,
}

impl ClientConn {
    fn send_preface(&mut self) {
        self.out.wbuf.cur.extend_from_slice(frame::PREFACE);
        frame::put_settings(
            &mut self.out.wbuf.cur,
            &[
                (0x2, 0), // ENABLE_PUSH: gRPC has no use for it
                (0x4, self.stream_window),
                (0x6, self.decoder.max_list() as u32),
            ],
        );
        let extra = self.connection_window.saturating_sub(frame::DEFAULT_WINDOW);
        if extra > 0 {
            frame::put_window_update(&mut self.out.wbuf.cur, 0, extra);
        }
    }

    /// Fails every stream and stops new ones.
    pub(super) fn end(&mut self, status: Status) {
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(Err(Status::unavailable(format!(
                "http/2 handshake failed: {}",
                status.message()
            ))));
        }
        self.closing = true;
        self.closed.cancel();
        for (_, s) in self.streams.drain() {
            s.shared.reset(status.clone());
        }
        self.waiting.clear();
        self.out.ready.clear();
    }

    /// A connection error: GOAWAY, then close after flushing.
    pub(super) fn fail(&mut self, reason: Reason, why: &'static str) {
        if self.closing {
            return;
        }
        tracing::debug!(%reason, why, "http/2 connection error (client)");
        frame::put_goaway(&mut self.out.wbuf.cur, 0, reason, why.as_bytes());
        self.end(Status::unavailable(format!(
            "connection error: {reason}: {why}"
        )));
    }

    /// Streams on the wire (not waiting for a slot).
    fn active(&self) -> usize {
        self.streams.len() - self.waiting.len()
    }

    /// Moves waiting streams onto the wire while the peer's limit allows.
    pub(super) fn admit_waiting(&mut self) {
        while self.active() < self.peer_max_streams {
            let Some(id) = self.waiting.pop_front() else {
                break;
            };
            self.last_opened = id;
            self.out.ready.push_back(id);
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Open {
                id,
                shared,
                head,
                data,
                end,
            } => {
                if self.goaway.is_some() || self.closing {
                    shared.reset(unprocessed("the server is closing the connection"));
                    return;
                }
                let mut state =
                    StreamState::new(shared, self.stream_window, self.out.peer_initial_window);
                state.enqueue(Some(head), data, None, end);
                self.streams.insert(id, state);
                if self.active() <= self.peer_max_streams && self.waiting.is_empty() {
                    self.last_opened = id;
                    self.out.ready.push_back(id);
                } else {
                    self.waiting.push_back(id);
                }
            }
            Command::Send {
                id,
                headers,
                data,
                trailers,
                end,
            } => self
                .out
                .send(&mut self.streams, id, headers, data, trailers, end),
            Command::Reset { id, reason } => {
                if let Some(at) = self.waiting.iter().position(|w| *w == id) {
                    // Never on the wire: nothing to tell the server.
                    self.waiting.remove(at);
                    self.remove_stream(id);
                    return;
                }
                if let Some(s) = self.remove_stream(id) {
                    frame::put_rst(&mut self.out.wbuf.cur, id, reason);
                    self.remember_reset(id);
                    s.shared.reset(Status::cancelled("call cancelled"));
                }
            }
            Command::Consumed { id, n } => {
                self.credit
                    .consumed(&mut self.streams, &mut self.out.wbuf, id, n)
            }
        }
    }

    pub(super) fn remember_reset(&mut self, id: u32) {
        if self.recently_reset.len() >= 64 {
            self.recently_reset.pop_front();
        }
        self.recently_reset.push_back(id);
    }

    /// Removes a stream; credit for data its reader never consumed goes back to the peer.
    pub(super) fn remove_stream(&mut self, id: u32) -> Option<StreamState> {
        let s = self.streams.remove(&id)?;
        self.return_conn_credit(s.recv_unreported);
        self.admit_waiting();
        Some(s)
    }

    pub(super) fn return_conn_credit(&mut self, n: usize) {
        self.credit.give_back(&mut self.out.wbuf, n);
    }

    /// Moves queued request pieces into the write buffer; a stream whose request and
    /// response are both complete goes away.
    fn flush_streams(&mut self) {
        let mut done = std::mem::take(&mut self.done);
        self.out.flush(&mut self.streams, &mut done);
        for id in done.drain(..) {
            if self.streams.get(&id).is_some_and(|s| s.recv_closed) {
                self.remove_stream(id);
            }
        }
        self.done = done;
    }

    /// A stream's response ended: the stream goes away once its request has been sent too.
    pub(super) fn after_recv_closed(&mut self, id: u32) {
        if let Some(s) = self.streams.get(&id) {
            if s.send_closed && s.queue.is_empty() && !s.scheduled {
                self.remove_stream(id);
            }
        }
    }

    /// One wake-up: commands, reads, writes; until nothing moves.
    fn poll_turn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.reads.new_turn();
        for _ in 0..TURN_BUDGET {
            let mut progress = false;
            while !self.closing && !self.handles_gone {
                match self.rx.poll_recv(cx) {
                    Poll::Ready(Some(cmd)) => {
                        self.on_command(cmd);
                        progress = true;
                    }
                    Poll::Ready(None) => self.handles_gone = true,
                    Poll::Pending => break,
                }
            }
            if !self.closing && self.out.wbuf.len() < WRITE_HIGH {
                match self.poll_read(cx) {
                    Poll::Ready(true) => progress = true,
                    Poll::Ready(false) => {
                        self.end(Status::unavailable("connection closed by the server"))
                    }
                    Poll::Pending => {}
                }
            }
            self.flush_streams();
            if !self.closing
                && self.streams.is_empty()
                && (self.handles_gone || self.goaway.is_some())
            {
                if self.handles_gone {
                    frame::put_goaway(&mut self.out.wbuf.cur, 0, Reason::NO_ERROR, b"");
                }
                self.end(Status::unavailable("connection closed"));
            }
            match self.out.write_to(&mut self.io, self.closing, cx) {
                Written::Ended => return Poll::Ready(()),
                // The buffer went out but streams still have frames their windows allow:
                // nothing else would wake us for them.
                Written::More => progress = true,
                Written::Idle => {}
            }
            if self.reads.turn_spent() {
                break;
            }
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Reads what the socket has and handles every complete frame; `Ready(false)` at EOF.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        match self.reads.poll_read(&mut self.io, &mut self.rbuf, cx) {
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => Poll::Ready(false),
            Poll::Ready(Ok(_)) => {
                self.on_bytes();
                Poll::Ready(true)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Sends keepalive pings; `true` when an unanswered one ends the connection.
    fn poll_keepalive(&mut self, timer: &mut Pin<Box<Sleep>>, cx: &mut Context<'_>) -> bool {
        let busy = !self.streams.is_empty();
        let Some(k) = self.keepalive.as_mut() else {
            return false;
        };
        loop {
            let now = Instant::now();
            let at = match k.awaiting {
                Some(sent) => sent + k.timeout,
                None => k.next,
            };
            if at > now {
                timer.as_mut().reset(at.into());
                if timer.as_mut().poll(cx).is_pending() {
                    return false;
                }
                continue;
            }
            if k.awaiting.is_some() {
                tracing::debug!(timeout = ?k.timeout, "keepalive ping unanswered: closing the connection");
                self.end(Status::unavailable("keepalive ping not answered"));
                return true;
            }
            k.next = now + k.time;
            if busy || k.while_idle {
                frame::put_ping(&mut self.out.wbuf.cur, false, KEEPALIVE_PING);
                k.awaiting = Some(now);
                // The ping goes out with the next write; make sure there is one.
                cx.waker().wake_by_ref();
            }
        }
    }

    /// A PING ack arrived.
    pub(super) fn on_ping_ack(&mut self, payload: [u8; 8]) {
        if let Some(k) = self.keepalive.as_mut() {
            if payload == KEEPALIVE_PING {
                k.awaiting = None;
            }
        }
    }

    /// The server's GOAWAY: streams above `last_stream` were never processed and fail so
    /// that they can be retried elsewhere; the rest finish here.
    pub(super) fn on_goaway(&mut self, last_stream: u32, reason: Reason) {
        tracing::debug!(%reason, last_stream, "server sent GOAWAY");
        if reason == Reason::ENHANCE_YOUR_CALM {
            self.too_many_pings.store(true, Ordering::Relaxed);
        }
        self.goaway = Some(last_stream.min(self.goaway.unwrap_or(u32::MAX)));
        self.closed.cancel();
        let refused: Vec<u32> = self
            .streams
            .keys()
            .copied()
            .filter(|id| *id > last_stream)
            .collect();
        self.waiting.clear();
        for id in refused {
            if let Some(s) = self.streams.remove(&id) {
                self.return_conn_credit(s.recv_unreported);
                s.shared.reset(unprocessed(&format!(
                    "GOAWAY ({reason}) before the call was processed"
                )));
            }
        }
    }
}
