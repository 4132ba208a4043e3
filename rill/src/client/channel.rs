//! The channel: a target resolved to addresses, a load balancer over one subchannel per
//! address, and the pick every call makes.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::backoff::BackoffConfig;
use super::connector::{dial, with_tls, ConnectFuture, Connector, Tls};
use super::control::Control;
use super::subchannel::SubchannelConfig;
use super::ConnectivityState;
use crate::balancer::{LbPolicy, PickFirst, PickInfo, PickResult};
use crate::resolver::{has_port, Address, Fixed, ResolverBuilder, ResolverRegistry, Target};
use crate::retry::{BufferLimits, ChannelCalls};
use crate::service_config::{ServiceConfig, ServiceConfigError};
use crate::transport::client::{ConnConfig, Connection};
use crate::transport::{BoxIo, Io};
use crate::{Error, MetadataMap, Status};

/// A virtual connection to a service: cheap to clone, shared by every call and client.
///
/// A channel resolves its target to addresses (see [`resolver`](crate::resolver)), keeps a
/// subchannel (one HTTP/2 connection) per address its load-balancing policy wants (see
/// [`balancer`](crate::balancer); `pick_first` by default), and sends each call over the
/// subchannel the policy picks. It starts [`Idle`](ConnectivityState::Idle) and connects on
/// the first call (or at once with [`Channel::connect`]); failed connection attempts are
/// retried with exponential backoff ([`BackoffConfig`]).
///
/// While no connection is ready after an attempt, calls fail with UNAVAILABLE at once, unless
/// they [wait for ready](crate::Request::set_wait_for_ready): those wait until a connection
/// is ready or their deadline passes. Calls in flight on a connection that drops fail with
/// UNAVAILABLE.
#[derive(Clone)]
pub struct Channel {
    control: Arc<Control>,
    /// The service config, retry throttle and in-flight cap every call applies.
    calls: Arc<ChannelCalls>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("authority", &self.control.authority)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// Connects to `target` now, failing if no server can be reached.
    ///
    /// Targets, as in gRPC's naming doc: `host:port`, `http://host:port`, `https://host:port`
    /// (TLS), `dns:[//authority/]host[:port]`, `ipv4:addr[:port][,addr[:port]…]`,
    /// `ipv6:[addr]:port[,…]`, `unix:path`, `unix:///absolute/path`, `unix-abstract:name`,
    /// and any scheme registered with [`Endpoint::resolver`].
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), rill::Error> {
    /// let channel = rill::Channel::connect("http://127.0.0.1:50051").await?;
    /// # drop(channel); Ok(()) }
    /// ```
    pub async fn connect(target: &str) -> Result<Channel, Error> {
        Endpoint::new(target).connect().await
    }

    /// A channel to `target` that connects on its first call.
    ///
    /// ```
    /// let channel = rill::Channel::lazy("http://127.0.0.1:50051").unwrap();
    /// # drop(channel);
    /// ```
    pub fn lazy(target: &str) -> Result<Channel, Error> {
        Endpoint::new(target).connect_lazy()
    }

    /// An [`Endpoint`] to configure (TLS, load balancing, resolvers, backoff) before
    /// connecting.
    ///
    /// ```
    /// use std::time::Duration;
    /// let channel = rill::Channel::builder("http://127.0.0.1:50051")
    ///     .connect_timeout(Duration::from_secs(3))
    ///     .connect_lazy()
    ///     .unwrap();
    /// # drop(channel);
    /// ```
    pub fn builder(target: &str) -> Endpoint {
        Endpoint::new(target)
    }

    /// A channel over an already open byte stream (e.g. one end of `tokio::io::duplex`).
    ///
    /// It cannot reconnect: once that stream closes, calls fail with UNAVAILABLE.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (client_io, _server_io) = tokio::io::duplex(64 * 1024);
    /// let channel = rill::Channel::from_io(client_io);
    /// # drop(channel); }
    /// ```
    pub fn from_io<I: Io>(io: I) -> Channel {
        let slot: Mutex<Option<BoxIo>> = Mutex::new(Some(Box::new(io)));
        let connector = move |_: &Address| -> ConnectFuture {
            let io = slot.lock().ok().and_then(|mut s| s.take());
            Box::pin(async move {
                io.ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::NotConnected,
                        "the channel's single connection has closed",
                    )
                })
            })
        };
        Channel::over_connector("localhost", Arc::new(connector))
    }

    /// A channel whose connections come from `connect` (custom transports, test pipes): one
    /// subchannel, which calls `connect` for each connection attempt.
    ///
    /// ```
    /// let channel = rill::Channel::with_connector("example.test", || async {
    ///     tokio::net::TcpStream::connect("127.0.0.1:50051").await
    /// });
    /// # drop(channel);
    /// ```
    pub fn with_connector<F, Fut, I>(authority: &str, connect: F) -> Channel
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::io::Result<I>> + Send + 'static,
        I: Io,
    {
        let connector = move |_: &Address| -> ConnectFuture {
            let fut = connect();
            Box::pin(async move { fut.await.map(|io| Box::new(io) as BoxIo) })
        };
        Channel::over_connector(authority, Arc::new(connector))
    }

    fn over_connector(authority: &str, connector: Arc<dyn Connector>) -> Channel {
        let target = Target::with_scheme("fixed", authority, authority);
        let control = Control::new(
            authority.to_string(),
            "http",
            target,
            Arc::new(Fixed(vec![Address::custom(authority)])),
            Arc::new(PickFirst),
            SubchannelConfig {
                connector,
                backoff: BackoffConfig::default(),
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                // A stream handed over once cannot be reopened: never idle.
                conn: ConnConfig {
                    idle_timeout: None,
                    ..ConnConfig::default()
                },
                keepalive_backoff: Mutex::default(),
            },
        );
        Channel {
            control,
            calls: Arc::new(ChannelCalls::default()),
        }
    }

    /// The channel's connectivity state, as its load-balancing policy aggregates those of
    /// its subchannels.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use rill::client::ConnectivityState;
    /// let channel = rill::Channel::lazy("127.0.0.1:50051").unwrap();
    /// assert_eq!(channel.state(), ConnectivityState::Idle);
    /// # }
    /// ```
    pub fn state(&self) -> ConnectivityState {
        *self.control.state.borrow()
    }

    /// Follows the channel's connectivity state: the receiver sees each new state (states
    /// that change quickly may be seen only as the latest one).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use rill::client::ConnectivityState;
    /// let channel = rill::Channel::lazy("127.0.0.1:50051")?;
    /// let mut states = channel.watch_state();
    /// channel.request_connection();
    /// states.wait_for(|s| *s == ConnectivityState::Ready).await?;
    /// # Ok(()) }
    /// ```
    pub fn watch_state(&self) -> watch::Receiver<ConnectivityState> {
        self.control.state.subscribe()
    }

    /// Starts connecting if the channel is IDLE, without waiting (a call does this too).
    /// Needs to run inside a tokio runtime; does nothing outside one.
    pub fn request_connection(&self) {
        self.control.exit_idle();
    }

    /// Retries at once the connections that are waiting out a backoff (when the application
    /// knows the network is back, say), and starts their backoff over.
    pub fn reset_connect_backoff(&self) {
        self.control.reset_backoff();
    }

    /// What every call on this channel applies beyond the pick (service config, retries).
    pub(crate) fn calls(&self) -> &ChannelCalls {
        &self.calls
    }

    /// The `:authority` calls on this channel carry.
    pub(crate) fn authority(&self) -> &str {
        &self.control.authority
    }

    /// The `:scheme` calls on this channel carry: `https` over TLS, else `http`.
    pub(crate) fn scheme(&self) -> &'static str {
        self.control.scheme
    }

    /// The connection for a call: what the picker says, or (while it has nothing ready)
    /// after waiting for a better picker, within the deadline. Fail-fast calls fail with the
    /// picker's status; `wait_for_ready` ones wait through failures.
    pub(crate) async fn pick(
        &self,
        info: &PickInfo<'_>,
        wait_for_ready: bool,
        deadline: Option<Instant>,
    ) -> Result<Connection, Status> {
        // The hot path: a read lock, an Arc clone, the pick, a connection clone.
        let picker = self.control.picker.borrow().clone();
        if let PickResult::Pick(subchannel) = picker.pick(info) {
            if let Some(connection) = subchannel.ready_connection() {
                return Ok(connection);
            }
        }
        let wait = self.wait_for_pick(info, wait_for_ready);
        match deadline {
            None => wait.await,
            Some(deadline) => tokio::time::timeout_at(deadline.into(), wait)
                .await
                .unwrap_or_else(|_| {
                    Err(Status::deadline_exceeded(
                        "deadline exceeded while waiting for a connection",
                    ))
                }),
        }
    }

    async fn wait_for_pick(
        &self,
        info: &PickInfo<'_>,
        wait_for_ready: bool,
    ) -> Result<Connection, Status> {
        let mut pickers = self.control.picker.subscribe();
        loop {
            let picker = pickers.borrow_and_update().clone();
            match picker.pick(info) {
                PickResult::Pick(subchannel) => {
                    if let Some(connection) = subchannel.ready_connection() {
                        return Ok(connection);
                    }
                    // Its connection just closed: the balancer will know soon.
                }
                PickResult::Queue => {}
                PickResult::Fail(status) if !wait_for_ready => return Err(status),
                PickResult::Fail(_) => {}
            }
            if self.state() == ConnectivityState::Idle {
                self.control.exit_idle();
            }
            if pickers.changed().await.is_err() {
                return Err(Status::unavailable("the channel was shut down"));
            }
        }
    }

    /// Waits for the first connection attempts to end: a connection, or their error.
    async fn ready(&self) -> Result<(), Status> {
        let metadata = MetadataMap::new();
        self.pick(&PickInfo::new("", &metadata), false, None)
            .await
            .map(drop)
    }
}

