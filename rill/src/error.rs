//! Errors of setting things up (binding, connecting, bad targets), as opposed to RPC outcomes,
//! which are [`Status`](crate::Status).

/// An error creating a channel or running a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The target string could not be understood.
    #[error("invalid target {target:?}: {reason}")]
    InvalidTarget {
        /// The target as given.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Connecting to the server failed.
    #[error("could not connect to {target}: {status}")]
    Connect {
        /// The target connected to.
        target: String,
        /// Why, as a gRPC status (UNAVAILABLE or DEADLINE_EXCEEDED).
        status: crate::Status,
    },
    /// The TLS configuration is unusable (bad PEM, key, roots).
    #[cfg(feature = "tls")]
    #[error("tls: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The service config cannot be used by this channel.
    #[error("service config: {0}")]
    ServiceConfig(#[from] crate::service_config::ServiceConfigError),
    /// A socket operation (bind, accept) failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
