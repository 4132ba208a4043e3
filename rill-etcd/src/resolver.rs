//! The `etcd:` resolver: a Range over the service's key prefix for the current addresses,
//! then a Watch from the next revision that pushes every change to the channel.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::{stream, StreamExt};
use rill::resolver::{
    Address, Resolver, ResolverBuilder, ResolverError, ResolverSink, ResolverState, Target,
};
use tokio::task::JoinHandle;

use crate::backoff::Backoff;
use crate::etcd::Etcd;
use crate::pb::etcdserverpb::watch_request::RequestUnion;
use crate::pb::etcdserverpb::{RangeRequest, WatchCreateRequest, WatchRequest};
use crate::pb::mvccpb::event::EventType;
use crate::value::{key_prefix, parse_value, prefix_range_end};

const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(500);
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Resolves `etcd:///prefix` targets to the addresses registered under `prefix/` in etcd,
/// and follows them live.
///
/// - Target forms: `etcd:///services/users` asks the builder's default etcd endpoint;
///   `etcd://10.0.0.9:2379/services/users` asks the etcd at that authority. The `:authority`
///   of calls is the prefix's last segment (`users`), or `localhost` if that is not a valid
///   host name.
/// - Keys: every key under `prefix/` is one address, its value either grpc-go's endpoint JSON
///   `{"Addr":"host:port"}` (what [`Registration`](crate::Registration) writes, and what
///   grpc-go's `endpoints.Manager` writes) or a bare `host:port`. A value that is neither is
///   skipped with a warning (never a panic); the same address under two keys counts once.
/// - Resolution: a Range over the prefix gives the addresses and the store's revision, a
///   Watch from the next revision keeps them current (each change reaches the channel at
///   once). If etcd cannot be reached, the Watch breaks, or it is cancelled (its revision
///   compacted), the resolver reports the error to the channel (which keeps using the
///   addresses it has) and starts over with a new Range after a backoff (500 ms doubling
///   to 30 s, ±20 %, configurable with [`retry_backoff`](Self::retry_backoff)).
///
/// ```
/// use rill::balancer::RoundRobin;
/// use rill_etcd::EtcdResolverBuilder;
///
/// let channel = rill::Channel::builder("etcd:///services/users")
///     .resolver(EtcdResolverBuilder::new("http://127.0.0.1:2379"))
///     .load_balancer(RoundRobin)
///     .connect_lazy()
///     .unwrap();
/// # drop(channel);
/// ```
#[derive(Clone, Debug)]
pub struct EtcdResolverBuilder {
    scheme: String,
    endpoint: Option<String>,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl EtcdResolverBuilder {
    /// A builder for `etcd:` targets whose default etcd is `endpoint` (`host:port` or
    /// `http://host:port`), used by targets without an authority.
    ///
    /// ```
    /// let builder = rill_etcd::EtcdResolverBuilder::new("127.0.0.1:2379");
    /// # drop(builder);
    /// ```
    pub fn new(endpoint: &str) -> EtcdResolverBuilder {
        EtcdResolverBuilder {
            endpoint: Some(endpoint.to_string()),
            ..EtcdResolverBuilder::without_default_endpoint()
        }
    }

    /// A builder with no default etcd: targets must name theirs
    /// (`etcd://host:port/prefix`); others are rejected when the channel is created.
    ///
    /// ```
    /// let builder = rill_etcd::EtcdResolverBuilder::without_default_endpoint();
    /// let channel = rill::Channel::builder("etcd://127.0.0.1:2379/services/users")
    ///     .resolver(builder)
    ///     .connect_lazy()
    ///     .unwrap();
    /// # drop(channel);
    /// ```
    pub fn without_default_endpoint() -> EtcdResolverBuilder {
        EtcdResolverBuilder {
            scheme: "etcd".to_string(),
            endpoint: None,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
        }
    }

    /// Serves targets of `scheme` instead of `etcd` (to use two etcd clusters at once).
    pub fn with_scheme(mut self, scheme: &str) -> EtcdResolverBuilder {
        self.scheme = scheme.to_ascii_lowercase();
        self
    }

    /// The delays before retrying after etcd failed: `initial`, doubling up to `max`
    /// (±20 %). Also caps the etcd channel's own reconnection backoff at `max`.
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> EtcdResolverBuilder {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    fn etcd_endpoint<'a>(&'a self, target: &'a Target) -> Result<&'a str, ResolverError> {
        match target.authority().filter(|a| !a.is_empty()) {
            Some(authority) => Ok(authority),
            None => self.endpoint.as_deref().ok_or_else(|| {
                ResolverError::InvalidTarget(format!(
                    "{target}: no etcd endpoint (use {}://host:port/prefix)",
                    self.scheme
                ))
            }),
        }
    }
}

/// The key prefix a target names: its endpoint, which must not be empty.
fn prefix_of(target: &Target) -> Result<&str, ResolverError> {
    let prefix = target.endpoint().trim_end_matches('/');
    if prefix.is_empty() {
        return Err(ResolverError::InvalidTarget(format!(
            "{target}: no key prefix (expected etcd:///prefix)"
        )));
    }
    Ok(prefix)
}

/// The `:authority` of calls: the prefix's last segment, if it is a valid host name (an
/// HTTP/2 authority cannot hold `/`).
fn call_authority(prefix: &str) -> String {
    let last = prefix.rsplit('/').next().unwrap_or_default();
    let valid = !last.is_empty()
        && last
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if valid {
        last.to_string()
    } else {
        "localhost".to_string()
    }
}

impl ResolverBuilder for EtcdResolverBuilder {
    fn scheme(&self) -> &str {
        &self.scheme
    }

    fn authority(&self, target: &Target) -> Result<String, ResolverError> {
        self.etcd_endpoint(target)?;
        Ok(call_authority(prefix_of(target)?))
    }

    fn build(
        &self,
        target: &Target,
        sink: ResolverSink,
    ) -> Result<Box<dyn Resolver>, ResolverError> {
        let prefix = key_prefix(prefix_of(target)?);
        let etcd = Etcd::connect_lazy(self.etcd_endpoint(target)?, self.max_backoff)
            .map_err(|e| ResolverError::InvalidTarget(e.to_string()))?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| ResolverError::Failed("the etcd resolver needs a tokio runtime".into()))?;
        let backoff = Backoff::new(self.initial_backoff, self.max_backoff);
        let task = runtime.spawn(resolve(etcd, prefix, sink, backoff));
        Ok(Box::new(EtcdResolver { task }))
    }
}

/// A running resolution; dropping it stops the task (and its Watch).
struct EtcdResolver {
    task: JoinHandle<()>,
}

impl Resolver for EtcdResolver {
    // Changes are pushed by the Watch as they happen: nothing to do on resolve_now.
}

impl Drop for EtcdResolver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// List and watch, over and over, until the channel is gone.
async fn resolve(etcd: Etcd, prefix: String, sink: ResolverSink, mut backoff: Backoff) {
    while !sink.is_closed() {
        let error = follow(&etcd, &prefix, &sink, &mut backoff).await;
        if sink.is_closed() {
            return;
        }
        tracing::warn!(prefix = %prefix, error = %error, "etcd resolver: starting over");
        sink.report_error(ResolverError::Failed(format!("etcd: {error}")));
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// One Range and the Watch after it; returns why it stopped.
async fn follow(etcd: &Etcd, prefix: &str, sink: &ResolverSink, backoff: &mut Backoff) -> String {
    let key = prefix.as_bytes().to_vec();
    let range_end = prefix_range_end(&key);
    let range = RangeRequest {
        key: key.clone(),
        range_end: range_end.clone(),
        ..RangeRequest::default()
    };
    let range = match etcd.kv.range(range).await {
        Ok(response) => response.into_inner(),
        Err(status) => return format!("Range failed: {status}"),
    };
    let revision = range.header.map_or(0, |h| h.revision);
    let mut endpoints = Endpoints::default();
    for kv in &range.kvs {
        endpoints.put(&kv.key, &kv.value);
    }
    sink.update(endpoints.state());
    backoff.reset();

    let create = WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key,
            range_end,
            start_revision: revision + 1,
            progress_notify: true,
        })),
    };
    // The request side stays open: closing it could end the watch on some etcd versions.
    let requests = stream::once(async move { create }).chain(stream::pending());
    let mut responses = match etcd.watch.watch(requests).await {
        Ok(response) => response.into_inner(),
        Err(status) => return format!("Watch failed: {status}"),
    };
    loop {
        let response = match responses.message().await {
            Ok(Some(response)) => response,
            Ok(None) => return "the Watch stream ended".into(),
            Err(status) => return format!("Watch failed: {status}"),
        };
        if response.canceled {
            return format!(
                "the Watch was cancelled ({}; compact revision {})",
                response.cancel_reason, response.compact_revision
            );
        }
        let mut changed = false;
        for event in &response.events {
            let Some(kv) = &event.kv else { continue };
            changed |= match event.r#type() {
                EventType::Put => endpoints.put(&kv.key, &kv.value),
                EventType::Delete => endpoints.delete(&kv.key),
            };
        }
        // A fragmented revision is applied once its last fragment is in.
        if changed && !response.fragment {
            sink.update(endpoints.state());
        }
    }
}

