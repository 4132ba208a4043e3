//! `outlier_detection_experimental` (gRFC A50): ejects backends whose calls fail much more
//! than the others', for a time that grows with each ejection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

mod config;
pub use config::{ConsecutiveFailuresEjection, FailurePercentageEjection, SuccessRateEjection};

use super::{
    ChannelController, ConnectivityState, LbPolicy, LoadBalancer, Picker, Subchannel,
    SubchannelState,
};
use crate::client::backoff::random_unit;
use crate::resolver::{Address, ResolverState};
use crate::Status;

/// Wraps a child policy (round_robin by default) and ejects outliers (gRFC A50): every
/// `interval` it compares the backends' call results since the last interval, and, with
/// [`consecutive_failures`](Self::consecutive_failures), it ejects a backend the moment
/// that many of its calls in a row have failed; an ejected
/// backend looks TRANSIENT_FAILURE to the child (so gets no calls) for
/// `base_ejection_time × times ejected`, at most `max(base, max_ejection_time)`. No backend
/// is ejected if that would put more than `max_ejection_percent` of them out (stricter than
/// A50, which checks the share before each ejection and so may pass it by one backend; with
/// the default 10% a channel needs 10 backends before one can be ejected). Every non-OK call status
/// counts as a failure, as in grpc-go.
///
/// ```
/// use std::time::Duration;
/// use rill::balancer::{FailurePercentageEjection, OutlierDetection, RoundRobin};
/// let policy = OutlierDetection::new(RoundRobin)
///     .interval(Duration::from_secs(5))
///     .failure_percentage(FailurePercentageEjection::default());
/// let channel = rill::Channel::builder("ipv4:127.0.0.1:50051,127.0.0.1:50052")
///     .load_balancer(policy)
///     .connect_lazy()
///     .unwrap();
/// # drop(channel);
/// ```
#[derive(Clone)]
pub struct OutlierDetection {
    pub(super) interval: Duration,
    pub(super) base_ejection_time: Duration,
    pub(super) max_ejection_time: Duration,
    pub(super) max_ejection_percent: u32,
    pub(super) success_rate: Option<SuccessRateEjection>,
    pub(super) failure_percentage: Option<FailurePercentageEjection>,
    pub(super) consecutive_failures: Option<ConsecutiveFailuresEjection>,
    pub(super) child: Arc<dyn LbPolicy>,
}

impl std::fmt::Debug for OutlierDetection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutlierDetection")
            .field("interval", &self.interval)
            .field("base_ejection_time", &self.base_ejection_time)
            .field("max_ejection_time", &self.max_ejection_time)
            .field("max_ejection_percent", &self.max_ejection_percent)
            .field("success_rate", &self.success_rate)
            .field("failure_percentage", &self.failure_percentage)
            .field("consecutive_failures", &self.consecutive_failures)
            .field("child", &self.child.name())
            .finish()
    }
}

impl LbPolicy for OutlierDetection {
    fn name(&self) -> &str {
        "outlier_detection_experimental"
    }

    fn build(&self) -> Box<dyn LoadBalancer> {
        Box::new(Balancer {
            config: self.clone(),
            child: self.child.build(),
            state: State::default(),
        })
    }
}

struct Balancer {
    config: OutlierDetection,
    child: Box<dyn LoadBalancer>,
    state: State,
}

#[derive(Default)]
struct State {
    addresses: HashMap<Address, Ejection>,
    /// The child's subchannels and their real states.
    subchannels: Vec<(Subchannel, SubchannelState)>,
    /// Updates to give the child once its current call returns.
    pending: Vec<(Subchannel, SubchannelState)>,
    next_sweep: Option<Instant>,
}

#[derive(Default)]
struct Ejection {
    ejected_at: Option<Instant>,
    multiplier: u32,
}

/// `at + after`, or far in the future if that overflows.
pub(super) fn later(at: Instant, after: Duration) -> Instant {
    at.checked_add(after)
        .unwrap_or_else(|| at + Duration::from_secs(86_400 * 365 * 30))
}

fn ejected_state() -> SubchannelState {
    SubchannelState {
        state: ConnectivityState::TransientFailure,
        error: Some(Status::unavailable("ejected by outlier detection")),
    }
}

/// The channel as the child sees it: subchannels of ejected addresses start out failed.
struct Wrapped<'a> {
    inner: &'a mut dyn ChannelController,
    state: &'a mut State,
    /// Consecutive failures that wake the balancer (0: not watched).
    alarm_after: u32,
}

