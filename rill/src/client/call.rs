//! The four call types on the client, typed: encode, run the exchange (through the layers, if
//! any) under the deadline, decode.

use bytes::Bytes;
use futures_util::StreamExt;

use super::exchange::{exchange, until_deadline};
use super::layer::{Body, Kind, RawResponse, RawStream, ResponseBody};
use super::Client;
use crate::codec::{decode_message, encode_message, EncodeOptions, MessageEncoder};
use crate::{BoxStream, Request, RequestStream, Response, Status, Streaming};

impl Client {
    /// Calls a unary method: one request message, one response message.
    pub async fn unary<Req, Resp>(
        &self,
        path: &'static str,
        request: Request<Req>,
    ) -> Result<Response<Resp>, Status>
    where
        Req: prost::Message,
        Resp: prost::Message + Default + 'static,
    {
        let (head, message) = self.prepare(request)?;
        let frame = encode_message(&message, self.encode_options(&head))?;
        let deadline = head.deadline();
        single(until_deadline(deadline, self.call(path, head, Kind::Unary(frame))).await?)
    }

    /// Calls a server-streaming method: one request message, a stream of responses.
    pub async fn server_streaming<Req, Resp>(
        &self,
        path: &'static str,
        request: Request<Req>,
    ) -> Result<Response<Streaming<Resp>>, Status>
    where
        Req: prost::Message,
        Resp: prost::Message + Default + 'static,
    {
        let (head, message) = self.prepare(request)?;
        let frame = encode_message(&message, self.encode_options(&head))?;
        stream(self.call(path, head, Kind::ServerStreaming(frame)).await?)
    }

    /// Calls a client-streaming method: a stream of requests, one response message.
    pub async fn client_streaming<Req, Resp>(
        &self,
        path: &'static str,
        request: Request<RequestStream<Req>>,
    ) -> Result<Response<Resp>, Status>
    where
        Req: prost::Message + 'static,
        Resp: prost::Message + Default + 'static,
    {
        let (head, messages) = self.prepare(request)?;
        let frames = self.encode_stream(&head, messages);
        let deadline = head.deadline();
        let call = self.call(path, head, Kind::ClientStreaming(frames));
        single(until_deadline(deadline, call).await?)
    }

    /// Calls a bidirectional-streaming method: a stream of requests, a stream of responses.
    ///
    /// The request stream is sent by a background task from the start, while this future
    /// waits for the response headers. A server may hold its headers until it sends a first
    /// response (grpc-go does), so a request stream that is fed only after this future
    /// completes can deadlock: queue the first request before awaiting the call.
    pub async fn streaming<Req, Resp>(
        &self,
        path: &'static str,
        request: Request<RequestStream<Req>>,
    ) -> Result<Response<Streaming<Resp>>, Status>
    where
        Req: prost::Message + 'static,
        Resp: prost::Message + Default + 'static,
    {
        let (head, messages) = self.prepare(request)?;
        let frames = self.encode_stream(&head, messages);
        stream(self.call(path, head, Kind::Streaming(frames)).await?)
    }

    /// Runs the exchange, through the layers when there are any.
    async fn call(
        &self,
        path: &'static str,
        head: Request<()>,
        kind: Kind,
    ) -> Result<Response<ResponseBody>, Status> {
        let body = Body {
            path,
            kind,
            send_compression: head.send_compression(self.options.send_compression),
            options: self.options.clone(),
        };
        let request = head.map(|()| body);
        match &self.options.dispatch {
            Some(dispatch) => dispatch(request).await,
            // Boxed: the call's state is kilobytes, and every future that holds it inline
            // is moved (copied) several times on its way to the task that polls it.
            None => Box::pin(exchange(&self.channel, request)).await,
        }
    }

    /// Applies the default timeout and the interceptors; splits off the message.
    fn prepare<T>(&self, request: Request<T>) -> Result<(Request<()>, T), Status> {
        let (mut head, message) = request.into_parts();
        if head.deadline().is_none() {
            if let Some(timeout) = self.options.timeout {
                head.set_timeout(timeout);
            }
        }
        crate::interceptor::run(&self.options.interceptors, &mut head)?;
        Ok((head, message))
    }

    fn encode_options(&self, head: &Request<()>) -> EncodeOptions {
        EncodeOptions {
            compression: head.send_compression(self.options.send_compression),
            max_message_size: self.options.max_encoding_message_size,
            ..EncodeOptions::default()
        }
    }

    fn encode_stream<Req: prost::Message + 'static>(
        &self,
        head: &Request<()>,
        messages: RequestStream<Req>,
    ) -> BoxStream<Bytes> {
        let options = self.encode_options(head);
        // Streams built from SendMessages choose per message (Request::stream_with_options).
        let flags = head.send_flags().cloned();
        let mut encoder = MessageEncoder::default();
        Box::pin(messages.map(move |message| {
            let mut options = options;
            if flags.as_ref().is_some_and(|flags| !flags.next_compress()) {
                options.compression = None;
            }
            encoder.encode(&message, options)
        }))
    }
}

/// Decodes the single response message (keeping its extensions, such as [`MessageInfo`]).
///
/// [`MessageInfo`]: crate::MessageInfo
fn single<Resp: prost::Message + Default>(
    response: Response<ResponseBody>,
) -> Result<Response<Resp>, Status> {
    response.try_map(|body| match body {
        ResponseBody(RawResponse::Once(bytes)) => decode_message(bytes),
        ResponseBody(RawResponse::Stream(_)) => Err(Status::internal(
            "a layer returned a stream for a single-response call",
        )),
    })
}

/// Wraps the response message stream for typed decoding.
fn stream<Resp: prost::Message + Default + 'static>(
    response: Response<ResponseBody>,
) -> Result<Response<Streaming<Resp>>, Status> {
    let (metadata, body, trailers) = response.into_parts();
    let messages = match body {
        ResponseBody(RawResponse::Stream(RawStream::Wire(messages, slot))) => {
            Streaming::from_wire(messages, Some(slot))
        }
        ResponseBody(RawResponse::Stream(RawStream::Empty(slot))) => {
            Streaming::from_stream(futures_util::stream::empty()).with_trailers(slot)
        }
        ResponseBody(RawResponse::Once(_)) => {
            return Err(Status::internal(
                "a layer returned one message for a streaming call",
            ))
        }
    };
    Ok(Response::from_parts(metadata, messages, trailers))
}
