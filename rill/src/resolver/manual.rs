//! A resolver whose addresses the application sets: for tests and custom discovery.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::{
    Address, Resolver, ResolverBuilder, ResolverError, ResolverSink, ResolverState, Target,
};

/// A resolver fed by the application: whatever [`update`](Self::update) says is what the
/// channels built with it connect to. Good for tests and for discovery systems (etcd,
/// Consul, Kubernetes endpoints) that the application already watches.
///
/// Register it on an [`Endpoint`](crate::client::Endpoint) and use a target with its scheme
/// (`manual:` by default); the endpoint part becomes the calls' `:authority`. Updates reach
/// every channel built with it, including ones built later.
///
/// ```
/// use rill::balancer::RoundRobin;
/// use rill::resolver::ManualResolver;
///
/// let resolver = ManualResolver::new();
/// resolver.update(["127.0.0.1:50051".parse().unwrap()]);
/// let channel = rill::Channel::builder("manual:///users")
///     .resolver(resolver.clone())
///     .load_balancer(RoundRobin)
///     .connect_lazy()
///     .unwrap();
/// // Later, as replicas come and go:
/// resolver.update([
///     "127.0.0.1:50051".parse().unwrap(),
///     "127.0.0.1:50052".parse().unwrap(),
/// ]);
/// # drop(channel);
/// ```
#[derive(Clone)]
pub struct ManualResolver {
    shared: Arc<Shared>,
}

struct Shared {
    scheme: String,
    inner: Mutex<Inner>,
    resolve_now: AtomicUsize,
}

#[derive(Default)]
struct Inner {
    last: Option<Result<ResolverState, ResolverError>>,
    sinks: Vec<ResolverSink>,
}

impl std::fmt::Debug for ManualResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManualResolver")
            .field("scheme", &self.shared.scheme)
            .finish_non_exhaustive()
    }
}

impl Default for ManualResolver {
    fn default() -> Self {
        ManualResolver::new()
    }
}

impl ManualResolver {
    /// A manual resolver for `manual:` targets, with no addresses yet (calls wait for
    /// ready, or fail, until the first update).
    pub fn new() -> Self {
        ManualResolver::with_scheme("manual")
    }

    /// A manual resolver for targets of `scheme` (to use several at once).
    ///
    /// ```
    /// let users = rill::resolver::ManualResolver::with_scheme("users");
    /// let channel = rill::Channel::builder("users:///")
    ///     .resolver(users.clone())
    ///     .connect_lazy()
    ///     .unwrap();
    /// # drop(channel);
    /// ```
    pub fn with_scheme(scheme: &str) -> Self {
        ManualResolver {
            shared: Arc::new(Shared {
                scheme: scheme.to_ascii_lowercase(),
                inner: Mutex::new(Inner::default()),
                resolve_now: AtomicUsize::new(0),
            }),
        }
    }

    /// Sets the addresses: subchannels are created for new ones and removed ones are
    /// drained (calls in flight on them finish).
    pub fn update(&self, addresses: impl IntoIterator<Item = Address>) {
        self.push(Ok(ResolverState::new(addresses)));
    }

    /// Sets the whole resolver state (addresses and service config).
    pub fn update_state(&self, state: ResolverState) {
        self.push(Ok(state));
    }

    /// Reports a resolution failure (calls fail with it until addresses arrive).
    pub fn report_error(&self, error: ResolverError) {
        self.push(Err(error));
    }

    /// How many times channels asked for a re-resolution (they do when connections fail).
    pub fn resolve_now_count(&self) -> usize {
        self.shared.resolve_now.load(Ordering::Relaxed)
    }

    fn push(&self, result: Result<ResolverState, ResolverError>) {
        let sinks = {
            let mut inner = self
                .shared
                .inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            inner.sinks.retain(|sink| !sink.is_closed());
            inner.last = Some(result.clone());
            inner.sinks.clone()
        };
        // Outside the lock: a sink may run the channel's policy right here.
        for sink in sinks {
            deliver(&sink, result.clone());
        }
    }
}

fn deliver(sink: &ResolverSink, result: Result<ResolverState, ResolverError>) {
    match result {
        Ok(state) => sink.update(state),
        Err(error) => sink.report_error(error),
    }
}

impl ResolverBuilder for ManualResolver {
    fn scheme(&self) -> &str {
        &self.shared.scheme
    }

    fn build(
        &self,
        _target: &Target,
        sink: ResolverSink,
    ) -> Result<Box<dyn Resolver>, ResolverError> {
        let last = {
            let mut inner = self
                .shared
                .inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            inner.sinks.push(sink.clone());
            inner.last.clone()
        };
        if let Some(result) = last {
            deliver(&sink, result);
        }
        Ok(Box::new(Handle {
            shared: self.shared.clone(),
        }))
    }
}

struct Handle {
    shared: Arc<Shared>,
}

impl Resolver for Handle {
    fn resolve_now(&self) {
        self.shared.resolve_now.fetch_add(1, Ordering::Relaxed);
    }
}
