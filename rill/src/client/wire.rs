//! One attempt of a call on the wire: request head, messages out, response head (or
//! Trailers-Only), messages in, trailers. Everything the client knows about PROTOCOL-HTTP2
//! lives here.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{header, HeaderName, HeaderValue};

use super::layer::RawStream;
use super::{Channel, Options};
use crate::balancer::PickInfo;
use crate::codec::{batch, AfterBatch, FrameDecoder};
use crate::compression::CompressionEncoding;
use crate::deadline::format_grpc_timeout;
use crate::retry::{self, Attempt, Failure, Outcome, Pushback};
use crate::server::{is_grpc_content_type, GRPC_CONTENT_TYPE};
use crate::streaming::{ClientEnd, MessageStream, Slot};
use crate::transport::client::PendingResponse;
use crate::transport::{RecvBody, SendBody};
use crate::{BoxStream, MessageInfo, MetadataMap, Request, Response, Status};

const USER_AGENT: &str = concat!("rill/", env!("CARGO_PKG_VERSION"));
// Header names as constants: inserting by `&str` parses and validates the name every call.
const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");
const GRPC_ENCODING: HeaderName = HeaderName::from_static("grpc-encoding");
const GRPC_ACCEPT_ENCODING: HeaderName = HeaderName::from_static("grpc-accept-encoding");

/// What the server answered before any message.
enum Head {
    Messages {
        metadata: MetadataMap,
        body: RecvBody,
        encoding: Option<CompressionEncoding>,
    },
    /// A Trailers-Only response: no messages, just the status (and its metadata).
    TrailersOnly(Status),
}

fn slot<T>() -> Slot<T> {
    Arc::new(Mutex::new(None))
}

/// A unary attempt's answer once committed: response headers, before the message.
pub(crate) struct UnaryHead {
    metadata: MetadataMap,
    body: RecvBody,
    encoding: Option<CompressionEncoding>,
}