/// MIN_CONNECT_TIMEOUT of grpc/grpc `doc/connection-backoff.md`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// How to reach a service: the target plus connection settings; builds [`Channel`]s.
///
/// ```
/// use rill::balancer::RoundRobin;
/// let channel = rill::client::Endpoint::new("dns:///localhost:50051")
///     .load_balancer(RoundRobin)
///     .connect_lazy()
///     .unwrap();
/// # drop(channel);
/// ```
#[derive(Clone)]
pub struct Endpoint {
    target: String,
    connect_timeout: Duration,
    backoff: BackoffConfig,
    registry: ResolverRegistry,
    policy: Arc<dyn LbPolicy>,
    connector: Option<Arc<dyn Connector>>,
    /// Keepalive, pooling, idle timeout, health checking (set in `connector.rs`).
    pub(crate) conn: ConnConfig,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::ClientTlsConfig>,
    service_config: Option<ServiceConfig>,
    max_in_flight: Option<usize>,
    retry_buffer: (usize, usize),
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("target", &self.target)
            .field("connect_timeout", &self.connect_timeout)
            .field("backoff", &self.backoff)
            .field("resolvers", &self.registry)
            .field("load_balancer", &self.policy.name())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint for `target` (see [`Channel::connect`] for the forms); nothing is checked
    /// until a channel is built.
    ///
    /// ```
    /// let endpoint = rill::client::Endpoint::new("http://127.0.0.1:50051");
    /// # drop(endpoint);
    /// ```
    pub fn new(target: &str) -> Endpoint {
        Endpoint {
            target: target.to_string(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            backoff: BackoffConfig::default(),
            registry: ResolverRegistry::new(),
            policy: Arc::new(PickFirst),
            connector: None,
            conn: ConnConfig::default(),
            #[cfg(feature = "tls")]
            tls: None,
            service_config: None,
            max_in_flight: None,
            retry_buffer: (
                crate::retry::DEFAULT_PER_CALL_BUFFER,
                crate::retry::DEFAULT_CHANNEL_BUFFER,
            ),
        }
    }

    /// The least time a connection attempt (TCP + TLS + HTTP/2 preface) may take: the
    /// MIN_CONNECT_TIMEOUT of gRPC's connection backoff; 20 s by default. An attempt may take
    /// longer while the current backoff is longer.
    pub fn connect_timeout(mut self, timeout: Duration) -> Endpoint {
        self.connect_timeout = timeout;
        self
    }

    /// How failed connection attempts are spaced (gRPC's connection backoff by default).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut backoff = rill::client::BackoffConfig::default();
    /// backoff.initial_delay = Duration::from_millis(100);
    /// let endpoint = rill::client::Endpoint::new("127.0.0.1:50051").connect_backoff(backoff);
    /// # drop(endpoint);
    /// ```
    pub fn connect_backoff(mut self, backoff: BackoffConfig) -> Endpoint {
        self.backoff = backoff;
        self
    }

    /// The load-balancing policy: [`PickFirst`] (the default) or
    /// [`RoundRobin`](crate::balancer::RoundRobin), or your own.
    pub fn load_balancer(mut self, policy: impl LbPolicy) -> Endpoint {
        self.policy = Arc::new(policy);
        self
    }

    /// Adds a resolver for its scheme (replacing the built-in one of that scheme, if any).
    ///
    /// ```
    /// let resolver = rill::resolver::ManualResolver::new();
    /// let channel = rill::client::Endpoint::new("manual:///service")
    ///     .resolver(resolver.clone())
    ///     .connect_lazy()
    ///     .unwrap();
    /// # drop(channel);
    /// ```
    pub fn resolver(mut self, builder: impl ResolverBuilder) -> Endpoint {
        self.registry.register(builder);
        self
    }

    /// Replaces the resolvers this endpoint knows (by default the built-in ones).
    pub fn resolver_registry(mut self, registry: ResolverRegistry) -> Endpoint {
        self.registry = registry;
        self
    }

    /// Opens each connection's byte stream with `connect` instead of TCP or Unix sockets
    /// (proxies, custom transports); TLS, if configured, still runs on top.
    ///
    /// ```
    /// let endpoint = rill::client::Endpoint::new("ipv4:127.0.0.1:50051,127.0.0.1:50052")
    ///     .connector(|address: rill::resolver::Address| async move {
    ///         let socket = address.socket_addr().ok_or(std::io::ErrorKind::Unsupported)?;
    ///         tokio::net::TcpStream::connect(socket).await
    ///     });
    /// # drop(endpoint);
    /// ```
    pub fn connector<F, Fut, I>(mut self, connect: F) -> Endpoint
    where
        F: Fn(Address) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::io::Result<I>> + Send + 'static,
        I: Io,
    {
        let connector = move |address: &Address| -> ConnectFuture {
            let fut = connect(address.clone());
            Box::pin(async move { fut.await.map(|io| Box::new(io) as BoxIo) })
        };
        self.connector = Some(Arc::new(connector));
        self
    }

    /// Speaks TLS with these settings (roots, expected server name, client identity);
    /// `https://` targets use TLS with the system roots without this.
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: crate::tls::ClientTlsConfig) -> Endpoint {
        self.tls = Some(config);
        self
    }

