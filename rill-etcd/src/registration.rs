//! Registering a server in etcd: its address under a lease that a background task keeps
//! alive, so the key disappears when the server stops (revoked) or dies (expired).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::backoff::Backoff;
use crate::etcd::Etcd;
use crate::pb::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest, PutRequest,
};
use crate::value::{encode_value, key_prefix};
use crate::EtcdError;

const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// A server's address registered in etcd under `prefix/<address>`, attached to a lease kept
/// alive in the background; what [`EtcdResolverBuilder`](crate::EtcdResolverBuilder) finds.
///
/// - [`Registration::builder`] + [`register`](RegistrationBuilder::register): grants a lease
///   of the TTL (10 s by default), puts the key with grpc-go's endpoint JSON
///   (`{"Addr":"host:port"}`) under it, and starts a task that sends LeaseKeepAlive every
///   third of the TTL. If the keep-alive stream breaks it is reopened (with backoff); if etcd
///   says the lease expired meanwhile (a long pause, etcd restarted without its data), a new
///   lease is granted and the key put again.
/// - [`revoke`](Registration::revoke) (or dropping the registration inside a tokio runtime,
///   best effort) revokes the lease: the key is deleted at once and watchers see the server
///   go. A server that dies without either is removed when its lease's TTL runs out.
///
/// ```no_run
/// # async fn run() -> Result<(), rill_etcd::EtcdError> {
/// use std::time::Duration;
/// use rill_etcd::Registration;
///
/// let registration = Registration::builder("http://127.0.0.1:2379", "services/users", "10.0.0.5:50051")
///     .ttl(Duration::from_secs(5))
///     .register()
///     .await?;
/// // … serve until shutdown …
/// registration.revoke().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Registration {
    key: String,
    etcd: Etcd,
    lease: Arc<AtomicI64>,
    keepalive: JoinHandle<()>,
    /// Whether the lease still needs revoking (false after `revoke` or `abandon`).
    armed: bool,
}

/// Settings of a [`Registration`], made by [`Registration::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RegistrationBuilder {
    etcd: String,
    prefix: String,
    address: String,
    ttl: Duration,
    max_backoff: Duration,
}

impl Registration {
    /// Settings to register `address` (`host:port`, as clients should dial it) under `prefix`
    /// in the etcd at `etcd` (`host:port` or `http://host:port`).
    ///
    /// ```
    /// let builder = rill_etcd::Registration::builder("127.0.0.1:2379", "services/users", "127.0.0.1:50051")
    ///     .ttl(std::time::Duration::from_secs(3));
    /// # drop(builder);
    /// ```
    pub fn builder(etcd: &str, prefix: &str, address: &str) -> RegistrationBuilder {
        RegistrationBuilder {
            etcd: etcd.to_string(),
            prefix: prefix.to_string(),
            address: address.to_string(),
            ttl: DEFAULT_TTL,
            max_backoff: Duration::from_secs(5),
        }
    }

    /// The key in etcd: `prefix/address`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The current lease's ID (it changes if the lease had to be granted again).
    pub fn lease_id(&self) -> i64 {
        self.lease.load(Ordering::Relaxed)
    }

    /// Stops the keep-alives and revokes the lease: etcd deletes the key at once.
    ///
    /// # Errors
    ///
    /// [`EtcdError::Rpc`] if etcd could not be reached or refused; the key then goes when the
    /// lease expires.
    pub async fn revoke(mut self) -> Result<(), EtcdError> {
        self.keepalive.abort();
        self.armed = false;
        revoke(&self.etcd, self.lease_id()).await
    }

    /// Stops the keep-alives without revoking, as a crashed process would: etcd deletes the
    /// key when the lease's TTL runs out. For handovers and tests.
    pub fn abandon(mut self) {
        self.keepalive.abort();
        self.armed = false;
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.keepalive.abort();
        if !self.armed {
            return;
        }
        // Best effort: without a runtime the lease expires by itself.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let etcd = self.etcd.clone();
            let lease = self.lease_id();
            runtime.spawn(async move {
                if let Err(error) = revoke(&etcd, lease).await {
                    tracing::warn!(%error, "etcd registration: revoking the lease on drop failed");
                }
            });
        }
    }
}