pub(crate) struct Wire<'a> {
    pub(crate) channel: &'a Channel,
    pub(crate) options: &'a Options,
    pub(crate) send_compression: Option<CompressionEncoding>,
    /// Kept by the response stream until the call ends (the in-flight slot).
    pub(crate) hold: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl Wire<'_> {
    fn http_head(
        &self,
        path: &str,
        head: &Request<()>,
        previous: u32,
    ) -> Result<http::Request<()>, Status> {
        let uri = http::Uri::builder()
            .scheme(self.channel.scheme())
            .authority(self.channel.authority())
            .path_and_query(path)
            .build()
            .map_err(|e| Status::internal(format!("invalid method path {path:?}: {e}")))?;
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(uri)
            .body(())
            .map_err(|e| Status::internal(format!("invalid request: {e}")))?;
        let headers = request.headers_mut();
        // Custom metadata first, so it can never shadow the protocol headers below.
        head.metadata().extend_headers(headers);
        #[cfg(feature = "auth")]
        crate::auth::attach_call_token(head, self.channel.scheme() == "https", headers)?;
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(GRPC_CONTENT_TYPE),
        );
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        if let Some(remaining) = head.remaining() {
            if remaining.is_zero() {
                return Err(Status::deadline_exceeded(
                    "deadline exceeded before the call started",
                ));
            }
            if let Ok(value) = HeaderValue::from_str(&format_grpc_timeout(remaining)) {
                headers.insert(GRPC_TIMEOUT, value);
            }
        }
        if let Some(encoding) = self.send_compression {
            headers.insert(GRPC_ENCODING, HeaderValue::from_static(encoding.as_str()));
        }
        if let Some(value) = &self.options.accept_encoding_header {
            headers.insert(GRPC_ACCEPT_ENCODING, value.clone());
        }
        if previous > 0 {
            headers.insert(
                HeaderName::from_static(retry::PREVIOUS_ATTEMPTS),
                HeaderValue::from(previous),
            );
        }
        Ok(request)
    }

    async fn start(
        &self,
        path: &str,
        head: &Request<()>,
        previous: u32,
        first: Option<Bytes>,
    ) -> Result<(SendBody, PendingResponse, Option<Bytes>), Failure> {
        let request = self.http_head(path, head, previous).map_err(Failure::new)?;
        let wait_for_ready = head.wait_for_ready().unwrap_or(self.options.wait_for_ready);
        let info = PickInfo::new(path, head.metadata());
        let connection = self
            .channel
            .pick(&info, wait_for_ready, head.deadline())
            .await
            .map_err(Failure::new)?;
        // A connection that cannot open the stream (closing, GOAWAY) never sent it.
        connection
            .start_call_with(request, first)
            .await
            .map_err(|status| Failure {
                never_sent: true,
                ..Failure::new(status)
            })
    }

    /// Reads the response head and classifies it (PROTOCOL-HTTP2 "Responses").
    fn classify(&self, parts: http::response::Parts, body: RecvBody) -> Result<Head, Status> {
        let grpc_status = Status::from_headers(&parts.headers);
        if parts.status != http::StatusCode::OK {
            return Err(match grpc_status {
                Some(status) if status.code() != crate::Code::Ok => status,
                _ => Status::from_http_status(parts.status.as_u16()),
            });
        }
        let content_type = parts.headers.get(header::CONTENT_TYPE);
        if !content_type.is_some_and(|v| is_grpc_content_type(v.as_bytes())) {
            return match grpc_status {
                Some(status) => Ok(Head::TrailersOnly(status)),
                None => Err(Status::unknown(format!(
                    "response content-type {content_type:?} is not application/grpc"
                ))),
            };
        }
        if let Some(status) = grpc_status {
            return Ok(Head::TrailersOnly(status));
        }
        let encoding = match parts.headers.get("grpc-encoding").map(|v| v.to_str()) {
            None | Some(Ok("identity")) => None,
            Some(Ok(name)) => match CompressionEncoding::from_name(name) {
                Some(enc) if self.options.accept_encodings.contains(&enc) => Some(enc),
                _ => {
                    return Err(Status::internal(format!(
                        "server used unsupported grpc-encoding {name:?}"
                    )))
                }
            },
            Some(Err(_)) => return Err(Status::internal("invalid grpc-encoding header")),
        };
        Ok(Head::Messages {
            metadata: MetadataMap::from_headers(parts.headers),
            body,
            encoding,
        })
    }

    fn decoder(&self, encoding: Option<CompressionEncoding>) -> FrameDecoder {
        FrameDecoder::new(self.options.max_decoding_message_size, encoding)
    }

    /// One unary attempt up to its response headers; sends while watching for an early
    /// answer.
    pub(crate) async fn unary_attempt(
        &self,
        path: &str,
        head: &Request<()>,
        frame: Bytes,
        attempt: Attempt,
    ) -> Outcome<UnaryHead> {
        let started = self.start(path, head, attempt.previous, Some(frame)).await;
        let (mut send, pending, unsent) = match started {
            Ok(started) => started,
            Err(failure) => return Outcome::Failed(failure),
        };
        let mut sending = std::pin::pin!(async {
            match unsent {
                Some(frame) => send.send_data(frame, true).await,
                None => Ok(()),
            }
        });
        let mut answer = std::pin::pin!(pending.head());
        let mut sent = None;
        let answer = loop {
            tokio::select! {
                answer = &mut answer => break answer,
                result = &mut sending, if sent.is_none() => sent = Some(result),
            }
        };
        let (parts, body) = match answer {
            Ok(answer) => answer,
            Err(status) => return Outcome::Failed(Failure::new(status)),
        };
        let pushback = Pushback::from_headers(&parts.headers);
        let (metadata, body, encoding) = match self.classify(parts, body) {
            Ok(Head::Messages {
                metadata,
                body,
                encoding,
            }) => (metadata, body, encoding),
            Ok(Head::TrailersOnly(status)) => {
                let mut failure = Failure::new(no_message_status(status));
                failure.pushback = pushback;
                return Outcome::Failed(failure);
            }
            Err(status) => return Outcome::Failed(Failure::new(status)),
        };
        if sent.is_none() {
            // The server answered early but may still read: finish sending. A failure here is
            // reported by the response stream, which knows the real status.
            let _ = sending.await;
        }
        Outcome::Committed(UnaryHead {
            metadata,
            body,
            encoding,
        })
    }

    /// The committed unary response: exactly one message, then an OK status.
    pub(crate) async fn unary_message(
        &self,
        committed: UnaryHead,
    ) -> Result<Response<Bytes>, Status> {
        let trailers = slot();
        let end = ClientEnd {
            trailers: trailers.clone(),
            send_error: slot(),
            deadline: None,
            sender: None,
            hold: None,
        };
        let decoder = self.decoder(committed.encoding);
        let mut messages = MessageStream::client(committed.body, decoder, end);
        let (message, info) = single_raw(&mut messages).await?;
        let trailers = trailers
            .lock()
            .ok()
            .and_then(|mut t| t.take())
            .unwrap_or_default();
        let mut response = Response::from_parts(committed.metadata, message, trailers);
        response.extensions_mut().insert(info);
        Ok(response)
    }

    /// One attempt of a call whose request messages come from `frames` (sent by a background
    /// task), up to its response headers.
    pub(crate) async fn streaming_attempt(
        &self,
        path: &str,
        head: &Request<()>,
        frames: BoxStream<Bytes>,
        attempt: Attempt,
    ) -> Outcome<Response<RawStream>> {
        let deadline = head.deadline();
        let (send, pending, _) = match self.start(path, head, attempt.previous, None).await {
            Ok(started) => started,
            Err(failure) => return Outcome::Failed(failure),
        };
        let send_error = slot();
        let end = ClientEnd {
            trailers: slot(),
            send_error: send_error.clone(),
            deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d.into()))),
            // Dropping `end` on any early return aborts the sender, which resets the stream.
            sender: Some(tokio::spawn(send_all(send, frames, send_error))),
            hold: self.hold.clone(),
        };
        let answer = pending.head().await;
        // A local send failure resets the stream; report the failure, not the reset.
        let local_error = || end.send_error.lock().ok().and_then(|mut e| e.take());
        let (parts, body) = match answer {
            Ok(answer) => answer,
            Err(status) => {
                return Outcome::Failed(match local_error() {
                    Some(local) => Failure {
                        local: true,
                        ..Failure::new(local)
                    },
                    None => Failure::new(status),
                })
            }
        };
        let pushback = Pushback::from_headers(&parts.headers);
        match self.classify(parts, body) {
            Err(status) => Outcome::Failed(Failure::new(status)),
            Ok(Head::TrailersOnly(status)) if status.code() == crate::Code::Ok => {
                let trailers = end.trailers.clone();
                if let Ok(mut t) = trailers.lock() {
                    *t = Some(status.metadata().clone());
                }
                Outcome::Committed(Response::new(RawStream::Empty(trailers)))
            }
            Ok(Head::TrailersOnly(status)) => Outcome::Failed(Failure {
                pushback,
                ..Failure::new(status)
            }),
            Ok(Head::Messages {
                metadata,
                body,
                encoding,
            }) => {
                let trailers = end.trailers.clone();
                let stream = MessageStream::client(body, self.decoder(encoding), end);
                let messages = RawStream::Wire(stream, trailers);
                Outcome::Committed(Response::from_parts(metadata, messages, MetadataMap::new()))
            }
        }
    }
}