    /// The default service config (gRPC's JSON form, see [`ServiceConfig::from_json`]): its
    /// `loadBalancingConfig` picks the balancer (the first policy this endpoint knows wins,
    /// over [`load_balancer`](Self::load_balancer)), and its `methodConfig` entries set each
    /// call's timeout, wait-for-ready, message limits and retry or hedging policy.
    ///
    /// ```
    /// use rill::service_config::ServiceConfig;
    /// let config = ServiceConfig::from_json(r#"{"methodConfig": [{
    ///     "name": [{"service": "user.UserService"}],
    ///     "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.1s", "maxBackoff": "1s",
    ///                     "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}
    /// }]}"#).unwrap();
    /// let channel = rill::Channel::builder("127.0.0.1:50051")
    ///     .service_config(config)
    ///     .connect_lazy()
    ///     .unwrap();
    /// # drop(channel);
    /// ```
    pub fn service_config(mut self, config: ServiceConfig) -> Endpoint {
        self.service_config = Some(config);
        self
    }

    /// Caps the calls in flight on the channel: beyond `max`, a call fails at once with
    /// RESOURCE_EXHAUSTED (a streaming call is in flight until its response stream ends or
    /// is dropped). Unlimited by default.
    pub fn max_in_flight(mut self, max: usize) -> Endpoint {
        self.max_in_flight = Some(max);
        self
    }

