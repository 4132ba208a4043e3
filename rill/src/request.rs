//! The request side of a call: a message (or stream) plus metadata, deadline and extensions.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_core::Stream;

use crate::compression::CompressionEncoding;
use crate::message::{split_messages, CallCompression, CompressFlags};
use crate::{Extensions, MetadataMap, SendMessage};

/// A gRPC request: a message (or a message stream) with its custom metadata and deadline.
///
/// On the server, handlers receive it with the deadline the client sent (`grpc-timeout`) and the
/// peer's address. On the client, build one with [`Request::new`] (or pass a bare message: it
/// converts through [`IntoRequest`]).
#[derive(Debug)]
pub struct Request<T> {
    metadata: MetadataMap,
    message: T,
    extensions: Extensions,
    deadline: Option<Instant>,
    compression: CallCompression,
    /// Per-message compression choices of a stream built with `stream_with_options`.
    send_flags: Option<CompressFlags>,
    remote_addr: Option<SocketAddr>,
    wait_for_ready: Option<bool>,
}

impl<T> Request<T> {
    /// Wraps a message in a request with empty metadata and no deadline.
    ///
    /// ```
    /// let req = rill::Request::new("hello");
    /// assert_eq!(*req.get_ref(), "hello");
    /// assert!(req.deadline().is_none());
    /// ```
    pub fn new(message: T) -> Self {
        Request {
            metadata: MetadataMap::new(),
            message,
            extensions: Extensions::new(),
            deadline: None,
            compression: CallCompression::Default,
            send_flags: None,
            remote_addr: None,
            wait_for_ready: None,
        }
    }

    /// The custom metadata (request headers).
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The custom metadata, to add or change entries.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// The message, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }

    /// Consumes the request and returns the message.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// Process-local values attached to the request (for example by an interceptor).
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Process-local values attached to the request, mutably.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// Sends `token` as `authorization: Bearer <token>` with this call only (over TLS; on a
    /// plaintext channel the call fails with UNAUTHENTICATED before anything is sent). It
    /// replaces a client-wide [`BearerToken`](crate::auth::BearerToken) for this call.
    ///
    /// ```
    /// let mut request = rill::Request::new(());
    /// request.set_bearer_token("eyJhbGciOi…");
    /// ```
    #[cfg(feature = "auth")]
    pub fn set_bearer_token(&mut self, token: impl Into<String>) {
        self.extensions.insert(crate::auth::CallToken::new(token));
    }

    /// Sets the call's timeout: the client sends it as `grpc-timeout` and enforces it locally.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut req = rill::Request::new(());
    /// req.set_timeout(Duration::from_millis(250));
    /// assert!(req.remaining().unwrap() <= Duration::from_millis(250));
    /// ```
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.deadline = Instant::now().checked_add(timeout);
    }

    /// Sets the call's absolute deadline (or clears it with `None`).
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// The point in time after which the call fails with `DEADLINE_EXCEEDED`.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left until the deadline (zero once it has passed), or `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// A new request for a downstream call that keeps this call's deadline.
    ///
    /// This is deadline propagation in one line: a handler calling another service passes
    /// `request.propagate(msg)` so the downstream call gives up when the caller would.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut incoming = rill::Request::new(1u32);
    /// incoming.set_timeout(Duration::from_secs(2));
    /// let outgoing = incoming.propagate("downstream");
    /// assert_eq!(outgoing.deadline(), incoming.deadline());
    /// ```
    pub fn propagate<U>(&self, message: U) -> Request<U> {
        let mut req = Request::new(message);
        req.deadline = self.deadline;
        req
    }

    /// Compresses this call's request messages with `encoding` (overrides the client default).
    pub fn set_compression(&mut self, encoding: CompressionEncoding) {
        self.compression = CallCompression::Use(encoding);
    }

    /// Sends this call's request messages uncompressed, even when the client compresses by
    /// default (overrides it, like [`Request::set_compression`]).
    ///
    /// ```
    /// use rill::compression::CompressionEncoding;
    /// let mut req = rill::Request::new(());
    /// req.set_compression(CompressionEncoding::Gzip);
    /// req.disable_compression();
    /// assert_eq!(req.compression(), None);
    /// ```
    pub fn disable_compression(&mut self) {
        self.compression = CallCompression::Disabled;
    }

    /// The per-call compression set with [`Request::set_compression`] (`None` when unset or
    /// disabled).
    pub fn compression(&self) -> Option<CompressionEncoding> {
        match self.compression {
            CallCompression::Use(encoding) => Some(encoding),
            CallCompression::Default | CallCompression::Disabled => None,
        }
    }

    /// The encoding this call's messages are sent with, given the client's default.
    pub(crate) fn send_compression(
        &self,
        default: Option<CompressionEncoding>,
    ) -> Option<CompressionEncoding> {
        self.compression.resolve(default)
    }

    /// The per-message compression choices, for a stream built with `stream_with_options`.
    pub(crate) fn send_flags(&self) -> Option<&CompressFlags> {
        self.send_flags.as_ref()
    }

    /// Makes this call wait for a ready connection, until its deadline, instead of failing
    /// with UNAVAILABLE at once while the channel has none (gRPC's `wait_for_ready`);
    /// `false` makes it fail fast even on a [`Client`](crate::Client) that waits by default.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut request = rill::Request::new(());
    /// request.set_wait_for_ready(true);
    /// request.set_timeout(Duration::from_secs(5)); // how long it may wait, at most
    /// assert_eq!(request.wait_for_ready(), Some(true));
    /// ```
    pub fn set_wait_for_ready(&mut self, wait: bool) {
        self.wait_for_ready = Some(wait);
    }

    /// This call's wait-for-ready choice, if it made one.
    pub fn wait_for_ready(&self) -> Option<bool> {
        self.wait_for_ready
    }

    /// The peer's address, on the server when the connection is TCP.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    pub(crate) fn set_remote_addr(&mut self, addr: Option<SocketAddr>) {
        self.remote_addr = addr;
    }

    /// Replaces the message, keeping metadata, deadline and extensions.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Request<U> {
        Request {
            metadata: self.metadata,
            message: f(self.message),
            extensions: self.extensions,
            deadline: self.deadline,
            compression: self.compression,
            send_flags: self.send_flags,
            remote_addr: self.remote_addr,
            wait_for_ready: self.wait_for_ready,
        }
    }

    /// Splits into the head (everything but the message) and the message.
    pub(crate) fn into_parts(self) -> (Request<()>, T) {
        let message = self.message;
        let head = Request {
            metadata: self.metadata,
            message: (),
            extensions: self.extensions,
            deadline: self.deadline,
            compression: self.compression,
            send_flags: self.send_flags,
            remote_addr: self.remote_addr,
            wait_for_ready: self.wait_for_ready,
        };
        (head, message)
    }
}

