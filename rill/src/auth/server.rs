//! The server auth layer: validates `authorization: Bearer …` and hands the [`Principal`] to
//! the handler.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::{BoxError, BoxFuture, Principal};
use crate::{Code, Request, Status};

/// Checks a bearer token and says who it belongs to.
///
/// Any `Fn(&str) -> impl Future<Output = Result<Principal, Status>>` is one (the future must
/// not borrow the token: copy what it needs first). Reject a token with UNAUTHENTICATED; other
/// codes (UNAVAILABLE when a key server is down, say) reach the caller as they are.
/// [`JwtValidator`](super::JwtValidator) and [`StaticTokens`](super::StaticTokens) are ready
/// ones.
pub trait TokenValidator: Send + Sync + 'static {
    /// The principal `token` proves, or why it proves nothing.
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, Status>>;
}

impl<F, Fut> TokenValidator for F
where
    F: Fn(&str) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Principal, Status>> + Send + 'static,
{
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, Status>> {
        Box::pin(self(token))
    }
}

/// Server authentication: a tower layer that requires a valid bearer token on every call.
///
/// Use with [`Server::layer`](crate::server::Server::layer). It reads the `authorization`
/// metadata (`Bearer <token>`, the scheme in any case), asks the [`TokenValidator`], and puts
/// the [`Principal`] into the request extensions for the layers inside it and the handler. A
/// missing, malformed or rejected token fails the call with UNAUTHENTICATED; the status names
/// the problem and carries a `www-authenticate` trailer (RFC 6750 style).
///
/// ```
/// use rill::auth::{BearerAuthLayer, Principal};
/// use rill::Status;
///
/// let auth = BearerAuthLayer::new(|token: &str| {
///     let admin = token == "let-me-in";
///     async move {
///         match admin {
///             true => Ok(Principal::new("admin")),
///             false => Err(Status::unauthenticated("unknown token")),
///         }
///     }
/// });
/// let server = rill::server::Server::builder().layer(auth);
/// # drop(server);
/// ```
pub struct BearerAuthLayer<V> {
    validator: Arc<V>,
    allow_anonymous: bool,
}

impl<V> Clone for BearerAuthLayer<V> {
    fn clone(&self) -> Self {
        BearerAuthLayer {
            validator: self.validator.clone(),
            allow_anonymous: self.allow_anonymous,
        }
    }
}

impl<V> std::fmt::Debug for BearerAuthLayer<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuthLayer")
            .field("allow_anonymous", &self.allow_anonymous)
            .finish_non_exhaustive()
    }
}

impl<V: TokenValidator> BearerAuthLayer<V> {
    /// A layer that validates tokens with `validator` (a closure, a
    /// [`JwtValidator`](super::JwtValidator), a [`StaticTokens`](super::StaticTokens)…).
    ///
    /// ```
    /// let tokens = rill::auth::StaticTokens::new().token("t0ken", "alice");
    /// let auth = rill::auth::BearerAuthLayer::new(tokens);
    /// # drop(auth);
    /// ```
    pub fn new(validator: V) -> Self {
        BearerAuthLayer {
            validator: Arc::new(validator),
            allow_anonymous: false,
        }
    }

    /// Lets calls without any `authorization` header through, with no [`Principal`] (a bad
    /// token is still refused). For servers where an authorization [`Policy`](super::Policy)
    /// decides, e.g. when mTLS clients need no token.
    ///
    /// ```
    /// let auth = rill::auth::BearerAuthLayer::new(rill::auth::StaticTokens::new())
    ///     .allow_anonymous(true);
    /// # drop(auth);
    /// ```
    pub fn allow_anonymous(mut self, allow: bool) -> Self {
        self.allow_anonymous = allow;
        self
    }
}

impl<S, V> tower_layer::Layer<S> for BearerAuthLayer<V> {
    type Service = BearerAuth<S, V>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`BearerAuthLayer`] wraps around a server's calls.
pub struct BearerAuth<S, V> {
    inner: S,
    layer: BearerAuthLayer<V>,
}

impl<S: Clone, V> Clone for BearerAuth<S, V> {
    fn clone(&self) -> Self {
        BearerAuth {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: std::fmt::Debug, V> std::fmt::Debug for BearerAuth<S, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuth")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, V, B> tower_service::Service<Request<B>> for BearerAuth<S, V>
where
    S: tower_service::Service<Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    V: TokenValidator,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            // Never trust a principal that arrived with the request from somewhere else.
            request.extensions_mut().remove::<Principal>();
            match bearer_token(&request) {
                Ok(Some(token)) => {
                    let principal = layer.validator.validate(&token).await.map_err(rejected)?;
                    request.extensions_mut().insert(principal);
                }
                Ok(None) if layer.allow_anonymous => {}
                Ok(None) => return Err(challenge("missing bearer token", None).into()),
                Err(reason) => return Err(challenge(reason, Some(reason)).into()),
            }
            inner.call(request).await.map_err(Into::into)
        })
    }
}

/// The bearer token of the request, `None` without an `authorization` header.
fn bearer_token<B>(request: &Request<B>) -> Result<Option<String>, &'static str> {
    let values = request.metadata().get_all("authorization");
    let value = match values.as_slice() {
        [] if request.metadata().contains_key("authorization") => {
            return Err("authorization header is not text")
        }
        [] => return Ok(None),
        [value] => *value,
        _ => return Err("more than one authorization header"),
    };
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or("authorization header is not `Bearer <token>`")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("authorization scheme is not Bearer");
    }
    let token = token.trim();
    if token.is_empty() {
        return Err("empty bearer token");
    }
    Ok(Some(token.to_string()))
}

/// A validator's UNAUTHENTICATED gets the `www-authenticate` detail; other codes pass as is.
fn rejected(status: Status) -> BoxError {
    if status.code() != Code::Unauthenticated {
        return status.into();
    }
    let reason = format!("invalid bearer token: {}", status.message());
    challenge(&reason, Some(status.message())).into()
}

/// UNAUTHENTICATED with `reason`, plus a `www-authenticate` trailer (and the same text in the
/// message, for clients that only show messages).
fn challenge(reason: &str, invalid: Option<&str>) -> Status {
    let header = match invalid {
        None => "Bearer".to_string(),
        Some(description) => format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            description.replace(['"', '\\'], "'")
        ),
    };
    let mut status = Status::unauthenticated(format!("{reason} (www-authenticate: {header})"));
    // Metadata values must be visible ASCII; an exotic validator message just loses the trailer.
    let _ = status.metadata_mut().insert("www-authenticate", &header);
    status
}
