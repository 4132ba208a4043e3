//! One call on the server: validate the request head, route, run the handler under its
//! deadline and the client's cancellation, write headers, messages and trailers.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use http::{header, HeaderMap, HeaderValue, Method as HttpMethod, StatusCode};

use super::router::Router;
use super::service::{RawBody, ResponseEncoder, ServerCall};
use crate::codec::{EncodeOptions, FrameDecoder};
use crate::compression::CompressionEncoding;
use crate::deadline::parse_grpc_timeout;
use crate::streaming::MessageStream;
use crate::transport::server::{Fields, IncomingStream};
use crate::transport::SendBody;
use crate::{MetadataMap, Request, Status};

pub(crate) const GRPC_CONTENT_TYPE: &str = "application/grpc";
// Header names as constants: a lookup by `&str` parses and hashes the name on every call.
const GRPC_ACCEPT_ENCODING: http::HeaderName =
    http::HeaderName::from_static("grpc-accept-encoding");
const GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");
const GRPC_ENCODING: http::HeaderName = http::HeaderName::from_static("grpc-encoding");

/// Whether a content-type names gRPC: `application/grpc`, `application/grpc+proto`, `;params`.
pub(crate) fn is_grpc_content_type(value: &[u8]) -> bool {
    let Some(rest) = value.strip_prefix(GRPC_CONTENT_TYPE.as_bytes()) else {
        return false;
    };
    rest.is_empty() || rest[0] == b'+' || rest[0] == b';'
}

/// Handles one incoming stream to completion.
pub(crate) async fn handle(stream: IncomingStream, router: Arc<Router>) {
    let IncomingStream {
        head,
        body,
        mut responder,
        info,
    } = stream;

    if head.method != HttpMethod::POST {
        let mut resp = http_error(StatusCode::METHOD_NOT_ALLOWED);
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        let _ = responder.send_final(resp);
        return;
    }
    let content_type = head.headers.get(header::CONTENT_TYPE);
    if !content_type.is_some_and(|v| is_grpc_content_type(v.as_bytes())) {
        let _ = responder.send_final(http_error(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        return;
    }

    let config = &router.config;
    let path = head.uri.path();
    let Some((method, handler)) = router.lookup(path) else {
        let _ = responder.send_final(trailers_only(&router.unimplemented(path), config));
        return;
    };

    let request_encoding = match request_encoding(&head.headers, config) {
        Ok(encoding) => encoding,
        Err(status) => {
            let _ = responder.send_final(trailers_only(&status, config));
            return;
        }
    };
    let deadline = match head.headers.get(GRPC_TIMEOUT) {
        None => None,
        Some(value) => match value.to_str().ok().map(parse_grpc_timeout) {
            Some(Ok(timeout)) => Instant::now().checked_add(timeout),
            _ => {
                let status =
                    Status::invalid_argument(format!("malformed grpc-timeout header: {:?}", value));
                let _ = responder.send_final(trailers_only(&status, config));
                return;
            }
        },
    };
    let accepted = accepted_encodings(&head.headers);
    let response_encoding = response_encoding(&accepted, request_encoding, config);

    let mut request = Request::new(());
    request.set_deadline(deadline);
    request.set_remote_addr(info.remote_addr);
    #[cfg(feature = "tls")]
    if let Some(peer) = info.peer_identity {
        request.extensions_mut().insert(peer);
    }
    request.extensions_mut().insert(method);
    *request.metadata_mut() = MetadataMap::from_headers(head.headers);
    if let Err(status) = check_binary_metadata(request.metadata()) {
        let _ = responder.send_final(trailers_only(&status, config));
        return;
    }
    if let Err(status) = crate::interceptor::run(&router.interceptors, &mut request) {
        let _ = responder.send_final(trailers_only(&status, config));
        return;
    }

    let call = ServerCall {
        head: request,
        messages: MessageStream::server(
            body,
            FrameDecoder::new(config.max_decoding_message_size, request_encoding),
        ),
        encode: ResponseEncoder {
            options: EncodeOptions {
                compression: response_encoding,
                max_message_size: config.max_encoding_message_size,
                ..EncodeOptions::default()
            },
            accepted,
        },
    };
    let deadline_sleep = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d.into()).await,
            None => std::future::pending().await,
        }
    };
    let mut deadline_sleep = std::pin::pin!(deadline_sleep);

    // The handler runs until it answers, the deadline passes, or the client resets.
    let outcome = tokio::select! {
        result = (router.dispatch)(super::layer::request(call, handler)) => result,
        () = &mut deadline_sleep => Err(deadline_status()),
        _ = poll_fn(|cx| responder.poll_reset(cx)) => return,
    };
    let response = match outcome {
        Ok(response) => response,
        Err(status) => {
            let _ = responder.send_final(trailers_only(&status, config));
            return;
        }
    };
    // The method glue resolved the handler's compression choice (Response::set_compression).
    let response_encoding = response.call_compression().resolve(response_encoding);
    let (metadata, super::layer::ResponseBody(mut body), trailers) = response.into_parts();
    let fields = grpc_response_fields(config, response_encoding);
    if let RawBody::Once(frame) = body {
        if responder.sends_unary_at_once() && metadata.is_empty() && trailers.is_empty() {
            // The common unary answer: gRPC's fixed fields only, no header maps to build.
            let _ = responder.send_unary_ok(fields, frame);
            return;
        }
        body = RawBody::Once(frame);
    }
    let mut head = grpc_response_head(fields);
    metadata.extend_headers(head.headers_mut());
    // Unary fast path: headers, message and trailers leave together where the transport can.
    if let RawBody::Once(frame) = body {
        if responder.sends_unary_at_once() {
            let mut trailer_map = HeaderMap::new();
            Status::new(crate::Code::Ok, "").add_to_headers(&mut trailer_map);
            trailers.extend_headers(&mut trailer_map);
            let _ = responder.send_unary(head, frame, trailer_map);
            return;
        }
        body = RawBody::Once(frame);
    }
    let Ok(mut send) = responder.send_headers(head) else {
        return;
    };

    let status = tokio::select! {
        status = write_body(&mut send, body) => status,
        () = &mut deadline_sleep => Err(deadline_status()),
    };
    let mut trailer_map = HeaderMap::new();
    match status {
        Ok(()) => Status::new(crate::Code::Ok, "").add_to_headers(&mut trailer_map),
        Err(status) if status.code() == crate::Code::Cancelled && send_was_reset(&mut send) => {
            return;
        }
        Err(status) => status.add_to_headers(&mut trailer_map),
    }
    // The handler's trailers go with whatever status ends the call, as in every gRPC.
    trailers.extend_headers(&mut trailer_map);
    let _ = send.send_trailers(trailer_map);
}

