//! `weighted_round_robin` (gRFC A58): round robin weighted by the backends' own load reports
//! (ORCA `endpoint-load-metrics-bin` trailers), with the static stride scheduler of gRPC C++.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::round_robin::{Balancer, Spread};
use super::{LbPolicy, LoadBalancer, PickInfo, PickResult, Picker, Subchannel};

/// Connects to every address and sends each backend a share of calls proportional to its
/// weight, `qps / (utilization + eps / qps × error_utilization_penalty)`, computed from the
/// [`LoadReport`](super::LoadReport)s servers put in their trailers (gRFC A58, per-call
/// reports). Backends without a recent report get the mean weight; with fewer than two
/// weighted backends this is plain round robin.
///
/// ```
/// use std::time::Duration;
/// use rill::balancer::WeightedRoundRobin;
/// let policy = WeightedRoundRobin::new().blackout_period(Duration::from_secs(5));
/// let channel = rill::Channel::builder("ipv4:127.0.0.1:50051,127.0.0.1:50052")
///     .load_balancer(policy)
///     .connect_lazy()
///     .unwrap();
/// # drop(channel);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightedRoundRobin {
    pub(super) blackout_period: Duration,
    pub(super) weight_expiration_period: Duration,
    pub(super) weight_update_period: Duration,
    pub(super) error_utilization_penalty: f64,
}

impl Default for WeightedRoundRobin {
    fn default() -> Self {
        WeightedRoundRobin {
            blackout_period: Duration::from_secs(10),
            weight_expiration_period: Duration::from_secs(180),
            weight_update_period: Duration::from_secs(1),
            error_utilization_penalty: 1.0,
        }
    }
}

impl WeightedRoundRobin {
    /// The policy with gRFC A58's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a backend must have reported before its weight counts (10 s).
    pub fn blackout_period(mut self, period: Duration) -> Self {
        self.blackout_period = period;
        self
    }

    /// A weight without a new report for this long is dropped (3 min).
    pub fn weight_expiration_period(mut self, period: Duration) -> Self {
        self.weight_expiration_period = period;
        self
    }

    /// How often weights are recomputed (1 s; at least 100 ms).
    pub fn weight_update_period(mut self, period: Duration) -> Self {
        self.weight_update_period = period.max(Duration::from_millis(100));
        self
    }

    /// How much errors per second weigh against a backend (1.0).
    pub fn error_utilization_penalty(mut self, penalty: f64) -> Self {
        self.error_utilization_penalty = penalty.max(0.0);
        self
    }
}

impl LbPolicy for WeightedRoundRobin {
    fn name(&self) -> &str {
        "weighted_round_robin"
    }

    fn build(&self) -> Box<dyn LoadBalancer> {
        Box::new(Balancer::new(Weights {
            config: *self,
            backends: HashMap::new(),
        }))
    }
}

#[derive(Default)]
struct Backend {
    /// When the current run of non-zero weights began (blackout).
    non_empty_since: Option<Instant>,
    /// When the last report used arrived.
    last_update: Option<Instant>,
    weight: f64,
}

struct Weights {
    config: WeightedRoundRobin,
    backends: HashMap<Subchannel, Backend>,
}

impl Weights {
    fn weight(&mut self, subchannel: &Subchannel, now: Instant) -> f64 {
        let config = self.config;
        let backend = self.backends.entry(subchannel.clone()).or_default();
        if let Some((report, at)) = subchannel.load_report_at() {
            if backend.last_update.is_none_or(|last| at > last) {
                let utilization = if report.application_utilization > 0.0 {
                    report.application_utilization
                } else {
                    report.cpu_utilization
                };
                let mut weight = 0.0;
                if report.qps > 0.0 && utilization > 0.0 {
                    let penalty = report.eps / report.qps * config.error_utilization_penalty;
                    weight = report.qps / (utilization + penalty);
                }
                if weight > 0.0 {
                    backend.non_empty_since.get_or_insert(at);
                    backend.last_update = Some(at);
                    backend.weight = weight;
                }
            }
        }
        let Some(last) = backend.last_update else {
            return 0.0;
        };
        if now.saturating_duration_since(last) >= config.weight_expiration_period {
            backend.non_empty_since = None; // a new blackout when reports resume
            return 0.0;
        }
        match backend.non_empty_since {
            Some(since) if now.saturating_duration_since(since) >= config.blackout_period => {
                backend.weight
            }
            _ => 0.0,
        }
    }
}