impl RegistrationBuilder {
    /// The lease's time to live (whole seconds, at least 1; 10 s by default): how long a
    /// dead server stays registered. etcd may raise a short TTL to its minimum.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The longest wait between attempts to reopen a broken keep-alive stream (5 s by
    /// default; keep it well under the TTL).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// Grants the lease, puts the key under it, and starts keeping it alive (needs a tokio
    /// runtime).
    ///
    /// # Errors
    ///
    /// [`EtcdError::Invalid`] for an empty prefix or address or a TTL under 1 s,
    /// [`EtcdError::Endpoint`] for an unusable etcd endpoint, [`EtcdError::Rpc`] or
    /// [`EtcdError::Lease`] if etcd could not be reached or refused.
    pub async fn register(self) -> Result<Registration, EtcdError> {
        let prefix = self.prefix.trim_end_matches('/');
        if prefix.is_empty() || self.address.is_empty() {
            return Err(EtcdError::Invalid("empty prefix or address".into()));
        }
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        if ttl < 1 {
            return Err(EtcdError::Invalid(format!(
                "TTL {:?} is under 1 s",
                self.ttl
            )));
        }
        let etcd = Etcd::connect_lazy(&self.etcd, self.max_backoff)?;
        let lease = Lease {
            etcd: etcd.clone(),
            key: format!("{}{}", key_prefix(prefix), self.address),
            value: encode_value(&self.address),
            ttl,
        };
        let (id, granted_ttl) = lease.grant_and_put().await?;
        let id = Arc::new(AtomicI64::new(id));
        let key = lease.key.clone();
        let backoff = Backoff::new(Duration::from_millis(200), self.max_backoff);
        let keepalive = tokio::spawn(keep_alive(lease, id.clone(), granted_ttl, backoff));
        Ok(Registration {
            key,
            etcd,
            lease: id,
            keepalive,
            armed: true,
        })
    }
}

async fn revoke(etcd: &Etcd, lease: i64) -> Result<(), EtcdError> {
    etcd.lease
        .lease_revoke(LeaseRevokeRequest { id: lease })
        .await
        .map_err(EtcdError::rpc("LeaseRevoke"))?;
    Ok(())
}

/// What the keep-alive task needs to register again.
struct Lease {
    etcd: Etcd,
    key: String,
    value: Vec<u8>,
    ttl: i64,
}

impl Lease {
    /// A new lease with the key put under it: its ID and the TTL etcd granted.
    async fn grant_and_put(&self) -> Result<(i64, i64), EtcdError> {
        let grant = self
            .etcd
            .lease
            .lease_grant(LeaseGrantRequest {
                ttl: self.ttl,
                id: 0,
            })
            .await
            .map_err(EtcdError::rpc("LeaseGrant"))?
            .into_inner();
        if !grant.error.is_empty() {
            return Err(EtcdError::Lease(grant.error));
        }
        let put = PutRequest {
            key: self.key.clone().into_bytes(),
            value: self.value.clone(),
            lease: grant.id,
        };
        self.etcd.kv.put(put).await.map_err(EtcdError::rpc("Put"))?;
        Ok((grant.id, grant.ttl.max(1)))
    }
}

/// Keeps the lease alive until aborted: reopens the stream after failures, registers again
/// when the lease was lost.
async fn keep_alive(lease: Lease, id: Arc<AtomicI64>, mut ttl: i64, mut backoff: Backoff) {
    loop {
        let outcome =
            keep_alive_stream(&lease, id.load(Ordering::Relaxed), ttl, &mut backoff).await;
        match outcome {
            StreamEnd::Failed(reason) => {
                tracing::warn!(key = %lease.key, %reason, "etcd registration: keep-alive failed");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            StreamEnd::Expired => {
                tracing::warn!(key = %lease.key, "etcd registration: lease expired; registering again");
                match lease.grant_and_put().await {
                    Ok((new_id, new_ttl)) => {
                        id.store(new_id, Ordering::Relaxed);
                        ttl = new_ttl;
                        backoff.reset();
                    }
                    Err(error) => {
                        tracing::warn!(key = %lease.key, %error, "etcd registration: registering again failed");
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                }
            }
        }
    }
}

enum StreamEnd {
    Failed(String),
    Expired,
}

/// One LeaseKeepAlive stream: a request every third of the TTL, until it breaks or etcd
/// says the lease is gone.
async fn keep_alive_stream(lease: &Lease, id: i64, ttl: i64, backoff: &mut Backoff) -> StreamEnd {
    let period = Duration::from_secs(u64::try_from(ttl).unwrap_or(1))
        .div_f64(3.0)
        .max(Duration::from_millis(100));
    let (tx, rx) = mpsc::channel::<LeaseKeepAliveRequest>(1);
    // Queued before the call: etcd (grpc-go) sends its response headers with the first
    // response, so the call would wait for them before a request could be sent.
    if tx.try_send(LeaseKeepAliveRequest { id }).is_err() {
        return StreamEnd::Failed("keep-alive queue closed".into());
    }
    let requests = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let mut responses = match lease.etcd.lease.lease_keep_alive(requests).await {
        Ok(response) => response.into_inner(),
        Err(status) => return StreamEnd::Failed(format!("LeaseKeepAlive: {status}")),
    };
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first request is already queued
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if tx.send(LeaseKeepAliveRequest { id }).await.is_err() {
                    return StreamEnd::Failed("the keep-alive stream closed".into());
                }
            }
            message = responses.message() => match message {
                Ok(Some(response)) if response.ttl <= 0 => return StreamEnd::Expired,
                Ok(Some(_)) => backoff.reset(),
                Ok(None) => return StreamEnd::Failed("the keep-alive stream ended".into()),
                Err(status) => return StreamEnd::Failed(format!("LeaseKeepAlive: {status}")),
            },
        }
    }
}