/// Whether the client has already reset the stream (nothing more can be sent).
fn send_was_reset(send: &mut SendBody) -> bool {
    let waker = futures_util::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    send.poll_reset(&mut cx).is_ready()
}

async fn write_body(send: &mut SendBody, body: RawBody) -> Result<(), Status> {
    match body {
        RawBody::Once(frame) => send.send_data(frame, false).await,
        RawBody::Stream(mut frames) => loop {
            let next = tokio::select! {
                next = frames.next() => next,
                status = poll_fn(|cx| send.poll_reset(cx)) => return Err(status),
            };
            let first = match next {
                Some(Ok(frame)) => frame,
                Some(Err(status)) => return Err(status),
                None => return Ok(()),
            };
            // Messages the handler has ready go out together in one DATA frame.
            let (data, after) = crate::codec::batch(first, &mut frames);
            send.send_data(data, false).await?;
            match after {
                crate::codec::AfterBatch::More => {}
                crate::codec::AfterBatch::End => return Ok(()),
                crate::codec::AfterBatch::Failed(status) => return Err(status),
            }
        },
    }
}

/// Rejects `-bin` values that are not base64, as grpc-go does, instead of hiding them.
pub(crate) fn check_binary_metadata(metadata: &MetadataMap) -> Result<(), Status> {
    for key in metadata.keys().filter(|k| k.ends_with("-bin")) {
        if metadata.get_all_bin(key).iter().any(Result::is_err) {
            return Err(Status::internal(format!(
                "malformed binary metadata {key:?}"
            )));
        }
    }
    Ok(())
}

fn deadline_status() -> Status {
    Status::deadline_exceeded("deadline exceeded")
}

/// The encoding of request messages (`grpc-encoding`); an unsupported one is UNIMPLEMENTED.
fn request_encoding(
    headers: &HeaderMap,
    config: &super::CallConfig,
) -> Result<Option<CompressionEncoding>, Status> {
    let Some(value) = headers.get(GRPC_ENCODING) else {
        return Ok(None);
    };
    let name = value.to_str().unwrap_or("");
    if name == "identity" {
        return Ok(None);
    }
    match CompressionEncoding::from_name(name) {
        Some(enc) if config.accept_encodings.contains(&enc) => Ok(Some(enc)),
        // The Trailers-Only answer also carries grpc-accept-encoding with the supported list.
        _ => Err(Status::unimplemented(format!(
            "message encoding {name:?} is not supported; supported: {}",
            config.accept_encoding_header
        ))),
    }
}

/// The encodings the client accepts for responses (`grpc-accept-encoding`) that this build has.
fn accepted_encodings(headers: &HeaderMap) -> Vec<CompressionEncoding> {
    headers
        .get(GRPC_ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(crate::compression::parse_accept_encoding)
        .unwrap_or_default()
}

/// Response compression: the server's configured choice if the client accepts it, else the
/// request's own encoding (as grpc-go does) if the client accepts it, else none. A client that
/// compresses its requests need not accept compressed responses (tonic's may not).
fn response_encoding(
    accepted: &[CompressionEncoding],
    request_encoding: Option<CompressionEncoding>,
    config: &super::CallConfig,
) -> Option<CompressionEncoding> {
    config
        .send_encodings
        .iter()
        .copied()
        .chain(request_encoding)
        .find(|enc| accepted.contains(enc))
}

/// The fixed fields of a gRPC response head, in order: content-type, the encodings this
/// server accepts, and the one the response uses.
fn grpc_response_fields(
    config: &super::CallConfig,
    encoding: Option<CompressionEncoding>,
) -> Fields {
    [
        Some((
            header::CONTENT_TYPE,
            HeaderValue::from_static(GRPC_CONTENT_TYPE),
        )),
        config
            .accept_encoding_value
            .clone()
            .map(|v| (GRPC_ACCEPT_ENCODING, v)),
        encoding.map(|e| (GRPC_ENCODING, HeaderValue::from_static(e.as_str()))),
    ]
}

fn grpc_response_head(fields: Fields) -> http::Response<()> {
    let mut resp = http::Response::new(());
    let headers = resp.headers_mut();
    headers.reserve(4);
    for (name, value) in fields.into_iter().flatten() {
        headers.insert(name, value);
    }
    resp
}

/// A Trailers-Only response: HTTP 200 headers carrying the status, ending the stream.
pub(crate) fn trailers_only(status: &Status, config: &super::CallConfig) -> http::Response<()> {
    let mut resp = grpc_response_head(grpc_response_fields(config, None));
    status.add_to_headers(resp.headers_mut());
    resp
}

fn http_error(code: StatusCode) -> http::Response<()> {
    let mut resp = http::Response::new(());
    *resp.status_mut() = code;
    resp
}
