//! Call credentials: a bearer token on every call of a client, or on one call, sent only over
//! TLS unless explicitly allowed.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{header, HeaderMap, HeaderValue};

use super::{BoxError, BoxFuture};
use crate::{Request, Status};

/// The bearer token of one call, carried in the request's extensions; the client sends it as
/// `authorization: Bearer …` (over TLS only, unless [`allow_insecure`](Self::allow_insecure)).
///
/// [`Request::set_bearer_token`] is the one-liner for the common case:
///
/// ```
/// let mut request = rill::Request::new(());
/// request.set_bearer_token("eyJhbGciOi…");
/// // or, for a plaintext test server:
/// request.extensions_mut().insert(rill::auth::CallToken::new("dev").allow_insecure(true));
/// ```
#[derive(Clone)]
pub struct CallToken {
    token: Arc<str>,
    allow_insecure: bool,
}

impl CallToken {
    /// A token to send only over TLS.
    ///
    /// ```
    /// let token = rill::auth::CallToken::new("abc");
    /// assert_eq!(token.token(), "abc");
    /// ```
    pub fn new(token: impl Into<String>) -> CallToken {
        CallToken {
            token: Arc::from(token.into()),
            allow_insecure: false,
        }
    }

    /// Also sends the token over plaintext (`http://`) channels, where anyone on the path can
    /// read and replay it. For tests and trusted local networks only.
    pub fn allow_insecure(mut self, allow: bool) -> CallToken {
        self.allow_insecure = allow;
        self
    }

    /// The token.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for CallToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallToken")
            .field("token", &"<redacted>")
            .field("allow_insecure", &self.allow_insecure)
            .finish()
    }
}

/// Writes the request's [`CallToken`], if any, as a sensitive (never HPACK-indexed)
/// `authorization` header; refuses, with UNAUTHENTICATED, to put it on a plaintext channel.
pub(crate) fn attach_call_token(
    head: &Request<()>,
    secure: bool,
    headers: &mut HeaderMap,
) -> Result<(), Status> {
    let Some(call) = head.extensions().get::<CallToken>() else {
        return Ok(());
    };
    if !secure && !call.allow_insecure {
        return Err(Status::unauthenticated(
            "refusing to send a bearer token over a plaintext channel: use TLS (https://), \
             or allow_insecure(true) to send it anyway",
        ));
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {}", call.token))
        .map_err(|_| Status::unauthenticated("the bearer token is not a valid header value"))?;
    value.set_sensitive(true);
    headers.insert(header::AUTHORIZATION, value);
    Ok(())
}

/// A token from a [`TokenSource`], with the time it stops being valid, if known.
#[derive(Clone)]
pub struct Token {
    value: Arc<str>,
    expires_at: Option<Instant>,
}

impl Token {
    /// A token with no known expiry: the source is asked again for every call.
    ///
    /// ```
    /// use std::time::Duration;
    /// let token = rill::auth::Token::new("abc").expires_in(Duration::from_secs(3600));
    /// assert_eq!(token.value(), "abc");
    /// ```
    pub fn new(value: impl Into<String>) -> Token {
        Token {
            value: Arc::from(value.into()),
            expires_at: None,
        }
    }

    /// The token is valid for `ttl` from now: it is reused until shortly before then.
    pub fn expires_in(mut self, ttl: Duration) -> Token {
        // Beyond what `Instant` can hold is as good as never: no expiry.
        self.expires_at = Instant::now().checked_add(ttl);
        self
    }

    /// The token is valid until `at`: it is reused until shortly before then.
    pub fn expires_at(mut self, at: Instant) -> Token {
        self.expires_at = Some(at);
        self
    }

    /// The token.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl From<String> for Token {
    fn from(value: String) -> Token {
        Token::new(value)
    }
}

impl From<&str> for Token {
    fn from(value: &str) -> Token {
        Token::new(value)
    }
}

/// Produces tokens on demand (an OAuth client, a file watched for rotation…).
///
/// Any `Fn() -> impl Future<Output = Result<T, Status>>` with `T: Into<Token>` is one; an
/// error fails the call with that status. Tokens with an expiry are cached and refreshed by
/// one call at a time; tokens without are fetched for every call.
pub trait TokenSource: Send + Sync + 'static {
    /// A token for the next call.
    fn token(&self) -> BoxFuture<'_, Result<Token, Status>>;
}

impl<F, Fut, T> TokenSource for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, Status>> + Send + 'static,
    T: Into<Token>,
{
    fn token(&self) -> BoxFuture<'_, Result<Token, Status>> {
        let fut = self();
        Box::pin(async move { fut.await.map(Into::into) })
    }
}

/// Where a [`BearerToken`] gets its token.
enum Source {
    Fixed(Arc<str>),
    Dynamic(Refreshing),
}

/// Tokens from a [`TokenSource`], cached while they are fresh.
struct Refreshing {
    source: Box<dyn TokenSource>,
    cached: Mutex<Option<(Arc<str>, Instant)>>,
    /// Held while fetching a token that expires, so concurrent calls share one refresh.
    refreshing: tokio::sync::Mutex<()>,
    /// Whether the source has returned expiring tokens (then fetches are serialized).
    expiring: AtomicBool,
}

