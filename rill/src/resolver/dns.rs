//! The `dns:` resolver: the system's resolver (getaddrinfo, through tokio), re-run
//! periodically and when connections fail (rate-limited).

use std::net::{Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{
    has_port, Address, Resolver, ResolverBuilder, ResolverError, ResolverSink, ResolverState,
    Target,
};
use crate::client::backoff::{Backoff, BackoffConfig};

/// Resolves `dns:[//authority/]host[:port]` targets (port 443 by default) with the system's
/// resolver; plain `host:port`, `http://` and `https://` targets use it too.
///
/// Names are looked up again every [`refresh_interval`](Self::refresh_interval) (30 s) and
/// when the channel asks (after a connection fails), but not more often than every
/// [`min_resolution_interval`](Self::min_resolution_interval) (30 s, as in grpc-go). Failed
/// lookups are retried with backoff. IP literals are not looked up at all. The DNS server of
/// `dns://authority/` is not supported: the system's is used.
///
/// ```
/// use std::time::Duration;
/// use rill::resolver::DnsResolver;
/// let channel = rill::Channel::builder("dns:///localhost:50051")
///     .resolver(DnsResolver::new().refresh_interval(Duration::from_secs(10)))
///     .connect_lazy()
///     .unwrap();
/// # drop(channel);
/// ```
#[derive(Clone, Debug)]
pub struct DnsResolver {
    refresh_interval: Duration,
    min_interval: Duration,
}

impl Default for DnsResolver {
    fn default() -> Self {
        DnsResolver::new()
    }
}

impl DnsResolver {
    /// The resolver with its default intervals (30 s and 30 s).
    pub fn new() -> Self {
        DnsResolver {
            refresh_interval: Duration::from_secs(30),
            min_interval: Duration::from_secs(30),
        }
    }

    /// How often names are looked up again while nothing fails (30 s).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The shortest time between two lookups asked for by the channel (30 s).
    pub fn min_resolution_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }
}

/// `host:port` from the endpoint, with the default port added.
fn host_port(target: &Target) -> Result<String, ResolverError> {
    let endpoint = target.endpoint();
    if endpoint.is_empty() || endpoint.contains('/') {
        return Err(ResolverError::InvalidTarget(format!(
            "{:?}: expected host[:port]",
            target.as_str()
        )));
    }
    Ok(if has_port(endpoint) {
        endpoint.to_string()
    } else if let Ok(ip) = endpoint.parse::<Ipv6Addr>() {
        format!("[{ip}]:443")
    } else {
        format!("{endpoint}:443")
    })
}

impl ResolverBuilder for DnsResolver {
    fn scheme(&self) -> &str {
        "dns"
    }

    fn authority(&self, target: &Target) -> Result<String, ResolverError> {
        host_port(target)
    }

    fn build(
        &self,
        target: &Target,
        sink: ResolverSink,
    ) -> Result<Box<dyn Resolver>, ResolverError> {
        let host_port = host_port(target)?;
        if let Ok(address) = host_port.parse::<SocketAddr>() {
            sink.update(ResolverState::new([Address::tcp(address)]));
            return Ok(Box::new(Literal));
        }
        let wake = Arc::new(Notify::new());
        let stop = CancellationToken::new();
        tokio::spawn(run(
            self.clone(),
            host_port,
            sink,
            wake.clone(),
            stop.clone(),
        ));
        Ok(Box::new(Running {
            wake,
            _stop: stop.drop_guard(),
        }))
    }
}

/// An IP literal: nothing to look up, ever.
struct Literal;
impl Resolver for Literal {}

struct Running {
    wake: Arc<Notify>,
    _stop: DropGuard,
}

impl Resolver for Running {
    fn resolve_now(&self) {
        self.wake.notify_one();
    }
}

async fn run(
    config: DnsResolver,
    host_port: String,
    sink: ResolverSink,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    let mut last: Option<Vec<Address>> = None;
    let mut errors = Backoff::new(BackoffConfig::default());
    loop {
        let started = Instant::now();
        let result = tokio::select! {
            _ = stop.cancelled() => return,
            result = tokio::net::lookup_host(host_port.as_str()) => result,
        };
        let mut addresses: Vec<Address> = Vec::new();
        let error = match result {
            Ok(found) => {
                for address in found.map(Address::tcp) {
                    if !addresses.contains(&address) {
                        addresses.push(address);
                    }
                }
                addresses
                    .is_empty()
                    .then(|| format!("{host_port}: no addresses"))
            }
            Err(e) => Some(format!("{host_port}: {e}")),
        };
        let wait = match error {
            Some(error) => {
                tracing::debug!(%error, "dns resolution failed");
                sink.report_error(ResolverError::Failed(error));
                errors.next_delay().min(config.refresh_interval)
            }
            None => {
                errors.reset();
                if last.as_ref() != Some(&addresses) {
                    sink.update(ResolverState::new(addresses.iter().cloned()));
                    last = Some(addresses);
                }
                config.refresh_interval
            }
        };
        if sink.is_closed() {
            return;
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep_until(started + config.min_interval) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        let dns = DnsResolver::new();
        let authority = |t: &str| dns.authority(&Target::parse(t).unwrap());
        assert_eq!(
            authority("dns:///example.com:9000").unwrap(),
            "example.com:9000"
        );
        assert_eq!(
            authority("dns://8.8.8.8/example.com:9000").unwrap(),
            "example.com:9000"
        );
        assert_eq!(authority("dns:example.com").unwrap(), "example.com:443");
        assert_eq!(authority("dns:///[::1]").unwrap(), "[::1]:443");
        assert!(authority("dns:///").is_err());
        assert!(authority("dns:///a/b").is_err());
    }
}
