//! The response side of a call: a message (or stream) plus initial and trailing metadata.

use futures_core::Stream;

use crate::compression::CompressionEncoding;
use crate::message::{split_results, CallCompression, CompressFlags};
use crate::{BoxStream, Extensions, MetadataMap, SendMessage, Status};

/// A gRPC response: a message (or a message stream) with its initial metadata (headers) and
/// trailing metadata (sent with the final status).
#[derive(Debug)]
pub struct Response<T> {
    metadata: MetadataMap,
    message: T,
    trailers: MetadataMap,
    extensions: Extensions,
    compression: CallCompression,
    /// Per-message compression choices of a stream built with `stream_with_options`.
    send_flags: Option<CompressFlags>,
}

impl<T> Response<T> {
    /// Wraps a message in a response with empty metadata.
    ///
    /// ```
    /// let resp = rill::Response::new(7u32);
    /// assert_eq!(resp.into_inner(), 7);
    /// ```
    pub fn new(message: T) -> Self {
        Response {
            metadata: MetadataMap::new(),
            message,
            trailers: MetadataMap::new(),
            extensions: Extensions::new(),
            compression: CallCompression::Default,
            send_flags: None,
        }
    }

    /// The initial metadata (response headers).
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The initial metadata, to add entries.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }

    /// The trailing metadata sent after the last message with `grpc-status`.
    ///
    /// On the client, a unary response has it; a streaming response has it on its
    /// [`Streaming`](crate::Streaming) once the stream has ended.
    pub fn trailers(&self) -> &MetadataMap {
        &self.trailers
    }

    /// The trailing metadata, to add entries (server side).
    pub fn trailers_mut(&mut self) -> &mut MetadataMap {
        &mut self.trailers
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// The message, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }

    /// Consumes the response and returns the message.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// Process-local values attached to the response.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Process-local values attached to the response, mutably.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// Compresses this response's messages with `encoding` when the client accepts it (lists it
    /// in `grpc-accept-encoding`); otherwise the server's default applies (server side).
    ///
    /// This overrides [`Server::send_compressed`](crate::server::Server::send_compressed) for
    /// one call. A client that accepts no compression always gets uncompressed messages.
    ///
    /// ```
    /// use rill::compression::CompressionEncoding;
    /// let mut response = rill::Response::new(());
    /// response.set_compression(CompressionEncoding::Gzip);
    /// assert_eq!(response.compression(), Some(CompressionEncoding::Gzip));
    /// ```
    pub fn set_compression(&mut self, encoding: CompressionEncoding) {
        self.compression = CallCompression::Use(encoding);
    }

    /// Sends this response's messages uncompressed, whatever the server's default (server side).
    pub fn disable_compression(&mut self) {
        self.compression = CallCompression::Disabled;
    }

    /// The compression set with [`Response::set_compression`] (`None` when unset or disabled).
    pub fn compression(&self) -> Option<CompressionEncoding> {
        match self.compression {
            CallCompression::Use(encoding) => Some(encoding),
            CallCompression::Default | CallCompression::Disabled => None,
        }
    }

    pub(crate) fn call_compression(&self) -> CallCompression {
        self.compression
    }

    pub(crate) fn set_call_compression(&mut self, compression: CallCompression) {
        self.compression = compression;
    }

    /// The per-message compression choices, for a stream built with `stream_with_options`.
    pub(crate) fn send_flags(&self) -> Option<&CompressFlags> {
        self.send_flags.as_ref()
    }

    /// Replaces the message, keeping metadata, trailers and extensions.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            metadata: self.metadata,
            message: f(self.message),
            trailers: self.trailers,
            extensions: self.extensions,
            compression: self.compression,
            send_flags: self.send_flags,
        }
    }

    /// Replaces the message with the result of `f`, keeping everything else; fails with `f`'s
    /// error.
    pub(crate) fn try_map<U>(
        self,
        f: impl FnOnce(T) -> Result<U, Status>,
    ) -> Result<Response<U>, Status> {
        let Response {
            metadata,
            message,
            trailers,
            extensions,
            compression,
            send_flags,
        } = self;
        Ok(Response {
            metadata,
            message: f(message)?,
            trailers,
            extensions,
            compression,
            send_flags,
        })
    }

    pub(crate) fn from_parts(metadata: MetadataMap, message: T, trailers: MetadataMap) -> Self {
        Response {
            metadata,
            message,
            trailers,
            extensions: Extensions::new(),
            compression: CallCompression::Default,
            send_flags: None,
        }
    }

    pub(crate) fn into_parts(self) -> (MetadataMap, T, MetadataMap) {
        (self.metadata, self.message, self.trailers)
    }
}

impl<M> Response<BoxStream<M>> {
    /// A server-streaming response from any stream of `Result<M, Status>`.
    ///
    /// ```
    /// let items = futures_util::stream::iter(vec![Ok(1u32), Ok(2)]);
    /// let resp = rill::Response::stream(items);
    /// # let _ = resp;
    /// ```
    pub fn stream<S>(stream: S) -> Self
    where
        S: Stream<Item = Result<M, Status>> + Send + 'static,
    {
        Response::new(Box::pin(stream))
    }

    /// A server-streaming response from a stream of [`SendMessage`]s, each with its own
    /// compression choice: on a compressing call, messages marked
    /// [`SendMessage::uncompressed`] are sent uncompressed.
    ///
    /// ```
    /// use rill::compression::CompressionEncoding;
    /// use rill::SendMessage;
    /// let items = futures_util::stream::iter(vec![
    ///     Ok(SendMessage::new(1u32)),
    ///     Ok(SendMessage::uncompressed(2)),
    /// ]);
    /// let mut response = rill::Response::stream_with_options(items);
    /// response.set_compression(CompressionEncoding::Gzip);
    /// # let _ = response;
    /// ```
    pub fn stream_with_options<S>(stream: S) -> Self
    where
        S: Stream<Item = Result<SendMessage<M>, Status>> + Send + 'static,
        M: 'static,
    {
        let (messages, flags) = split_results(stream);
        let mut response = Response::stream(messages);
        response.send_flags = Some(flags);
        response
    }
}
