//! A ready [`TokenValidator`] for JSON Web Tokens (jsonwebtoken, RustCrypto backend).

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::{AuthError, BoxFuture, Principal, TokenValidator};
use crate::Status;

/// The largest clock skew accepted: a day (more would make `exp` meaningless).
const MAX_LEEWAY: Duration = Duration::from_secs(24 * 3600);

/// Validates JWTs signed with one key: the signature and algorithm, `exp` (required, with a
/// leeway for clock skew, 60 s by default), `nbf` when present, `sub` (required), and the
/// issuer and audience when configured (then the token must carry them).
///
/// The token's `sub` becomes [`Principal::subject`]; `scope` (space-separated, or a list; `scp`
/// too) becomes [`Principal::scopes`]; every other claim lands in [`Principal::claims`].
///
/// ```
/// use std::time::Duration;
/// use rill::auth::{BearerAuthLayer, JwtValidator};
///
/// let jwt = JwtValidator::hs256(b"a shared secret of at least 32 bytes!")
///     .issuer("https://auth.example.com")
///     .audience("user-service")
///     .leeway(Duration::from_secs(30));
/// let server = rill::server::Server::builder().layer(BearerAuthLayer::new(jwt));
/// # drop(server);
/// ```
#[derive(Clone)]
pub struct JwtValidator {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtValidator")
            .field("algorithms", &self.validation.algorithms)
            .field("issuer", &self.validation.iss)
            .field("audience", &self.validation.aud)
            .field("leeway_secs", &self.validation.leeway)
            .finish_non_exhaustive()
    }
}

impl JwtValidator {
    /// Tokens signed with HMAC-SHA256 and `secret` (keep it at least 32 random bytes).
    ///
    /// ```
    /// let jwt = rill::auth::JwtValidator::hs256(b"0123456789abcdef0123456789abcdef");
    /// # drop(jwt);
    /// ```
    pub fn hs256(secret: impl AsRef<[u8]>) -> JwtValidator {
        JwtValidator::new(DecodingKey::from_secret(secret.as_ref()), Algorithm::HS256)
    }

    /// Tokens signed with RSA PKCS#1 v1.5 SHA-256 by the private half of `public_key_pem`
    /// (`-----BEGIN PUBLIC KEY-----` or `-----BEGIN RSA PUBLIC KEY-----`).
    ///
    /// ```
    /// let err = rill::auth::JwtValidator::rs256_pem("not a key").unwrap_err();
    /// assert!(matches!(err, rill::auth::AuthError::InvalidKey(_)));
    /// ```
    pub fn rs256_pem(public_key_pem: impl AsRef<[u8]>) -> Result<JwtValidator, AuthError> {
        let key = DecodingKey::from_rsa_pem(public_key_pem.as_ref())
            .map_err(|e| AuthError::InvalidKey(e.to_string()))?;
        Ok(JwtValidator::new(key, Algorithm::RS256))
    }

    /// Tokens signed with ECDSA P-256 SHA-256 by the private half of `public_key_pem`
    /// (`-----BEGIN PUBLIC KEY-----`).
    ///
    /// ```
    /// let err = rill::auth::JwtValidator::es256_pem("not a key").unwrap_err();
    /// assert!(matches!(err, rill::auth::AuthError::InvalidKey(_)));
    /// ```
    pub fn es256_pem(public_key_pem: impl AsRef<[u8]>) -> Result<JwtValidator, AuthError> {
        let key = DecodingKey::from_ec_pem(public_key_pem.as_ref())
            .map_err(|e| AuthError::InvalidKey(e.to_string()))?;
        Ok(JwtValidator::new(key, Algorithm::ES256))
    }

    fn new(key: DecodingKey, algorithm: Algorithm) -> JwtValidator {
        // jsonwebtoken picks its crypto backend per process; if features elsewhere in the
        // build enabled two, it would panic instead of choosing. Choose RustCrypto unless the
        // application already installed a provider.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
        );
        let mut validation = Validation::new(algorithm);
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        JwtValidator { key, validation }
    }

    /// Accepts only tokens whose `iss` is `issuer` (call again to accept several).
    pub fn issuer(mut self, issuer: impl Into<String>) -> JwtValidator {
        self.validation
            .iss
            .get_or_insert_with(Default::default)
            .insert(issuer.into());
        self.validation.required_spec_claims.insert("iss".into());
        self
    }

    /// Accepts only tokens whose `aud` includes `audience` (call again to accept several).
    /// Without one, tokens that name any audience are refused.
    pub fn audience(mut self, audience: impl Into<String>) -> JwtValidator {
        self.validation
            .aud
            .get_or_insert_with(Default::default)
            .insert(audience.into());
        self.validation.required_spec_claims.insert("aud".into());
        self
    }

    /// Clock skew tolerated on `exp` and `nbf` (whole seconds, at most a day); default 60 s.
    pub fn leeway(mut self, leeway: Duration) -> JwtValidator {
        self.validation.leeway = leeway.min(MAX_LEEWAY).as_secs();
        self
    }

    /// Checks `token` now; the principal it proves, or UNAUTHENTICATED saying why not.
    pub fn check(&self, token: &str) -> Result<Principal, Status> {
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|e| Status::unauthenticated(describe(e.kind())))?;
        Ok(principal(data.claims))
    }
}

impl TokenValidator for JwtValidator {
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, Status>> {
        let result = self.check(token);
        Box::pin(async move { result })
    }
}

/// What is wrong with a token, for the caller (no key material, no token contents).
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "token expired".into(),
        ErrorKind::ImmatureSignature => "token not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "wrong issuer".into(),
        ErrorKind::InvalidAudience => "wrong audience".into(),
        ErrorKind::InvalidSignature => "bad signature".into(),
        ErrorKind::InvalidAlgorithm => "unexpected signing algorithm".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("missing claim {claim:?}"),
        ErrorKind::InvalidClaimFormat(claim) => format!("malformed claim {claim:?}"),
        _ => "malformed token".into(),
    }
}

fn principal(mut claims: Map<String, Value>) -> Principal {
    let subject = match claims.remove("sub") {
        Some(Value::String(sub)) => sub,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let mut scopes = Vec::new();
    for name in ["scope", "scp"] {
        match claims.remove(name) {
            Some(Value::String(list)) => scopes.extend(list.split_whitespace().map(str::to_string)),
            Some(Value::Array(items)) => scopes.extend(items.into_iter().filter_map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            })),
            _ => {}
        }
    }
    let mut principal = Principal::new(subject).with_scopes(scopes);
    for (name, value) in claims {
        let text = match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        principal.claims.insert(name, text);
    }
    principal
}
