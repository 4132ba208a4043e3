//! The connection's lifecycle: handshake, idle and age deadlines on one timer, graceful
//! shutdown as grpc-go does it (GOAWAY with the largest id and a PING, then GOAWAY with the
//! real last stream once the PING is acknowledged), and the linger of a closing connection.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::{Duration, Instant};

use tokio::time::Sleep;

use super::conn::{Conn, Drain};
use super::frame::{self, Reason};

/// How long the first GOAWAY of a graceful shutdown waits for the PING ack.
const GOAWAY_PING_WAIT: Duration = Duration::from_secs(1);
const GOAWAY_PING: [u8; 8] = *b"rill-bye";
/// How long a closing connection may take to write its last frames (GOAWAY).
const CLOSE_LINGER: Duration = Duration::from_secs(2);

impl Conn {
    /// Handshake, idle and drain deadlines share one timer.
    pub(super) fn poll_timers(
        &mut self,
        timer: &mut Pin<Box<Sleep>>,
        armed: &mut Option<Instant>,
        cx: &mut Context<'_>,
    ) {
        loop {
            let now = Instant::now();
            let mut next: Option<Instant> = None;
            let mut consider = |at: Instant| next = Some(next.map_or(at, |n: Instant| n.min(at)));
            if !self.settings_seen {
                consider(self.started + self.config.handshake_timeout);
            }
            if let (Some(limit), Some(since), Drain::Serving) =
                (self.config.idle_timeout, self.idle_since, self.drain)
            {
                consider(since + limit);
            }
            if let Drain::Announced(at) = self.drain {
                consider(at + GOAWAY_PING_WAIT);
            }
            if let Some(age) = self.config.max_connection_age {
                match (self.drain, self.config.max_connection_age_grace) {
                    (Drain::Serving, _) => consider(self.started + age),
                    (_, Some(grace)) => consider(self.started + age + grace),
                    _ => {}
                }
            }
            let Some(at) = next else { return };
            if at <= now {
                self.on_deadline(now);
                if self.closing {
                    return;
                }
                continue;
            }
            if *armed != Some(at) {
                timer.as_mut().reset(at.into());
                *armed = Some(at);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return;
            }
        }
    }

    /// Whether a closing connection has waited long enough for its last bytes to drain.
    pub(super) fn linger_over(
        &mut self,
        timer: &mut Pin<Box<Sleep>>,
        armed: &mut Option<Instant>,
        cx: &mut Context<'_>,
    ) -> bool {
        let now = Instant::now();
        let at = *self.closing_since.get_or_insert(now) + CLOSE_LINGER;
        if at <= now {
            return true;
        }
        if *armed != Some(at) {
            timer.as_mut().reset(at.into());
            *armed = Some(at);
        }
        timer.as_mut().poll(cx).is_ready()
    }

    fn on_deadline(&mut self, now: Instant) {
        if !self.settings_seen && now >= self.started + self.config.handshake_timeout {
            tracing::debug!(remote_addr = ?self.info.remote_addr, "http/2 handshake timed out");
            self.close(Reason::PROTOCOL_ERROR, b"handshake timeout");
            return;
        }
        if let Drain::Announced(at) = self.drain {
            if now >= at + GOAWAY_PING_WAIT {
                self.final_goaway();
            }
        }
        if let Some(age) = self.config.max_connection_age {
            if self.drain == Drain::Serving && now >= self.started + age {
                tracing::debug!(remote_addr = ?self.info.remote_addr, "max connection age: draining");
                self.start_drain();
                return;
            }
            let grace = self.config.max_connection_age_grace;
            if grace.is_some_and(|grace| now >= self.started + age + grace) {
                tracing::debug!(remote_addr = ?self.info.remote_addr, "max connection age grace over");
                self.close(Reason::NO_ERROR, b"max_age");
                return;
            }
        }
        if let (Some(limit), Some(since)) = (self.config.idle_timeout, self.idle_since) {
            if now >= since + limit && self.drain == Drain::Serving {
                tracing::debug!(remote_addr = ?self.info.remote_addr, "closing idle connection");
                self.close(Reason::NO_ERROR, b"idle");
            }
        }
    }

    /// Graceful shutdown, phase one: no new streams please, and a PING to learn when the
    /// peer has seen that.
    pub(super) fn start_drain(&mut self) {
        frame::put_goaway(
            &mut self.out.wbuf.cur,
            frame::MAX_WINDOW as u32,
            Reason::NO_ERROR,
            b"",
        );
        frame::put_ping(&mut self.out.wbuf.cur, false, GOAWAY_PING);
        self.drain = Drain::Announced(Instant::now());
    }

    /// Phase two: the real last stream; the connection ends when its streams do.
    pub(super) fn final_goaway(&mut self) {
        frame::put_goaway(
            &mut self.out.wbuf.cur,
            self.last_peer_stream,
            Reason::NO_ERROR,
            b"",
        );
        self.drain = Drain::Final;
    }

    pub(super) fn is_goaway_ping(payload: &[u8; 8]) -> bool {
        *payload == GOAWAY_PING
    }
}
