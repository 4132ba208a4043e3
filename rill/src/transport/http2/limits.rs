//! Accounting against abusive peers: the rapid-reset budget and gRPC keepalive enforcement.

use std::time::{Duration, Instant};

/// Streams the peer may reset (or break) in a burst before the connection is cut.
const RESET_BURST: f64 = 1000.0;
/// ...and how fast that allowance comes back, per second.
const RESET_REFILL_PER_SEC: f64 = 100.0;

/// A token bucket over streams reset by the peer before their response finished, and over
/// stream errors the peer caused (CVE-2023-44487, "rapid reset"). A client that cancels now
/// and then never comes close; one that opens and resets in a loop runs dry within a second.
pub(crate) struct ResetBudget {
    tokens: f64,
    at: Instant,
}

impl ResetBudget {
    pub(crate) fn new(now: Instant) -> ResetBudget {
        ResetBudget {
            tokens: RESET_BURST,
            at: now,
        }
    }

    /// Takes one token; `false` when the budget is exhausted.
    pub(crate) fn spend(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * RESET_REFILL_PER_SEC).min(RESET_BURST);
        self.tokens -= 1.0;
        self.tokens >= 0.0
    }
}

/// How long a connection without streams must wait between pings (grpc-go's
/// `defaultPingTimeout` when pings without streams are not permitted).
const NO_STREAM_PING_INTERVAL: Duration = Duration::from_secs(2 * 60 * 60);
/// Strikes allowed before GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings").
const MAX_PING_STRIKES: u32 = 2;

/// grpc-go's keepalive enforcement policy (`keepalive.EnforcementPolicy`): a client pinging
/// more often than `min_time`, or without streams when that is not permitted, gets a strike;
/// past two strikes the connection is closed. Sending headers or data resets the strikes.
pub(crate) struct KeepalivePolicy {
    min_time: Duration,
    permit_without_stream: bool,
    last_ping: Option<Instant>,
    strikes: u32,
    reset_strikes: bool,
}

impl KeepalivePolicy {
    pub(crate) fn new(min_time: Duration, permit_without_stream: bool) -> KeepalivePolicy {
        KeepalivePolicy {
            min_time,
            permit_without_stream,
            last_ping: None,
            strikes: 0,
            reset_strikes: false,
        }
    }

    /// The server sent headers or data: the next ping starts with a clean slate.
    pub(crate) fn data_sent(&mut self) {
        self.reset_strikes = true;
    }

    /// Accounts one PING; `false` means the peer has been told to calm down too often.
    pub(crate) fn on_ping(&mut self, now: Instant, open_streams: usize) -> bool {
        let last = self.last_ping.replace(now);
        if std::mem::take(&mut self.reset_strikes) {
            self.strikes = 0;
            return true;
        }
        let interval = if open_streams == 0 && !self.permit_without_stream {
            NO_STREAM_PING_INTERVAL
        } else {
            self.min_time
        };
        if last.is_some_and(|last| now.saturating_duration_since(last) < interval) {
            self.strikes += 1;
        }
        self.strikes <= MAX_PING_STRIKES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_budget_allows_bursts_and_refills() {
        let t0 = Instant::now();
        let mut b = ResetBudget::new(t0);
        assert!((0..1000).all(|_| b.spend(t0)));
        assert!(!b.spend(t0));
        assert!(b.spend(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn keepalive_strikes_follow_grpc_go() {
        let t0 = Instant::now();
        let min = Duration::from_secs(300);
        // Pings every second with a stream open: the fourth one is one strike too many.
        let mut p = KeepalivePolicy::new(min, false);
        let verdicts: Vec<bool> = (0..4)
            .map(|i| p.on_ping(t0 + Duration::from_secs(i), 1))
            .collect();
        assert_eq!(verdicts, [true, true, true, false]);
        // Sending data in between resets the strikes.
        let mut p = KeepalivePolicy::new(min, false);
        for i in 0..10 {
            p.data_sent();
            assert!(p.on_ping(t0 + Duration::from_secs(i), 1));
        }
        // Pings spaced by min_time are always fine.
        let mut p = KeepalivePolicy::new(min, false);
        for i in 0..10 {
            assert!(p.on_ping(t0 + min * i, 1));
        }
        // Without streams, min_time is not enough unless permitted.
        let mut p = KeepalivePolicy::new(min, true);
        assert!((0..10).all(|i| p.on_ping(t0 + min * i, 0)));
        let mut p = KeepalivePolicy::new(min, false);
        let verdicts: Vec<bool> = (0..4).map(|i| p.on_ping(t0 + min * i, 0)).collect();
        assert_eq!(verdicts, [true, true, true, false]);
    }
}
