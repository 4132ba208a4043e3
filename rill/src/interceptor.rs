//! Interceptors: plain functions that see every call's head (metadata, deadline, extensions)
//! before it proceeds, on the server (before the handler) and on the client (before sending).
//!
//! They may add or change metadata, attach extensions, or end the call with a `Status`; for
//! anything asynchronous or that must see the response, use a tower layer instead
//! ([`Server::layer`](crate::server::Server::layer), [`Client::layer`](crate::Client::layer)).

use std::sync::Arc;

use crate::{Request, Status};

/// A type-erased interceptor, as the server and the client keep them.
pub(crate) type Interceptor = Arc<dyn Fn(&mut Request<()>) -> Result<(), Status> + Send + Sync>;

/// Runs `interceptors` in order on `head`; the first error ends the call.
pub(crate) fn run(interceptors: &[Interceptor], head: &mut Request<()>) -> Result<(), Status> {
    interceptors
        .iter()
        .try_for_each(|interceptor| interceptor(head))
}
