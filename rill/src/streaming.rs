//! Inbound message streams: deframing over an HTTP/2 body, trailers, local deadline.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use tokio::task::JoinHandle;
use tokio::time::Sleep;

use crate::codec::{decode_message, FrameDecoder};
use crate::transport::RecvBody;
use crate::{MetadataMap, Status};

/// A boxed stream of messages or a final error: what server-streaming handlers return.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// A shared slot for a value produced at the end of a stream (trailers, a local send error).
pub(crate) type Slot<T> = Arc<Mutex<Option<T>>>;

fn take<T>(slot: &Slot<T>) -> Option<T> {
    slot.lock().ok().and_then(|mut g| g.take())
}

fn put<T>(slot: &Slot<T>, value: T) {
    if let Ok(mut g) = slot.lock() {
        *g = Some(value);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Data,
    Trailers,
    Done,
}

/// The client side's extra state: trailers to deliver, deadline, the request-sending task.
pub(crate) struct ClientEnd {
    pub(crate) trailers: Slot<MetadataMap>,
    pub(crate) send_error: Slot<Status>,
    pub(crate) deadline: Option<Pin<Box<Sleep>>>,
    pub(crate) sender: Option<JoinHandle<()>>,
    /// Whatever must live as long as the call (the channel's in-flight slot); only dropped.
    #[allow(dead_code)]
    pub(crate) hold: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl Drop for ClientEnd {
    fn drop(&mut self) {
        // Dropping the sender's SendBody (with ours) resets the stream: cancellation.
        if let Some(task) = self.sender.take() {
            task.abort();
        }
    }
}

/// Sees each message a [`MessageStream`] delivers and how the stream ends: the hook the
/// observability layers count received messages and bytes with.
pub(crate) trait StreamTap: Send + Sync {
    /// A message arrived; `wire_len` is its payload size on the wire (before decompression).
    fn message(&self, wire_len: usize);
    /// The stream ended: `None` when cleanly (client side: `grpc-status: 0`), else the error.
    fn end(&self, error: Option<&Status>);
}

/// Feeds a stream's events to two taps.
pub(crate) struct BothTaps(pub(crate) Arc<dyn StreamTap>, pub(crate) Arc<dyn StreamTap>);

impl StreamTap for BothTaps {
    fn message(&self, wire_len: usize) {
        self.0.message(wire_len);
        self.1.message(wire_len);
    }

    fn end(&self, error: Option<&Status>) {
        self.0.end(error);
        self.1.end(error);
    }
}

tokio::task_local! {
    /// The tap a client observability layer sets around the exchange it wraps: a client
    /// stream created inside picks it up (the exchange builds its streams out of its reach).
    pub(crate) static CLIENT_TAP: Arc<dyn StreamTap>;
}

/// Raw gRPC messages (deframed, decompressed) read from one HTTP/2 body.
pub(crate) struct MessageStream {
    body: RecvBody,
    decoder: FrameDecoder,
    phase: Phase,
    client: Option<ClientEnd>,
    tap: Option<Arc<dyn StreamTap>>,
}

impl MessageStream {
    /// Request messages on the server: the stream ends at END_STREAM.
    pub(crate) fn server(body: RecvBody, decoder: FrameDecoder) -> Self {
        MessageStream {
            body,
            decoder,
            phase: Phase::Data,
            client: None,
            tap: None,
        }
    }

    /// Response messages on the client: the stream ends with trailers carrying grpc-status.
    pub(crate) fn client(body: RecvBody, decoder: FrameDecoder, end: ClientEnd) -> Self {
        MessageStream {
            body,
            decoder,
            phase: Phase::Data,
            client: Some(end),
            tap: CLIENT_TAP.try_with(Arc::clone).ok(),
        }
    }

    /// Reports this stream's messages and end to `tap` too (each layer adds its own).
    pub(crate) fn add_tap(&mut self, tap: Arc<dyn StreamTap>) {
        self.tap = Some(match self.tap.take() {
            Some(first) => Arc::new(BothTaps(first, tap)),
            None => tap,
        });
    }

    /// Whether the message last returned arrived compressed.
    pub(crate) fn last_compressed(&self) -> bool {
        self.decoder.last_compressed()
    }

    fn fail(&mut self, status: Status) -> Poll<Option<Result<Bytes, Status>>> {
        self.phase = Phase::Done;
        // A local error while sending (message too large, encode failure) explains the reset
        // the peer then sees better than the reset itself.
        let status = match &mut self.client {
            Some(end) => take(&end.send_error).unwrap_or(status),
            None => status,
        };
        if let Some(tap) = &self.tap {
            tap.end(Some(&status));
        }
        if let Some(task) = self.client.as_mut().and_then(|end| end.sender.take()) {
            task.abort();
        }
        Poll::Ready(Some(Err(status)))
    }

    fn finish_with_trailers(
        &mut self,
        trailers: Option<http::HeaderMap>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        let Some(trailers) = trailers else {
            return self.fail(Status::internal(
                "server closed the stream without grpc-status",
            ));
        };
        match Status::code_from_headers(&trailers) {
            // The common end: the trailers become metadata, with no status built.
            Some(crate::Code::Ok) => {
                self.phase = Phase::Done;
                if let Some(end) = &self.client {
                    put(&end.trailers, MetadataMap::from_headers(trailers));
                }
                if let Some(tap) = &self.tap {
                    tap.end(None);
                }
                Poll::Ready(None)
            }
            Some(_) => match Status::from_headers(&trailers) {
                Some(status) => self.fail(status),
                None => self.fail(Status::internal("server trailers carry no grpc-status")),
            },
            None => self.fail(Status::internal("server trailers carry no grpc-status")),
        }
    }
}

impl Stream for MessageStream {
    type Item = Result<Bytes, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.phase == Phase::Done {
                return Poll::Ready(None);
            }
            if let Some(sleep) = this.client.as_mut().and_then(|c| c.deadline.as_mut()) {
                if sleep.as_mut().poll(cx).is_ready() {
                    return this.fail(Status::deadline_exceeded("deadline exceeded"));
                }
            }
            match this.decoder.next_message() {
                Ok(Some(message)) => {
                    if let Some(tap) = &this.tap {
                        tap.message(this.decoder.last_wire_len());
                    }
                    return Poll::Ready(Some(Ok(message)));
                }
                Ok(None) => {}
                Err(status) => return this.fail(status),
            }
            if this.phase == Phase::Trailers {
                return match ready!(this.body.poll_trailers(cx)) {
                    Ok(trailers) => this.finish_with_trailers(trailers),
                    Err(status) => this.fail(status),
                };
            }
            match ready!(this.body.poll_data(cx)) {
                Some(Ok(chunk)) => this.decoder.push(chunk),
                Some(Err(status)) => return this.fail(status),
                None => {
                    if let Err(status) = this.decoder.finish() {
                        return this.fail(status);
                    }
                    if this.client.is_none() {
                        this.phase = Phase::Done;
                        if let Some(tap) = &this.tap {
                            tap.end(None);
                        }
                        return Poll::Ready(None);
                    }
                    this.phase = Phase::Trailers;
                }
            }
        }
    }
}

