//! Authorization: allow/deny rules per service and method, by identity.

use std::sync::Arc;
use std::task::{Context, Poll};

use super::{AuthError, BoxError, BoxFuture, Principal};
use crate::server::GrpcMethod;
use crate::{Request, Status};

/// Whom a policy rule is about: the caller's [`Principal`] (from a bearer token) or, on mTLS,
/// the names in its client certificate ([`PeerIdentity`](crate::tls::PeerIdentity)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Who {
    /// Every caller, authenticated or not.
    Anyone,
    /// Any caller with a validated token or a verified client certificate.
    Authenticated,
    /// A caller named this way by either means: the token's subject, or one of the client
    /// certificate's subject alternative names, or its common name.
    Name(String),
    /// A caller whose token's subject is this.
    Subject(String),
    /// A caller whose token grants this scope.
    Scope(String),
    /// A caller whose client certificate has this subject alternative name (DNS name, URI
    /// such as a SPIFFE id, email, IP address). Certificates are only known with the `tls`
    /// feature.
    San(String),
    /// A caller whose client certificate's subject common name is this.
    CommonName(String),
}

impl Who {
    /// [`Who::Name`]: a token subject, certificate SAN or common name.
    ///
    /// ```
    /// let admin = rill::auth::Who::name("admin");
    /// # drop(admin);
    /// ```
    pub fn name(name: impl Into<String>) -> Who {
        Who::Name(name.into())
    }

    /// [`Who::Subject`]: a token subject.
    pub fn subject(subject: impl Into<String>) -> Who {
        Who::Subject(subject.into())
    }

    /// [`Who::Scope`]: a scope the token grants.
    pub fn scope(scope: impl Into<String>) -> Who {
        Who::Scope(scope.into())
    }

    /// [`Who::San`]: a client certificate subject alternative name.
    pub fn san(name: impl Into<String>) -> Who {
        Who::San(name.into())
    }

    /// [`Who::CommonName`]: a client certificate common name.
    pub fn common_name(name: impl Into<String>) -> Who {
        Who::CommonName(name.into())
    }

    fn matches(&self, caller: &Caller<'_>) -> bool {
        let subject = |s: &str| caller.principal.is_some_and(|p| p.subject == s);
        match self {
            Who::Anyone => true,
            Who::Authenticated => caller.principal.is_some() || caller.has_certificate(),
            Who::Name(name) => subject(name) || caller.san(name) || caller.common_name(name),
            Who::Subject(name) => subject(name),
            Who::Scope(scope) => caller.principal.is_some_and(|p| p.has_scope(scope)),
            Who::San(name) => caller.san(name),
            Who::CommonName(name) => caller.common_name(name),
        }
    }
}

/// What the server knows of a caller.
struct Caller<'a> {
    principal: Option<&'a Principal>,
    #[cfg(feature = "tls")]
    peer: Option<&'a crate::tls::PeerIdentity>,
}

impl<'a> Caller<'a> {
    fn of<B>(request: &'a Request<B>) -> Caller<'a> {
        Caller {
            principal: request.extensions().get::<Principal>(),
            #[cfg(feature = "tls")]
            peer: request
                .extensions()
                .get::<Arc<crate::tls::PeerIdentity>>()
                .map(|p| &**p),
        }
    }

    #[cfg(feature = "tls")]
    fn has_certificate(&self) -> bool {
        self.peer.is_some()
    }
    #[cfg(feature = "tls")]
    fn san(&self, name: &str) -> bool {
        self.peer
            .is_some_and(|p| p.subject_alt_names().iter().any(|n| n == name))
    }
    #[cfg(feature = "tls")]
    fn common_name(&self, name: &str) -> bool {
        self.peer.is_some_and(|p| p.common_name() == Some(name))
    }

    #[cfg(not(feature = "tls"))]
    fn has_certificate(&self) -> bool {
        false
    }
    #[cfg(not(feature = "tls"))]
    fn san(&self, _name: &str) -> bool {
        false
    }
    #[cfg(not(feature = "tls"))]
    fn common_name(&self, _name: &str) -> bool {
        false
    }

    /// The caller, for denial messages.
    fn describe(&self) -> String {
        if let Some(p) = self.principal {
            return format!("subject {:?}", p.subject);
        }
        #[cfg(feature = "tls")]
        if let Some(peer) = self.peer {
            return match (peer.common_name(), peer.subject_alt_names().first()) {
                (_, Some(san)) => format!("client certificate {san:?}"),
                (Some(cn), None) => format!("client certificate CN={cn:?}"),
                (None, None) => "client certificate".to_string(),
            };
        }
        "anonymous caller".to_string()
    }
}

/// Which methods a rule covers.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Methods {
    All,
    Service(String),
    Method { service: String, method: String },
}

