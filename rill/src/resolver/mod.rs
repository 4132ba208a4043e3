//! Name resolution: turning a channel's target into server addresses, and following changes.
//!
//! A [`ResolverBuilder`] serves one URI scheme; a channel whose target has that scheme builds
//! a [`Resolver`] when it first connects, and the resolver pushes [`ResolverState`]s (the
//! current addresses) into its [`ResolverSink`] whenever they change. The channel's
//! load-balancing policy keeps one subchannel per address. When connections fail, the channel
//! asks the resolver to [`resolve_now`](Resolver::resolve_now).
//!
//! Built in (see [`ResolverRegistry::new`]): `dns:[//authority/]host[:port]` ([`DnsResolver`];
//! plain `host:port`, `http://` and `https://` targets use it too), `ipv4:`/`ipv6:` address
//! lists, `unix:path`, `unix:///abs/path` and `unix-abstract:name`. For tests and custom
//! discovery (etcd, Consul, Kubernetes endpoints), [`ManualResolver`] is a resolver whose
//! addresses the application sets. Registration is explicit, per [`Endpoint`]: nothing is
//! global.
//!
//! [`Endpoint`]: crate::client::Endpoint

mod address;
mod dns;
mod fixed;
mod manual;
mod target;

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

pub use address::{Address, AddressParseError};
pub use dns::DnsResolver;
pub use manual::ManualResolver;
pub use target::Target;

pub(crate) use address::{has_port, Kind as AddressKind};
pub(crate) use fixed::Fixed;

use crate::client::Control;
use crate::Status;

/// What a resolver knows about its target: the addresses, and a service config if the
/// naming system carries one.
///
/// ```
/// use rill::resolver::{Address, ResolverState};
/// let state = ResolverState::new([Address::tcp(([127, 0, 0, 1], 50051).into())]);
/// assert_eq!(state.addresses.len(), 1);
/// assert!(state.service_config.is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolverState {
    /// The servers, in the naming system's order (which `pick_first` follows).
    pub addresses: Vec<Address>,
    /// A service config in gRPC's JSON form; carried along, not applied yet.
    pub service_config: Option<String>,
}

impl ResolverState {
    /// A state with these addresses and no service config.
    pub fn new(addresses: impl IntoIterator<Item = Address>) -> Self {
        ResolverState {
            addresses: addresses.into_iter().collect(),
            service_config: None,
        }
    }

    /// Adds a service config (JSON).
    pub fn with_service_config(mut self, json: impl Into<String>) -> Self {
        self.service_config = Some(json.into());
        self
    }
}

/// Why a target could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolverError {
    /// The target is malformed for its scheme (rejected when the channel is created).
    #[error("invalid target: {0}")]
    InvalidTarget(String),
    /// A lookup failed (the channel fails calls with UNAVAILABLE until one succeeds).
    #[error("{0}")]
    Failed(String),
}

/// Creates [`Resolver`]s for the targets of one URI scheme.
///
/// A minimal resolver that serves a fixed address list under the scheme `fixed`:
///
/// ```
/// use rill::resolver::{Address, Resolver, ResolverBuilder, ResolverError, ResolverSink,
///     ResolverState, Target};
///
/// struct Fixed(Vec<Address>);
/// struct Running; // nothing to stop: no task
/// impl Resolver for Running {}
///
/// impl ResolverBuilder for Fixed {
///     fn scheme(&self) -> &str {
///         "fixed"
///     }
///     fn build(&self, _: &Target, sink: ResolverSink) -> Result<Box<dyn Resolver>, ResolverError> {
///         sink.update(ResolverState::new(self.0.clone()));
///         Ok(Box::new(Running))
///     }
/// }
///
/// let channel = rill::Channel::builder("fixed:///backends")
///     .resolver(Fixed(vec!["127.0.0.1:50051".parse().unwrap()]))
///     .connect_lazy()
///     .unwrap();
/// # drop(channel);
/// ```
pub trait ResolverBuilder: Send + Sync + 'static {
    /// The scheme this builder serves (`"dns"`, `"etcd"`…), matched case-insensitively.
    fn scheme(&self) -> &str;

    /// The `:authority` of calls to `target`; an error rejects the target when the channel
    /// is created. By default, the endpoint.
    fn authority(&self, target: &Target) -> Result<String, ResolverError> {
        Ok(target.endpoint().to_string())
    }

    /// Starts resolving `target`, pushing states into `sink` from now on (possibly before
    /// returning). Called once per channel, inside a tokio runtime (the resolver may spawn
    /// tasks), when the channel first leaves IDLE. Dropping the returned [`Resolver`] stops it.
    fn build(
        &self,
        target: &Target,
        sink: ResolverSink,
    ) -> Result<Box<dyn Resolver>, ResolverError>;
}