impl Spread for Weights {
    fn picker(&mut self, ready: Vec<Subchannel>) -> Arc<dyn Picker> {
        let now = Instant::now();
        self.backends.retain(|s, _| ready.contains(s));
        let weights: Vec<f64> = ready.iter().map(|s| self.weight(s, now)).collect();
        let start = crate::client::backoff::random_u64();
        Arc::new(StridePicker {
            weights: scale(&weights),
            ready,
            sequence: AtomicU64::new(start),
        })
    }

    fn refresh_period(&self) -> Option<Duration> {
        Some(self.config.weight_update_period)
    }
}

const MAX_WEIGHT: u64 = u16::MAX as u64;

/// Weights scaled to 1..=MAX_WEIGHT; missing ones get the mean; all equal with fewer than two.
fn scale(weights: &[f64]) -> Vec<u64> {
    let known: Vec<f64> = weights.iter().copied().filter(|w| *w > 0.0).collect();
    if known.len() < 2 {
        return vec![MAX_WEIGHT; weights.len()];
    }
    let mean = known.iter().sum::<f64>() / known.len() as f64;
    let max = known.iter().copied().fold(0.0, f64::max);
    let factor = MAX_WEIGHT as f64 / max;
    weights
        .iter()
        .map(|w| {
            let w = if *w > 0.0 { *w } else { mean };
            ((w * factor).round() as u64).clamp(1, MAX_WEIGHT)
        })
        .collect()
}

/// gRPC C++'s StaticStrideScheduler: lock-free, deterministic, proportional to weights.
struct StridePicker {
    ready: Vec<Subchannel>,
    weights: Vec<u64>,
    sequence: AtomicU64,
}

impl StridePicker {
    fn index(&self) -> usize {
        let n = self.weights.len() as u64;
        let offset = MAX_WEIGHT / 2;
        loop {
            let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
            let backend = sequence % n;
            let generation = sequence / n;
            let weight = self.weights[backend as usize];
            let modulus =
                (weight.wrapping_mul(generation)).wrapping_add(backend * offset) % MAX_WEIGHT;
            if modulus < MAX_WEIGHT - weight {
                continue;
            }
            return backend as usize;
        }
    }
}

impl Picker for StridePicker {
    fn pick(&self, _: &PickInfo<'_>) -> PickResult {
        PickResult::Pick(self.ready[self.index()].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(weights: &[f64], picks: usize) -> Vec<usize> {
        let scaled = scale(weights);
        let picker = StridePicker {
            ready: Vec::new(),
            weights: scaled,
            sequence: AtomicU64::new(12345),
        };
        let mut counts = vec![0; weights.len()];
        for _ in 0..picks {
            counts[picker.index()] += 1;
        }
        counts
    }

    #[test]
    fn the_stride_scheduler_follows_the_weights() {
        let counts = shares(&[1.0, 2.0, 3.0], 6000);
        for (count, expected) in counts.iter().zip([1000, 2000, 3000]) {
            assert!(count.abs_diff(expected) < 60, "{counts:?}");
        }
    }

    #[test]
    fn missing_weights_take_the_mean_and_one_weight_is_round_robin() {
        assert_eq!(scale(&[0.0, 5.0]), vec![MAX_WEIGHT, MAX_WEIGHT]);
        let scaled = scale(&[0.0, 2.0, 4.0]);
        assert_eq!(scaled[2], MAX_WEIGHT);
        assert!(scaled[0].abs_diff(MAX_WEIGHT * 3 / 4) < 2, "{scaled:?}");
        let counts = shares(&[0.0, 0.0, 0.0], 300);
        assert_eq!(counts, vec![100, 100, 100]);
    }
}