    /// How many bytes of request messages a streaming call with a retry or hedging policy
    /// keeps for replay (`per_call`; 1 MiB by default), and all calls of the channel together
    /// (`per_channel`; 16 MiB): past either, the call commits to its current attempt and is
    /// not retried any more (gRFC A6).
    pub fn retry_buffer_limits(mut self, per_call: usize, per_channel: usize) -> Endpoint {
        self.retry_buffer = (per_call, per_channel);
        self
    }

    /// The balancing policy: the service config's first `loadBalancingConfig` entry this
    /// endpoint knows (its own policy, or any of [`LbPolicyRegistry`](crate::balancer::LbPolicyRegistry)'s, built with the
    /// entry's JSON config), else the one set with [`load_balancer`](Self::load_balancer).
    fn lb_policy(&self) -> Result<Arc<dyn LbPolicy>, Error> {
        let Some(config) = &self.service_config else {
            return Ok(self.policy.clone());
        };
        let registry = crate::balancer::LbPolicyRegistry::new();
        let known = |name: &str| self.policy.name() == name || registry.contains(name);
        let lb = match config.select_load_balancing(known) {
            Ok(Some(lb)) => lb,
            Ok(None) => return Ok(self.policy.clone()),
            Err(err) => return Err(Error::ServiceConfig(err)),
        };
        if self.policy.name() == lb.name {
            return Ok(self.policy.clone());
        }
        let invalid = |reason: String| {
            Error::ServiceConfig(ServiceConfigError::InvalidField {
                field: format!("loadBalancingConfig.{}", lb.name),
                reason,
            })
        };
        let json: serde_json::Value =
            serde_json::from_str(&lb.config).map_err(|e| invalid(e.to_string()))?;
        registry
            .build(&lb.name, &json)
            .map_err(|e| invalid(e.to_string()))
    }