// Unboxed: one per call, and a box would cost each call from the wire an allocation.
#[allow(clippy::large_enum_variant)]
enum Source<T> {
    Wire(MessageStream),
    Local(BoxStream<T>),
}

/// A stream of inbound messages: request messages on the server, response messages on the
/// client. Each item is a message or the error that ended the stream.
///
/// On the client, a stream that ends without error has received `grpc-status: 0`; its trailing
/// metadata is then available from [`Streaming::trailers`].
pub struct Streaming<T> {
    source: Source<T>,
    trailers: Option<Slot<MetadataMap>>,
    received: Option<MetadataMap>,
    _message: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streaming").finish_non_exhaustive()
    }
}

impl<T> Streaming<T> {
    pub(crate) fn from_wire(stream: MessageStream, trailers: Option<Slot<MetadataMap>>) -> Self {
        Streaming {
            source: Source::Wire(stream),
            trailers,
            received: None,
            _message: PhantomData,
        }
    }

    /// A stream of already-decoded messages, e.g. to unit-test a streaming handler.
    ///
    /// ```
    /// let s: rill::Streaming<u32> =
    ///     rill::Streaming::from_stream(futures_util::stream::iter(vec![Ok(1), Ok(2)]));
    /// # let _ = s;
    /// ```
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: Stream<Item = Result<T, Status>> + Send + 'static,
    {
        Streaming {
            source: Source::Local(Box::pin(stream)),
            trailers: None,
            received: None,
            _message: PhantomData,
        }
    }

    pub(crate) fn with_trailers(mut self, trailers: Slot<MetadataMap>) -> Self {
        self.trailers = Some(trailers);
        self
    }

    /// Whether the message last returned by the stream arrived compressed (its Compressed-Flag
    /// was set): a server handler checks a client's request messages with it, a client the
    /// server's responses. `false` before the first message and for
    /// [`Streaming::from_stream`] streams.
    ///
    /// ```
    /// # async fn handler(mut requests: rill::Streaming<u32>) -> Result<(), rill::Status> {
    /// while let Some(request) = requests.message().await? {
    ///     if !requests.last_message_compressed() {
    ///         return Err(rill::Status::invalid_argument("expected a compressed message"));
    ///     }
    ///     # let _ = request;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn last_message_compressed(&self) -> bool {
        match &self.source {
            Source::Wire(stream) => stream.last_compressed(),
            Source::Local(_) => false,
        }
    }

    /// The trailing metadata, once the stream has ended successfully (client side).
    pub fn trailers(&mut self) -> Option<&MetadataMap> {
        if self.received.is_none() {
            self.received = self.trailers.as_ref().and_then(take);
        }
        self.received.as_ref()
    }
}

impl<T: prost::Message + Default> Streaming<T> {
    /// The next message, `Ok(None)` at the end of the stream.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .transpose()
    }
}

impl<T: prost::Message + Default> Stream for Streaming<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut self.source {
            Source::Wire(stream) => match ready!(Pin::new(stream).poll_next(cx)) {
                Some(Ok(bytes)) => Poll::Ready(Some(decode_message(bytes))),
                Some(Err(status)) => Poll::Ready(Some(Err(status))),
                None => Poll::Ready(None),
            },
            Source::Local(stream) => stream.as_mut().poll_next(cx),
        }
    }
}

// Streaming holds no self-references.
impl<T> Unpin for Streaming<T> {}
