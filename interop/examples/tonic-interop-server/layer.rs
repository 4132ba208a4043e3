//! The HTTP-level half of the tonic interop server: records each request message's
//! Compressed-Flag for the handlers ([`MessageFlags`] in the request extensions), sends the
//! response messages a handler marked ([`Uncompressed`]) uncompressed, and echoes
//! `x-grpc-test-echo-trailing-bin` in the trailers (tonic handlers cannot set trailers).

use std::collections::HashSet;
use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;

use crate::reframe::{MessageFlags, Reframe};

/// Request metadata echoed in the trailers.
const ECHO_TRAILING_KEY: &str = "x-grpc-test-echo-trailing-bin";

/// Indexes of response messages to send uncompressed; a handler puts it in its response's
/// extensions and adds indexes before it yields those messages.
#[derive(Clone, Debug, Default)]
pub(crate) struct Uncompressed(pub Arc<Mutex<HashSet<usize>>>);

impl Uncompressed {
    /// Marks message `index` (from 0) to be sent uncompressed.
    pub(crate) fn insert(&self, index: usize) {
        if let Ok(mut set) = self.0.lock() {
            set.insert(index);
        }
    }

    fn contains(&self, index: usize) -> bool {
        self.0
            .lock()
            .map(|set| set.contains(&index))
            .unwrap_or(false)
    }
}

/// The layer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InteropLayer;

impl<S> tower_layer::Layer<S> for InteropLayer {
    type Service = Interop<S>;

    fn layer(&self, inner: S) -> Interop<S> {
        Interop { inner }
    }
}

/// The service [`InteropLayer`] wraps around tonic's routes.
#[derive(Clone, Debug)]
pub(crate) struct Interop<S> {
    inner: S,
}

type Body = tonic::body::Body;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> tower_service::Service<http::Request<Body>> for Interop<S>
where
    S: tower_service::Service<http::Request<Reframe<Body>>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Reframe<Body>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let mut echo = HeaderMap::new();
        for value in request.headers().get_all(ECHO_TRAILING_KEY) {
            echo.append(ECHO_TRAILING_KEY, value.clone());
        }
        let flags = MessageFlags::default();
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(flags.clone());
        let request = http::Request::from_parts(parts, Reframe::new(body, flags));
        let response = self.inner.call(request);
        Box::pin(async move {
            let (parts, body) = response.await?.into_parts();
            let gzip = parts
                .headers
                .get("grpc-encoding")
                .is_some_and(|v| v.as_bytes() == b"gzip");
            let mut body = Reframe::new(body, MessageFlags::default());
            if let (true, Some(marked)) = (gzip, parts.extensions.get::<Uncompressed>().cloned()) {
                body = body.with_edit(Box::new(move |index, flag, payload| {
                    if flag == 1 && marked.contains(index) {
                        if let Some(plain) = gunzip(&payload) {
                            return (0, plain);
                        }
                    }
                    (flag, payload)
                }));
            }
            // A Trailers-Only answer (an error) carries its echo in the status metadata.
            if !parts.headers.contains_key("grpc-status") {
                body = body.with_trailers(echo);
            }
            Ok(http::Response::from_parts(parts, body))
        })
    }
}

fn gunzip(payload: &[u8]) -> Option<Bytes> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(payload)
        .read_to_end(&mut out)
        .ok()?;
    Some(Bytes::from(out))
}
