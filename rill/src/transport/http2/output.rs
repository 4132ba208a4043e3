//! What both ends of a connection send the same way: queued stream pieces moved into the
//! write buffer as flow control allows (RFC 9113 §5.2, §6.9), header blocks encoded in the
//! order they leave, and the peer's WINDOW_UPDATE and SETTINGS_INITIAL_WINDOW_SIZE applied.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;

use super::frame::{self, conn_err, H2Error, Reason};
use super::hpack;
use super::stream::Shared;
use super::write::WriteBuf;
use crate::transport::BoxIo;

/// Output gathered per turn, and the read back-pressure point: up to this much goes out in
/// one vectored write (1 MiB writes cost the server about a third less CPU per byte streamed
/// than 256 KiB ones, measured with 1 MiB messages), and reading the peer stops while this
/// much waits (a peer that does not read its acks).
pub(super) const WRITE_HIGH: usize = 1024 * 1024;

/// Stream ids are small odd integers: a multiplicative hash spreads them over the table's
/// high and low bits for a fraction of SipHash's cost (ids must increase, so there is no
/// collision attack to mount).
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8 | u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(super) type StreamMap = HashMap<u32, StreamState, std::hash::BuildHasherDefault<IdHasher>>;

/// One piece of a stream's output, in order: a header block (a head or trailers) or data,
/// each with its END_STREAM flag.
pub(super) enum Out {
    Headers(Box<hpack::Head>, bool),
    Data(Bytes, bool),
}

pub(super) struct StreamState {
    pub(super) shared: Arc<Shared>,
    pub(super) recv_closed: bool,
    pub(super) send_closed: bool,
    pub(super) recv_window: i64,
    pub(super) recv_unacked: u32,
    /// Bytes handed to the reader and not yet reported consumed.
    pub(super) recv_unreported: usize,
    pub(super) send_window: i64,
    pub(super) queue: VecDeque<Out>,
    pub(super) scheduled: bool,
    pub(super) content_length: Option<u64>,
    pub(super) received: u64,
    /// A client stream's response head arrived.
    pub(super) head_seen: bool,
}

impl StreamState {
    pub(super) fn new(shared: Arc<Shared>, recv_window: u32, send_window: u32) -> StreamState {
        StreamState {
            shared,
            recv_closed: false,
            send_closed: false,
            recv_window: i64::from(recv_window),
            recv_unacked: 0,
            recv_unreported: 0,
            send_window: i64::from(send_window),
            queue: VecDeque::new(),
            scheduled: false,
            content_length: None,
            received: 0,
            head_seen: false,
        }
    }

    /// Takes a DATA frame of `flow_len` bytes (padding included) for this stream: `false` if
    /// it overruns the stream's window; else the data goes to the reader (the padding counts
    /// as consumed at once) and END_STREAM closes the receiving side.
    pub(super) fn receive(&mut self, data: Bytes, end: bool, flow_len: u32) -> bool {
        let flow = i64::from(flow_len);
        if flow > self.recv_window {
            return false;
        }
        self.recv_window -= flow;
        self.recv_unacked += flow_len - data.len() as u32;
        if !data.is_empty() {
            self.recv_unreported += data.len();
            self.shared.push_data(data);
        }
        if end {
            self.recv_closed = true;
            self.shared.end_recv(None);
        }
        true
    }

