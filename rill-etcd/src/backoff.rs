//! The delays between attempts to reach etcd again (after a failed Range, Watch or
//! KeepAlive): exponential, with jitter so that many clients do not retry in lockstep.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Delays doubling from `initial` up to `max`, each spread by ±20 %.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Backoff {
        let max = max.max(initial);
        Backoff {
            initial,
            max,
            next: initial,
        }
    }

    /// After a success: the next failure waits `initial` again.
    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }

    /// The delay before the next attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (base * 2).min(self.max);
        jitter(base)
    }
}

/// `base` ± 20 %. The clock's nanoseconds are random enough to de-synchronise clients; no
/// random-number crate is needed for that.
fn jitter(base: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let factor = 0.8 + 0.4 * f64::from(nanos % 1000) / 1000.0;
    base.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_max_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let within = |d: Duration, base: u64| {
            let base = Duration::from_millis(base);
            d >= base.mul_f64(0.8) && d <= base.mul_f64(1.2)
        };
        for base in [100, 200, 350, 350] {
            let d = backoff.next_delay();
            assert!(within(d, base), "{d:?} vs {base}");
        }
        backoff.reset();
        assert!(within(backoff.next_delay(), 100));
    }
}
