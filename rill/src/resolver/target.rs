//! Target strings as grpc/grpc `doc/naming.md` writes them: `scheme:[//authority/]endpoint`.

/// A channel's target, parsed: its scheme picks the resolver, which reads the endpoint (and
/// the authority, when it has a use for one).
///
/// `dns:///example.com:443` has scheme `dns`, an empty authority and endpoint
/// `example.com:443`; `unix:/run/app.sock` has no authority and endpoint `/run/app.sock`. A
/// target whose scheme no resolver is registered for (such as `localhost:50051`) is read as
/// `dns:///` followed by the whole target, as gRPC does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    scheme: String,
    authority: Option<String>,
    endpoint: String,
    path: String,
    original: String,
}

impl Target {
    /// Splits `target` if it starts with a URI scheme; `None` otherwise.
    pub(crate) fn parse(target: &str) -> Option<Target> {
        let (scheme, rest) = target.split_once(':')?;
        if !is_scheme(scheme) {
            return None;
        }
        let (authority, path) = match rest.strip_prefix("//") {
            Some(after) => match after.find('/') {
                Some(slash) => (Some(&after[..slash]), &after[slash..]),
                None => (Some(after), ""),
            },
            None => (None, rest),
        };
        let endpoint = match authority {
            Some(_) => path.strip_prefix('/').unwrap_or(path),
            None => path,
        };
        Some(Target {
            scheme: scheme.to_ascii_lowercase(),
            authority: authority.map(str::to_string),
            endpoint: endpoint.to_string(),
            path: path.to_string(),
            original: target.to_string(),
        })
    }

    /// `endpoint` under `scheme` with no authority (the default-scheme case).
    pub(crate) fn with_scheme(scheme: &str, endpoint: &str, original: &str) -> Target {
        Target {
            scheme: scheme.to_string(),
            authority: None,
            endpoint: endpoint.to_string(),
            path: endpoint.to_string(),
            original: original.to_string(),
        }
    }

    /// The scheme, lowercase: `dns`, `unix`, `etcd`…
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The authority between `//` and the next `/` (for `dns:`, a DNS server), if the target
    /// has that form.
    pub fn authority(&self) -> Option<&str> {
        self.authority.as_deref()
    }

    /// What to resolve: the part after the scheme (and after `//authority/` if present).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The part after the authority as written, with its leading `/` (for `unix:///run/s`
    /// that is `/run/s`); the same as [`endpoint`](Self::endpoint) without an authority.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The target as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.original
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.original)
    }
}

/// RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_targets() {
        let t = Target::parse("dns:///example.com:443").unwrap();
        assert_eq!(
            (t.scheme(), t.authority(), t.endpoint()),
            ("dns", Some(""), "example.com:443")
        );
        let t = Target::parse("dns://8.8.8.8/example.com").unwrap();
        assert_eq!(
            (t.authority(), t.endpoint()),
            (Some("8.8.8.8"), "example.com")
        );
        let t = Target::parse("unix:///run/app.sock").unwrap();
        assert_eq!((t.endpoint(), t.path()), ("run/app.sock", "/run/app.sock"));
        let t = Target::parse("unix:rel.sock").unwrap();
        assert_eq!((t.authority(), t.endpoint()), (None, "rel.sock"));
        let t = Target::parse("Etcd:///services/users").unwrap();
        assert_eq!((t.scheme(), t.endpoint()), ("etcd", "services/users"));
        assert_eq!(t.as_str(), "Etcd:///services/users");
        for not_a_uri in ["127.0.0.1:80", "[::1]:80", "no-colon", ":80"] {
            assert!(Target::parse(not_a_uri).is_none(), "{not_a_uri}");
        }
    }
}