    /// Queues a header block, data and a header block (any of them), the last piece
    /// carrying END_STREAM if `end`. Returns whether the stream needs scheduling.
    pub(super) fn enqueue(
        &mut self,
        headers: Option<Box<hpack::Head>>,
        data: Option<Bytes>,
        trailers: Option<Box<hpack::Head>>,
        end: bool,
    ) -> bool {
        if self.send_closed {
            return false;
        }
        let end = end || trailers.is_some();
        let only_headers = data.is_none() && trailers.is_none();
        // Whether one of these frames carries END_STREAM.
        let mut ended = false;
        if let Some(h) = headers {
            ended |= end && only_headers;
            self.queue.push_back(Out::Headers(h, end && only_headers));
        }
        if let Some(d) = data {
            ended |= end && trailers.is_none();
            self.queue
                .push_back(Out::Data(d, end && trailers.is_none()));
        }
        if let Some(t) = trailers {
            ended = true;
            self.queue.push_back(Out::Headers(t, true));
        }
        // An end with nothing to carry it (a body finished without trailers) still needs a
        // frame, even behind data still queued.
        if end && !ended {
            self.queue.push_back(Out::Data(Bytes::new(), true));
        }
        self.send_closed |= end;
        !std::mem::replace(&mut self.scheduled, true)
    }
}

/// The sending half of a connection's state.
pub(super) struct Output {
    pub(super) wbuf: WriteBuf,
    pub(super) encoder: hpack::Encoder,
    /// Scratch space for encoding one header block.
    block: BytesMut,
    /// Streams with pieces to send, in turn.
    pub(super) ready: VecDeque<u32>,
    pub(super) conn_send_window: i64,
    pub(super) peer_initial_window: u32,
    pub(super) peer_max_frame: u32,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            wbuf: WriteBuf::default(),
            encoder: hpack::Encoder::default(),
            block: BytesMut::new(),
            ready: VecDeque::new(),
            conn_send_window: i64::from(frame::DEFAULT_WINDOW),
            peer_initial_window: frame::DEFAULT_WINDOW,
            peer_max_frame: frame::DEFAULT_MAX_FRAME_SIZE,
        }
    }
}

/// The receiving side's connection-level flow control (RFC 9113 §6.9): the window the peer
/// may still fill, and credit handed back as readers consume, in WINDOW_UPDATEs of at least a
/// quarter of the window (a quarter of the stream window for a stream's own credit).
pub(super) struct RecvCredit {
    window: i64,
    unacked: u32,
    stream_window: u32,
    connection_window: u32,
}

impl RecvCredit {
    pub(super) fn new(stream_window: u32, connection_window: u32) -> RecvCredit {
        RecvCredit {
            window: i64::from(connection_window.max(frame::DEFAULT_WINDOW)),
            unacked: 0,
            stream_window,
            connection_window,
        }
    }

    /// A DATA frame of `flow_len` bytes (padding included) arrived.
    pub(super) fn take(&mut self, flow_len: u32) -> Result<(), H2Error> {
        let flow = i64::from(flow_len);
        if flow > self.window {
            return conn_err(Reason::FLOW_CONTROL_ERROR, "connection window exceeded");
        }
        self.window -= flow;
        Ok(())
    }

    /// `n` bytes no reader will consume (or consumed ones) go back to the connection window.
    pub(super) fn give_back(&mut self, wbuf: &mut WriteBuf, n: usize) {
        self.unacked = self.unacked.saturating_add(n as u32);
        if self.unacked > 0 && self.unacked >= self.connection_window / 4 {
            frame::put_window_update(&mut wbuf.cur, 0, self.unacked);
            self.window += i64::from(self.unacked);
            self.unacked = 0;
        }
    }

    /// A reader of stream `id` took `n` bytes (`Command::Consumed`). A stream already gone
    /// returned its unread bytes when it was removed: nothing more to give back.
    pub(super) fn consumed(
        &mut self,
        streams: &mut StreamMap,
        wbuf: &mut WriteBuf,
        id: u32,
        n: usize,
    ) {
        let Some(s) = streams.get_mut(&id) else {
            return;
        };
        s.recv_unreported = s.recv_unreported.saturating_sub(n);
        if !s.recv_closed {
            s.recv_unacked = s.recv_unacked.saturating_add(n as u32);
            if s.recv_unacked >= self.stream_window / 4 {
                frame::put_window_update(&mut wbuf.cur, id, s.recv_unacked);
                s.recv_window += i64::from(s.recv_unacked);
                s.recv_unacked = 0;
            }
        }
        self.give_back(wbuf, n);
    }
}

