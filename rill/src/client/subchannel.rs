//! A subchannel: one address, at most one HTTP/2 connection at a time, its connectivity state
//! and its connection backoff.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::backoff::{Backoff, BackoffConfig};
use super::connector::Connector;
use super::control::Control;
use super::ConnectivityState;
use crate::balancer::SubchannelState;
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
}

/// A connection to one address, with a [`ConnectivityState`]: what load balancers pick.
///
/// A handle: clones refer to the same subchannel, and compare equal. Created by
/// [`ChannelController::new_subchannel`](crate::balancer::ChannelController::new_subchannel)
/// IDLE; [`connect`](Self::connect) starts connecting. A failed attempt is retried with
/// backoff (see [`BackoffConfig`]) until one succeeds; a lost connection makes it IDLE again.
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
}

struct Current {
    state: ConnectivityState,
    connection: Option<Connection>,
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

impl Subchannel {
    /// A new IDLE subchannel; its task runs on `runtime` (without one, it never connects).
    pub(crate) fn new(
        address: Address,
        config: Arc<SubchannelConfig>,
        channel: Weak<Control>,
        runtime: Option<&tokio::runtime::Handle>,
    ) -> Subchannel {
        let subchannel = Subchannel {
            inner: Arc::new(Inner {
                address,
                config,
                channel,
                current: Mutex::new(Current {
                    state: ConnectivityState::Idle,
                    connection: None,
                }),
                wake: Notify::new(),
                connect_requested: AtomicBool::new(false),
                reset_backoff: AtomicBool::new(false),
                shutdown: CancellationToken::new(),
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

    /// The connection, if READY and not known to be closed: the end of every pick.
    pub(crate) fn ready_connection(&self) -> Option<Connection> {
        let current = self.current();
        match &current.connection {
            Some(connection)
                if current.state == ConnectivityState::Ready && !connection.is_closed() =>
            {
                Some(connection.clone())
            }
            _ => None,
        }
    }

    fn set(&self, state: ConnectivityState, connection: Option<Connection>, error: Option<Status>) {
        {
            let mut current = self.current();
            if current.state == ConnectivityState::Shutdown {
                return;
            }
            current.state = state;
            current.connection = connection;
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
        Connection::handshake(io, &self.inner.config.conn).await
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
                self.set(ConnectivityState::Connecting, None, None);
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
                        self.set(ConnectivityState::Ready, Some(connection.clone()), None);
                        tokio::select! {
                            _ = inner.shutdown.cancelled() => break 'idle,
                            _ = connection.closed() => {}
                        }
                        self.set(ConnectivityState::Idle, None, None);
                        continue 'idle;
                    }
                    Ok(Err(status)) => status,
                    Err(_) => Status::unavailable(format!(
                        "connect to {} timed out after {timeout:?}",
                        inner.address
                    )),
                };
                tracing::debug!(address = %inner.address, %error, "connection attempt failed");
                self.set(ConnectivityState::TransientFailure, None, Some(error));
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
        self.set(ConnectivityState::Shutdown, None, None);
    }
}
