//! `pick_first`: one connection, to the first address that works (gRFC A62, without happy
//! eyeballs).

use std::sync::Arc;

use super::{
    dedup, unavailable, ChannelController, ConnectivityState, FailPicker, LbPolicy, LoadBalancer,
    PickInfo, PickResult, Picker, QueuePicker, Subchannel, SubchannelState,
};
use crate::resolver::{Address, ResolverState};
use crate::Status;

/// The default policy: tries the addresses in order and sends every call over the first
/// connection that succeeds. When that connection drops, the channel goes IDLE and the next
/// call starts again from the first address.
///
/// ```
/// let channel = rill::Channel::builder("dns:///localhost:50051")
///     .load_balancer(rill::balancer::PickFirst)
///     .connect_lazy()
///     .unwrap();
/// # drop(channel);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct PickFirst;

impl LbPolicy for PickFirst {
    fn name(&self) -> &str {
        "pick_first"
    }

    fn build(&self) -> Box<dyn LoadBalancer> {
        Box::new(Balancer::default())
    }
}

#[derive(Default)]
struct Balancer {
    addresses: Vec<Address>,
    /// The subchannels of the current pass, in address order (empty once one is selected).
    pass: Vec<Subchannel>,
    /// The index in `pass` being tried.
    attempt: usize,
    /// Every subchannel of the pass has been tried once.
    pass_done: bool,
    selected: Option<Subchannel>,
    /// Every address failed once: report TRANSIENT_FAILURE until one connects (sticky).
    failing: bool,
    /// The selected connection dropped: wait for `exit_idle`.
    idle: bool,
    last_error: Option<Status>,
}

struct Selected(Subchannel);

impl Picker for Selected {
    fn pick(&self, _: &PickInfo<'_>) -> PickResult {
        PickResult::Pick(self.0.clone())
    }
}

impl Balancer {
    fn shutdown_all(&mut self) {
        for subchannel in self.pass.drain(..).chain(self.selected.take()) {
            subchannel.shutdown();
        }
    }

    fn fail(&mut self, channel: &mut dyn ChannelController) {
        self.failing = true;
        let status = unavailable(self.last_error.as_ref(), "no address could be connected to");
        channel.update_picker(
            ConnectivityState::TransientFailure,
            Arc::new(FailPicker(status)),
        );
    }

    fn start_pass(&mut self, channel: &mut dyn ChannelController) {
        self.shutdown_all();
        if self.addresses.is_empty() {
            self.last_error = Some(Status::unavailable("the resolver returned no addresses"));
            self.fail(channel);
            return;
        }
        self.pass = self
            .addresses
            .iter()
            .map(|address| channel.new_subchannel(address))
            .collect();
        self.attempt = 0;
        self.pass_done = false;
        if let Some(first) = self.pass.first() {
            first.connect();
        }
        if !self.failing {
            channel.update_picker(ConnectivityState::Connecting, Arc::new(QueuePicker));
        }
    }
}

impl LoadBalancer for Balancer {
    fn resolver_update(&mut self, state: &ResolverState, channel: &mut dyn ChannelController) {
        self.addresses = dedup(&state.addresses);
        if self.selected.is_none() && self.pass.is_empty() {
            // A failure without servers (the resolver had none) is not sticky.
            self.failing = false;
        }
        if let Some(selected) = &self.selected {
            if self.addresses.contains(selected.address()) {
                return; // still a valid choice: keep the connection
            }
        }
        if self.idle {
            self.shutdown_all();
            return; // connect to the new addresses on the next call
        }
        self.start_pass(channel);
    }

    fn resolver_error(&mut self, error: &Status, channel: &mut dyn ChannelController) {
        if self.selected.is_none() && self.pass.is_empty() && !self.idle {
            self.last_error = Some(error.clone());
            self.fail(channel);
        }
    }

    fn subchannel_update(
        &mut self,
        subchannel: &Subchannel,
        state: &SubchannelState,
        channel: &mut dyn ChannelController,
    ) {
        if self.selected.as_ref() == Some(subchannel) {
            if state.state != ConnectivityState::Ready {
                // The connection dropped: IDLE until a call comes, then start over.
                self.shutdown_all();
                self.idle = true;
                channel.request_resolution();
                channel.update_picker(ConnectivityState::Idle, Arc::new(QueuePicker));
            }
            return;
        }
        let Some(index) = self.pass.iter().position(|s| s == subchannel) else {
            return;
        };
        match state.state {
            ConnectivityState::Ready => {
                let chosen = self.pass.swap_remove(index);
                self.shutdown_all();
                self.selected = Some(chosen.clone());
                self.failing = false;
                self.last_error = None;
                channel.update_picker(ConnectivityState::Ready, Arc::new(Selected(chosen)));
            }
            ConnectivityState::TransientFailure => {
                self.last_error = state.error.clone();
                if index == self.attempt && !self.pass_done {
                    match self.pass.get(index + 1) {
                        Some(next) => {
                            self.attempt = index + 1;
                            next.connect();
                        }
                        None => {
                            // All failed once; they keep retrying with backoff.
                            self.pass_done = true;
                            channel.request_resolution();
                            self.fail(channel);
                        }
                    }
                } else if self.failing {
                    self.fail(channel); // with the latest error
                }
            }
            ConnectivityState::Idle
            | ConnectivityState::Connecting
            | ConnectivityState::Shutdown => {}
        }
    }

    fn exit_idle(&mut self, channel: &mut dyn ChannelController) {
        if self.idle {
            self.idle = false;
            self.start_pass(channel);
        }
    }
}