impl Methods {
    fn parse(pattern: &str) -> Result<Methods, AuthError> {
        let bad = |reason| AuthError::InvalidPattern {
            pattern: pattern.to_string(),
            reason,
        };
        let trimmed = pattern.strip_prefix('/').unwrap_or(pattern);
        if trimmed == "*" {
            return Ok(Methods::All);
        }
        let (service, method) = trimmed.split_once('/').ok_or_else(|| {
            bad("expected \"package.Service/Method\", \"package.Service/*\" or \"*\"")
        })?;
        if service.is_empty() || service.contains('*') {
            return Err(bad("the service must be a full name, without wildcards"));
        }
        match method {
            "*" => Ok(Methods::Service(service.to_string())),
            "" => Err(bad("empty method name (use \"Service/*\" for all methods)")),
            m if m.contains(['*', '/']) => Err(bad("a method is a name or \"*\"")),
            m => Ok(Methods::Method {
                service: service.to_string(),
                method: m.to_string(),
            }),
        }
    }

    fn matches(&self, method: &GrpcMethod) -> bool {
        match self {
            Methods::All => true,
            Methods::Service(service) => method.service() == service,
            Methods::Method {
                service,
                method: name,
            } => method.service() == service && method.method() == name,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Clone, Debug)]
struct Rule {
    effect: Effect,
    methods: Methods,
    who: Who,
}

/// Rules for a [`Policy`], checked when [`build`](Self::build) is called.
#[derive(Clone, Debug, Default)]
pub struct PolicyBuilder {
    rules: Vec<(Effect, String, Who)>,
    default_allow: bool,
}

impl PolicyBuilder {
    /// Allows `who` to call the `methods`: `"package.Service/Method"`, `"package.Service/*"` or
    /// `"*"` (a leading `/` is accepted).
    pub fn allow(mut self, methods: impl Into<String>, who: Who) -> PolicyBuilder {
        self.rules.push((Effect::Allow, methods.into(), who));
        self
    }

    /// Denies `who` the `methods` (same forms as [`allow`](Self::allow)).
    pub fn deny(mut self, methods: impl Into<String>, who: Who) -> PolicyBuilder {
        self.rules.push((Effect::Deny, methods.into(), who));
        self
    }

    /// What happens to a call no rule matches: denied (the default) or allowed.
    pub fn default_allow(mut self, allow: bool) -> PolicyBuilder {
        self.default_allow = allow;
        self
    }