    /// Connection settings, with the service config's `healthCheckConfig.serviceName` unless
    /// [`health_check_service`](Self::health_check_service) set one.
    fn conn_config(&self) -> ConnConfig {
        let mut conn = self.conn.clone();
        if conn.health_check_service.is_none() {
            conn.health_check_service = self
                .service_config
                .as_ref()
                .and_then(|c| c.health_check_service_name())
                .map(str::to_string);
        }
        conn
    }

    /// A channel that connects on its first call.
    ///
    /// Fails on an invalid target, TLS settings, or a service config whose
    /// `loadBalancingConfig` names no known policy.
    pub fn connect_lazy(&self) -> Result<Channel, Error> {
        let invalid = |reason: String| Error::InvalidTarget {
            target: self.target.clone(),
            reason,
        };
        let (target, builder, https) = self.parse_target().map_err(invalid)?;
        let authority = builder
            .authority(&target)
            .map_err(|e| invalid(e.to_string()))?;
        let tls = self.tls_connector(https, host_of(&authority))?;
        let policy = self.lb_policy()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let raw = self.connector.clone().unwrap_or_else(|| Arc::new(dial));
        let control = Control::new(
            authority,
            scheme,
            target,
            builder,
            policy,
            SubchannelConfig {
                connector: Arc::new(with_tls(raw, tls)),
                backoff: self.backoff,
                connect_timeout: self.connect_timeout,
                conn: self.conn_config(),
                keepalive_backoff: Mutex::default(),
            },
        );
        let calls = ChannelCalls::new(
            self.service_config.clone(),
            self.max_in_flight,
            BufferLimits::new(self.retry_buffer.0, self.retry_buffer.1),
        );
        Ok(Channel {
            control,
            calls: Arc::new(calls),
        })
    }

    /// A channel connected now; fails if the first connection attempts fail.
    pub async fn connect(&self) -> Result<Channel, Error> {
        let channel = self.connect_lazy()?;
        channel.ready().await.map_err(|status| Error::Connect {
            target: self.target.clone(),
            status,
        })?;
        Ok(channel)
    }