impl ChannelController for Wrapped<'_> {
    fn new_subchannel(&mut self, address: &Address) -> Subchannel {
        let subchannel = self.inner.new_subchannel(address);
        subchannel.alarm_after_failures(self.alarm_after);
        let idle = SubchannelState {
            state: ConnectivityState::Idle,
            error: None,
        };
        self.state.subchannels.push((subchannel.clone(), idle));
        let ejected = self
            .state
            .addresses
            .get(address)
            .is_some_and(|e| e.ejected_at.is_some());
        if ejected {
            self.state
                .pending
                .push((subchannel.clone(), ejected_state()));
        }
        subchannel
    }

    fn update_picker(&mut self, state: ConnectivityState, picker: Arc<dyn Picker>) {
        self.inner.update_picker(state, picker);
    }

    fn request_resolution(&mut self) {
        self.inner.request_resolution();
    }

    fn schedule_timer(&mut self, after: Duration) {
        self.inner.schedule_timer(after);
    }
}

impl Balancer {
    /// Runs `f` on the child, then delivers the updates it caused.
    fn with_child(
        &mut self,
        channel: &mut dyn ChannelController,
        f: impl FnOnce(&mut dyn LoadBalancer, &mut dyn ChannelController),
    ) {
        let alarm_after = self
            .config
            .consecutive_failures
            .map_or(0, |c| c.consecutive_failures);
        let mut wrapped = Wrapped {
            inner: channel,
            state: &mut self.state,
            alarm_after,
        };
        f(&mut *self.child, &mut wrapped);
        while !self.state.pending.is_empty() {
            let pending = std::mem::take(&mut self.state.pending);
            for (subchannel, update) in pending {
                let mut wrapped = Wrapped {
                    inner: channel,
                    state: &mut self.state,
                    alarm_after,
                };
                self.child
                    .subchannel_update(&subchannel, &update, &mut wrapped);
            }
        }
    }

    fn is_ejected(&self, address: &Address) -> bool {
        self.state
            .addresses
            .get(address)
            .is_some_and(|e| e.ejected_at.is_some())
    }

    fn set_ejected(&mut self, address: &Address, ejected: bool, now: Instant) {
        let Some(entry) = self.state.addresses.get_mut(address) else {
            return;
        };
        if ejected {
            entry.ejected_at = Some(now);
            entry.multiplier += 1;
            tracing::info!(%address, "outlier detection ejected a backend");
        } else {
            entry.ejected_at = None;
            tracing::info!(%address, "outlier detection brought a backend back");
        }
        for (subchannel, real) in &self.state.subchannels {
            if subchannel.address() == address {
                let update = if ejected {
                    ejected_state()
                } else {
                    real.clone()
                };
                self.state.pending.push((subchannel.clone(), update));
            }
        }
    }

    /// Whether ejecting one more backend stays within `max_ejection_percent`.
    fn may_eject_one_more(&self) -> bool {
        let ejected = self
            .state
            .addresses
            .values()
            .filter(|e| e.ejected_at.is_some())
            .count();
        (ejected + 1) * 100
            <= self.config.max_ejection_percent as usize * self.state.addresses.len()
    }

    /// Ejects each backend whose calls failed `consecutive_failures` times in a row; returns
    /// when the last of those ejections ends.
    fn eject_consecutive_failures(&mut self, now: Instant) -> Option<Duration> {
        let config = self.config.consecutive_failures?;
        let mut until = None;
        let failing: Vec<Subchannel> = self
            .state
            .subchannels
            .iter()
            .map(|(s, _)| s)
            .filter(|s| s.consecutive_failures() >= config.consecutive_failures)
            .cloned()
            .collect();
        for subchannel in failing {
            // The next ejection needs a fresh run of failures.
            subchannel.clear_consecutive_failures();
            let address = subchannel.address();
            if !self.state.addresses.contains_key(address)
                || self.is_ejected(address)
                || !self.may_eject_one_more()
                || random_unit() * 100.0 >= f64::from(config.enforcement_percentage)
            {
                continue;
            }
            let address = address.clone();
            self.set_ejected(&address, true, now);
            let multiplier = self
                .state
                .addresses
                .get(&address)
                .map_or(1, |e| e.multiplier);
            until = until.max(Some(self.ejection_time(multiplier)));
        }
        until
    }

