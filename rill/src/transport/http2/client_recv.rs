//! Frames a client connection receives: response heads, data and trailers of its streams,
//! resets, SETTINGS, PING and GOAWAY (RFC 9113 §5.1 stream states from the client's side).

use bytes::Bytes;

use super::client::{unprocessed, ClientConn};
use super::frame::{self, conn_err, Frame, H2Error, Head, Reason};
use super::recv::{assemble, check_continues, BLOCK_LIMIT_FACTOR};
use super::request;
use crate::{Code, Status};

/// The largest DATA frame the client sends, whatever the server allows: gRPC C-core (grpcio
/// 1.85) raises SETTINGS_MAX_FRAME_SIZE to several MiB and then, now and then, stops reading
/// in the middle of a frame that large (a 10 MiB request hung in a third of the runs); grpc-go
/// sends 16 KiB frames. 64 KiB keeps the per-frame cost negligible.
const MAX_DATA_FRAME: u32 = 64 * 1024;

/// The status a call sees when the server resets its stream (PROTOCOL-HTTP2 "Errors").
pub(super) fn reset_by_server(reason: Reason) -> Status {
    if reason == Reason::REFUSED_STREAM {
        // The server's application never saw the call (gRFC A6: retried transparently).
        return unprocessed("stream refused (REFUSED_STREAM)");
    }
    let code = match reason {
        Reason::CANCEL => Code::Cancelled,
        Reason::ENHANCE_YOUR_CALM => Code::ResourceExhausted,
        Reason(12) => Code::PermissionDenied, // INADEQUATE_SECURITY
        _ => Code::Internal,
    };
    Status::new(code, format!("stream reset by the server: {reason}"))
}

impl ClientConn {
    /// Handles the complete frames in the read buffer.
    pub(super) fn on_bytes(&mut self) {
        while !self.closing && self.rbuf.len() >= frame::HEADER_LEN {
            let head = Head::parse(&self.rbuf);
            if head.len > frame::DEFAULT_MAX_FRAME_SIZE {
                // We never raise SETTINGS_MAX_FRAME_SIZE.
                return self.fail(Reason::FRAME_SIZE_ERROR, "frame larger than 16384 bytes");
            }
            let total = frame::HEADER_LEN + head.len as usize;
            if self.rbuf.len() < total {
                self.reads.make_room(&mut self.rbuf, total);
                return;
            }
            let mut bytes = self.rbuf.split_to(total);
            let payload = bytes.split_off(frame::HEADER_LEN).freeze();
            if !self.settings_seen && head.kind != frame::SETTINGS {
                return self.fail(
                    Reason::PROTOCOL_ERROR,
                    "the server's first frame must be SETTINGS",
                );
            }
            let result = frame::parse(head, payload).and_then(|f| self.on_frame(f));
            match result {
                Ok(()) => {}
                Err(H2Error::Connection(reason, why)) => self.fail(reason, why),
                Err(H2Error::Stream(id, reason)) => self.stream_error(id, reason),
            }
        }
    }

