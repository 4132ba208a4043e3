//! Request and response heads and trailers from decoded fields, with RFC 9113 §8.2–8.3 checks: a
//! malformed message is a stream error (PROTOCOL_ERROR), never a crash.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

/// Why a field section is malformed (for logs).
pub(crate) type Malformed = &'static str;

/// A validated request head and its announced content-length.
pub(crate) struct RequestHead {
    pub(crate) parts: http::request::Parts,
    pub(crate) content_length: Option<u64>,
}

fn regular(name: &[u8], value: Bytes, headers: &mut HeaderMap) -> Result<(), Malformed> {
    if name.iter().any(u8::is_ascii_uppercase) {
        return Err("uppercase field name");
    }
    match name {
        b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade" => {
            return Err("connection-specific field")
        }
        b"te" if value.as_ref() != b"trailers" => return Err("te other than trailers"),
        _ => {}
    }
    let name = HeaderName::from_bytes(name).map_err(|_| "invalid field name")?;
    let value = HeaderValue::from_maybe_shared(value).map_err(|_| "invalid field value")?;
    headers.append(name, value);
    Ok(())
}

/// Builds a request head from the first field block of a stream.
pub(crate) fn request_head(fields: Vec<(Bytes, Bytes)>) -> Result<RequestHead, Malformed> {
    let (mut method, mut scheme, mut authority, mut path) = (None, None, None, None);
    let mut headers = HeaderMap::with_capacity(fields.len());
    let mut regular_seen = false;
    for (name, value) in fields {
        if let Some(pseudo) = name.strip_prefix(b":") {
            if regular_seen {
                return Err("pseudo-header after a regular field");
            }
            let slot = match pseudo {
                b"method" => &mut method,
                b"scheme" => &mut scheme,
                b"authority" => &mut authority,
                b"path" => &mut path,
                _ => return Err("unknown pseudo-header"),
            };
            if slot.replace(value).is_some() {
                return Err("duplicate pseudo-header");
            }
        } else {
            regular_seen = true;
            regular(&name, value, &mut headers)?;
        }
    }
    let method = method.ok_or("missing :method")?;
    let method = http::Method::from_bytes(&method).map_err(|_| "invalid :method")?;
    // Parts filled directly: `Uri::builder` re-wraps every step in a `Result` (measurable
    // on a path every call takes).
    let mut uri = http::uri::Parts::default();
    let parse_authority =
        |a: Bytes| http::uri::Authority::from_maybe_shared(a).map_err(|_| "invalid :authority");
    if method == http::Method::CONNECT {
        if scheme.is_some() || path.is_some() {
            return Err("CONNECT with :scheme or :path");
        }
        uri.authority = Some(parse_authority(
            authority.ok_or("CONNECT without :authority")?,
        )?);
    } else {
        let path = path.ok_or("missing :path")?;
        if path.is_empty() {
            return Err("empty :path");
        }
        uri.scheme = Some(match scheme.ok_or("missing :scheme")?.as_ref() {
            b"http" => http::uri::Scheme::HTTP,
            b"https" => http::uri::Scheme::HTTPS,
            other => http::uri::Scheme::try_from(other).map_err(|_| "invalid :scheme")?,
        });
        uri.path_and_query =
            Some(http::uri::PathAndQuery::from_maybe_shared(path).map_err(|_| "invalid :path")?);
        uri.authority = authority.map(parse_authority).transpose()?;
    }
    let content_length = match headers.get(http::header::CONTENT_LENGTH) {
        None => None,
        Some(v) => Some(
            std::str::from_utf8(v.as_bytes())
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or("invalid content-length")?,
        ),
    };
    let mut request = http::Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = http::Uri::from_parts(uri).map_err(|_| "invalid request target")?;
    *request.version_mut() = http::Version::HTTP_2;
    let (mut parts, ()) = request.into_parts();
    parts.headers = headers;
    Ok(RequestHead {
        parts,
        content_length,
    })
}

