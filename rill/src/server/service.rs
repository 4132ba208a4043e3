//! Services and methods: the typed edge where user handlers meet the untyped router.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::codec::{decode_message, encode_message, EncodeOptions};
use crate::streaming::MessageStream;
use crate::{BoxStream, Request, Response, Status, Streaming};

/// A gRPC service the server can host; generated `XxxServer` types implement it.
///
/// The trait is object safe: the server keeps services as `dyn Service`.
pub trait Service: Send + Sync + 'static {
    /// The fully qualified service name, e.g. `user.UserService`.
    fn name(&self) -> &'static str;
    /// The service's methods, each bound to its handler.
    fn methods(&self) -> Vec<Method>;
}

/// A request as the router hands it to a method: head, raw messages, response encoding.
pub(crate) struct ServerCall {
    pub(crate) head: Request<()>,
    pub(crate) messages: MessageStream,
    pub(crate) encode: EncodeOptions,
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
                encode_single(response, encode)
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
                Ok(encode_stream(response, encode))
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
                encode_single(response, encode)
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
                Ok(encode_stream(response, encode))
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

/// Reads the one request message of a unary or server-streaming call.
async fn read_single<Req: prost::Message + Default>(
    head: Request<()>,
    mut messages: MessageStream,
) -> Result<Request<Req>, Status> {
    let first = match messages.next().await {
        Some(first) => first?,
        None => return Err(Status::internal("missing request message")),
    };
    if let Some(extra) = messages.next().await {
        extra?;
        return Err(Status::internal(
            "more than one request message for a unary request",
        ));
    }
    let message = decode_message::<Req>(first)?;
    Ok(head.map(|()| message))
}

fn encode_single<Resp: prost::Message>(
    response: Response<Resp>,
    encode: EncodeOptions,
) -> Result<Response<RawBody>, Status> {
    let (metadata, message, trailers) = response.into_parts();
    let frame = encode_message(&message, encode)?;
    Ok(Response::from_parts(
        metadata,
        RawBody::Once(frame),
        trailers,
    ))
}

fn encode_stream<Resp: prost::Message + 'static>(
    response: Response<BoxStream<Resp>>,
    encode: EncodeOptions,
) -> Response<RawBody> {
    response.map(|messages| {
        let frames = messages.map(move |item| item.and_then(|m| encode_message(&m, encode)));
        RawBody::Stream(Box::pin(frames))
    })
}