    /// The policy; fails on the first method pattern that is not understood.
    ///
    /// ```
    /// use rill::auth::{AuthError, Policy, Who};
    /// let err = Policy::builder().allow("user.*/Get", Who::Anyone).build().unwrap_err();
    /// assert!(matches!(err, AuthError::InvalidPattern { .. }));
    /// ```
    pub fn build(self) -> Result<Policy, AuthError> {
        let rules = self
            .rules
            .into_iter()
            .map(|(effect, pattern, who)| {
                Ok(Rule {
                    effect,
                    methods: Methods::parse(&pattern)?,
                    who,
                })
            })
            .collect::<Result<Vec<_>, AuthError>>()?;
        Ok(Policy {
            rules: rules.into(),
            default_allow: self.default_allow,
        })
    }
}

/// Server authorization: allow/deny rules per service and method, by identity; also a tower
/// layer for [`Server::layer`](crate::server::Server::layer).
///
/// Rules are checked in order and the first one whose methods and [`Who`] match decides; when
/// none matches the call is denied (unless [`PolicyBuilder::default_allow`]). Denied calls fail
/// with PERMISSION_DENIED, or UNAUTHENTICATED when the caller presented no identity at all. The identity comes from the request extensions: the [`Principal`]
/// a [`BearerAuthLayer`](super::BearerAuthLayer) put there, and the mTLS client certificate —
/// so add the policy to the server **before** the auth layer (a layer added later runs first).
///
/// ```
/// use rill::auth::{Policy, Who};
/// let policy = Policy::builder()
///     .allow("user.UserService/CreateUsers", Who::name("admin"))
///     .deny("user.UserService/CreateUsers", Who::Anyone)
///     .allow("user.UserService/*", Who::Authenticated)
///     .allow("grpc.health.v1.Health/*", Who::Anyone)
///     .build()
///     .unwrap();
/// let server = rill::server::Server::builder().layer(policy);
/// # drop(server);
/// ```
#[derive(Clone, Debug)]
pub struct Policy {
    rules: Arc<[Rule]>,
    default_allow: bool,
}

impl Policy {
    /// An empty rule list that denies everything until rules are added.
    ///
    /// ```
    /// let deny_all = rill::auth::Policy::builder().build().unwrap();
    /// # drop(deny_all);
    /// ```
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// Decides a call from its head: `Ok` to go ahead; UNAUTHENTICATED when denied to a caller
    /// with neither a [`Principal`] nor a client certificate; PERMISSION_DENIED otherwise (also
    /// when the request names no method, as only server requests do).
    ///
    /// ```
    /// use rill::auth::{Policy, Who};
    /// let policy = Policy::builder().allow("*", Who::Authenticated).build().unwrap();
    /// let anonymous = rill::Request::new(());
    /// // No method recorded on the request (it never went through a server).
    /// assert_eq!(policy.authorize(&anonymous).unwrap_err().code(), rill::Code::PermissionDenied);
    /// ```
    pub fn authorize<B>(&self, request: &Request<B>) -> Result<(), Status> {
        let Some(method) = request.extensions().get::<GrpcMethod>() else {
            return Err(Status::permission_denied(
                "authorization policy: the call names no method",
            ));
        };
        let caller = Caller::of(request);
        let rule = self
            .rules
            .iter()
            .find(|rule| rule.methods.matches(method) && rule.who.matches(&caller));
        let allowed = rule.map_or(self.default_allow, |rule| rule.effect == Effect::Allow);
        if allowed {
            return Ok(());
        }
        // A caller that presented no credentials at all is told so, not that it lacks rights.
        if caller.principal.is_none() && !caller.has_certificate() {
            return Err(Status::unauthenticated(format!(
                "{} needs an authenticated caller; the call carried no credentials",
                method.path()
            )));
        }
        Err(Status::permission_denied(format!(
            "{} may not call {}",
            caller.describe(),
            method.path()
        )))
    }
}

impl<S> tower_layer::Layer<S> for Policy {
    type Service = PolicyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PolicyService {
            inner,
            policy: self.clone(),
        }
    }
}

/// The service a [`Policy`] wraps around a server's calls.
#[derive(Clone, Debug)]
pub struct PolicyService<S> {
    inner: S,
    policy: Policy,
}

impl<S, B> tower_service::Service<Request<B>> for PolicyService<S>
where
    S: tower_service::Service<Request<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if let Err(status) = self.policy.authorize(&request) {
            return Box::pin(async move { Err(status.into()) });
        }
        let fut = self.inner.call(request);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_method_patterns() {
        let ok: &[(&str, Methods)] = &[
            ("*", Methods::All),
            ("/*", Methods::All),
            ("a.S/*", Methods::Service("a.S".into())),
            (
                "/a.S/M",
                Methods::Method {
                    service: "a.S".into(),
                    method: "M".into(),
                },
            ),
        ];
        for (pattern, expected) in ok {
            assert_eq!(&Methods::parse(pattern).unwrap(), expected, "{pattern}");
        }
        for bad in ["", "a.S", "a.S/", "/M", "a.*/M", "a.S/M*", "a.S/M/x", "**"] {
            assert!(Methods::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
