//! CORS for browser callers: which origins may call, the preflight answer, and the headers
//! every cross-origin response carries (the Fetch standard's CORS protocol).

use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};

/// Request headers a gRPC-Web client sends, allowed in every preflight answer.
const DEFAULT_ALLOW_HEADERS: &[&str] = &[
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "content-type",
    "authorization",
];

/// Response headers a browser script may read: the status travels in them on a
/// Trailers-Only response.
const DEFAULT_EXPOSE_HEADERS: &[&str] = &["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// gRPC-Web options: which browser origins may call the server, and the CORS details.
///
/// The default allows every origin (the `Origin` header is echoed back), as tonic-web does;
/// restrict it with [`allow_origins`](Self::allow_origins) when calls carry ambient
/// credentials (cookies) or the server is reachable from untrusted pages.
///
/// ```
/// use std::time::Duration;
/// let web = rill::web::GrpcWebConfig::new()
///     .allow_origins(["https://app.example.com"])
///     .allow_headers(["x-request-id"])
///     .expose_headers(["x-request-id"])
///     .max_age(Duration::from_secs(600));
/// let server = rill::server::Server::builder().grpc_web_config(web);
/// # drop(server);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GrpcWebConfig {
    origins: Option<Vec<String>>,
    allow_headers: Vec<String>,
    expose_headers: Vec<String>,
    max_age: Duration,
    allow_credentials: bool,
}

impl Default for GrpcWebConfig {
    fn default() -> Self {
        GrpcWebConfig {
            origins: None,
            allow_headers: DEFAULT_ALLOW_HEADERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            expose_headers: DEFAULT_EXPOSE_HEADERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            max_age: Duration::from_secs(24 * 60 * 60),
            allow_credentials: false,
        }
    }
}

impl GrpcWebConfig {
    /// Every origin allowed; the default request and exposed headers; preflights cached a day.
    ///
    /// ```
    /// let web = rill::web::GrpcWebConfig::new();
    /// # drop(web);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Only these origins (`scheme://host[:port]`, compared exactly) may call; a request from
    /// any other origin gets HTTP 403. Requests without an `Origin` header (not from a
    /// browser page) are always served.
    pub fn allow_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Every origin may call (the default): the request's `Origin` is echoed back.
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = None;
        self
    }

    /// More request headers always listed in a preflight answer, besides `x-grpc-web`,
    /// `x-user-agent`, `grpc-timeout`, `content-type` and `authorization`. Headers a
    /// preflight asks for (`Access-Control-Request-Headers`, e.g. custom metadata) are
    /// allowed too, as PROTOCOL-WEB says; the origin check is what restricts callers.
    pub fn allow_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow_headers
            .extend(headers.into_iter().map(|h| h.into().to_ascii_lowercase()));
        self
    }

    /// More response headers a page may read (custom response metadata), besides
    /// `grpc-status`, `grpc-message` and `grpc-status-details-bin`.
    pub fn expose_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.expose_headers
            .extend(headers.into_iter().map(|h| h.into().to_ascii_lowercase()));
        self
    }

    /// How long a browser may cache a preflight answer (`Access-Control-Max-Age`).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Lets pages send credentials (cookies, TLS client certificates) cross-origin
    /// (`Access-Control-Allow-Credentials: true`); combine with `allow_origins`.
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.allow_credentials = allow;
        self
    }

    /// Whether a request from `origin` may be served.
    pub(crate) fn origin_allowed(&self, origin: &HeaderValue) -> bool {
        match &self.origins {
            None => true,
            Some(list) => list.iter().any(|o| o.as_bytes() == origin.as_bytes()),
        }
    }

    /// Adds the CORS headers of an actual (non-preflight) response to a request from `origin`.
    pub(crate) fn add_response_headers(&self, origin: &HeaderValue, headers: &mut HeaderMap) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.append(header::VARY, HeaderValue::from_static("origin"));
        if let Ok(value) = HeaderValue::from_str(&self.expose_headers.join(", ")) {
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, value);
        }
        if self.allow_credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`).
    pub(crate) fn preflight(&self, origin: &HeaderValue, request: &HeaderMap) -> Response<()> {
        let mut resp = Response::new(());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        let method_ok = request
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .is_some_and(|m| m.as_bytes() == b"POST");
        // Every requested header must be allowed, or the browser refuses the call anyway;
        // answering with the allowed list lets it say which one.
        let headers = resp.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(header::VARY, HeaderValue::from_static("origin"));
        if method_ok {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST, OPTIONS"),
            );
            // PROTOCOL-WEB: allow "whatever the preflight request carries" (custom metadata
            // included); the origin check above is what guards access.
            let mut allowed = self.allow_headers.clone();
            let requested = request
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            for name in requested.split(',').map(|n| n.trim().to_ascii_lowercase()) {
                if HeaderName::from_bytes(name.as_bytes()).is_ok() && !allowed.contains(&name) {
                    allowed.push(name);
                }
            }
            if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
            }
            if let Ok(value) = HeaderValue::from_str(&self.max_age.as_secs().to_string()) {
                headers.insert(header::ACCESS_CONTROL_MAX_AGE, value);
            }
            if self.allow_credentials {
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
            }
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let any = GrpcWebConfig::new();
        let some = GrpcWebConfig::new().allow_origins(["https://a.example"]);
        let a = HeaderValue::from_static("https://a.example");
        let b = HeaderValue::from_static("https://b.example");
        assert!(any.origin_allowed(&a) && any.origin_allowed(&b));
        assert!(some.origin_allowed(&a));
        assert!(!some.origin_allowed(&b));
        assert!(some.allow_any_origin().origin_allowed(&b));
    }

    #[test]
    fn preflight_answer() {
        let config = GrpcWebConfig::new().allow_headers(["X-Request-Id"]);
        let origin = HeaderValue::from_static("http://localhost:8080");
        let mut req = HeaderMap::new();
        req.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("POST"),
        );
        req.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("content-type,X-Custom-Bin, x-grpc-web,bad header"),
        );
        let resp = config.preflight(&origin, &req);
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let h = resp.headers();
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], origin);
        let allowed = h[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap();
        for name in DEFAULT_ALLOW_HEADERS.iter().chain(&["x-request-id"]) {
            assert!(
                allowed.split(", ").any(|a| a == *name),
                "{name} in {allowed}"
            );
        }
        assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "86400");

        // A method other than POST is not allowed: no Allow-Methods in the answer.
        req.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("PUT"),
        );
        let resp = config.preflight(&origin, &req);
        assert!(!resp
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_METHODS));
    }

    #[test]
    fn response_headers_expose_status() {
        let mut headers = HeaderMap::new();
        let origin = HeaderValue::from_static("http://x");
        GrpcWebConfig::new().add_response_headers(&origin, &mut headers);
        let exposed = headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .unwrap();
        assert_eq!(
            exposed,
            "grpc-status, grpc-message, grpc-status-details-bin"
        );
        assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
    }
}