/// What writing the output buffer to the socket came to.
pub(super) enum Written {
    /// The connection is over (write error, or closed after the last bytes).
    Ended,
    /// All written, and streams have more to send (the buffer had filled up).
    More,
    /// All written, or the socket is full (it wakes the task).
    Idle,
}

impl Output {
    /// Writes the buffer; once it is all out, flushes, and shuts the socket down if `closing`.
    pub(super) fn write_to(
        &mut self,
        io: &mut BoxIo,
        closing: bool,
        cx: &mut Context<'_>,
    ) -> Written {
        match self.wbuf.poll_write(Pin::new(&mut *io), cx) {
            Poll::Ready(Ok(())) => {
                if let Poll::Ready(Err(_)) = Pin::new(&mut *io).poll_flush(cx) {
                    return Written::Ended;
                }
                if closing {
                    let _ = Pin::new(&mut *io).poll_shutdown(cx);
                    return Written::Ended;
                }
                if self.ready.is_empty() {
                    Written::Idle
                } else {
                    Written::More
                }
            }
            Poll::Ready(Err(_)) => Written::Ended,
            Poll::Pending => Written::Idle,
        }
    }

    /// A stream handle's `Command::Send`: queues the pieces and schedules the stream.
    pub(super) fn send(
        &mut self,
        streams: &mut StreamMap,
        id: u32,
        headers: Option<Box<hpack::Head>>,
        data: Option<Bytes>,
        trailers: Option<Box<hpack::Head>>,
        end: bool,
    ) {
        if let Some(s) = streams.get_mut(&id) {
            if s.enqueue(headers, data, trailers, end) {
                self.ready.push_back(id);
            }
        }
    }

    /// Moves queued pieces into the write buffer as flow control allows. Streams whose last
    /// frame went out are added to `done` (still in `streams`: the caller removes them).
    /// Returns whether any stream was served.
    pub(super) fn flush(&mut self, streams: &mut StreamMap, done: &mut Vec<u32>) -> bool {
        let mut served = false;
        while self.wbuf.len() < WRITE_HIGH {
            let Some(id) = self.ready.pop_front() else {
                break;
            };
            let Some(s) = streams.get_mut(&id) else {
                continue;
            };
            served = true;
            let max_frame = self.peer_max_frame as usize;
            let mut sent = 0usize;
            let mut finished = false;
            loop {
                match s.queue.front_mut() {
                    None => break,
                    Some(Out::Headers(head, end)) => {
                        // Encoded as it goes out: blocks must reach the peer in the order
                        // they changed its HPACK table.
                        self.block.clear();
                        self.encoder.encode_block(head, &mut self.block);
                        frame::put_header_block(
                            &mut self.wbuf.cur,
                            id,
                            &self.block,
                            *end,
                            max_frame,
                        );
                        finished = *end;
                        s.queue.pop_front();
                    }
                    Some(Out::Data(data, end)) => {
                        if data.is_empty() {
                            frame::put_head(&mut self.wbuf.cur, 0, frame::DATA, u8::from(*end), id);
                            finished = *end;
                            s.queue.pop_front();
                            continue;
                        }
                        let window = s.send_window.min(self.conn_send_window);
                        if window <= 0 {
                            break;
                        }
                        let n = data.len().min(window as usize).min(max_frame);
                        let chunk = data.split_to(n);
                        let last = data.is_empty();
                        let flags = if last && *end { frame::END_STREAM } else { 0 };
                        frame::put_head(&mut self.wbuf.cur, n, frame::DATA, flags, id);
                        self.wbuf.put_bytes(chunk);
                        s.send_window -= n as i64;
                        self.conn_send_window -= n as i64;
                        sent += n;
                        if last {
                            finished = *end;
                            s.queue.pop_front();
                        }
                        if self.wbuf.len() >= WRITE_HIGH {
                            break;
                        }
                    }
                }
            }
            if sent > 0 {
                s.shared.sent(sent);
            }
            if finished {
                s.scheduled = false;
                done.push(id);
                continue;
            }
            if s.queue.is_empty() {
                s.scheduled = false;
            } else if s.send_window > 0 && self.conn_send_window > 0 {
                // The write buffer filled up: continue with this stream next time.
                self.ready.push_front(id);
                break;
            } else {
                // Blocked on flow control: a WINDOW_UPDATE schedules it again.
                s.scheduled = false;
            }
        }
        served
    }

