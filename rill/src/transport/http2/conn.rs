//! One server connection, owned by one task: it reads frames and hands them to streams,
//! takes commands from stream handles, and writes the frames of many streams per turn.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

use super::frame::{self, Reason};
use super::hpack;
use super::limits::{KeepalivePolicy, ResetBudget};
use super::output::{Output, RecvCredit, StreamMap, StreamState, Written, WRITE_HIGH};
use super::read::ReadSize;
use super::stream::{Command, CommandTx};
use crate::transport::server::{ConnConfig, ConnectionInfo, StreamHandler};
use crate::transport::BoxIo;
use crate::Status;

/// Work done per wake-up before yielding to other tasks.
pub(super) const TURN_BUDGET: usize = 32;

/// Where a graceful shutdown stands (grpc-go's two-phase GOAWAY).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Drain {
    Serving,
    /// GOAWAY(2^31-1) and a PING sent; waiting for the ack before announcing the last stream.
    Announced(Instant),
    /// GOAWAY with the last stream sent: close when the streams end.
    Final,
}

pub(super) struct Conn {
    pub(super) io: BoxIo,
    pub(super) config: ConnConfig,
    pub(super) info: ConnectionInfo,
    pub(super) handler: StreamHandler,
    pub(super) rx: UnboundedReceiver<Command>,
    pub(super) tx: CommandTx,
    pub(super) rbuf: BytesMut,
    pub(super) reads: ReadSize,
    pub(super) out: Output,
    pub(super) decoder: hpack::Decoder,
    pub(super) streams: StreamMap,
    /// Streams whose last frame went out (scratch space for `Output::flush`).
    pub(super) done: Vec<u32>,
    /// Highest stream id the peer opened.
    pub(super) last_peer_stream: u32,
    /// Streams we reset recently: frames still in flight for them are ignored.
    pub(super) recently_reset: VecDeque<u32>,
    /// Streams that closed recently: new frames on them are STREAM_CLOSED, not unexpected ids.
    pub(super) recently_closed: VecDeque<u32>,
    /// A header block still waiting for CONTINUATION frames.
    pub(super) partial: Option<super::recv::PartialBlock>,
    pub(super) preface_seen: bool,
    pub(super) settings_seen: bool,
    pub(super) credit: RecvCredit,
    pub(super) drain: Drain,
    /// After a connection error or at the end: flush what is queued, then close.
    pub(super) closing: bool,
    pub(super) closing_since: Option<Instant>,
    pub(super) peer_goaway: bool,
    pub(super) resets: ResetBudget,
    pub(super) keepalive: KeepalivePolicy,
    pub(super) started: Instant,
    pub(super) idle_since: Option<Instant>,
    /// On a current-thread runtime a new stream's handler is first polled by this task, once
    /// the frames read with it are handled: a unary call is answered without a task of its
    /// own (the spawn, the wake-ups and a turn of the scheduler), and its response goes out
    /// in the same write as the others of the batch. Elsewhere handlers are spawned, so they
    /// run in parallel with the connection.
    pub(super) inline_handlers: bool,
    pub(super) new_handlers: Vec<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Complete frames wait in the read buffer (parsing paused after a batch of streams).
    pub(super) parse_paused: bool,
}

/// Serves one connection with the native transport.
pub(crate) async fn serve(
    io: BoxIo,
    config: &ConnConfig,
    info: ConnectionInfo,
    handler: StreamHandler,
    shutdown: CancellationToken,
) {
    let (tx, rx) = unbounded_channel();
    let now = Instant::now();
    config
        .open_connections
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut conn = Conn {
        io,
        config: config.clone(),
        info,
        handler,
        rx,
        tx,
        rbuf: ReadSize::buffer(),
        reads: ReadSize::default(),
        out: Output::default(),
        decoder: hpack::Decoder::new(config.max_header_list_size),
        streams: StreamMap::default(),
        done: Vec::new(),
        last_peer_stream: 0,
        recently_reset: VecDeque::new(),
        recently_closed: VecDeque::new(),
        partial: None,
        preface_seen: false,
        settings_seen: false,
        credit: RecvCredit::new(
            config.initial_stream_window,
            config.initial_connection_window,
        ),
        drain: Drain::Serving,
        closing: false,
        closing_since: None,
        peer_goaway: false,
        resets: ResetBudget::new(now),
        keepalive: KeepalivePolicy::new(
            config.keepalive_min_time,
            config.keepalive_permit_without_stream,
        ),
        started: now,
        idle_since: Some(now),
        inline_handlers: tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread),
        new_handlers: Vec::new(),
        parse_paused: false,
    };
    conn.send_preface();
    let mut shutdown = std::pin::pin!(shutdown.cancelled_owned());
    let mut timer: Pin<Box<Sleep>> = Box::pin(tokio::time::sleep(Duration::from_secs(3600)));
    let mut armed: Option<Instant> = None;
    poll_fn(|cx| {
        if conn.drain == Drain::Serving && !conn.closing && shutdown.as_mut().poll(cx).is_ready() {
            conn.start_drain();
        }
        conn.poll_timers(&mut timer, &mut armed, cx);
        let turn = conn.poll_turn(cx);
        if turn.is_pending() && conn.closing && conn.linger_over(&mut timer, &mut armed, cx) {
            // The peer does not take our last frames: give up on it.
            return Poll::Ready(());
        }
        turn
    })
    .await;
}

