//! A connection to etcd: rill's generated clients for KV, Watch and Lease on one channel.

use std::time::Duration;

use rill::client::{BackoffConfig, Endpoint};
use rill::Channel;

use crate::pb::etcdserverpb::kv_client::KvClient;
use crate::pb::etcdserverpb::lease_client::LeaseClient;
use crate::pb::etcdserverpb::watch_client::WatchClient;

/// The clients of one etcd endpoint (cheap to clone: they share the channel).
#[derive(Clone, Debug)]
pub(crate) struct Etcd {
    pub(crate) kv: KvClient,
    pub(crate) watch: WatchClient,
    pub(crate) lease: LeaseClient,
}

impl Etcd {
    /// Clients on a lazily connecting channel to `endpoint` (`host:port` or
    /// `http://host:port`). Reconnection attempts are spaced at most `max_backoff` apart
    /// (and start no later than it), so a restarted etcd is found again quickly.
    pub(crate) fn connect_lazy(endpoint: &str, max_backoff: Duration) -> Result<Etcd, rill::Error> {
        let target = if endpoint.contains("://") {
            endpoint.to_string()
        } else {
            format!("http://{endpoint}")
        };
        let mut backoff = BackoffConfig::default();
        backoff.initial_delay = backoff.initial_delay.min(max_backoff);
        backoff.max_delay = max_backoff.max(backoff.initial_delay);
        let channel = Endpoint::new(&target)
            .connect_backoff(backoff)
            .connect_lazy()?;
        Ok(Etcd::over(channel))
    }

    /// Clients on an existing channel to etcd.
    pub(crate) fn over(channel: Channel) -> Etcd {
        Etcd {
            kv: KvClient::new(channel.clone()),
            watch: WatchClient::new(channel.clone()),
            lease: LeaseClient::new(channel),
        }
    }
}
