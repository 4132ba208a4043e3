//! Authentication and authorization: bearer-token call credentials on the client, a server
//! layer that validates them, a ready JWT validator and a per-method authorization policy
//! (features `auth` and `jwt`, both on by default).
//!
//! | side | what | how |
//! |---|---|---|
//! | client | a token on every call of a client | `Client::layer(`[`BearerToken`]`::new(token))` |
//! | client | a token on one call | [`Request::set_bearer_token`](crate::Request::set_bearer_token) |
//! | client | refreshing tokens | [`BearerToken::from_source`] with a [`TokenSource`] |
//! | server | validate tokens → [`Principal`] | `Server::layer(`[`BearerAuthLayer`]`::new(validator))` |
//! | server | JWTs (HS256, RS256, ES256) | [`JwtValidator`] (feature `jwt`) |
//! | server | who may call what | `Server::layer(`[`Policy`]`)` |
//!
//! Tokens are only sent over TLS: on a plaintext channel the call fails with UNAUTHENTICATED
//! before anything is sent, unless the token was built with `allow_insecure(true)`.
//!
//! On the server, a layer added later runs first: add the policy **before** the auth layer,
//! so that the token is validated before the policy reads the identity.
//!
//! ```
//! use rill::auth::{BearerAuthLayer, Policy, Principal, Who};
//! use rill::Status;
//!
//! let policy = Policy::builder()
//!     .allow("user.UserService/CreateUsers", Who::name("admin"))
//!     .deny("user.UserService/CreateUsers", Who::Anyone)
//!     .allow("user.UserService/*", Who::Authenticated)
//!     .build()
//!     .unwrap();
//! let auth = BearerAuthLayer::new(|token: &str| {
//!     let known = (token == "s3cret").then(|| Principal::new("admin"));
//!     async move { known.ok_or_else(|| Status::unauthenticated("unknown token")) }
//! });
//! let server = rill::server::Server::builder().layer(policy).layer(auth);
//! # drop(server);
//! ```

mod client;
#[cfg(feature = "jwt")]
mod jwt;
mod policy;
mod principal;
mod server;
mod tokens;

pub use client::{BearerToken, BearerTokenService, CallToken, Token, TokenSource};
#[cfg(feature = "jwt")]
pub use jwt::JwtValidator;
pub use policy::{Policy, PolicyBuilder, PolicyService, Who};
pub use principal::Principal;
pub use server::{BearerAuth, BearerAuthLayer, TokenValidator};
pub use tokens::StaticTokens;

pub(crate) use client::attach_call_token;

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future borrowing for `'a`: what [`TokenSource`] and [`TokenValidator`]
/// implementations return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Errors of tower middleware in this module: a [`Status`](crate::Status) or whatever the
/// wrapped service failed with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why an auth component could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A key (PEM or secret) is unusable.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A policy rule names methods in a form that is not understood.
    #[error("invalid method pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A line of a token table is malformed.
    #[error("line {line}: {reason}")]
    InvalidTokenLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}