    /// A stream error we detected: RST_STREAM, and the call fails with INTERNAL.
    fn stream_error(&mut self, id: u32, reason: Reason) {
        frame::put_rst(&mut self.out.wbuf.cur, id, reason);
        self.remember_reset(id);
        if let Some(s) = self.remove_stream(id) {
            s.shared.reset(Status::internal(format!(
                "http/2 stream error in the server's response: {reason}"
            )));
        }
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
            f @ (Frame::Headers { .. } | Frame::Continuation { .. }) => {
                match assemble(&mut self.partial, f, self.decoder.max_list())? {
                    Some((id, block, end_stream)) => self.on_header_block(id, &block, end_stream),
                    None => Ok(()),
                }
            }
            Frame::Priority { .. } | Frame::Unknown => Ok(()),
            Frame::RstStream { stream, reason } => {
                if stream > self.last_opened {
                    return conn_err(Reason::PROTOCOL_ERROR, "RST_STREAM on an idle stream");
                }
                if let Some(s) = self.remove_stream(stream) {
                    s.shared.reset(reset_by_server(reason));
                }
                Ok(())
            }
            Frame::Settings { ack, values } => self.on_settings(ack, &values),
            Frame::Ping { ack, payload } => {
                if ack {
                    self.on_ping_ack(payload);
                } else {
                    frame::put_ping(&mut self.out.wbuf.cur, true, payload);
                }
                Ok(())
            }
            Frame::GoAway {
                last_stream,
                reason,
            } => {
                self.on_goaway(last_stream, reason);
                Ok(())
            }
            Frame::WindowUpdate { stream, increment } => {
                let idle = stream > self.last_opened;
                self.out
                    .window_update(&mut self.streams, stream, increment, idle)
            }
        }
    }

    fn on_data(&mut self, id: u32, data: Bytes, end: bool, flow_len: u32) -> Result<(), H2Error> {
        self.credit.take(flow_len)?;
        let padding = flow_len as usize - data.len();
        let Some(s) = self.streams.get_mut(&id) else {
            // Not delivered to anyone: the credit goes straight back.
            self.return_conn_credit(flow_len as usize);
            if id > self.last_opened || id % 2 == 0 {
                return conn_err(Reason::PROTOCOL_ERROR, "DATA on an idle stream");
            }
            // A stream we reset or finished: frames in flight are ignored.
            return Ok(());
        };
        if s.recv_closed || !s.head_seen {
            let reason = if s.recv_closed {
                Reason::STREAM_CLOSED
            } else {
                Reason::PROTOCOL_ERROR
            };
            self.return_conn_credit(flow_len as usize);
            return Err(H2Error::Stream(id, reason));
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

    fn on_header_block(&mut self, id: u32, block: &[u8], end_stream: bool) -> Result<(), H2Error> {
        // Always decode: the HPACK table must stay in step even for streams we dropped.
        let decoded = self.decoder.decode(block)?;
        let max_list = self.decoder.max_list();
        if decoded.list_size > max_list.saturating_mul(BLOCK_LIMIT_FACTOR) {
            return conn_err(Reason::ENHANCE_YOUR_CALM, "header list far over the limit");
        }
        if id % 2 == 0 || id > self.last_opened {
            return conn_err(
                Reason::PROTOCOL_ERROR,
                "HEADERS on a stream we did not open",
            );
        }
        let Some(s) = self.streams.get_mut(&id) else {
            // Reset or finished by us: ignored.
            return Ok(());
        };
        if s.recv_closed {
            return Err(H2Error::Stream(id, Reason::STREAM_CLOSED));
        }
        if decoded.list_size > max_list {
            let status = Status::resource_exhausted(format!(
                "response header list of {} bytes exceeds the limit of {max_list}",
                decoded.list_size
            ));
            s.shared.reset(status);
            frame::put_rst(&mut self.out.wbuf.cur, id, Reason::CANCEL);
            self.remember_reset(id);
            self.remove_stream(id);
            return Ok(());
        }
        if !s.head_seen {
            let head = request::response_head(decoded.fields)
                .map_err(|_| H2Error::Stream(id, Reason::PROTOCOL_ERROR))?;
            if head.status.is_informational() {
                // 1xx: the real head follows (gRPC servers do not send these).
                if end_stream {
                    return Err(H2Error::Stream(id, Reason::PROTOCOL_ERROR));
                }
                return Ok(());
            }
            s.head_seen = true;
            s.shared.set_head(head);
        } else {
            if !end_stream {
                return Err(H2Error::Stream(id, Reason::PROTOCOL_ERROR));
            }
            let trailers = request::trailers(decoded.fields)
                .map_err(|_| H2Error::Stream(id, Reason::PROTOCOL_ERROR))?;
            s.recv_closed = true;
            s.shared.end_recv(Some(trailers));
            self.after_recv_closed(id);
            return Ok(());
        }
        if end_stream {
            // Trailers-Only: the head is the whole response.
            s.recv_closed = true;
            s.shared.end_recv(None);
            self.after_recv_closed(id);
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
                0x1 => self.out.encoder.set_peer_table_size(value),
                0x2 if value != 0 => {
                    return conn_err(Reason::PROTOCOL_ERROR, "a server may not enable push")
                }
                0x3 => self.peer_max_streams = value as usize,
                0x4 => self.out.set_peer_initial_window(&mut self.streams, value)?,
                0x5 => {
                    self.out.set_peer_max_frame(value)?;
                    self.out.peer_max_frame = self.out.peer_max_frame.min(MAX_DATA_FRAME);
                }
                // Others: advisory or unknown (ignored, §6.5.2).
                _ => {}
            }
        }
        self.admit_waiting();
        frame::put_settings_ack(&mut self.out.wbuf.cur);
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(Ok(()));
        }
        Ok(())
    }
}