impl Refreshing {
    fn fresh(&self, margin: Duration) -> Option<Arc<str>> {
        let cached = self.cached.lock().ok()?;
        let (token, expires_at) = cached.as_ref()?;
        let refresh_at = Instant::now().checked_add(margin)?;
        (refresh_at < *expires_at).then(|| token.clone())
    }

    async fn current(&self, margin: Duration) -> Result<Arc<str>, Status> {
        if let Some(token) = self.fresh(margin) {
            return Ok(token);
        }
        let _one_refresh = if self.expiring.load(Ordering::Acquire) {
            let guard = self.refreshing.lock().await;
            // Another call may have refreshed while this one waited.
            if let Some(token) = self.fresh(margin) {
                return Ok(token);
            }
            Some(guard)
        } else {
            None
        };
        let token = self.source.token().await?;
        if let Some(expires_at) = token.expires_at {
            self.expiring.store(true, Ordering::Release);
            if let Ok(mut cached) = self.cached.lock() {
                *cached = Some((token.value.clone(), expires_at));
            }
        }
        Ok(token.value)
    }
}

/// Client call credentials: a tower layer that sends a bearer token on every call.
///
/// Use with [`Client::layer`](crate::Client::layer). The token is sent only over TLS channels;
/// on plaintext (`http://`) channels calls fail with UNAUTHENTICATED before anything is sent,
/// unless [`allow_insecure(true)`](Self::allow_insecure). A call that carries its own
/// [`CallToken`] keeps it.
///
/// ```
/// use rill::auth::BearerToken;
/// let channel = rill::Channel::lazy("https://api.example.com").unwrap();
/// let client = rill::Client::new(channel).layer(BearerToken::new("eyJhbGciOi…"));
/// # drop(client);
/// ```
#[derive(Clone)]
pub struct BearerToken {
    source: Arc<Source>,
    allow_insecure: bool,
    refresh_margin: Duration,
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerToken")
            .field("allow_insecure", &self.allow_insecure)
            .finish_non_exhaustive()
    }
}

impl BearerToken {
    /// The same token on every call.
    ///
    /// ```
    /// let creds = rill::auth::BearerToken::new("abc");
    /// # drop(creds);
    /// ```
    pub fn new(token: impl Into<String>) -> BearerToken {
        BearerToken::with_source(Source::Fixed(Arc::from(token.into())))
    }

    /// Tokens from `source`, asked when the cached token is about to expire (or for every
    /// call, for tokens without an expiry).
    ///
    /// ```
    /// use std::time::Duration;
    /// use rill::auth::{BearerToken, Token};
    /// let creds = BearerToken::from_source(|| async {
    ///     // e.g. an OAuth client-credentials request
    ///     Ok::<_, rill::Status>(Token::new("fresh").expires_in(Duration::from_secs(300)))
    /// });
    /// # drop(creds);
    /// ```
    pub fn from_source(source: impl TokenSource) -> BearerToken {
        BearerToken::with_source(Source::Dynamic(Refreshing {
            source: Box::new(source),
            cached: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
            expiring: AtomicBool::new(false),
        }))
    }

    fn with_source(source: Source) -> BearerToken {
        BearerToken {
            source: Arc::new(source),
            allow_insecure: false,
            refresh_margin: Duration::from_secs(30),
        }
    }

    /// Also sends the token over plaintext channels, where anyone on the path can read and
    /// replay it. For tests and trusted local networks only.
    ///
    /// ```
    /// let creds = rill::auth::BearerToken::new("dev").allow_insecure(true);
    /// # drop(creds);
    /// ```
    pub fn allow_insecure(mut self, allow: bool) -> BearerToken {
        self.allow_insecure = allow;
        self
    }

    /// How long before its expiry a cached token is replaced; default 30 s.
    pub fn refresh_margin(mut self, margin: Duration) -> BearerToken {
        self.refresh_margin = margin;
        self
    }

    /// The token for the next call.
    async fn current(&self) -> Result<Arc<str>, Status> {
        match &*self.source {
            Source::Fixed(token) => Ok(token.clone()),
            Source::Dynamic(source) => source.current(self.refresh_margin).await,
        }
    }
}

impl<S> tower_layer::Layer<S> for BearerToken {
    type Service = BearerTokenService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerTokenService {
            inner,
            credentials: self.clone(),
        }
    }
}

/// The service [`BearerToken`] wraps around a client's calls.
#[derive(Clone, Debug)]
pub struct BearerTokenService<S> {
    inner: S,
    credentials: BearerToken,
}

impl<S, B> tower_service::Service<Request<B>> for BearerTokenService<S>
where
    S: tower_service::Service<Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The clone that was not polled ready stays; the ready one serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let credentials = self.credentials.clone();
        Box::pin(async move {
            if request.extensions().get::<CallToken>().is_none() {
                let token = credentials.current().await?;
                request.extensions_mut().insert(CallToken {
                    token,
                    allow_insecure: credentials.allow_insecure,
                });
            }
            inner.call(request).await.map_err(Into::into)
        })
    }
}
