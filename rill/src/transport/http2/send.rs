//! The sending side of the connection task: commands from stream handles, and moving
//! queued response pieces into the write buffer as flow control allows.

use super::conn::Conn;
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
            } => self
                .out
                .send(&mut self.streams, id, headers, data, trailers, end),
            Command::Reset { id, reason } => {
                if self.streams.contains_key(&id) {
                    self.reset_stream(id, reason, false);
                }
            }
            Command::Consumed { id, n } => {
                self.credit
                    .consumed(&mut self.streams, &mut self.out.wbuf, id, n)
            }
            // Only clients open streams.
            Command::Open { .. } => {}
        }
    }

    /// Moves queued response pieces into the write buffer as flow control allows; streams
    /// whose response is complete go away.
    pub(super) fn flush_streams(&mut self) {
        let mut done = std::mem::take(&mut self.done);
        if self.out.flush(&mut self.streams, &mut done) {
            self.keepalive.data_sent();
        }
        for id in done.drain(..) {
            let Some(recv_closed) = self.streams.get(&id).map(|s| s.recv_closed) else {
                continue;
            };
            if !recv_closed {
                // The response is complete; the request body is no longer needed.
                frame::put_rst(&mut self.out.wbuf.cur, id, Reason::NO_ERROR);
                self.remember_reset(id);
            }
            if let Some(s) = self.remove_stream(id) {
                if !recv_closed {
                    s.shared.reset(Status::cancelled("stream closed"));
                }
            }
        }
        self.done = done;
    }
}