/// A running resolution of one target; dropping it stops the resolution.
pub trait Resolver: Send + Sync + 'static {
    /// Asks for a fresh resolution soon: the channel calls this when connections fail. A
    /// hint, which a resolver may rate-limit or ignore (push-based ones have nothing to do).
    fn resolve_now(&self) {}
}

/// Where a resolver pushes its results: a handle on the channel that built it. Cheap to
/// clone; it does not keep the channel alive.
#[derive(Clone)]
pub struct ResolverSink {
    channel: Weak<Control>,
}

impl std::fmt::Debug for ResolverSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolverSink")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl ResolverSink {
    pub(crate) fn new(channel: Weak<Control>) -> Self {
        ResolverSink { channel }
    }

    /// Replaces the channel's view of the target with `state`. An empty address list leaves
    /// the channel without servers: calls fail with UNAVAILABLE (or wait for ready) until
    /// addresses arrive.
    pub fn update(&self, state: ResolverState) {
        if let Some(channel) = self.channel.upgrade() {
            channel.resolver_update(state);
        }
    }

    /// Reports a failed resolution: until addresses arrive, calls fail with UNAVAILABLE and
    /// this error (a channel that has addresses keeps using them).
    pub fn report_error(&self, error: ResolverError) {
        if let Some(channel) = self.channel.upgrade() {
            channel.resolver_error(Status::unavailable(format!(
                "name resolution failed: {error}"
            )));
        }
    }

    /// Whether the channel is gone (a resolver's task may stop then).
    pub fn is_closed(&self) -> bool {
        self.channel.strong_count() == 0
    }
}

/// The resolvers a channel may use, by scheme.
///
/// [`ResolverRegistry::new`] holds the built-in ones; [`Endpoint::resolver`] adds one to an
/// endpoint's registry, [`Endpoint::resolver_registry`] replaces it.
///
/// ```
/// use rill::resolver::{ManualResolver, ResolverRegistry};
/// let mut registry = ResolverRegistry::new();
/// registry.register(ManualResolver::new());
/// assert!(registry.get("manual").is_some());
/// assert!(registry.get("DNS").is_some());
/// ```
///
/// [`Endpoint::resolver`]: crate::client::Endpoint::resolver
/// [`Endpoint::resolver_registry`]: crate::client::Endpoint::resolver_registry
#[derive(Clone)]
pub struct ResolverRegistry {
    builders: BTreeMap<String, Arc<dyn ResolverBuilder>>,
}

impl std::fmt::Debug for ResolverRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.builders.keys()).finish()
    }
}

impl Default for ResolverRegistry {
    fn default() -> Self {
        ResolverRegistry::new()
    }
}

impl ResolverRegistry {
    /// The built-in resolvers: `dns`, `ipv4`, `ipv6`, `unix` and `unix-abstract`.
    pub fn new() -> Self {
        let mut registry = ResolverRegistry::empty();
        registry.register(DnsResolver::new());
        for scheme in fixed::SCHEMES {
            registry.register(fixed::FixedBuilder(scheme));
        }
        registry
    }

    /// A registry with no resolver at all.
    pub fn empty() -> Self {
        ResolverRegistry {
            builders: BTreeMap::new(),
        }
    }

    /// Adds `builder` for its scheme, replacing any builder registered for it before.
    pub fn register(&mut self, builder: impl ResolverBuilder) -> &mut Self {
        self.builders
            .insert(builder.scheme().to_ascii_lowercase(), Arc::new(builder));
        self
    }

    /// The builder for `scheme`, if any.
    pub fn get(&self, scheme: &str) -> Option<Arc<dyn ResolverBuilder>> {
        self.builders.get(&scheme.to_ascii_lowercase()).cloned()
    }
}
