//! Retries and hedging (gRFC A6): the per-channel state (throttling tokens, the retry buffer
//! budget, the calls-in-flight cap) and the executor that runs a call's attempts.
//!
//! The executor knows nothing about HTTP/2: the client's exchange gives it a function that
//! runs one attempt up to its commit point (response headers) and reports either the
//! committed answer or a [`Failure`]. Request messages of streaming calls are replayed from a
//! [`Replay`] buffer while the call is not committed.

mod executor;
mod replay;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

pub(crate) use executor::{run, Attempt, Failure, Outcome, Plan};
pub(crate) use replay::Replay;

use crate::service_config::{CallPolicy, RetryPolicy, RetryThrottling, ServiceConfig};
use crate::Status;

/// The header a retried attempt carries: how many attempts went before it.
pub(crate) const PREVIOUS_ATTEMPTS: &str = "grpc-previous-rpc-attempts";
/// The header a server sets to ask for a retry after a delay, or for none.
pub(crate) const PUSHBACK: &str = "grpc-retry-pushback-ms";

/// Default per-call limit of buffered request bytes (grpc-java's `perRpcBufferLimit`).
pub(crate) const DEFAULT_PER_CALL_BUFFER: usize = 1 << 20;
/// Default channel-wide limit of buffered request bytes (grpc-java's `retryBufferSize`).
pub(crate) const DEFAULT_CHANNEL_BUFFER: usize = 16 << 20;

/// What a channel applies to every call beyond picking a connection.
#[derive(Debug, Default)]
pub(crate) struct ChannelCalls {
    pub(crate) service_config: Option<ServiceConfig>,
    pub(crate) throttle: Option<Throttle>,
    pub(crate) in_flight: Option<InFlight>,
    pub(crate) buffer: BufferLimits,
}

impl ChannelCalls {
    pub(crate) fn new(
        service_config: Option<ServiceConfig>,
        max_in_flight: Option<usize>,
        buffer: BufferLimits,
    ) -> ChannelCalls {
        let throttle = service_config
            .as_ref()
            .and_then(ServiceConfig::retry_throttling)
            .map(Throttle::new);
        ChannelCalls {
            service_config,
            throttle,
            in_flight: max_in_flight.map(InFlight::new),
            buffer,
        }
    }
}

/// The retry buffer's limits and the channel-wide bytes buffered now.
#[derive(Debug)]
pub(crate) struct BufferLimits {
    pub(crate) per_call: usize,
    pub(crate) per_channel: usize,
    pub(crate) used: Arc<AtomicUsize>,
}

impl Default for BufferLimits {
    fn default() -> Self {
        BufferLimits::new(DEFAULT_PER_CALL_BUFFER, DEFAULT_CHANNEL_BUFFER)
    }
}

impl BufferLimits {
    pub(crate) fn new(per_call: usize, per_channel: usize) -> Self {
        BufferLimits {
            per_call,
            per_channel,
            used: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// The retry throttle: tokens shared by the channel's calls, in thousandths.
#[derive(Debug)]
pub(crate) struct Throttle {
    tokens: AtomicUsize,
    max: usize,
    ratio: usize,
}

impl Throttle {
    pub(crate) fn new(config: RetryThrottling) -> Throttle {
        let max = config.max_tokens as usize * 1000;
        Throttle {
            tokens: AtomicUsize::new(max),
            max,
            ratio: (config.token_ratio * 1000.0).round() as usize,
        }
    }

    /// A failed attempt (retryable or non-fatal code, or pushback): one token less.
    pub(crate) fn record_failure(&self) {
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_sub(1000))
            });
    }

    /// A successful call: `tokenRatio` tokens back, up to the maximum.
    pub(crate) fn record_success(&self) {
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some((t + self.ratio).min(self.max))
            });
    }

    /// Retries and hedges are sent only while more than half the tokens are left.
    pub(crate) fn allows_retry(&self) -> bool {
        self.tokens.load(Ordering::Acquire) > self.max / 2
    }

    #[cfg(test)]
    pub(crate) fn tokens(&self) -> f64 {
        self.tokens.load(Ordering::Acquire) as f64 / 1000.0
    }
}

/// The per-channel cap on calls in flight.
#[derive(Debug)]
pub(crate) struct InFlight {
    max: usize,
    now: Arc<AtomicUsize>,
}

impl InFlight {
    fn new(max: usize) -> InFlight {
        InFlight {
            max,
            now: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A slot for one more call, or RESOURCE_EXHAUSTED when `max` calls are in flight.
    pub(crate) fn acquire(&self) -> Result<InFlightGuard, Status> {
        let taken = self
            .now
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(InFlightGuard(self.now.clone())),
            Err(_) => Err(Status::resource_exhausted(format!(
                "the channel already has {} calls in flight (max_in_flight)",
                self.max
            ))),
        }
    }
}

/// Holds one in-flight slot until the call ends (dropped with the response stream).
#[derive(Debug)]
pub(crate) struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the server's `grpc-retry-pushback-ms` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushback {
    /// No header: the policy's backoff applies.
    None,
    /// Retry after exactly this delay.
    After(Duration),
    /// A negative or malformed value: do not retry.
    Stop,
}

impl Pushback {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Pushback {
        let Some(value) = headers.get(PUSHBACK) else {
            return Pushback::None;
        };
        match value.to_str().ok().map(|v| v.trim().parse::<i64>()) {
            Some(Ok(ms)) if ms >= 0 => Pushback::After(Duration::from_millis(ms as u64)),
            _ => Pushback::Stop,
        }
    }
}

/// Whether a failed call with `code` costs a throttle token: its code is retryable (or, for
/// hedging, non-fatal).
pub(crate) fn counts_as_failure(policy: Option<&CallPolicy>, code: crate::Code) -> bool {
    match policy {
        Some(CallPolicy::Retry(retry)) => retry.retryable_status_codes.contains(&code),
        Some(CallPolicy::Hedging(hedging)) => hedging.non_fatal_status_codes.contains(&code),
        None => false,
    }
}

/// The wait before retry number `n` (1 for the first): random in
/// [0, min(initialBackoff × multiplier^(n−1), maxBackoff)].
pub(crate) fn backoff(policy: &RetryPolicy, n: u32) -> Duration {
    let exponent = n.saturating_sub(1).min(64) as i32;
    let bound = policy.initial_backoff.as_secs_f64() * policy.backoff_multiplier.powi(exponent);
    let bound = bound.min(policy.max_backoff.as_secs_f64());
    let wait = crate::client::backoff::random_unit() * bound;
    Duration::try_from_secs_f64(wait).unwrap_or(policy.max_backoff)
}
