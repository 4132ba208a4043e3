//! A subchannel: one address, its HTTP/2 connection(s) (one, or a small pool), its
//! connectivity state, its connection backoff and, when configured, its health watch.

mod health;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::backoff::{Backoff, BackoffConfig};
use super::connector::Connector;
use super::control::Control;
use super::ConnectivityState;
use crate::balancer::{Alarm, CallStats, LoadReport, SubchannelState};
use crate::resolver::Address;
use crate::transport::client::{ConnConfig, Connection};
use crate::Status;

/// How the subchannels of a channel connect.
pub(crate) struct SubchannelConfig {
    pub(crate) connector: Arc<dyn Connector>,
    pub(crate) backoff: BackoffConfig,
    /// MIN_CONNECT_TIMEOUT: the least time an attempt is given.
    pub(crate) connect_timeout: Duration,
    pub(crate) conn: ConnConfig,
    /// KEEPALIVE_TIME after servers said we ping too often (`None`: `conn.keepalive_time`).
    /// Channel-wide, as in grpc-go: a reconnect through a new subchannel keeps it.
    pub(crate) keepalive_backoff: Mutex<Option<Duration>>,
}

impl SubchannelConfig {
    /// The KEEPALIVE_TIME new connections use.
    fn keepalive_time(&self) -> Option<Duration> {
        let backoff = *self
            .keepalive_backoff
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        backoff.or(self.conn.keepalive_time)
    }

    /// gRFC A8: a server's GOAWAY "too_many_pings" to a connection that pinged every `used`
    /// doubles the channel's KEEPALIVE_TIME (never lowering it, when several connections
    /// were told at once).
    fn too_many_pings(&self, used: Option<Duration>) {
        let Some(doubled) = used.map(|t| t.saturating_mul(2)) else {
            return;
        };
        let mut backoff = self
            .keepalive_backoff
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if backoff.is_none_or(|current| current < doubled) {
            *backoff = Some(doubled);
            tracing::warn!(keepalive_time = ?doubled, "server sent too_many_pings; pinging less often");
        }
    }
}

/// A connection to one address, with a [`ConnectivityState`]: what load balancers pick.
///
/// A handle: clones refer to the same subchannel, and compare equal. Created by
/// [`ChannelController::new_subchannel`](crate::balancer::ChannelController::new_subchannel)
/// IDLE; [`connect`](Self::connect) starts connecting. A failed attempt is retried with
/// backoff (see [`BackoffConfig`]) until one succeeds; a lost connection makes it IDLE again.
/// With [`Endpoint::connections_per_address`](crate::client::Endpoint::connections_per_address)
/// it keeps several connections and sends each call over the least busy one.
#[derive(Clone)]
pub struct Subchannel {
    inner: Arc<Inner>,
}

struct Inner {
    address: Address,
    config: Arc<SubchannelConfig>,
    channel: Weak<Control>,
    current: Mutex<Current>,
    /// Wakes the task: a connect request, a backoff reset.
    wake: Notify,
    connect_requested: AtomicBool,
    reset_backoff: AtomicBool,
    shutdown: CancellationToken,
    stats: Arc<CallStats>,
    /// The KEEPALIVE_TIME of this subchannel's latest connection.
    keepalive_time: Mutex<Option<Duration>>,
}

struct Current {
    state: ConnectivityState,
    /// The open connections (the first is the one whose loss makes the subchannel IDLE).
    connections: Vec<Connection>,
}

impl PartialEq for Subchannel {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Subchannel {}

impl std::hash::Hash for Subchannel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.inner) as usize).hash(state);
    }
}

impl std::fmt::Debug for Subchannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subchannel")
            .field("address", &self.inner.address)
            .field("state", &self.state())
            .finish()
    }
}

/// How a READY period ended.
enum Ended {
    Shutdown,
    /// The main connection closed.
    Closed,
}