/// Builds a response head from the first field block of a client stream's response.
pub(crate) fn response_head(
    fields: Vec<(Bytes, Bytes)>,
) -> Result<http::response::Parts, Malformed> {
    let mut status = None;
    let mut headers = HeaderMap::with_capacity(fields.len());
    let mut regular_seen = false;
    for (name, value) in fields {
        if name.as_ref() == b":status" {
            if regular_seen {
                return Err("pseudo-header after a regular field");
            }
            if status.is_some() {
                return Err("duplicate :status");
            }
            status = Some(http::StatusCode::from_bytes(&value).map_err(|_| "invalid :status")?);
        } else if name.starts_with(b":") {
            return Err("unknown pseudo-header in a response");
        } else {
            regular_seen = true;
            regular(&name, value, &mut headers)?;
        }
    }
    let mut response = http::Response::new(());
    *response.status_mut() = status.ok_or("missing :status")?;
    *response.version_mut() = http::Version::HTTP_2;
    let (mut parts, ()) = response.into_parts();
    parts.headers = headers;
    Ok(parts)
}

/// Builds trailers: a field block with no pseudo-headers.
pub(crate) fn trailers(fields: Vec<(Bytes, Bytes)>) -> Result<HeaderMap, Malformed> {
    let mut headers = HeaderMap::with_capacity(fields.len());
    for (name, value) in fields {
        if name.starts_with(b":") {
            return Err("pseudo-header in trailers");
        }
        regular(&name, value, &mut headers)?;
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Vec<(Bytes, Bytes)> {
        list.iter()
            .map(|(n, v)| (Bytes::from(n.to_string()), Bytes::from(v.to_string())))
            .collect()
    }

    const GOOD: &[(&str, &str)] = &[
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/a.B/C"),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ];

    #[test]
    fn a_grpc_request_head_is_accepted() {
        let head = request_head(fields(GOOD)).unwrap();
        assert_eq!(head.parts.method, http::Method::POST);
        assert_eq!(head.parts.uri.path(), "/a.B/C");
        assert_eq!(head.parts.headers["content-type"], "application/grpc");
        assert_eq!(head.content_length, None);
    }

    #[test]
    fn malformed_heads_are_rejected() {
        let mut cases: Vec<Vec<(&str, &str)>> = Vec::new();
        let with = |extra: (&'static str, &'static str)| {
            let mut v = GOOD.to_vec();
            v.push(extra);
            v
        };
        let without = |name: &str| GOOD.iter().copied().filter(|(n, _)| *n != name).collect();
        cases.push(with((":method", "GET")));
        cases.push(with((":status", "200")));
        cases.push(with(("Upper", "x")));
        cases.push(with(("connection", "close")));
        cases.push(with(("te", "gzip")));
        cases.push(with(("content-length", "x1")));
        cases.push(without(":method"));
        cases.push(without(":path"));
        cases.push(without(":scheme"));
        let mut late = GOOD.to_vec();
        late.insert(4, (":foo", "bar"));
        cases.push(late);
        let mut after = GOOD.to_vec();
        after.push((":authority", "x"));
        cases.push(after);
        cases.push(vec![
            (":method", "POST"),
            (":scheme", "http"),
            (":path", ""),
        ]);
        for case in cases {
            assert!(request_head(fields(&case)).is_err(), "{case:?}");
        }
        assert!(trailers(fields(&[(":status", "200")])).is_err());
        let ok = response_head(fields(&[(":status", "200"), ("grpc-status", "0")])).unwrap();
        assert_eq!(ok.status, http::StatusCode::OK);
        assert_eq!(ok.headers["grpc-status"], "0");
        for bad in [
            &[("grpc-status", "0")][..],
            &[(":status", "2000")],
            &[(":status", "200"), (":status", "200")],
            &[(":status", "200"), (":path", "/")],
            &[("x-a", "b"), (":status", "200")],
            &[(":status", "200"), ("connection", "close")],
        ] {
            assert!(response_head(fields(bad)).is_err(), "{bad:?}");
        }
        assert!(trailers(fields(&[("x-a", "b")])).is_ok());
    }
}