    /// The target, its resolver, and whether it asks for TLS (`https://`). `http(s)://`
    /// targets and targets of unregistered schemes (`localhost:50051`) go to `dns`.
    fn parse_target(&self) -> Result<(Target, Arc<dyn ResolverBuilder>, bool), String> {
        let target = self.target.as_str();
        let dns = || {
            self.registry
                .get("dns")
                .ok_or_else(|| "no resolver is registered for dns".to_string())
        };
        for (prefix, https) in [("http://", false), ("https://", true)] {
            if let Some(rest) = target.strip_prefix(prefix) {
                let host_port = rest.strip_suffix('/').unwrap_or(rest);
                if host_port.is_empty() || host_port.contains('/') {
                    return Err("expected host:port".to_string());
                }
                return Ok((Target::with_scheme("dns", host_port, target), dns()?, https));
            }
        }
        if let Some(parsed) = Target::parse(target) {
            if let Some(builder) = self.registry.get(parsed.scheme()) {
                return Ok((parsed, builder, false));
            }
        }
        Ok((Target::with_scheme("dns", target, target), dns()?, false))
    }

    #[cfg(feature = "tls")]
    fn tls_connector(&self, https: bool, host: &str) -> Result<Tls, Error> {
        let config = match (&self.tls, https) {
            (Some(config), _) => config.clone(),
            (None, true) => crate::tls::ClientTlsConfig::new(),
            (None, false) => return Ok(None),
        };
        Ok(Some(crate::tls::Connector::new(&config, host)?))
    }

    #[cfg(not(feature = "tls"))]
    fn tls_connector(&self, https: bool, _host: &str) -> Result<Tls, Error> {
        if https {
            return Err(Error::InvalidTarget {
                target: self.target.clone(),
                reason: "https:// needs rill's `tls` feature".to_string(),
            });
        }
        Ok(None)
    }
}

/// The host part of an authority, for TLS server-name verification.
fn host_of(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        Some((host, _)) if has_port(authority) => host,
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(target: &str) -> Result<(String, bool), String> {
        let endpoint = Endpoint::new(target);
        let (target, builder, https) = endpoint.parse_target()?;
        let authority = builder.authority(&target).map_err(|e| e.to_string())?;
        Ok((authority, https))
    }

    #[test]
    fn targets_and_authorities() {
        let cases: &[(&str, &str)] = &[
            ("127.0.0.1:50051", "127.0.0.1:50051"),
            ("localhost:50051", "localhost:50051"),
            ("http://localhost:8080", "localhost:8080"),
            ("http://localhost:8080/", "localhost:8080"),
            ("dns:///example.com:9000", "example.com:9000"),
            ("dns://8.8.8.8/example.com:9000", "example.com:9000"),
            ("dns:example.com", "example.com:443"),
            ("ipv4:10.0.0.1:1,10.0.0.2:2", "10.0.0.1:1"),
            ("ipv6:[::1]:50051", "[::1]:50051"),
            ("unix:/tmp/s.sock", "localhost"),
            ("unix:///tmp/s.sock", "localhost"),
            ("unix:rel.sock", "localhost"),
            ("unix-abstract:name", "localhost"),
        ];
        for (target, expected) in cases {
            let (authority, https) = authority(target).unwrap();
            assert_eq!(&authority, expected, "{target}");
            assert!(!https, "{target}");
        }
        assert_eq!(
            authority("https://example.com").unwrap(),
            ("example.com:443".to_string(), true)
        );
        assert_eq!(host_of("example.com:443"), "example.com");
        assert_eq!(host_of("[::1]:443"), "[::1]");
        assert_eq!(host_of("localhost"), "localhost");
    }

    #[test]
    fn rejects_bad_targets() {
        for target in [
            "",
            "unix:",
            "http://",
            "http://a/b/c",
            "https://",
            "ftp://h:1",
        ] {
            assert!(
                Endpoint::new(target).connect_lazy().is_err(),
                "{target:?} should be rejected"
            );
        }
    }

    #[test]
    fn custom_schemes_need_a_resolver() {
        let manual = crate::resolver::ManualResolver::with_scheme("custom");
        assert!(Endpoint::new("custom:///svc").connect_lazy().is_err());
        let channel = Endpoint::new("custom:///svc")
            .resolver(manual)
            .connect_lazy()
            .unwrap();
        assert_eq!(channel.authority(), "svc");
    }
}
