//! Request ids: `x-request-id` taken from the request or generated, given to the handler and
//! echoed in the response headers.

use std::fmt;
use std::sync::Arc;

use super::call::{observe_layer, CallObserver, CallStart, Observe, Side, Summary};
use crate::{MetadataMap, Request};

/// The `x-request-id` metadata key.
pub const REQUEST_ID: &str = "x-request-id";

/// Longest request id accepted from a peer; a longer one is replaced by a generated id.
const MAX_LEN: usize = 128;

/// A call's request id; a request extension on both sides once [`RequestIdLayer`] has run.
///
/// ```
/// # fn handler(req: &rill::Request<()>) {
/// if let Some(id) = req.extensions().get::<rill::observability::RequestId>() {
///     println!("request {id}");
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A new random id, formatted as a UUID (version 4).
    ///
    /// ```
    /// let id = rill::observability::RequestId::generate();
    /// assert_eq!(id.as_str().len(), 36);
    /// ```
    pub fn generate() -> RequestId {
        let hi = super::random_u64();
        let lo = super::random_u64();
        // RFC 9562 version 4 and variant bits.
        let hi = (hi & !0xf000) | 0x4000;
        let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
        RequestId(Arc::from(format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0xffff,
            lo >> 48,
            lo & 0xffff_ffff_ffff
        )))
    }

    /// A peer's id, if acceptable: 1 to 128 visible ASCII characters.
    ///
    /// ```
    /// use rill::observability::RequestId;
    /// assert!(RequestId::parse("req-42").is_some());
    /// assert!(RequestId::parse("").is_none());
    /// ```
    pub fn parse(value: &str) -> Option<RequestId> {
        let ok = !value.is_empty()
            && value.len() <= MAX_LEN
            && value.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| RequestId(Arc::from(value)))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A layer that gives every call a request id (`x-request-id`).
///
/// - Server: the id the request carries (1 to 128 visible ASCII characters), else a new
///   UUID; a [`RequestId`] extension for the handler, and echoed in the response headers
///   (or in a Trailers-Only error's).
/// - Client: the request's `RequestId` extension, else an `x-request-id` already in its
///   metadata, else a new UUID; sent as `x-request-id`.
///
/// ```
/// let server = rill::server::Server::builder()
///     .layer(rill::observability::RequestIdLayer::new());
/// # drop(server);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RequestIdLayer {
    _private: (),
}

impl RequestIdLayer {
    /// The layer.
    ///
    /// ```
    /// let client = rill::Client::new(rill::Channel::lazy("localhost:50051").unwrap())
    ///     .layer(rill::observability::RequestIdLayer::new());
    /// # drop(client);
    /// ```
    pub fn new() -> Self {
        RequestIdLayer::default()
    }
}

observe_layer!(RequestIdLayer);

/// The id to echo (server side).
pub(crate) struct EchoId(Option<RequestId>);

impl Observe for RequestIdLayer {
    type Call = EchoId;

    fn start(&self, call: &CallStart<'_>, head: &mut Request<()>) -> EchoId {
        let id = head
            .extensions()
            .get::<RequestId>()
            .cloned()
            .or_else(|| head.metadata().get(REQUEST_ID).and_then(RequestId::parse))
            .unwrap_or_else(RequestId::generate);
        let _ = head.metadata_mut().insert(REQUEST_ID, id.as_str());
        head.extensions_mut().insert(id.clone());
        EchoId((call.side == Side::Server).then_some(id))
    }
}

impl CallObserver for EchoId {
    fn response_metadata(&self, metadata: &mut MetadataMap) {
        if let Some(id) = &self.0 {
            let _ = metadata.insert(REQUEST_ID, id.as_str());
        }
    }

    fn finish(&self, _summary: &Summary<'_>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_uuid_v4() {
        let id = RequestId::generate();
        let s = id.as_str();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"), "{s}");
        assert!(RequestId::parse(s).is_some());
        assert_ne!(RequestId::generate(), id);
    }

    #[test]
    fn peer_ids_are_bounded() {
        assert!(RequestId::parse(&"x".repeat(128)).is_some());
        assert!(RequestId::parse(&"x".repeat(129)).is_none());
        assert!(RequestId::parse("has space").is_none());
        assert!(RequestId::parse("").is_none());
    }
}