/// The addresses under the prefix, by key.
#[derive(Default, Debug)]
pub(crate) struct Endpoints {
    by_key: BTreeMap<Vec<u8>, Address>,
}

impl Endpoints {
    /// Records `key`'s value; a value that is not an address removes the key (logged).
    /// Returns whether anything changed.
    pub(crate) fn put(&mut self, key: &[u8], value: &[u8]) -> bool {
        match parse_value(value) {
            Ok(address) => self.by_key.insert(key.to_vec(), address.clone()) != Some(address),
            Err(error) => {
                tracing::warn!(
                    key = %String::from_utf8_lossy(key),
                    error = %error,
                    "etcd resolver: skipping a key whose value is not an address"
                );
                self.delete(key)
            }
        }
    }

    pub(crate) fn delete(&mut self, key: &[u8]) -> bool {
        self.by_key.remove(key).is_some()
    }

    /// The addresses in key order, each once.
    pub(crate) fn state(&self) -> ResolverState {
        let mut addresses: Vec<Address> = Vec::with_capacity(self.by_key.len());
        for address in self.by_key.values() {
            if !addresses.contains(address) {
                addresses.push(address.clone());
            }
        }
        ResolverState::new(addresses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_puts_and_deletes_and_skip_garbage() {
        let mut e = Endpoints::default();
        assert!(e.put(b"svc/a", br#"{"Addr":"127.0.0.1:1"}"#));
        assert!(e.put(b"svc/b", b"127.0.0.1:2"));
        assert!(
            !e.put(b"svc/b", br#"{"Addr":"127.0.0.1:2"}"#),
            "same address"
        );
        assert!(!e.put(b"svc/c", b"\x00garbage"), "garbage for a new key");
        assert!(
            e.put(b"svc/d", b"127.0.0.1:1"),
            "duplicate address, new key"
        );
        let addrs = |e: &Endpoints| {
            e.state()
                .addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(addrs(&e), ["127.0.0.1:1", "127.0.0.1:2"]);
        assert!(
            e.put(b"svc/b", b"{not json"),
            "garbage replaces a good value"
        );
        assert_eq!(addrs(&e), ["127.0.0.1:1"]);
        assert!(e.delete(b"svc/a"));
        assert!(!e.delete(b"svc/a"));
        assert_eq!(addrs(&e), ["127.0.0.1:1"], "still under svc/d");
    }

    /// `Target` has no public constructor: capture the one rill parses for a channel.
    fn parse_target(s: &str) -> Target {
        use std::sync::{Arc, Mutex};
        #[derive(Clone)]
        struct Capture(Arc<Mutex<Option<Target>>>);
        impl ResolverBuilder for Capture {
            fn scheme(&self) -> &str {
                "etcd"
            }
            fn authority(&self, target: &Target) -> Result<String, ResolverError> {
                *self.0.lock().unwrap() = Some(target.clone());
                Ok("localhost".into())
            }
            fn build(
                &self,
                _: &Target,
                _: ResolverSink,
            ) -> Result<Box<dyn Resolver>, ResolverError> {
                Err(ResolverError::Failed("unused".into()))
            }
        }
        let capture = Capture(Arc::default());
        let _ = rill::Channel::builder(s)
            .resolver(capture.clone())
            .connect_lazy();
        let target = capture.0.lock().unwrap().take();
        target.expect("target parsed")
    }

    #[test]
    fn targets_name_prefix_and_etcd() {
        let with_default = EtcdResolverBuilder::new("10.0.0.1:2379");
        let without = EtcdResolverBuilder::without_default_endpoint();
        let cases = [
            ("etcd:///svc", Some(("svc", "10.0.0.1:2379")), None),
            ("etcd:///a/b/", Some(("b", "10.0.0.1:2379")), None),
            ("etcd:///a/b c", Some(("localhost", "10.0.0.1:2379")), None),
            (
                "etcd://127.0.0.1:9/svc",
                Some(("svc", "127.0.0.1:9")),
                Some(("svc", "127.0.0.1:9")),
            ),
            ("etcd:///", None, None),
            ("etcd://127.0.0.1:9/", None, None),
        ];
        for (s, want_default, want_without) in cases {
            let t = parse_target(s);
            for (builder, want) in [(&with_default, want_default), (&without, want_without)] {
                let got = builder
                    .authority(&t)
                    .ok()
                    .map(|prefix| (prefix, builder.etcd_endpoint(&t).unwrap().to_string()));
                let want = want.map(|(p, e)| (p.to_string(), e.to_string()));
                assert_eq!(got, want, "{s}");
            }
        }
    }
}
