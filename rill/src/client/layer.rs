//! Tower middleware on the client: `Client::layer` wraps every call's exchange in any
//! `tower::Layer` (retries, timeouts, metrics, auth headers…).

use std::task::{Context, Poll};

use bytes::Bytes;

use super::Channel;
use crate::compression::CompressionEncoding;
use crate::middleware::{BoxFuture, Dispatch};
use crate::streaming::{MessageStream, Slot};
use crate::{BoxStream, MetadataMap, Request, Response, Status};

/// The request body of a client call as middleware sees it: the encoded request message(s)
/// and the call's wire options. Opaque; middleware reads and edits the head (metadata,
/// deadline, extensions) and passes the body on.
pub struct Body {
    pub(crate) path: &'static str,
    pub(crate) kind: Kind,
    pub(crate) options: std::sync::Arc<super::Options>,
    pub(crate) send_compression: Option<CompressionEncoding>,
}

impl Body {
    /// The method path, `/package.Service/Method`.
    pub fn path(&self) -> &'static str {
        self.path
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The request side of each call type.
pub(crate) enum Kind {
    Unary(Bytes),
    ServerStreaming(Bytes),
    ClientStreaming(BoxStream<Bytes>),
    Streaming(BoxStream<Bytes>),
}

/// The response body of a client call as middleware sees it: not-yet-decoded messages. Opaque.
pub struct ResponseBody(pub(crate) RawResponse);

/// One message (unary, client streaming) or a message stream (server streaming, bidi).
// Unboxed: one per call, and a box would cost each streaming call an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum RawResponse {
    Once(Bytes),
    Stream(RawStream),
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}

/// A response message stream before decoding, with the slot its trailers arrive in.
#[allow(clippy::large_enum_variant)] // as `RawResponse`
pub(crate) enum RawStream {
    /// Messages from the wire.
    Wire(MessageStream, Slot<MetadataMap>),
    /// A Trailers-Only OK: no messages.
    Empty(Slot<MetadataMap>),
}

/// A layered client call path.
pub(crate) type ClientDispatch = Dispatch<Request<Body>, Response<ResponseBody>>;

/// The service a client layer wraps: the layers added before it, then the channel.
///
/// Layers passed to [`Client::layer`](super::Client::layer) wrap this service.
#[derive(Clone)]
pub struct Transport {
    channel: Channel,
    next: Option<ClientDispatch>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(channel: Channel, next: Option<ClientDispatch>) -> Self {
        Transport { channel, next }
    }

    /// The channel's authority: the `grpc.target` metrics and spans report.
    pub(crate) fn target(&self) -> &str {
        self.channel.authority()
    }
}

impl tower_service::Service<Request<Body>> for Transport {
    type Response = Response<ResponseBody>;
    type Error = Status;
    type Future = BoxFuture<Result<Response<ResponseBody>, Status>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if let Some(next) = &self.next {
            return next(request);
        }
        let channel = self.channel.clone();
        Box::pin(async move { super::exchange::exchange(&channel, request).await })
    }
}
