//! The response side of a call: a message (or stream) plus initial and trailing metadata.

use futures_core::Stream;

use crate::{BoxStream, Extensions, MetadataMap, Status};

/// A gRPC response: a message (or a message stream) with its initial metadata (headers) and
/// trailing metadata (sent with the final status).
#[derive(Debug)]
pub struct Response<T> {
    metadata: MetadataMap,
    message: T,
    trailers: MetadataMap,
    extensions: Extensions,
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

    /// Replaces the message, keeping metadata, trailers and extensions.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            metadata: self.metadata,
            message: f(self.message),
            trailers: self.trailers,
            extensions: self.extensions,
        }
    }

    pub(crate) fn from_parts(metadata: MetadataMap, message: T, trailers: MetadataMap) -> Self {
        Response {
            metadata,
            message,
            trailers,
            extensions: Extensions::new(),
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
}
