//! Incoming frames: the preface, stream states (RFC 9113 §5.1), flow control (§5.2, §6.9),
//! SETTINGS, PING, GOAWAY, and new streams handed to the server.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::conn::{Conn, Drain};
use super::frame::{self, conn_err, Frame, H2Error, Head, Reason};
use super::output::StreamState;
use super::request;
use super::stream::{reset_status, NativeRecv, NativeResponder, Shared};
use crate::transport::server::{IncomingStream, Responder};
use crate::transport::RecvBody;

/// A header block being assembled from HEADERS + CONTINUATION.
pub(crate) struct PartialBlock {
    pub(super) stream: u32,
    pub(super) block: BytesMut,
    pub(super) end_stream: bool,
}

/// Checks that a frame arriving while a header block is incomplete continues it (§6.10).
pub(super) fn check_continues(partial: &Option<PartialBlock>, f: &Frame) -> Result<(), H2Error> {
    if let Some(partial) = partial {
        let continues =
            matches!(f, Frame::Continuation { stream, .. } if *stream == partial.stream);
        if !continues {
            return conn_err(Reason::PROTOCOL_ERROR, "header block interrupted");
        }
    }
    Ok(())
}

/// Takes a HEADERS or CONTINUATION frame; returns the header block (stream, fragment,
/// END_STREAM) once it is complete. A block in one frame (the common case) is not copied; a
/// block far larger than the header list limit ends the connection (a CONTINUATION flood
/// is not buffered without bound).
pub(super) fn assemble(
    partial: &mut Option<PartialBlock>,
    f: Frame,
    max_list: usize,
) -> Result<Option<(u32, Bytes, bool)>, H2Error> {
    match f {
        Frame::Headers {
            stream,
            fragment,
            end_stream,
            end_headers,
            ..
        } => {
            if end_headers {
                return Ok(Some((stream, fragment, end_stream)));
            }
            *partial = Some(PartialBlock {
                stream,
                block: BytesMut::from(&fragment[..]),
                end_stream,
            });
            Ok(None)
        }
        Frame::Continuation {
            fragment,
            end_headers,
            ..
        } => {
            let Some(mut p) = partial.take() else {
                return conn_err(Reason::PROTOCOL_ERROR, "CONTINUATION without HEADERS");
            };
            p.block.extend_from_slice(&fragment);
            let limit = max_list.saturating_mul(BLOCK_LIMIT_FACTOR).max(64 * 1024);
            if p.block.len() > limit {
                return conn_err(Reason::ENHANCE_YOUR_CALM, "header block too large");
            }
            if end_headers {
                return Ok(Some((p.stream, p.block.freeze(), p.end_stream)));
            }
            *partial = Some(p);
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Encoded header blocks larger than this many times the list limit end the connection:
/// a CONTINUATION flood is not buffered without bound.
pub(super) const BLOCK_LIMIT_FACTOR: usize = 4;

/// New streams whose handlers run (on a current-thread runtime: see `Conn::inline_handlers`)
/// before more frames are parsed, when this is the server's only connection: a client that
/// sent many requests at once gets the first responses while the server is still working on
/// the rest, instead of all at the end (1 connection × 64 streams: 1.6× the calls per
/// second, measured). With several connections their turns already overlap with their
/// clients' work, and the extra writes would only cost CPU (16 × 64: 0.8×).
const HANDLER_BATCH: usize = 16;

impl Conn {
    /// Handles the complete frames in the read buffer (pausing after `HANDLER_BATCH` new
    /// streams).
    pub(super) fn on_bytes(&mut self) -> Result<(), H2Error> {
        if !self.preface_seen {
            let n = self.rbuf.len().min(frame::PREFACE.len());
            if self.rbuf[..n] != frame::PREFACE[..n] {
                self.closing = true;
                return Ok(());
            }
            if n < frame::PREFACE.len() {
                return Ok(());
            }
            let _ = self.rbuf.split_to(n);
            self.preface_seen = true;
        }
        while !self.closing && self.rbuf.len() >= frame::HEADER_LEN {
            let head = Head::parse(&self.rbuf);
            if head.kind == frame::HEADERS
                && self.new_handlers.len() >= HANDLER_BATCH
                && self.config.open_connections.load(Ordering::Relaxed) == 1
            {
                // Answer these first: the peer gets their responses while we parse the rest.
                self.parse_paused = true;
                return Ok(());
            }
            if head.len > self.config.max_frame_size {
                return conn_err(
                    Reason::FRAME_SIZE_ERROR,
                    "frame larger than SETTINGS_MAX_FRAME_SIZE",
                );
            }
            let total = frame::HEADER_LEN + head.len as usize;
            if self.rbuf.len() < total {
                self.reads.make_room(&mut self.rbuf, total);
                break;
            }
            let mut bytes = self.rbuf.split_to(total);
            let payload = bytes.split_off(frame::HEADER_LEN).freeze();
            if !self.settings_seen && head.kind != frame::SETTINGS {
                return conn_err(Reason::PROTOCOL_ERROR, "the first frame must be SETTINGS");
            }
            match frame::parse(head, payload) {
                Ok(f) => {
                    if let Err(err) = self.on_frame(f) {
                        self.on_error(err);
                    }
                }
                Err(err) => self.on_error(err),
            }
        }
        Ok(())
    }

    fn on_frame(&mut self, f: Frame) -> Result<(), H2Error> {
        check_continues(&self.partial, &f)?;
        match f {
            Frame::Data {
                stream,
                data,
                end_stream,
                flow_len,
            } => self.on_data(stream, data, end_stream, flow_len),
            Frame::Headers {
                stream,
                depends_on: Some(on),
                ..
            } if on == stream => Err(H2Error::Stream(stream, Reason::PROTOCOL_ERROR)),
            f @ (Frame::Headers { .. } | Frame::Continuation { .. }) => {
                match assemble(&mut self.partial, f, self.decoder.max_list())? {
                    Some((id, block, end_stream)) => self.on_header_block(id, &block, end_stream),
                    None => Ok(()),
                }
            }
            Frame::Priority { stream, depends_on } => {
                if depends_on == stream {
                    return Err(H2Error::Stream(stream, Reason::PROTOCOL_ERROR));
                }
                Ok(())
            }
            Frame::RstStream { stream, reason } => self.on_rst(stream, reason),
            Frame::Settings { ack, values } => self.on_settings(ack, &values),
            Frame::Ping { ack, payload } => {
                if ack {
                    if Conn::is_goaway_ping(&payload) && matches!(self.drain, Drain::Announced(_)) {
                        self.final_goaway();
                    }
                    return Ok(());
                }
                if !self.keepalive.on_ping(Instant::now(), self.streams.len()) {
                    self.close(Reason::ENHANCE_YOUR_CALM, b"too_many_pings");
                    return Ok(());
                }
                frame::put_ping(&mut self.out.wbuf.cur, true, payload);
                Ok(())
            }
            Frame::GoAway { reason, .. } => {
                tracing::debug!(remote_addr = ?self.info.remote_addr, %reason, "peer sent GOAWAY");
                self.peer_goaway = true;
                if self.drain == Drain::Serving {
                    self.final_goaway();
                }
                Ok(())
            }
            Frame::WindowUpdate { stream, increment } => self.on_window_update(stream, increment),
            Frame::Unknown => Ok(()),
        }
    }

    fn is_idle(&self, id: u32) -> bool {
        id > self.last_peer_stream
    }

    fn on_data(&mut self, id: u32, data: Bytes, end: bool, flow_len: u32) -> Result<(), H2Error> {
        self.credit.take(flow_len)?;
        let padding = flow_len as usize - data.len();
        let Some(s) = self.streams.get_mut(&id) else {
            // Not delivered to anyone: the credit goes straight back.
            self.return_conn_credit(flow_len as usize);
            if self.is_idle(id) {
                return conn_err(Reason::PROTOCOL_ERROR, "DATA on an idle stream");
            }
            if self.recently_reset.contains(&id) {
                return Ok(());
            }
            return Err(H2Error::Stream(id, Reason::STREAM_CLOSED));
        };
        if s.recv_closed {
            self.return_conn_credit(flow_len as usize);
            return Err(H2Error::Stream(id, Reason::STREAM_CLOSED));
        }
        s.received += data.len() as u64;
        if s.content_length
            .is_some_and(|cl| s.received > cl || (end && s.received != cl))
        {
            self.return_conn_credit(flow_len as usize);
            return Err(H2Error::Stream(id, Reason::PROTOCOL_ERROR));
        }
        if !s.receive(data, end, flow_len) {
            self.return_conn_credit(flow_len as usize);
            return Err(H2Error::Stream(id, Reason::FLOW_CONTROL_ERROR));
        }
        if end {
            self.after_recv_closed(id);
        }
        if padding > 0 {
            self.return_conn_credit(padding);
        }
        Ok(())
    }

    /// The peer finished its side: a stream whose response is also done goes away.
    fn after_recv_closed(&mut self, id: u32) {
        if let Some(s) = self.streams.get(&id) {
            if s.send_closed && s.queue.is_empty() {
                self.remove_stream(id);
            }
        }
    }

    fn on_header_block(&mut self, id: u32, block: &[u8], end_stream: bool) -> Result<(), H2Error> {
        if id % 2 == 0 {
            return conn_err(Reason::PROTOCOL_ERROR, "client stream ids are odd");
        }
        // Always decode: the HPACK table must stay in step even for refused streams.
        let decoded = self.decoder.decode(block)?;
        let max_list = self.decoder.max_list();
        if decoded.list_size > max_list.saturating_mul(BLOCK_LIMIT_FACTOR) {
            return conn_err(Reason::ENHANCE_YOUR_CALM, "header list far over the limit");
        }
        if let Some(s) = self.streams.get_mut(&id) {
            // Trailers.
            if s.recv_closed {
                return Err(H2Error::Stream(id, Reason::STREAM_CLOSED));
            }
            if !end_stream || decoded.list_size > max_list {
                return Err(H2Error::Stream(id, Reason::PROTOCOL_ERROR));
            }
            let trailers = request::trailers(decoded.fields)
                .map_err(|_| H2Error::Stream(id, Reason::PROTOCOL_ERROR))?;
            if s.content_length.is_some_and(|cl| cl != s.received) {
                return Err(H2Error::Stream(id, Reason::PROTOCOL_ERROR));
            }
            s.recv_closed = true;
            s.shared.end_recv(Some(trailers));
            self.after_recv_closed(id);
            return Ok(());
        }
        if !self.is_idle(id) {
            if self.recently_reset.contains(&id) {
                return Ok(());
            }
            if self.recently_closed.contains(&id) {
                return conn_err(Reason::STREAM_CLOSED, "HEADERS on a closed stream");
            }
            // An id at or below one already used, never seen open (§5.1.1).
            return conn_err(Reason::PROTOCOL_ERROR, "stream id not increasing");
        }
        self.last_peer_stream = id;
        if self.drain == Drain::Final || self.peer_goaway || self.closing {
            self.reset_stream(id, Reason::REFUSED_STREAM, false);
            return Ok(());
        }
        if decoded.list_size > max_list {
            // Over the limit but not abusive: HTTP 431 for this stream only.
            tracing::debug!(remote_addr = ?self.info.remote_addr, size = decoded.list_size, "request header list too large");
            self.open_stream(id, true, None);
            let head =
                super::hpack::Head::status(http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
            if let Some(s) = self.streams.get_mut(&id) {
                s.queue.push_back(super::output::Out::Headers(head, true));
                s.send_closed = true;
            }
            self.out.schedule(&mut self.streams, id);
            return Ok(());
        }
        let head = match request::request_head(decoded.fields) {
            Ok(head) => head,
            Err(why) => {
                tracing::debug!(remote_addr = ?self.info.remote_addr, why, "malformed request");
                return Err(H2Error::Stream(id, Reason::PROTOCOL_ERROR));
            }
        };
        let limit = self.config.max_concurrent_streams.unwrap_or(u32::MAX) as usize;
        if self.streams.len() >= limit {
            self.reset_stream(id, Reason::REFUSED_STREAM, false);
            return Ok(());
        }
        if end_stream && head.content_length.is_some_and(|cl| cl != 0) {
            return Err(H2Error::Stream(id, Reason::PROTOCOL_ERROR));
        }
        let shared = self.open_stream(id, end_stream, head.content_length);
        let stream = IncomingStream {
            head: head.parts,
            body: RecvBody::native(NativeRecv {
                id,
                shared: shared.clone(),
                tx: self.tx.clone(),
                cancel_on_drop: false,
            }),
            responder: Responder::native(NativeResponder {
                id,
                shared,
                tx: self.tx.clone(),
                answered: false,
            }),
            info: self.info.clone(),
        };
        let handler = (self.handler)(stream);
        if self.inline_handlers {
            self.new_handlers.push(handler);
        } else {
            tokio::spawn(handler);
        }
        Ok(())
    }

    fn open_stream(
        &mut self,
        id: u32,
        end_stream: bool,
        content_length: Option<u64>,
    ) -> Arc<Shared> {
        let shared = Arc::new(Shared::default());
        if end_stream {
            shared.end_recv(None);
        }
        let mut state = StreamState::new(
            shared.clone(),
            self.config.initial_stream_window,
            self.out.peer_initial_window,
        );
        state.recv_closed = end_stream;
        state.content_length = content_length;
        self.streams.insert(id, state);
        self.idle_since = None;
        shared
    }

    fn on_rst(&mut self, id: u32, reason: Reason) -> Result<(), H2Error> {
        if self.is_idle(id) {
            return conn_err(Reason::PROTOCOL_ERROR, "RST_STREAM on an idle stream");
        }
        if let Some(s) = self.remove_stream(id) {
            s.shared.reset(reset_status(reason));
            // A stream reset before its response finished: what rapid reset abuses.
            if !s.send_closed && !self.resets.spend(Instant::now()) {
                self.close(Reason::ENHANCE_YOUR_CALM, b"too many resets");
            }
        }
        Ok(())
    }

    fn on_settings(&mut self, ack: bool, values: &[(u16, u32)]) -> Result<(), H2Error> {
        self.settings_seen = true;
        if ack {
            return Ok(());
        }
        for &(id, value) in values {
            match id {
                0x2 if value > 1 => {
                    return conn_err(Reason::PROTOCOL_ERROR, "ENABLE_PUSH not 0 or 1")
                }
                0x4 => self.out.set_peer_initial_window(&mut self.streams, value)?,
                0x5 => self.out.set_peer_max_frame(value)?,
                0x1 => self.out.encoder.set_peer_table_size(value),
                // Others: advisory or unknown (ignored, §6.5.2).
                _ => {}
            }
        }
        frame::put_settings_ack(&mut self.out.wbuf.cur);
        Ok(())
    }

    fn on_window_update(&mut self, id: u32, inc: u32) -> Result<(), H2Error> {
        let idle = id != 0 && self.is_idle(id);
        self.out.window_update(&mut self.streams, id, inc, idle)
    }
}
