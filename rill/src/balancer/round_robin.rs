//! `round_robin`: a connection to every address, calls spread over the ready ones in turn.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::outlier_detection::later;
use super::{
    dedup, unavailable, ChannelController, ConnectivityState, FailPicker, LbPolicy, LoadBalancer,
    PickInfo, PickResult, Picker, QueuePicker, Subchannel, SubchannelState,
};
use crate::resolver::ResolverState;
use crate::Status;

/// Connects to every address and sends each call to the next READY subchannel in turn.
/// Lost connections are re-established at once; the channel is READY while any subchannel is.
///
/// ```
/// let channel = rill::Channel::builder("ipv4:127.0.0.1:50051,127.0.0.1:50052")
///     .load_balancer(rill::balancer::RoundRobin)
///     .connect_lazy()
///     .unwrap();
/// # drop(channel);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundRobin;

impl LbPolicy for RoundRobin {
    fn name(&self) -> &str {
        "round_robin"
    }

    fn build(&self) -> Box<dyn LoadBalancer> {
        Box::new(Balancer::new(InTurn))
    }
}

/// How a policy that connects to every address spreads calls over the READY ones.
pub(super) trait Spread: Send + 'static {
    /// The picker over the READY subchannels (never empty).
    fn picker(&mut self, ready: Vec<Subchannel>) -> Arc<dyn Picker>;

    /// Rebuild the picker this often (weights that change).
    fn refresh_period(&self) -> Option<Duration> {
        None
    }
}

/// round_robin's spread: each READY subchannel in turn, from a random start.
struct InTurn;

impl Spread for InTurn {
    fn picker(&mut self, ready: Vec<Subchannel>) -> Arc<dyn Picker> {
        // A random start, so that many clients do not all begin with the same server.
        let next = (crate::client::backoff::random_u64() % ready.len() as u64) as usize;
        Arc::new(Ready {
            subchannels: ready,
            next: AtomicUsize::new(next),
        })
    }
}

/// A balancer that connects to every address (round_robin, least_request,
/// weighted_round_robin), spreading calls as `S` says.
pub(super) struct Balancer<S> {
    spread: S,
    /// When the picker is due to be rebuilt (weights); `None` before the first address.
    next_refresh: Option<tokio::time::Instant>,
    subchannels: Vec<(Subchannel, ConnectivityState)>,
    /// No subchannel is READY and all have failed: TRANSIENT_FAILURE until one is (sticky).
    failing: bool,
    last_error: Option<Status>,
}

struct Ready {
    subchannels: Vec<Subchannel>,
    next: AtomicUsize,
}

impl Picker for Ready {
    fn pick(&self, _: &PickInfo<'_>) -> PickResult {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.subchannels.len();
        PickResult::Pick(self.subchannels[i].clone())
    }
}

impl<S: Spread> Balancer<S> {
    pub(super) fn new(spread: S) -> Self {
        Balancer {
            spread,
            next_refresh: None,
            subchannels: Vec::new(),
            failing: false,
            last_error: None,
        }
    }

    fn publish(&mut self, channel: &mut dyn ChannelController) {
        let ready: Vec<Subchannel> = self
            .subchannels
            .iter()
            .filter(|(_, state)| *state == ConnectivityState::Ready)
            .map(|(s, _)| s.clone())
            .collect();
        if !ready.is_empty() {
            self.failing = false;
            let picker = self.spread.picker(ready);
            channel.update_picker(ConnectivityState::Ready, picker);
            return;
        }
        let all_failed = self
            .subchannels
            .iter()
            .all(|(_, state)| *state == ConnectivityState::TransientFailure);
        if self.failing || all_failed {
            self.failing = true;
            let status = unavailable(self.last_error.as_ref(), "no address could be connected to");
            channel.update_picker(
                ConnectivityState::TransientFailure,
                Arc::new(FailPicker(status)),
            );
        } else {
            channel.update_picker(ConnectivityState::Connecting, Arc::new(QueuePicker));
        }
    }
}

impl<S: Spread> LoadBalancer for Balancer<S> {
    fn resolver_update(&mut self, state: &ResolverState, channel: &mut dyn ChannelController) {
        if let (None, Some(period)) = (self.next_refresh, self.spread.refresh_period()) {
            self.next_refresh = Some(later(tokio::time::Instant::now(), period));
            channel.schedule_timer(period);
        }
        let addresses = dedup(&state.addresses);
        if self.subchannels.is_empty() {
            // A failure without servers (the resolver had none) is not sticky.
            self.failing = false;
        }
        let mut kept = Vec::with_capacity(addresses.len());
        for (subchannel, state) in std::mem::take(&mut self.subchannels) {
            if addresses.contains(subchannel.address()) {
                kept.push((subchannel, state));
            } else {
                subchannel.shutdown(); // calls in flight on it finish
            }
        }
        for address in addresses {
            if !kept.iter().any(|(s, _)| *s.address() == address) {
                let subchannel = channel.new_subchannel(&address);
                subchannel.connect();
                kept.push((subchannel, ConnectivityState::Idle));
            }
        }
        self.subchannels = kept;
        if self.subchannels.is_empty() {
            self.failing = true;
            self.last_error = Some(Status::unavailable("the resolver returned no addresses"));
        }
        self.publish(channel);
    }

    fn resolver_error(&mut self, error: &Status, channel: &mut dyn ChannelController) {
        if self.subchannels.is_empty() {
            self.last_error = Some(error.clone());
            self.failing = true;
            self.publish(channel);
        }
    }

    fn subchannel_update(
        &mut self,
        subchannel: &Subchannel,
        state: &SubchannelState,
        channel: &mut dyn ChannelController,
    ) {
        let Some(entry) = self.subchannels.iter_mut().find(|(s, _)| s == subchannel) else {
            return;
        };
        entry.1 = state.state;
        match state.state {
            ConnectivityState::Idle => {
                // A lost connection: reconnect now, and look for changes.
                subchannel.connect();
                channel.request_resolution();
            }
            ConnectivityState::TransientFailure => {
                self.last_error = state.error.clone();
                channel.request_resolution();
            }
            _ => {}
        }
        self.publish(channel);
    }

    fn timer(&mut self, channel: &mut dyn ChannelController) {
        // Timers may be spurious (a parent policy's): act only when due.
        let (Some(due), Some(period)) = (self.next_refresh, self.spread.refresh_period()) else {
            return;
        };
        let now = tokio::time::Instant::now();
        if now >= due {
            self.next_refresh = Some(later(now, period));
            self.publish(channel);
            channel.schedule_timer(period);
        }
    }

    fn exit_idle(&mut self, _channel: &mut dyn ChannelController) {
        for (subchannel, state) in &self.subchannels {
            if *state == ConnectivityState::Idle {
                subchannel.connect();
            }
        }
    }
}
