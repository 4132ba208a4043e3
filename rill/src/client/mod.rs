//! The gRPC client: [`Channel`] (name resolution, load balancing, connections) and
//! [`Client`] (per-client call options and the typed call helpers that generated clients use).

pub(crate) mod backoff;
mod call;
mod channel;
mod connectivity;
mod connector;
mod control;
mod exchange;
mod layer;
pub(crate) mod subchannel;
mod wire;

use std::sync::Arc;
use std::time::Duration;

pub use backoff::BackoffConfig;
pub use channel::{Channel, Endpoint};
pub use connectivity::ConnectivityState;
pub use layer::{Body, ResponseBody, Transport};
pub(crate) use layer::{Kind, RawResponse, RawStream};

pub(crate) use control::Control;

use crate::compression::{accept_encoding_header, CompressionEncoding};
use crate::{Request, Status};

use crate::interceptor::Interceptor;

#[derive(Clone)]
pub(crate) struct Options {
    send_compression: Option<CompressionEncoding>,
    accept_encodings: Vec<CompressionEncoding>,
    /// `grpc-accept-encoding`, built once (cloning a header value is a refcount).
    accept_encoding_header: Option<http::HeaderValue>,
    max_decoding_message_size: usize,
    max_encoding_message_size: usize,
    timeout: Option<Duration>,
    wait_for_ready: bool,
    interceptors: Vec<Interceptor>,
    /// The exchange wrapped in the client's tower layers; `None` calls it directly.
    dispatch: Option<layer::ClientDispatch>,
}

impl Default for Options {
    fn default() -> Self {
        let accept = CompressionEncoding::supported();
        Options {
            send_compression: None,
            accept_encoding_header: accept_encoding_header(&accept),
            accept_encodings: accept,
            max_decoding_message_size: crate::DEFAULT_MAX_RECV_MESSAGE_SIZE,
            max_encoding_message_size: usize::MAX,
            timeout: None,
            wait_for_ready: false,
            interceptors: Vec::new(),
            dispatch: None,
        }
    }
}

/// A channel plus call options; what generated clients wrap. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use rill::compression::CompressionEncoding;
/// let channel = rill::Channel::lazy("http://127.0.0.1:50051").unwrap();
/// let client = rill::Client::new(channel)
///     .send_compressed(CompressionEncoding::Gzip)
///     .timeout(Duration::from_secs(5));
/// # drop(client);
/// ```
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    options: Arc<Options>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl From<Channel> for Client {
    fn from(channel: Channel) -> Self {
        Client::new(channel)
    }
}

impl Client {
    /// A client with default options on `channel`.
    ///
    /// ```
    /// let client = rill::Client::new(rill::Channel::lazy("localhost:50051").unwrap());
    /// # drop(client);
    /// ```
    pub fn new(channel: Channel) -> Self {
        Client {
            channel,
            options: Arc::new(Options::default()),
        }
    }

    fn with(mut self, f: impl FnOnce(&mut Options)) -> Self {
        f(Arc::make_mut(&mut self.options));
        self
    }

    /// The channel calls go over.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Compresses request messages with `encoding` (the server must support it).
    pub fn send_compressed(self, encoding: CompressionEncoding) -> Self {
        self.with(|o| o.send_compression = Some(encoding))
    }

    /// Advertises `encoding` in `grpc-accept-encoding` (all built-in encodings are by default).
    pub fn accept_compressed(self, encoding: CompressionEncoding) -> Self {
        self.with(|o| {
            if !o.accept_encodings.contains(&encoding) {
                o.accept_encodings.push(encoding);
                o.accept_encoding_header = accept_encoding_header(&o.accept_encodings);
            }
        })
    }

    /// Default timeout for calls whose request sets none.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|o| o.timeout = Some(timeout))
    }

    /// Makes calls wait for a ready connection (until their deadline) instead of failing
    /// with UNAVAILABLE at once while the channel has none; a request's own
    /// [`set_wait_for_ready`](Request::set_wait_for_ready) overrides this.
    ///
    /// ```
    /// let client = rill::Client::new(rill::Channel::lazy("localhost:50051").unwrap())
    ///     .wait_for_ready(true);
    /// # drop(client);
    /// ```
    pub fn wait_for_ready(self, wait: bool) -> Self {
        self.with(|o| o.wait_for_ready = wait)
    }

    /// Largest response message accepted (default 4 MiB); larger → RESOURCE_EXHAUSTED.
    pub fn max_decoding_message_size(self, limit: usize) -> Self {
        self.with(|o| o.max_decoding_message_size = limit)
    }

    /// Largest request message sent (default unlimited); larger → RESOURCE_EXHAUSTED.
    pub fn max_encoding_message_size(self, limit: usize) -> Self {
        self.with(|o| o.max_encoding_message_size = limit)
    }

    /// Wraps every call in a tower [`Layer`](tower_layer::Layer): its service sees each call
    /// as a `Request<Body>` (head editable, body opaque) and returns `Response<ResponseBody>`;
    /// a `Status` error reaches the caller as is, any other error as UNKNOWN. A layer added
    /// later wraps the ones added before.
    ///
    /// ```
    /// let client = rill::Client::new(rill::Channel::lazy("localhost:50051").unwrap())
    ///     .layer(tower::limit::ConcurrencyLimitLayer::new(16));
    /// # drop(client);
    /// ```
    pub fn layer<L>(self, layer: L) -> Self
    where
        L: tower_layer::Layer<Transport>,
        L::Service: tower_service::Service<Request<Body>, Response = crate::Response<ResponseBody>>
            + Clone
            + Send
            + 'static,
        <L::Service as tower_service::Service<Request<Body>>>::Error:
            Into<Box<dyn std::error::Error + Send + Sync>>,
        <L::Service as tower_service::Service<Request<Body>>>::Future: Send + 'static,
    {
        let channel = self.channel.clone();
        self.with(|o| {
            // Layers stack: the new one wraps whatever dispatch existed.
            let transport = Transport::new(channel, o.dispatch.take());
            o.dispatch = Some(crate::middleware::erase(layer.layer(transport)));
        })
    }

    /// Adds an interceptor that runs, in the order added, on every call's head.
    ///
    /// ```
    /// let client = rill::Client::new(rill::Channel::lazy("localhost:50051").unwrap())
    ///     .interceptor(|req: &mut rill::Request<()>| {
    ///         req.metadata_mut().insert("authorization", "Bearer secret")?;
    ///         Ok(())
    ///     });
    /// # drop(client);
    /// ```
    pub fn interceptor<F>(self, f: F) -> Self
    where
        F: Fn(&mut Request<()>) -> Result<(), Status> + Send + Sync + 'static,
    {
        self.with(|o| o.interceptors.push(Arc::new(f)))
    }
}
