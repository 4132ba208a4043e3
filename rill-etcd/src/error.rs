//! rill-etcd's errors.

/// Why talking to etcd failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EtcdError {
    /// The etcd endpoint is not a usable target.
    #[error("etcd endpoint: {0}")]
    Endpoint(#[from] rill::Error),
    /// An etcd RPC failed (etcd unreachable, or it refused the request).
    #[error("etcd {rpc} failed: {status}")]
    Rpc {
        /// The RPC: `LeaseGrant`, `Put`…
        rpc: &'static str,
        /// What etcd (or the channel) answered.
        status: rill::Status,
    },
    /// etcd granted no lease (its answer carried an error message).
    #[error("etcd granted no lease: {0}")]
    Lease(String),
    /// A registration's settings are unusable (empty prefix or address, TTL under 1 s).
    #[error("invalid registration: {0}")]
    Invalid(String),
}

impl EtcdError {
    pub(crate) fn rpc(rpc: &'static str) -> impl FnOnce(rill::Status) -> EtcdError {
        move |status| EtcdError::Rpc { rpc, status }
    }
}
