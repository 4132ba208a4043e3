//! Connection backoff as grpc/grpc `doc/connection-backoff.md` specifies it.

use std::time::Duration;

/// How a subchannel spaces its connection attempts (grpc/grpc `doc/connection-backoff.md`).
///
/// The first retry waits `initial_delay`; each later one `multiplier` times longer, up to
/// `max_delay`, spread by ±`jitter` (a fraction) so that clients do not reconnect in lockstep.
/// A successful connection starts over. Each attempt may take at least the endpoint's
/// [`connect_timeout`](crate::client::Endpoint::connect_timeout) (the spec's
/// MIN_CONNECT_TIMEOUT), or longer while the current backoff is longer.
///
/// ```
/// use std::time::Duration;
/// let mut backoff = rill::client::BackoffConfig::default();
/// assert_eq!(backoff.initial_delay, Duration::from_secs(1));
/// backoff.max_delay = Duration::from_secs(10);
/// let channel = rill::Channel::builder("127.0.0.1:50051")
///     .connect_backoff(backoff)
///     .connect_lazy()
///     .unwrap();
/// # drop(channel);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct BackoffConfig {
    /// The wait before the first retry (INITIAL_BACKOFF, 1 s).
    pub initial_delay: Duration,
    /// How much longer each retry waits than the one before (MULTIPLIER, 1.6).
    pub multiplier: f64,
    /// The random spread of each wait, as a fraction of it (JITTER, 0.2).
    pub jitter: f64,
    /// The longest wait (MAX_BACKOFF, 120 s).
    pub max_delay: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial_delay: Duration::from_secs(1),
            multiplier: 1.6,
            jitter: 0.2,
            max_delay: Duration::from_secs(120),
        }
    }
}

/// The state of one subchannel's backoff.
#[derive(Debug)]
pub(crate) struct Backoff {
    config: BackoffConfig,
    /// The un-jittered backoff of the last attempt; `None` before the first.
    current: Option<Duration>,
}

impl Backoff {
    pub(crate) fn new(config: BackoffConfig) -> Backoff {
        Backoff {
            config,
            current: None,
        }
    }

    /// How long after its start the next attempt may be followed by another: the first is
    /// INITIAL_BACKOFF exactly, later ones grow by MULTIPLIER up to MAX_BACKOFF, with jitter.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let config = &self.config;
        let Some(current) = self.current else {
            self.current = Some(config.initial_delay);
            return config.initial_delay;
        };
        let multiplier = if config.multiplier.is_finite() && config.multiplier >= 1.0 {
            config.multiplier
        } else {
            1.0
        };
        let grown = current.as_secs_f64() * multiplier;
        let next = Duration::try_from_secs_f64(grown)
            .unwrap_or(config.max_delay)
            .min(config.max_delay);
        self.current = Some(next);
        let jitter = config.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + jitter * (2.0 * random_unit() - 1.0);
        Duration::try_from_secs_f64(next.as_secs_f64() * factor).unwrap_or(next)
    }

    /// Starts over (after a successful connection).
    pub(crate) fn reset(&mut self) {
        self.current = None;
    }
}

/// A uniformly distributed number in [0, 1): good enough for jitter and load spreading, with
/// no dependency (std's per-process random hash keys, stirred by a counter).
pub(crate) fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_jitter_up_to_the_cap() {
        let mut backoff = Backoff::new(BackoffConfig::default());
        assert_eq!(backoff.next_delay(), Duration::from_secs(1));
        let mut expected = 1.0f64;
        for _ in 0..20 {
            expected = (expected * 1.6).min(120.0);
            let d = backoff.next_delay().as_secs_f64();
            assert!(
                d >= expected * 0.8 - 1e-9 && d <= expected * 1.2 + 1e-9,
                "{d} not within 20% of {expected}"
            );
        }
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn random_unit_is_in_range_and_varies() {
        let samples: Vec<f64> = (0..100).map(|_| random_unit()).collect();
        assert!(samples.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(samples.windows(2).any(|w| w[0] != w[1]));
    }
}