    fn sweep(&mut self, now: Instant) {
        // Call results per address since the last sweep.
        let mut results: HashMap<Address, (u64, u64)> = HashMap::new();
        for (subchannel, _) in &self.state.subchannels {
            let (ok, failed) = subchannel.take_call_results();
            let entry = results.entry(subchannel.address().clone()).or_default();
            entry.0 += ok;
            entry.1 += failed;
        }
        let volume = |a: &Address| results.get(a).map_or(0, |(s, f)| s + f);
        if let Some(sr) = self.config.success_rate {
            let candidates: Vec<(Address, f64)> = self
                .state
                .addresses
                .keys()
                .filter(|a| volume(a) >= u64::from(sr.request_volume))
                .map(|a| {
                    let (ok, _) = results[a];
                    (a.clone(), ok as f64 / volume(a) as f64)
                })
                .collect();
            if candidates.len() >= sr.minimum_hosts as usize && !candidates.is_empty() {
                let n = candidates.len() as f64;
                let mean = candidates.iter().map(|(_, r)| r).sum::<f64>() / n;
                let variance = candidates
                    .iter()
                    .map(|(_, r)| (r - mean).powi(2))
                    .sum::<f64>()
                    / n;
                let threshold = mean - variance.sqrt() * (f64::from(sr.stdev_factor) / 1000.0);
                for (address, rate) in candidates {
                    if !self.may_eject_one_more() {
                        break;
                    }
                    if rate < threshold
                        && !self.is_ejected(&address)
                        && random_unit() * 100.0 < f64::from(sr.enforcement_percentage)
                    {
                        self.set_ejected(&address, true, now);
                    }
                }
            }
        }
        if let Some(fp) = self.config.failure_percentage {
            let candidates: Vec<Address> = self
                .state
                .addresses
                .keys()
                .filter(|a| volume(a) >= u64::from(fp.request_volume))
                .cloned()
                .collect();
            if candidates.len() >= fp.minimum_hosts as usize {
                for address in candidates {
                    if !self.may_eject_one_more() {
                        break;
                    }
                    let (_, failed) = results[&address];
                    let percent = failed as f64 * 100.0 / volume(&address) as f64;
                    if percent > f64::from(fp.threshold)
                        && !self.is_ejected(&address)
                        && random_unit() * 100.0 < f64::from(fp.enforcement_percentage)
                    {
                        self.set_ejected(&address, true, now);
                    }
                }
            }
        }
        for entry in self.state.addresses.values_mut() {
            if entry.ejected_at.is_none() {
                entry.multiplier = entry.multiplier.saturating_sub(1);
            }
        }
    }

    /// How long an ejection with this multiplier lasts.
    fn ejection_time(&self, multiplier: u32) -> Duration {
        let base = self.config.base_ejection_time;
        let longest = self.config.max_ejection_time.max(base);
        base.saturating_mul(multiplier).min(longest)
    }

    /// Brings back the backends whose ejection time has passed.
    fn bring_back(&mut self, now: Instant) {
        let returning: Vec<Address> = self
            .state
            .addresses
            .iter()
            .filter(|(_, e)| {
                e.ejected_at
                    .is_some_and(|at| now >= later(at, self.ejection_time(e.multiplier)))
            })
            .map(|(a, _)| a.clone())
            .collect();
        for address in returning {
            self.set_ejected(&address, false, now);
        }
    }
}

impl LoadBalancer for Balancer {
    fn resolver_update(&mut self, state: &ResolverState, channel: &mut dyn ChannelController) {
        self.state
            .addresses
            .retain(|a, _| state.addresses.contains(a));
        for address in &state.addresses {
            self.state.addresses.entry(address.clone()).or_default();
        }
        if self.state.next_sweep.is_none() {
            self.state.next_sweep = Some(later(Instant::now(), self.config.interval));
            channel.schedule_timer(self.config.interval);
        }
        self.with_child(channel, |child, channel| {
            child.resolver_update(state, channel)
        });
    }

    fn resolver_error(&mut self, error: &Status, channel: &mut dyn ChannelController) {
        self.with_child(channel, |child, channel| {
            child.resolver_error(error, channel)
        });
    }

    fn subchannel_update(
        &mut self,
        subchannel: &Subchannel,
        state: &SubchannelState,
        channel: &mut dyn ChannelController,
    ) {
        let Some(index) = self
            .state
            .subchannels
            .iter()
            .position(|(s, _)| s == subchannel)
        else {
            return;
        };
        if state.state == ConnectivityState::Shutdown {
            self.state.subchannels.swap_remove(index);
        } else {
            self.state.subchannels[index].1 = state.clone();
        }
        if self.is_ejected(subchannel.address()) && state.state != ConnectivityState::Shutdown {
            return; // the child keeps seeing it failed
        }
        self.with_child(channel, |child, channel| {
            child.subchannel_update(subchannel, state, channel)
        });
    }

    fn exit_idle(&mut self, channel: &mut dyn ChannelController) {
        self.with_child(channel, |child, channel| child.exit_idle(channel));
    }

    fn timer(&mut self, channel: &mut dyn ChannelController) {
        let now = Instant::now();
        // Also runs when a subchannel's calls failed `consecutive_failures` times in a row:
        // such an ejection ends on a timer of its own, not at the next interval.
        if let Some(until) = self.eject_consecutive_failures(now) {
            channel.schedule_timer(until);
        }
        self.bring_back(now);
        if let Some(due) = self.state.next_sweep {
            if now >= due {
                self.sweep(now);
                self.state.next_sweep = Some(later(now, self.config.interval));
                channel.schedule_timer(self.config.interval);
            }
        }
        self.with_child(channel, |child, channel| child.timer(channel));
    }
}
