//! A fixed table of opaque tokens: for demos, tests and small deployments.

use std::collections::HashMap;
use std::path::Path;

use super::{AuthError, BoxFuture, Principal, TokenValidator};
use crate::Status;

/// A [`TokenValidator`] that knows a fixed set of opaque tokens and whom each belongs to.
///
/// ```
/// let tokens = rill::auth::StaticTokens::parse("# token subject\nt0ken-1 admin\nt0ken-2 reader\n")
///     .unwrap();
/// assert_eq!(tokens.len(), 2);
/// ```
#[derive(Clone, Default)]
pub struct StaticTokens {
    tokens: HashMap<String, Principal>,
}

impl std::fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticTokens")
            .field("len", &self.tokens.len())
            .finish()
    }
}

impl StaticTokens {
    /// An empty table: every token is refused.
    ///
    /// ```
    /// let tokens = rill::auth::StaticTokens::new().token("t0ken", "alice");
    /// assert_eq!(tokens.len(), 1);
    /// ```
    pub fn new() -> StaticTokens {
        StaticTokens::default()
    }

    /// Adds `token`, proving `subject`.
    pub fn token(self, token: impl Into<String>, subject: impl Into<String>) -> StaticTokens {
        self.principal(token, Principal::new(subject))
    }

    /// Adds `token`, proving `principal` (with its scopes and claims).
    pub fn principal(mut self, token: impl Into<String>, principal: Principal) -> StaticTokens {
        self.tokens.insert(token.into(), principal);
        self
    }

    /// Parses lines `TOKEN SUBJECT [SCOPE…]`; blank lines and lines starting with `#` are
    /// skipped.
    pub fn parse(text: &str) -> Result<StaticTokens, AuthError> {
        let mut tokens = StaticTokens::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason| AuthError::InvalidTokenLine {
                line: index + 1,
                reason,
            };
            let mut words = line.split_whitespace();
            let (Some(token), Some(subject)) = (words.next(), words.next()) else {
                return Err(bad("expected `TOKEN SUBJECT [SCOPE…]`"));
            };
            if tokens.tokens.contains_key(token) {
                return Err(bad("the same token twice"));
            }
            tokens = tokens.principal(token, Principal::new(subject).with_scopes(words));
        }
        Ok(tokens)
    }

    /// Reads a file in the [`parse`](Self::parse) format.
    pub fn from_file(path: impl AsRef<Path>) -> Result<StaticTokens, AuthError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: path.display().to_string(),
            source,
        })?;
        StaticTokens::parse(&text)
    }

    /// How many tokens the table holds.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the table holds no token.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

impl TokenValidator for StaticTokens {
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, Status>> {
        let found = self
            .tokens
            .get(token)
            .cloned()
            .ok_or_else(|| Status::unauthenticated("unknown token"));
        Box::pin(async move { found })
    }
}