impl Drop for Conn {
    /// Aborted (a shutdown grace period ran out) or done: no handler waits forever.
    fn drop(&mut self) {
        self.fail_all_streams();
        self.config
            .open_connections
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Conn {
    fn send_preface(&mut self) {
        let c = &self.config;
        let mut settings = vec![
            (0x1, hpack::HEADER_TABLE_SIZE as u32),
            (0x2, 0), // ENABLE_PUSH: servers never push
            (0x4, c.initial_stream_window),
            (0x6, c.max_header_list_size),
        ];
        if let Some(n) = c.max_concurrent_streams {
            settings.push((0x3, n));
        }
        if c.max_frame_size != frame::DEFAULT_MAX_FRAME_SIZE {
            settings.push((0x5, c.max_frame_size));
        }
        frame::put_settings(&mut self.out.wbuf.cur, &settings);
        let extra = c
            .initial_connection_window
            .saturating_sub(frame::DEFAULT_WINDOW);
        if extra > 0 {
            frame::put_window_update(&mut self.out.wbuf.cur, 0, extra);
        }
    }

    /// GOAWAY and close after flushing (a connection error, idle, or the end of a drain).
    pub(super) fn close(&mut self, reason: Reason, debug: &[u8]) {
        if self.closing {
            return;
        }
        if self.preface_seen || reason == Reason::NO_ERROR {
            frame::put_goaway(&mut self.out.wbuf.cur, self.last_peer_stream, reason, debug);
        }
        self.closing = true;
        self.fail_all_streams();
    }

    pub(super) fn fail_all_streams(&mut self) {
        for (_, s) in self.streams.drain() {
            s.shared.reset(Status::unavailable("connection closed"));
        }
        self.out.ready.clear();
    }

    /// One wake-up: commands, reads, scheduled data, writes; until nothing moves.
    fn poll_turn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.reads.new_turn();
        for _ in 0..TURN_BUDGET {
            let mut progress = false;
            while !self.closing {
                match self.rx.poll_recv(cx) {
                    Poll::Ready(Some(cmd)) => {
                        self.on_command(cmd);
                        progress = true;
                    }
                    _ => break,
                }
            }
            if !self.closing && self.out.wbuf.len() < WRITE_HIGH {
                match self.poll_read(cx) {
                    Poll::Ready(true) => progress = true,
                    Poll::Ready(false) => {
                        // EOF or a read error: nothing more will come.
                        self.closing = true;
                        self.fail_all_streams();
                    }
                    Poll::Pending => {}
                }
            }
            if self.start_handlers(cx) {
                progress = true;
            }
            self.flush_streams();
            if self.drain == Drain::Final && self.streams.is_empty() && !self.closing {
                self.closing = true;
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

    /// Polls the handlers of the streams just opened once; those not done get tasks of
    /// their own. A panic ends only that stream (its handles reset it), as in a task.
    fn start_handlers(&mut self, cx: &mut Context<'_>) -> bool {
        if self.new_handlers.is_empty() {
            return false;
        }
        // Drained, not taken: the vector keeps its capacity for the next batch.
        for mut handler in self.new_handlers.drain(..) {
            let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                handler.as_mut().poll(cx)
            }));
            match polled {
                Ok(Poll::Ready(())) => {}
                Ok(Poll::Pending) => drop(tokio::spawn(handler)),
                Err(_) => tracing::error!("a request handler panicked"),
            }
        }
        true
    }

    /// Reads what the socket has and handles every complete frame; `Ready(false)` at EOF.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        if std::mem::take(&mut self.parse_paused) {
            if let Err(err) = self.on_bytes() {
                self.on_error(err);
            }
            return Poll::Ready(true);
        }
        let n = match self.reads.poll_read(&mut self.io, &mut self.rbuf, cx) {
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(_)) => return Poll::Ready(false),
            Poll::Pending => return Poll::Pending,
        };
        if n == 0 {
            return Poll::Ready(false);
        }
        if let Err(err) = self.on_bytes() {
            self.on_error(err);
        }
        Poll::Ready(true)
    }

    pub(super) fn on_error(&mut self, err: frame::H2Error) {
        match err {
            frame::H2Error::Connection(reason, why) => {
                tracing::debug!(remote_addr = ?self.info.remote_addr, %reason, why, "http/2 connection error");
                self.close(reason, why.as_bytes());
            }
            frame::H2Error::Stream(id, reason) => self.reset_stream(id, reason, true),
        }
    }

    /// Sends RST_STREAM and forgets the stream; `peer_fault` counts toward the reset budget.
    pub(super) fn reset_stream(&mut self, id: u32, reason: Reason, peer_fault: bool) {
        frame::put_rst(&mut self.out.wbuf.cur, id, reason);
        if let Some(s) = self.remove_stream(id) {
            s.shared
                .reset(Status::internal(format!("stream error: {reason}")));
        }
        self.remember_reset(id);
        if peer_fault && !self.resets.spend(Instant::now()) {
            self.close(Reason::ENHANCE_YOUR_CALM, b"too many stream errors");
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
        if self.recently_closed.len() >= 128 {
            self.recently_closed.pop_front();
        }
        self.recently_closed.push_back(id);
        self.return_conn_credit(s.recv_unreported);
        if self.streams.is_empty() {
            self.idle_since = Some(Instant::now());
        }
        Some(s)
    }

    pub(super) fn return_conn_credit(&mut self, n: usize) {
        self.credit.give_back(&mut self.out.wbuf, n);
    }
}
