//! Services and methods: the typed edge where user handlers meet the untyped router.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::codec::{decode_message, encode_message, EncodeOptions, MessageEncoder};
use crate::compression::CompressionEncoding;
use crate::message::CallCompression;
use crate::streaming::MessageStream;
use crate::{BoxStream, MessageInfo, Request, Response, Status, Streaming};

/// A gRPC service the server can host; generated `XxxServer` types implement it.
///
/// The trait is object safe: the server keeps services as `dyn Service`.
pub trait Service: Send + Sync + 'static {
    /// The fully qualified service name, e.g. `user.UserService`.
    fn name(&self) -> &'static str;
    /// The service's methods, each bound to its handler.
    fn methods(&self) -> Vec<Method>;
}

/// A service type that knows its fully qualified name without an instance: generated
/// `XxxServer<T>` types implement it, so that code such as a health reporter can name a
/// service by its type (`reporter.set_serving::<UserServiceServer<Users>>()`).
///
/// ```
/// struct Greeter;
/// impl rill::server::NamedService for Greeter {
///     const NAME: &'static str = "demo.Greeter";
/// }
/// assert_eq!(<Greeter as rill::server::NamedService>::NAME, "demo.Greeter");
/// ```
pub trait NamedService {
    /// The fully qualified service name, e.g. `user.UserService`.
    const NAME: &'static str;
}

/// A request as the router hands it to a method: head, raw messages, response encoding.
pub(crate) struct ServerCall {
    pub(crate) head: Request<()>,
    pub(crate) messages: MessageStream,
    pub(crate) encode: ResponseEncoder,
}

/// How a call's response messages are encoded: the negotiated defaults, and the encodings the
/// client accepts, for a handler that chooses its own (`Response::set_compression`).
#[derive(Clone, Debug)]
pub(crate) struct ResponseEncoder {
    /// Limits, and the compression negotiated for the call.
    pub(crate) options: EncodeOptions,
    /// The client's `grpc-accept-encoding`, limited to the encodings this build has.
    pub(crate) accepted: Vec<CompressionEncoding>,
}

impl ResponseEncoder {
    /// The options for a response whose handler chose `choice`, and that choice resolved to
    /// what is actually used (`Use` or `Disabled`).
    pub(crate) fn resolve(&self, choice: CallCompression) -> (EncodeOptions, CallCompression) {
        let compression = match choice {
            CallCompression::Use(encoding) if self.accepted.contains(&encoding) => Some(encoding),
            CallCompression::Use(_) | CallCompression::Default => self.options.compression,
            CallCompression::Disabled => None,
        };
        let resolved = compression.map_or(CallCompression::Disabled, CallCompression::Use);
        (
            EncodeOptions {
                compression,
                ..self.options
            },
            resolved,
        )
    }
}

/// A response body of framed messages.
pub(crate) enum RawBody {
    /// Exactly one message (unary and client-streaming methods).
    Once(Bytes),
    /// Any number of messages, then OK or an error status.
    Stream(BoxStream<Bytes>),
}

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
pub(crate) type RawHandler =
    Arc<dyn Fn(ServerCall) -> BoxFuture<Result<Response<RawBody>, Status>> + Send + Sync>;

/// One method of a [`Service`]: its name and its handler, type-erased.
pub struct Method {
    pub(crate) name: &'static str,
    pub(crate) handler: RawHandler,
}

impl std::fmt::Debug for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Method").field("name", &self.name).finish()
    }
}