/// A Trailers-Only answer to a call that needs a message: OK there is a protocol violation.
pub(crate) fn no_message_status(status: Status) -> Status {
    if status.code() == crate::Code::Ok {
        Status::internal("server sent no response message")
    } else {
        status
    }
}

/// Pumps request frames into the stream, then half-closes it (with the last batch when the
/// requests end while it is gathered).
async fn send_all(mut send: SendBody, mut frames: BoxStream<Bytes>, error: Slot<Status>) {
    let fail = |send: &mut SendBody, status: Status| {
        if let Ok(mut slot) = error.lock() {
            *slot = Some(status);
        }
        send.cancel();
    };
    loop {
        let first = match frames.next().await {
            Some(Ok(frame)) => frame,
            Some(Err(status)) => return fail(&mut send, status),
            None => {
                let _ = send.finish();
                return;
            }
        };
        let (data, after) = batch(first, &mut frames);
        let end = matches!(after, AfterBatch::End);
        if send.send_data(data, end).await.is_err() {
            // The peer ended the call; the response side reports how.
            return;
        }
        match after {
            AfterBatch::More => {}
            AfterBatch::End => return,
            AfterBatch::Failed(status) => return fail(&mut send, status),
        }
    }
}

/// Exactly one message, then a successful end (unary and client-streaming responses); with
/// how the message travelled.
pub(crate) async fn single_raw(
    messages: &mut MessageStream,
) -> Result<(Bytes, MessageInfo), Status> {
    let Some(message) = messages.next().await.transpose()? else {
        return Err(Status::internal("server sent no response message"));
    };
    let info = MessageInfo::new(messages.last_compressed());
    if messages.next().await.transpose()?.is_some() {
        return Err(Status::internal(
            "server sent more than one response message for a unary response",
        ));
    }
    Ok((message, info))
}