impl Subchannel {
    /// A new IDLE subchannel; its task runs on `runtime` (without one, it never connects).
    pub(crate) fn new(
        address: Address,
        config: Arc<SubchannelConfig>,
        channel: Weak<Control>,
        runtime: Option<&tokio::runtime::Handle>,
    ) -> Subchannel {
        let keepalive_time = config.keepalive_time();
        let activity = channel
            .upgrade()
            .map(|c| c.activity.clone())
            .unwrap_or_default();
        let alarm = {
            let channel = channel.clone();
            Alarm::new(move || {
                if let Some(channel) = channel.upgrade() {
                    channel.calls_failing();
                }
            })
        };
        let subchannel = Subchannel {
            inner: Arc::new(Inner {
                address,
                config,
                channel,
                current: Mutex::new(Current {
                    state: ConnectivityState::Idle,
                    connections: Vec::new(),
                }),
                wake: Notify::new(),
                connect_requested: AtomicBool::new(false),
                reset_backoff: AtomicBool::new(false),
                shutdown: CancellationToken::new(),
                stats: Arc::new(CallStats::new(activity, alarm)),
                keepalive_time: Mutex::new(keepalive_time),
            }),
        };
        match runtime {
            Some(runtime) => drop(runtime.spawn(subchannel.clone().run())),
            None => tracing::warn!("a subchannel created outside a tokio runtime never connects"),
        }
        subchannel
    }

    fn current(&self) -> MutexGuard<'_, Current> {
        self.inner
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The address it connects to.
    pub fn address(&self) -> &Address {
        &self.inner.address
    }

    /// Its state now.
    pub fn state(&self) -> ConnectivityState {
        self.current().state
    }

    /// Calls in flight on it now (what `least_request` compares).
    pub fn in_flight(&self) -> usize {
        self.inner.stats.in_flight()
    }

    /// The latest ORCA load report its server sent in a call's trailers, and when.
    pub fn load_report(&self) -> Option<(LoadReport, std::time::Instant)> {
        self.inner.stats.load().map(|(r, t)| (r, t.into_std()))
    }

    /// The latest load report, timed on tokio's clock (paused in tests).
    pub(crate) fn load_report_at(&self) -> Option<(LoadReport, Instant)> {
        self.inner.stats.load()
    }

    /// Successes and failures of calls ended since the last time this was asked.
    pub(crate) fn take_call_results(&self) -> (u64, u64) {
        self.inner.stats.take_results()
    }

