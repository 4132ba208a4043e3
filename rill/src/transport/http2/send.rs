//! The sending side of the connection task: commands from stream handles, and moving
//! queued response pieces into the write buffer as flow control allows.

use bytes::Bytes;

use super::conn::{Conn, Out, WRITE_HIGH};
use super::frame::{self, Reason};
use super::stream::Command;
use crate::Status;

impl Conn {
    pub(super) fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Send {
                id,
                headers,
                data,
                trailers,
                end,
            } => {
                let Some(s) = self.streams.get_mut(&id) else {
                    return;
                };
                if s.send_closed {
                    return;
                }
                let end = end || trailers.is_some();
                let only_headers = data.is_none() && trailers.is_none();
                // Whether one of this command's frames carries END_STREAM.
                let mut ended = false;
                if let Some(h) = headers {
                    ended |= end && only_headers;
                    s.queue.push_back(Out::Headers(h, end && only_headers));
                }
                if let Some(d) = data {
                    ended |= end && trailers.is_none();
                    s.queue.push_back(Out::Data(d, end && trailers.is_none()));
                }
                if let Some(t) = trailers {
                    ended = true;
                    s.queue.push_back(Out::Headers(t, true));
                }
                // An end with nothing to carry it (a body finished without trailers, as
                // gRPC-Web's is) still needs a frame, even behind data still queued.
                if end && !ended {
                    s.queue.push_back(Out::Data(Bytes::new(), true));
                }
                s.send_closed |= end;
                if !s.scheduled {
                    s.scheduled = true;
                    self.ready.push_back(id);
                }
            }
            Command::Reset { id, reason } => {
                if self.streams.contains_key(&id) {
                    self.reset_stream(id, reason, false);
                }
            }
            Command::Consumed { id, n } => {
                let Some(s) = self.streams.get_mut(&id) else {
                    return;
                };
                s.recv_unreported = s.recv_unreported.saturating_sub(n);
                if !s.recv_closed {
                    s.recv_unacked = s.recv_unacked.saturating_add(n as u32);
                    if s.recv_unacked >= self.config.initial_stream_window / 4 {
                        frame::put_window_update(&mut self.wbuf.cur, id, s.recv_unacked);
                        s.recv_window += i64::from(s.recv_unacked);
                        s.recv_unacked = 0;
                    }
                }
                self.return_conn_credit(n);
            }
        }
    }

    /// Moves queued response pieces into the write buffer as flow control allows.
    pub(super) fn flush_streams(&mut self) {
        while self.wbuf.len() < WRITE_HIGH {
            let Some(id) = self.ready.pop_front() else {
                break;
            };
            let max_frame = self.peer_max_frame as usize;
            let Some(s) = self.streams.get_mut(&id) else {
                continue;
            };
            let mut sent = 0usize;
            let mut done = false;
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
                        done = *end;
                        s.queue.pop_front();
                    }
                    Some(Out::Data(data, end)) => {
                        if data.is_empty() {
                            frame::put_head(&mut self.wbuf.cur, 0, frame::DATA, u8::from(*end), id);
                            done = *end;
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
                            done = *end;
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
            self.keepalive.data_sent();
            if done {
                let recv_closed = s.recv_closed;
                if !recv_closed {
                    // The response is complete; the request body is no longer needed.
                    frame::put_rst(&mut self.wbuf.cur, id, Reason::NO_ERROR);
                    self.remember_reset(id);
                }
                if let Some(s) = self.remove_stream(id) {
                    if !recv_closed {
                        s.shared.reset(Status::cancelled("stream closed"));
                    }
                }
                continue;
            }
            let Some(s) = self.streams.get_mut(&id) else {
                continue;
            };
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
    }

    /// Flow-control window opened: every stream with queued data may move again.
    pub(super) fn schedule_all(&mut self) {
        for (id, s) in self.streams.iter_mut() {
            if !s.queue.is_empty() && !s.scheduled {
                s.scheduled = true;
                self.ready.push_back(*id);
            }
        }
    }

    pub(super) fn schedule(&mut self, id: u32) {
        if let Some(s) = self.streams.get_mut(&id) {
            if !s.queue.is_empty() && !s.scheduled {
                s.scheduled = true;
                self.ready.push_back(id);
            }
        }
    }
}