impl<M: 'static> Request<RequestStream<M>> {
    /// A streaming request from [`SendMessage`]s, each with its own compression choice: on a
    /// compressing call (see [`Request::set_compression`]), messages marked
    /// [`SendMessage::uncompressed`] are sent uncompressed.
    ///
    /// ```
    /// use rill::compression::CompressionEncoding;
    /// use rill::SendMessage;
    /// let messages = [SendMessage::new(1u32), SendMessage::uncompressed(2)];
    /// let mut request = rill::Request::stream_with_options(futures_util::stream::iter(messages));
    /// request.set_compression(CompressionEncoding::Gzip);
    /// # let _ = request;
    /// ```
    pub fn stream_with_options<S>(messages: S) -> Self
    where
        S: Stream<Item = SendMessage<M>> + Send + 'static,
    {
        let (messages, flags) = split_messages(messages);
        let mut request = Request::new(Box::pin(messages) as RequestStream<M>);
        request.send_flags = Some(flags);
        request
    }
}

/// Anything that converts into a [`Request`]: a bare message or a request itself.
pub trait IntoRequest<T> {
    /// Wraps the message (if it is not wrapped yet).
    fn into_request(self) -> Request<T>;
}

impl<T> IntoRequest<T> for T {
    fn into_request(self) -> Request<T> {
        Request::new(self)
    }
}

impl<T> IntoRequest<T> for Request<T> {
    fn into_request(self) -> Request<T> {
        self
    }
}

/// The boxed outbound message stream of a client- or bidi-streaming call.
pub type RequestStream<M> = Pin<Box<dyn Stream<Item = M> + Send + 'static>>;

/// Anything that converts into a streaming request: a `Stream` of messages, or a
/// [`Request`] wrapping one.
pub trait IntoStreamingRequest {
    /// The message type of the stream.
    type Message;
    /// Boxes the stream into a request.
    fn into_streaming_request(self) -> Request<RequestStream<Self::Message>>;
}

impl<S> IntoStreamingRequest for S
where
    S: Stream + Send + 'static,
{
    type Message = S::Item;
    fn into_streaming_request(self) -> Request<RequestStream<S::Item>> {
        Request::new(Box::pin(self))
    }
}

impl<S> IntoStreamingRequest for Request<S>
where
    S: Stream + Send + 'static,
{
    type Message = S::Item;
    fn into_streaming_request(self) -> Request<RequestStream<S::Item>> {
        self.map(|s| Box::pin(s) as RequestStream<S::Item>)
    }
}