    /// Flow-control window opened: every stream with queued data may move again.
    pub(super) fn schedule_all(&mut self, streams: &mut StreamMap) {
        for (id, s) in streams.iter_mut() {
            if !s.queue.is_empty() && !s.scheduled {
                s.scheduled = true;
                self.ready.push_back(*id);
            }
        }
    }

    pub(super) fn schedule(&mut self, streams: &mut StreamMap, id: u32) {
        if let Some(s) = streams.get_mut(&id) {
            if !s.queue.is_empty() && !s.scheduled {
                s.scheduled = true;
                self.ready.push_back(id);
            }
        }
    }

    /// The peer's SETTINGS_INITIAL_WINDOW_SIZE: every open stream's window moves by the
    /// difference (RFC 9113 §6.9.2).
    pub(super) fn set_peer_initial_window(
        &mut self,
        streams: &mut StreamMap,
        value: u32,
    ) -> Result<(), H2Error> {
        if i64::from(value) > frame::MAX_WINDOW {
            return conn_err(Reason::FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE too large");
        }
        let delta = i64::from(value) - i64::from(self.peer_initial_window);
        self.peer_initial_window = value;
        for s in streams.values_mut() {
            s.send_window += delta;
            if s.send_window > frame::MAX_WINDOW {
                return conn_err(Reason::FLOW_CONTROL_ERROR, "stream window overflow");
            }
        }
        if delta > 0 {
            self.schedule_all(streams);
        }
        Ok(())
    }

    /// The peer's SETTINGS_MAX_FRAME_SIZE.
    pub(super) fn set_peer_max_frame(&mut self, value: u32) -> Result<(), H2Error> {
        if !(frame::DEFAULT_MAX_FRAME_SIZE..=frame::MAX_MAX_FRAME_SIZE).contains(&value) {
            return conn_err(Reason::PROTOCOL_ERROR, "MAX_FRAME_SIZE out of range");
        }
        self.peer_max_frame = value;
        Ok(())
    }

    /// A WINDOW_UPDATE for the connection (`id` 0) or an open stream; `idle` says the stream
    /// was never opened (a connection error).
    pub(super) fn window_update(
        &mut self,
        streams: &mut StreamMap,
        id: u32,
        inc: u32,
        idle: bool,
    ) -> Result<(), H2Error> {
        if id == 0 {
            if inc == 0 {
                return conn_err(Reason::PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
            }
            self.conn_send_window += i64::from(inc);
            if self.conn_send_window > frame::MAX_WINDOW {
                return conn_err(Reason::FLOW_CONTROL_ERROR, "connection window overflow");
            }
            self.schedule_all(streams);
            return Ok(());
        }
        if idle {
            return conn_err(Reason::PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
        }
        let Some(s) = streams.get_mut(&id) else {
            return Ok(());
        };
        if inc == 0 {
            return Err(H2Error::Stream(id, Reason::PROTOCOL_ERROR));
        }
        s.send_window += i64::from(inc);
        if s.send_window > frame::MAX_WINDOW {
            return Err(H2Error::Stream(id, Reason::FLOW_CONTROL_ERROR));
        }
        self.schedule(streams, id);
        Ok(())
    }
}
