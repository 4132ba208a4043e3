//! Which HTTP/2 implementation a server runs on.

use crate::transport::server::Backend;

/// The HTTP/2 implementation that serves a [`Server`](super::Server)'s connections (and,
/// with [`Endpoint::http2_backend`](crate::client::Endpoint::http2_backend), carries a
/// channel's).
///
/// Both speak the same gRPC over HTTP/2 (RFC 9113) and enforce the same limits; they differ
/// in speed. `Native` is rill's own connection built for gRPC: one task owns each
/// connection, frames of many streams leave in one write, and a unary response is one unit.
/// On a current-thread tokio runtime it also polls each new call's handler once on the
/// connection's own task (a handler that finishes at once, as most unary ones do, needs no
/// task of its own; one that waits continues as a task); on a multi-thread runtime every
/// handler is a task, so calls of one connection run in parallel. `H2` runs on the `h2`
/// crate, with a task per call.
///
/// ```
/// use rill::server::{Http2Backend, Server};
/// let server = Server::builder().http2_backend(Http2Backend::H2);
/// # drop(server);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Http2Backend {
    /// rill's own HTTP/2 server connection (the default).
    #[default]
    Native,
    /// The `h2` crate.
    H2,
}

impl Http2Backend {
    /// Parses `native` or `h2` (as in the `RILL_SERVER_TRANSPORT` and `RILL_CLIENT_TRANSPORT`
    /// variables the bench and interop programs read); `None` for anything else.
    ///
    /// ```
    /// use rill::server::Http2Backend;
    /// assert_eq!(Http2Backend::from_name("h2"), Some(Http2Backend::H2));
    /// assert_eq!(Http2Backend::from_name("spdy"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Http2Backend> {
        match name {
            "native" => Some(Http2Backend::Native),
            "h2" => Some(Http2Backend::H2),
            _ => None,
        }
    }

    pub(crate) fn to_transport(self) -> Backend {
        match self {
            Http2Backend::Native => Backend::Native,
            Http2Backend::H2 => Backend::H2,
        }
    }
}
