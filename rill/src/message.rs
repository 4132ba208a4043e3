//! Per-message details on both sides of the wire: whether a received message arrived
//! compressed ([`MessageInfo`]) and how to send one ([`SendMessage`]).
//!
//! gRPC negotiates one `grpc-encoding` per call, but every message carries its own
//! Compressed-Flag: on a compressing call a sender may still send some messages uncompressed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures_core::Stream;
use futures_util::StreamExt;

use crate::compression::CompressionEncoding;
use crate::Status;

/// How a received message travelled, for calls with a single message in that direction.
///
/// Found in the [extensions](crate::Request::extensions) of a unary or server-streaming
/// request on the server, and of a unary or client-streaming response on the client. For
/// message streams, see [`Streaming::last_message_compressed`](crate::Streaming::last_message_compressed).
///
/// ```
/// # fn handler(request: &rill::Request<()>) {
/// let compressed = request
///     .extensions()
///     .get::<rill::MessageInfo>()
///     .is_some_and(|info| info.compressed());
/// # let _ = compressed; }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageInfo {
    compressed: bool,
}

impl MessageInfo {
    pub(crate) fn new(compressed: bool) -> Self {
        MessageInfo { compressed }
    }

    /// Whether the message arrived compressed: its Compressed-Flag was set.
    pub fn compressed(&self) -> bool {
        self.compressed
    }
}

/// A message to send on a stream, with its own compression choice.
///
/// By default a message is compressed when its call compresses (`grpc-encoding` is chosen per
/// call); [`SendMessage::uncompressed`] sends one message uncompressed on a compressing call.
/// No message is compressed on a call that does not compress. Streams of `SendMessage`
/// become responses with [`Response::stream_with_options`](crate::Response::stream_with_options)
/// and requests with [`Request::stream_with_options`](crate::Request::stream_with_options).
///
/// ```
/// use rill::SendMessage;
/// let items = vec![SendMessage::new(1u32), SendMessage::uncompressed(2u32)];
/// assert!(items[0].is_compressed());
/// assert!(!items[1].is_compressed());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendMessage<M> {
    message: M,
    compress: bool,
}

impl<M> SendMessage<M> {
    /// A message sent as its call is configured: compressed when the call compresses.
    pub fn new(message: M) -> Self {
        SendMessage {
            message,
            compress: true,
        }
    }

    /// A message sent uncompressed, even on a compressing call.
    pub fn uncompressed(message: M) -> Self {
        SendMessage {
            message,
            compress: false,
        }
    }

    /// Sets whether the message is compressed (when its call compresses).
    pub fn compressed(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// Whether the message will be compressed when its call compresses.
    pub fn is_compressed(&self) -> bool {
        self.compress
    }

    /// The message.
    pub fn get_ref(&self) -> &M {
        &self.message
    }

    /// Consumes the wrapper and returns the message.
    pub fn into_inner(self) -> M {
        self.message
    }
}

impl<M> From<M> for SendMessage<M> {
    fn from(message: M) -> Self {
        SendMessage::new(message)
    }
}

/// A call-level compression choice that overrides the client's or server's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum CallCompression {
    /// The client's or server's configured behaviour.
    #[default]
    Default,
    /// This encoding (on the server: if the client accepts it).
    Use(CompressionEncoding),
    /// No compression.
    Disabled,
}

impl CallCompression {
    /// The encoding this choice leads to, given the default one.
    pub(crate) fn resolve(
        self,
        default: Option<CompressionEncoding>,
    ) -> Option<CompressionEncoding> {
        match self {
            CallCompression::Default => default,
            CallCompression::Use(encoding) => Some(encoding),
            CallCompression::Disabled => None,
        }
    }
}

/// The per-message compression choices of a stream built from [`SendMessage`]s, in order:
/// the stream records each message's choice as it yields it, the encoder takes them in turn.
#[derive(Clone, Debug, Default)]
pub(crate) struct CompressFlags(Arc<Mutex<VecDeque<bool>>>);

impl CompressFlags {
    fn push(&self, compress: bool) {
        if let Ok(mut queue) = self.0.lock() {
            queue.push_back(compress);
        }
    }

    /// Whether the next message may be compressed (`true` when nothing was recorded).
    pub(crate) fn next_compress(&self) -> bool {
        self.0
            .lock()
            .ok()
            .and_then(|mut queue| queue.pop_front())
            .unwrap_or(true)
    }
}

/// Unwraps a stream of [`SendMessage`]s, recording each one's compression choice.
pub(crate) fn split_messages<M, S>(
    stream: S,
) -> (impl Stream<Item = M> + Send + 'static, CompressFlags)
where
    S: Stream<Item = SendMessage<M>> + Send + 'static,
{
    let flags = CompressFlags::default();
    let recorder = flags.clone();
    let messages = stream.map(move |item| {
        recorder.push(item.compress);
        item.message
    });
    (messages, flags)
}

/// [`split_messages`] for streams of results: errors carry no choice.
pub(crate) fn split_results<M, S>(
    stream: S,
) -> (
    impl Stream<Item = Result<M, Status>> + Send + 'static,
    CompressFlags,
)
where
    S: Stream<Item = Result<SendMessage<M>, Status>> + Send + 'static,
{
    let flags = CompressFlags::default();
    let recorder = flags.clone();
    let messages = stream.map(move |item| {
        item.map(|item| {
            recorder.push(item.compress);
            item.message
        })
    });
    (messages, flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn flags_follow_the_messages_in_order() {
        let items = futures_util::stream::iter([
            SendMessage::new(1),
            SendMessage::uncompressed(2),
            SendMessage::from(3).compressed(false).compressed(true),
        ]);
        let (messages, flags) = split_messages(items);
        let mut messages = std::pin::pin!(messages);
        let mut seen = Vec::new();
        while let Some(m) = messages.next().await {
            seen.push((m, flags.next_compress()));
        }
        assert_eq!(seen, [(1, true), (2, false), (3, true)]);
        assert!(
            flags.next_compress(),
            "nothing recorded: compress as the call does"
        );
    }

    #[tokio::test]
    async fn errors_record_no_choice() {
        let items = futures_util::stream::iter([
            Err(Status::aborted("first")),
            Ok(SendMessage::uncompressed(7)),
        ]);
        let (messages, flags) = split_results(items);
        let mut messages = std::pin::pin!(messages);
        assert!(messages.next().await.is_some_and(|r| r.is_err()));
        assert_eq!(messages.next().await.map(Result::ok), Some(Some(7)));
        assert!(!flags.next_compress());
    }

    #[test]
    fn call_compression_resolves_against_the_default() {
        let gzip = Some(CompressionEncoding::Gzip);
        let zstd = CompressionEncoding::Zstd;
        assert_eq!(CallCompression::Default.resolve(gzip), gzip);
        assert_eq!(CallCompression::Use(zstd).resolve(gzip), Some(zstd));
        assert_eq!(CallCompression::Use(zstd).resolve(None), Some(zstd));
        assert_eq!(CallCompression::Disabled.resolve(gzip), None);
    }
}
