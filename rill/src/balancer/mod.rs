//! Load balancing: which server each call goes to.
//!
//! A channel has one [`LoadBalancer`], built by its [`LbPolicy`]: [`PickFirst`] (the
//! default), [`RoundRobin`], [`LeastRequest`], [`WeightedRoundRobin`], [`RingHash`], any of
//! them wrapped in [`OutlierDetection`], or your own. [`LbPolicyRegistry`] builds them from a
//! service config's `loadBalancingConfig` JSON. The balancer receives the resolver's addresses, creates
//! [`Subchannel`]s (one connection each) through the [`ChannelController`], follows their
//! [`ConnectivityState`]s, and publishes a [`Picker`] together with the channel's aggregate
//! state. Every call asks the current picker for a subchannel: picking is synchronous and
//! cheap (an `Arc` clone of the subchannel), and the picker is replaced as a whole whenever
//! the balancer's view changes.
//!
//! ```
//! use std::time::Duration;
//! use rill::balancer::{LbPolicyRegistry, RingHash};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Policies by their gRPC names, as a service config's loadBalancingConfig selects them.
//! let policy = LbPolicyRegistry::new().select(&serde_json::json!([
//!     {"outlier_detection_experimental": {
//!         "interval": "10s",
//!         "failurePercentageEjection": {"threshold": 85, "requestVolume": 50},
//!         "childPolicy": [{"least_request_experimental": {"choiceCount": 2}}]
//!     }}
//! ]))?;
//! let channel = rill::Channel::builder("dns:///users.internal:50051")
//!     .load_balancer(policy)
//!     .health_check_service("user.UserService") // only SERVING replicas get calls
//!     .keepalive_time(Duration::from_secs(30)) // notice dead peers
//!     .connections_per_address(2)
//!     .connect_lazy()?;
//! // Affinity: calls with the same x-session-id go to the same replica.
//! let sticky = rill::Channel::builder("ipv4:10.0.0.1:50051,10.0.0.2:50051")
//!     .load_balancer(RingHash::new().request_hash_header("x-session-id"))
//!     .connect_lazy()?;
//! # drop((channel, sticky)); Ok(()) }
//! ```
//!
//! This is grpc-go's architecture (`balancer.Builder`, `Balancer`, `ClientConn`, `Picker`)
//! with gRPC's names. Balancer methods run one at a time (never concurrently), outside any
//! call's path.

mod least_request;
mod load;
mod outlier_detection;
mod pick_first;
mod registry;
mod ring_hash;
mod round_robin;
mod weighted_round_robin;

use std::sync::Arc;
use std::time::Duration;

pub use crate::client::subchannel::Subchannel;
pub use crate::client::ConnectivityState;
pub use least_request::LeastRequest;
pub(crate) use load::{Activity, Alarm, CallGuard, CallStats};
pub use load::{LoadReport, LOAD_REPORT_TRAILER};
pub use outlier_detection::{
    ConsecutiveFailuresEjection, FailurePercentageEjection, OutlierDetection, SuccessRateEjection,
};
pub use pick_first::PickFirst;
pub use registry::{LbConfigError, LbPolicyRegistry};
pub use ring_hash::RingHash;
pub use round_robin::RoundRobin;
pub use weighted_round_robin::WeightedRoundRobin;

use crate::resolver::{Address, ResolverState};
use crate::{MetadataMap, Status};

/// A load-balancing policy: a name and a factory of [`LoadBalancer`]s, one per channel.
///
/// ```
/// use rill::balancer::{LbPolicy, RoundRobin};
/// assert_eq!(RoundRobin.name(), "round_robin");
/// let channel = rill::Channel::builder("127.0.0.1:50051")
///     .load_balancer(RoundRobin)
///     .connect_lazy()
///     .unwrap();
/// # drop(channel);
/// ```
pub trait LbPolicy: Send + Sync + 'static {
    /// The policy's name as gRPC service configs spell it (`pick_first`, `round_robin`).
    fn name(&self) -> &str;

    /// A balancer for a new channel.
    fn build(&self) -> Box<dyn LoadBalancer>;
}

/// A shared policy is a policy: what [`LbPolicyRegistry`] returns goes straight into
/// [`Endpoint::load_balancer`](crate::client::Endpoint::load_balancer).
impl<P: LbPolicy + ?Sized> LbPolicy for Arc<P> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn build(&self) -> Box<dyn LoadBalancer> {
        (**self).build()
    }
}