impl Method {
    /// A unary method: one request message, one response message.
    ///
    /// ```
    /// use rill::{server::Method, Request, Response, Status};
    /// let m = Method::unary("Echo", |req: Request<String>| async move {
    ///     Ok::<_, Status>(Response::new(req.into_inner()))
    /// });
    /// assert_eq!(m.name(), "Echo");
    /// ```
    pub fn unary<Req, Resp, F, Fut>(name: &'static str, handler: F) -> Method
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        F: Fn(Request<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        Method::raw(name, move |call| {
            let handler = handler.clone();
            Box::pin(async move {
                let encode = call.encode;
                let request = read_single::<Req>(call.head, call.messages).await?;
                let response = handler(request).await?;
                encode_single(response, &encode)
            })
        })
    }

    /// A server-streaming method: one request message, a stream of responses.
    pub fn server_streaming<Req, Resp, F, Fut>(name: &'static str, handler: F) -> Method
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        F: Fn(Request<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<BoxStream<Resp>>, Status>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        Method::raw(name, move |call| {
            let handler = handler.clone();
            Box::pin(async move {
                let encode = call.encode;
                let request = read_single::<Req>(call.head, call.messages).await?;
                let response = handler(request).await?;
                Ok(encode_stream(response, &encode))
            })
        })
    }

    /// A client-streaming method: a stream of requests, one response message.
    pub fn client_streaming<Req, Resp, F, Fut>(name: &'static str, handler: F) -> Method
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        F: Fn(Request<Streaming<Req>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        Method::raw(name, move |call| {
            let handler = handler.clone();
            Box::pin(async move {
                let encode = call.encode;
                let request = call
                    .head
                    .map(|()| Streaming::from_wire(call.messages, None));
                let response = handler(request).await?;
                encode_single(response, &encode)
            })
        })
    }

    /// A bidirectional-streaming method: a stream of requests, a stream of responses.
    pub fn streaming<Req, Resp, F, Fut>(name: &'static str, handler: F) -> Method
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + 'static,
        F: Fn(Request<Streaming<Req>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<BoxStream<Resp>>, Status>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        Method::raw(name, move |call| {
            let handler = handler.clone();
            Box::pin(async move {
                let encode = call.encode;
                let request = call
                    .head
                    .map(|()| Streaming::from_wire(call.messages, None));
                let response = handler(request).await?;
                Ok(encode_stream(response, &encode))
            })
        })
    }

    fn raw(
        name: &'static str,
        handler: impl Fn(ServerCall) -> BoxFuture<Result<Response<RawBody>, Status>>
            + Send
            + Sync
            + 'static,
    ) -> Method {
        Method {
            name,
            handler: Arc::new(handler),
        }
    }

    /// The method's name as in the proto file, e.g. `GetUser`.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// Reads the one request message of a unary or server-streaming call; its [`MessageInfo`]
/// goes into the request's extensions.
async fn read_single<Req: prost::Message + Default>(
    mut head: Request<()>,
    mut messages: MessageStream,
) -> Result<Request<Req>, Status> {
    let first = match messages.next().await {
        Some(first) => first?,
        None => return Err(Status::internal("missing request message")),
    };
    head.extensions_mut()
        .insert(MessageInfo::new(messages.last_compressed()));
    if let Some(extra) = messages.next().await {
        extra?;
        return Err(Status::internal(
            "more than one request message for a unary request",
        ));
    }
    let message = decode_message::<Req>(first)?;
    Ok(head.map(|()| message))
}

/// Encodes the one response message with the compression the handler chose (if the client
/// accepts it), recording the choice resolved for the `grpc-encoding` header.
fn encode_single<Resp: prost::Message>(
    response: Response<Resp>,
    encoder: &ResponseEncoder,
) -> Result<Response<RawBody>, Status> {
    let (options, resolved) = encoder.resolve(response.call_compression());
    let mut response =
        response.try_map(|message| encode_message(&message, options).map(RawBody::Once))?;
    response.set_call_compression(resolved);
    Ok(response)
}

/// Encodes response messages as they come, each with its own compression choice when the
/// stream was built from `SendMessage`s.
fn encode_stream<Resp: prost::Message + 'static>(
    response: Response<BoxStream<Resp>>,
    encoder: &ResponseEncoder,
) -> Response<RawBody> {
    let (options, resolved) = encoder.resolve(response.call_compression());
    let flags = response.send_flags().cloned();
    let mut response = response.map(|messages| {
        let mut encoder = MessageEncoder::default();
        let frames = messages.map(move |item| {
            item.and_then(|message| {
                let mut options = options;
                if flags.as_ref().is_some_and(|flags| !flags.next_compress()) {
                    options.compression = None;
                }
                encoder.encode(&message, options)
            })
        });
        RawBody::Stream(Box::pin(frames))
    });
    response.set_call_compression(resolved);
    response
}
