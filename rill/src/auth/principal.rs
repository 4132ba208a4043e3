//! The authenticated caller, as handlers and policies see it.

use std::collections::BTreeMap;

/// Who a validated bearer token says the caller is.
///
/// [`BearerAuthLayer`](super::BearerAuthLayer) puts it in each authenticated request's
/// extensions:
///
/// ```
/// # fn f(req: &rill::Request<()>) {
/// if let Some(who) = req.extensions().get::<rill::auth::Principal>() {
///     println!("{} with scopes {:?}", who.subject, who.scopes);
/// }
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Principal {
    /// The caller's identity: a JWT's `sub`, a user or service name.
    pub subject: String,
    /// What the token grants (a JWT's `scope`), in the order given.
    pub scopes: Vec<String>,
    /// Other claims, as text (JSON for claims that are not strings).
    pub claims: BTreeMap<String, String>,
}

impl Principal {
    /// A principal with no scopes or claims.
    ///
    /// ```
    /// let admin = rill::auth::Principal::new("admin").with_scopes(["users:write"]);
    /// assert!(admin.has_scope("users:write"));
    /// ```
    pub fn new(subject: impl Into<String>) -> Principal {
        Principal {
            subject: subject.into(),
            ..Principal::default()
        }
    }

    /// Adds scopes.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Principal
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Adds (or replaces) a claim.
    ///
    /// ```
    /// let p = rill::auth::Principal::new("svc").with_claim("tenant", "acme");
    /// assert_eq!(p.claim("tenant"), Some("acme"));
    /// ```
    pub fn with_claim(mut self, name: impl Into<String>, value: impl Into<String>) -> Principal {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Whether the principal was granted `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// A claim's value, if present.
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).map(String::as_str)
    }
}