/// One channel's balancer: turns addresses and subchannel states into pickers.
///
/// Methods are called one at a time. Subchannels the balancer creates are its own: it must
/// [`shutdown`](Subchannel::shutdown) those it stops using (the channel shuts down the rest
/// when it is dropped). Updates about subchannels it no longer knows must be ignored.
pub trait LoadBalancer: Send + 'static {
    /// New addresses from the resolver (possibly none: the naming system has no servers).
    fn resolver_update(&mut self, state: &ResolverState, channel: &mut dyn ChannelController);

    /// The resolver failed; `error` is the UNAVAILABLE status calls should fail with if the
    /// balancer has nothing better to offer.
    fn resolver_error(&mut self, error: &Status, channel: &mut dyn ChannelController);

    /// A subchannel changed state.
    fn subchannel_update(
        &mut self,
        subchannel: &Subchannel,
        state: &SubchannelState,
        channel: &mut dyn ChannelController,
    );

    /// The channel is IDLE and a call (or the application) wants a connection.
    fn exit_idle(&mut self, channel: &mut dyn ChannelController);

    /// A timer asked for with [`ChannelController::schedule_timer`] fired (timers may also
    /// fire spuriously: check what is due).
    fn timer(&mut self, channel: &mut dyn ChannelController) {
        let _ = channel;
    }
}

/// What a balancer may do to its channel.
pub trait ChannelController {
    /// A new subchannel to `address`, IDLE until [`Subchannel::connect`].
    fn new_subchannel(&mut self, address: &Address) -> Subchannel;

    /// Publishes the channel's aggregate state and the picker calls use from now on.
    fn update_picker(&mut self, state: ConnectivityState, picker: Arc<dyn Picker>);

    /// Asks the resolver for a fresh resolution (after connection failures).
    fn request_resolution(&mut self);

    /// Calls [`LoadBalancer::timer`] once `after` has passed (periodic work: weights,
    /// ejections). Does nothing by default.
    fn schedule_timer(&mut self, after: Duration) {
        let _ = after;
    }
}

/// A subchannel's new state, with the error that caused a TRANSIENT_FAILURE.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SubchannelState {
    /// The new state.
    pub state: ConnectivityState,
    /// Why the last connection attempt failed (with TRANSIENT_FAILURE).
    pub error: Option<Status>,
}

/// Chooses a subchannel for each call. Runs on every call: keep it fast and lock-free.
///
/// Closures work as pickers:
///
/// ```
/// use std::sync::Arc;
/// use rill::balancer::{PickInfo, PickResult, Picker};
/// let picker: Arc<dyn Picker> = Arc::new(|_: &PickInfo<'_>| PickResult::Queue);
/// # drop(picker);
/// ```
pub trait Picker: Send + Sync + 'static {
    /// The subchannel for the call described by `info`.
    fn pick(&self, info: &PickInfo<'_>) -> PickResult;
}

impl<F> Picker for F
where
    F: Fn(&PickInfo<'_>) -> PickResult + Send + Sync + 'static,
{
    fn pick(&self, info: &PickInfo<'_>) -> PickResult {
        self(info)
    }
}

/// What a picker knows about the call.
#[derive(Debug)]
pub struct PickInfo<'a> {
    path: &'a str,
    metadata: &'a MetadataMap,
}

impl<'a> PickInfo<'a> {
    pub(crate) fn new(path: &'a str, metadata: &'a MetadataMap) -> Self {
        PickInfo { path, metadata }
    }

    /// The method path, `/package.Service/Method` (empty when connecting without a call).
    pub fn path(&self) -> &str {
        self.path
    }

    /// The call's request metadata.
    pub fn metadata(&self) -> &MetadataMap {
        self.metadata
    }
}

/// A picker's answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum PickResult {
    /// Send the call on this subchannel (if it is no longer READY, the call waits for the
    /// next picker).
    Pick(Subchannel),
    /// Nothing usable yet: the call waits for the next picker.
    Queue,
    /// Fail the call with this status, unless it waits for ready (then it waits for the
    /// next picker).
    Fail(Status),
}

/// A picker that makes every call wait (while connecting, or when IDLE).
#[derive(Clone, Copy, Debug, Default)]
pub struct QueuePicker;

impl Picker for QueuePicker {
    fn pick(&self, _: &PickInfo<'_>) -> PickResult {
        PickResult::Queue
    }
}

/// A picker that fails every call with a status (in TRANSIENT_FAILURE).
#[derive(Clone, Debug)]
pub struct FailPicker(pub Status);

impl Picker for FailPicker {
    fn pick(&self, _: &PickInfo<'_>) -> PickResult {
        PickResult::Fail(self.0.clone())
    }
}

/// Addresses without repeats, in their first order.
fn dedup(addresses: &[Address]) -> Vec<Address> {
    let mut unique: Vec<Address> = Vec::with_capacity(addresses.len());
    for address in addresses {
        if !unique.contains(address) {
            unique.push(address.clone());
        }
    }
    unique
}

/// The status of a TRANSIENT_FAILURE without a better one.
fn unavailable(error: Option<&Status>, otherwise: &str) -> Status {
    error
        .cloned()
        .unwrap_or_else(|| Status::unavailable(otherwise.to_string()))
}