    /// Calls on it that failed since the last one that succeeded.
    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.inner.stats.consecutive_failures()
    }

    /// Starts counting its consecutive failures afresh.
    pub(crate) fn clear_consecutive_failures(&self) {
        self.inner.stats.clear_consecutive_failures();
    }

    /// Wakes the channel's balancer (its `timer`) as soon as `failures` calls in a row have
    /// failed (0: never).
    pub(crate) fn alarm_after_failures(&self, failures: u32) {
        self.inner.stats.alarm_after(failures);
    }

    /// Starts connecting if IDLE (otherwise it is connecting, connected, or retrying already).
    pub fn connect(&self) {
        if self.current().state == ConnectivityState::Idle {
            self.inner.connect_requested.store(true, Ordering::Release);
            self.inner.wake.notify_one();
        }
    }

    /// Stops it for good: no new calls; calls in flight on its connection finish.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Retries at once if waiting out a backoff, and starts the next backoff over.
    pub(crate) fn reset_backoff(&self) {
        self.inner.reset_backoff.store(true, Ordering::Release);
        self.inner.wake.notify_one();
    }

    /// The least busy open connection, if READY: the end of every pick.
    pub(crate) fn ready_connection(&self) -> Option<Connection> {
        let current = self.current();
        if current.state != ConnectivityState::Ready {
            return None;
        }
        match current.connections.as_slice() {
            [] => None,
            [only] => (!only.is_closed()).then(|| only.clone()),
            many => many
                .iter()
                .filter(|c| !c.is_closed())
                .min_by_key(|c| c.in_flight())
                .cloned(),
        }
    }

    fn set(&self, state: ConnectivityState, error: Option<Status>) {
        {
            let mut current = self.current();
            if current.state == ConnectivityState::Shutdown || current.state == state {
                return;
            }
            current.state = state;
            if state != ConnectivityState::Ready && state != ConnectivityState::Connecting {
                current.connections.clear();
            }
        }
        if let Some(channel) = self.inner.channel.upgrade() {
            channel.subchannel_update(self.clone(), SubchannelState { state, error });
        }
    }

    /// One attempt: a byte stream, then the HTTP/2 handshake.
    async fn connect_once(&self) -> Result<Connection, Status> {
        let address = &self.inner.address;
        let io = self
            .inner
            .config
            .connector
            .connect(address)
            .await
            .map_err(|e| Status::unavailable(format!("connect to {address} failed: {e}")))?;
        let keepalive = self.inner.config.keepalive_time();
        *self
            .inner
            .keepalive_time
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = keepalive;
        Connection::handshake(
            io,
            &self.inner.config.conn,
            keepalive,
            self.inner.stats.clone(),
        )
        .await
    }

    /// The subchannel's life: IDLE → CONNECTING → READY or TRANSIENT_FAILURE (then, after
    /// the backoff, CONNECTING again) → IDLE when the connection drops; SHUTDOWN at the end.
    async fn run(self) {
        let inner = &self.inner;
        let mut backoff = Backoff::new(inner.config.backoff);
        'idle: loop {
            while !inner.connect_requested.swap(false, Ordering::AcqRel) {
                tokio::select! {
                    _ = inner.shutdown.cancelled() => break 'idle,
                    _ = inner.wake.notified() => {}
                }
            }
            loop {
                if inner.reset_backoff.swap(false, Ordering::AcqRel) {
                    backoff.reset();
                }
                self.set(ConnectivityState::Connecting, None);
                // grpc/grpc doc/connection-backoff.md: the next attempt starts `delay` after
                // this one did; this one may take that long, and at least MIN_CONNECT_TIMEOUT.
                let delay = backoff.next_delay();
                let next_attempt = Instant::now() + delay;
                let timeout = delay.max(inner.config.connect_timeout);
                let result = tokio::select! {
                    _ = inner.shutdown.cancelled() => break 'idle,
                    result = tokio::time::timeout(timeout, self.connect_once()) => result,
                };
                let error = match result {
                    Ok(Ok(connection)) => {
                        backoff.reset();
                        match self.serve(connection).await {
                            Ended::Shutdown => break 'idle,
                            Ended::Closed => {}
                        }
                        self.set(ConnectivityState::Idle, None);
                        continue 'idle;
                    }
                    Ok(Err(status)) => status,
                    Err(_) => Status::unavailable(format!(
                        "connect to {} timed out after {timeout:?}",
                        inner.address
                    )),
                };
                tracing::debug!(address = %inner.address, %error, "connection attempt failed");
                self.set(ConnectivityState::TransientFailure, Some(error));
                loop {
                    tokio::select! {
                        _ = inner.shutdown.cancelled() => break 'idle,
                        _ = tokio::time::sleep_until(next_attempt) => break,
                        _ = inner.wake.notified() => {
                            if inner.reset_backoff.swap(false, Ordering::AcqRel) {
                                backoff.reset();
                                break;
                            }
                        }
                    }
                }
            }
        }
        self.set(ConnectivityState::Shutdown, None);
        self.current().connections.clear();
    }

    /// While connected: READY (or as the health watch says), extra pooled connections kept
    /// open, until the main connection closes or the subchannel shuts down.
    async fn serve(&self, connection: Connection) -> Ended {
        let inner = &self.inner;
        self.current().connections = vec![connection.clone()];
        let (health_tx, mut health_rx) = mpsc::unbounded_channel();
        let channel = inner.channel.upgrade();
        let service = channel.as_ref().and_then(|c| c.health_check_service());
        let mut tasks = tokio::task::JoinSet::new();
        match (service, channel) {
            (Some(service), Some(channel)) => {
                let (scheme, authority) = (channel.scheme, channel.authority.clone());
                let watched = connection.clone();
                tasks.spawn(async move {
                    health::watch(watched, scheme, &authority, &service, |h| {
                        let _ = health_tx.send(h);
                    })
                    .await
                });
            }
            _ => self.set(ConnectivityState::Ready, None),
        }
        let (pool_tx, mut pool_rx) = mpsc::unbounded_channel();
        for _ in 1..inner.config.conn.connections_per_address.max(1) {
            let (me, pool_tx) = (self.clone(), pool_tx.clone());
            tasks.spawn(async move { me.keep_pooled(pool_tx).await });
        }
        let ended = loop {
            tokio::select! {
                _ = inner.shutdown.cancelled() => break Ended::Shutdown,
                _ = connection.closed() => break Ended::Closed,
                Some(health) = health_rx.recv() => match health {
                    health::Health::Serving => self.set(ConnectivityState::Ready, None),
                    health::Health::NotServing(status) => {
                        self.set(ConnectivityState::TransientFailure, Some(status));
                        // Still connected: keep the connection for the next SERVING.
                        let mut current = self.current();
                        if current.connections.is_empty() {
                            current.connections.push(connection.clone());
                        }
                    }
                },
                Some(extra) = pool_rx.recv() => {
                    let mut current = self.current();
                    current.connections.retain(|c: &Connection| !c.is_closed());
                    current.connections.push(extra);
                }
            }
        };
        if connection.ended_for_too_many_pings() {
            let used = *inner
                .keepalive_time
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            inner.config.too_many_pings(used);
        }
        ended
    }

    /// Keeps one extra pooled connection open while the subchannel is connected.
    async fn keep_pooled(self, out: mpsc::UnboundedSender<Connection>) {
        let mut backoff = Backoff::new(self.inner.config.backoff);
        loop {
            match self.connect_once().await {
                Ok(connection) => {
                    backoff.reset();
                    if out.send(connection.clone()).is_err() {
                        return;
                    }
                    connection.closed().await;
                }
                Err(status) => {
                    tracing::debug!(%status, "pooled connection attempt failed");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::connector::ConnectFuture;
    use crate::transport::BoxIo;

    /// A server that answers every connection with GOAWAY ENHANCE_YOUR_CALM, as a server
    /// enforcing its ping policy does (gRFC A8).
    fn calm_down(_: &Address) -> ConnectFuture {
        Box::pin(async {
            let (client, server) = tokio::io::duplex(64 * 1024);
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(server).await else {
                    return;
                };
                conn.abrupt_shutdown(h2::Reason::ENHANCE_YOUR_CALM);
                let conn: &mut h2::server::Connection<_, bytes::Bytes> = &mut conn;
                while let Some(Ok(_)) = conn.accept().await {}
            });
            Ok(Box::new(client) as BoxIo)
        })
    }

    #[tokio::test]
    async fn too_many_pings_doubles_the_keepalive_time() {
        let conn = crate::transport::client::ConnConfig {
            keepalive_time: Some(Duration::from_secs(10)),
            ..Default::default()
        };
        let config = Arc::new(SubchannelConfig {
            connector: Arc::new(calm_down),
            backoff: BackoffConfig::default(),
            connect_timeout: Duration::from_secs(5),
            conn,
            keepalive_backoff: Mutex::default(),
        });
        let runtime = tokio::runtime::Handle::current();
        let subchannel = Subchannel::new(
            Address::custom("calm"),
            config.clone(),
            Weak::new(),
            Some(&runtime),
        );
        subchannel.connect();
        let keepalive = || config.keepalive_time();
        for _ in 0..200 {
            if keepalive() == Some(Duration::from_secs(20)) {
                subchannel.shutdown();
                // Channel-wide: the channel's next subchannel (a reconnect after a resolver
                // update, another replica) pings every 20 s too.
                let next = Subchannel::new(Address::custom("calm"), config, Weak::new(), None);
                assert_eq!(
                    *next.inner.keepalive_time.lock().unwrap(),
                    Some(Duration::from_secs(20))
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "keepalive time is {:?}, state {:?}",
            keepalive(),
            subchannel.state()
        );
    }

    #[test]
    fn too_many_pings_doubles_the_time_the_connection_used_never_lowering_it() {
        let config = SubchannelConfig {
            connector: Arc::new(calm_down),
            backoff: BackoffConfig::default(),
            connect_timeout: Duration::from_secs(5),
            conn: crate::transport::client::ConnConfig {
                keepalive_time: Some(Duration::from_secs(10)),
                ..Default::default()
            },
            keepalive_backoff: Mutex::default(),
        };
        // (time the told connection used, channel's time after)
        let cases = [
            (Some(10), 20),
            // A second connection that used 10 s too: still 20 s, not 40 s (as grpc-go).
            (Some(10), 20),
            (Some(20), 40),
            // A late GOAWAY to an older, faster connection does not lower it.
            (Some(10), 40),
            // Keepalive off on that connection: nothing to double.
            (None, 40),
        ];
        for (used, after) in cases {
            config.too_many_pings(used.map(Duration::from_secs));
            assert_eq!(config.keepalive_time(), Some(Duration::from_secs(after)));
        }
    }
}
