//! The innermost step of every client call: the method's service config applied, then the
//! call's attempts (see [`crate::retry`]) run on the wire (see [`super::wire`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;

use super::layer::{Body, Kind, RawResponse, RawStream, ResponseBody};
use super::wire::{no_message_status, single_raw, Wire};
use super::{Channel, Options};
use crate::retry::{self, Plan, Replay};
use crate::service_config::MethodConfig;
use crate::{BoxStream, Request, Response, Status};

/// Runs `fut` until the deadline, then fails with DEADLINE_EXCEEDED (dropping `fut` resets the
/// HTTP/2 stream with CANCEL, so the server stops too).
pub(crate) async fn until_deadline<T>(
    deadline: Option<Instant>,
    fut: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    let Some(deadline) = deadline else {
        return fut.await;
    };
    match tokio::time::timeout_at(deadline.into(), fut).await {
        // A peer that gives up at the same deadline may answer CANCELLED first (tonic does):
        // past our deadline, that is our deadline.
        Ok(Err(status))
            if status.code() == crate::Code::Cancelled && Instant::now() >= deadline =>
        {
            Err(Status::deadline_exceeded("deadline exceeded"))
        }
        Ok(result) => result,
        Err(_) => Err(Status::deadline_exceeded("deadline exceeded")),
    }
}

/// Runs one call over `channel`: the innermost step of every client call. Applies the
/// channel's service config for the method (timeout, wait-for-ready, message limits) and runs
/// the attempts under its retry or hedging policy.
pub(crate) async fn exchange(
    channel: &Channel,
    request: Request<Body>,
) -> Result<Response<ResponseBody>, Status> {
    let (mut head, body) = request.into_parts();
    let calls = channel.calls();
    let in_flight = match &calls.in_flight {
        Some(cap) => Some(Arc::new(cap.acquire()?)),
        None => None,
    };
    let method = calls
        .service_config
        .as_ref()
        .and_then(|config| config.method_config_arc(body.path))
        .cloned();
    let mut options = body.options;
    if let Some(method) = &method {
        apply_method_config(method, &mut head, &mut options);
    }
    let request_limit = method.as_ref().and_then(|m| m.max_request_message_bytes);
    let policy = method.as_ref().and_then(|m| m.policy.as_ref());
    let wire = Wire {
        channel,
        options: &options,
        send_compression: body.send_compression,
        hold: in_flight.map(|guard| guard as Arc<dyn std::any::Any + Send + Sync>),
    };
    let path = body.path;
    let mut plan = Plan {
        policy,
        throttle: calls.throttle.as_ref(),
        replay: None,
        transparent: true,
    };
    let deadline = head.deadline();
    let head = &head;
    let client_streaming = matches!(body.kind, Kind::ClientStreaming(_));
    let result = match body.kind {
        Kind::Unary(frame) => {
            check_request_size(&frame, request_limit)?;
            let (committed, previous) = until_deadline(
                deadline,
                retry::run(plan, |attempt| {
                    wire.unary_attempt(path, head, frame.clone(), attempt)
                }),
            )
            .await?;
            let response = until_deadline(deadline, wire.unary_message(committed)).await;
            response.map(|r| with_previous(r.map(|b| ResponseBody(RawResponse::Once(b))), previous))
        }
        Kind::ServerStreaming(frame) => {
            check_request_size(&frame, request_limit)?;
            let attempts = retry::run(plan, |attempt| {
                let frames = futures_util::stream::iter([Ok(frame.clone())]);
                wire.streaming_attempt(path, head, Box::pin(frames), attempt)
            });
            let (response, previous) = until_deadline(deadline, attempts).await?;
            Ok(with_previous(
                response.map(|s| ResponseBody(RawResponse::Stream(s))),
                previous,
            ))
        }
        Kind::ClientStreaming(frames) | Kind::Streaming(frames) if policy.is_some() => {
            let replay = Replay::new(limit_stream(frames, request_limit), &calls.buffer);
            plan.replay = Some(&replay);
            let attempts = retry::run(plan, |attempt| {
                wire.streaming_attempt(path, head, replay.cursor(attempt.id), attempt)
            });
            let (response, previous) = until_deadline(deadline, attempts).await?;
            finish_streaming(with_previous(response, previous), client_streaming).await
        }
        Kind::ClientStreaming(frames) | Kind::Streaming(frames) => {
            // Without a policy the request stream is not buffered, so it cannot be replayed.
            plan.transparent = false;
            let mut frames = Some(limit_stream(frames, request_limit));
            let attempts = retry::run(plan, |attempt| {
                let frames = frames
                    .take()
                    .unwrap_or_else(|| Box::pin(futures_util::stream::empty()));
                wire.streaming_attempt(path, head, frames, attempt)
            });
            let (response, _) = until_deadline(deadline, attempts).await?;
            finish_streaming(response, client_streaming).await
        }
    };
    // For the throttle, a success is the final OK of a single-response call; a streaming
    // response counts once committed (its end is the caller's to read). Failures before the
    // commit were counted by the executor; `result` can only fail after it.
    if let Some(throttle) = &calls.throttle {
        match &result {
            Ok(_) => throttle.record_success(),
            Err(status) if retry::counts_as_failure(policy, status.code()) => {
                throttle.record_failure()
            }
            Err(_) => {}
        }
    }
    result
}

/// The method config's timeout (the shorter deadline wins), wait-for-ready (unless the call
/// chose) and response size limit (the smaller wins).
fn apply_method_config(method: &MethodConfig, head: &mut Request<()>, options: &mut Arc<Options>) {
    if let Some(timeout) = method.timeout {
        let configured = Instant::now().checked_add(timeout);
        if let Some(configured) = configured {
            if head.deadline().is_none_or(|d| configured < d) {
                head.set_deadline(Some(configured));
            }
        }
    }
    if let (None, Some(wait)) = (head.wait_for_ready(), method.wait_for_ready) {
        head.set_wait_for_ready(wait);
    }
    if let Some(limit) = method.max_response_message_bytes {
        if limit < options.max_decoding_message_size {
            Arc::make_mut(options).max_decoding_message_size = limit;
        }
    }
}

/// `maxRequestMessageBytes`: a larger message fails the call with RESOURCE_EXHAUSTED.
fn check_request_size(frame: &Bytes, limit: Option<usize>) -> Result<(), Status> {
    let len = frame.len().saturating_sub(crate::codec::HEADER_LEN);
    match limit {
        Some(limit) if len > limit => Err(Status::resource_exhausted(format!(
            "request message of {len} bytes is larger than the method's limit of {limit}"
        ))),
        _ => Ok(()),
    }
}

fn limit_stream(frames: BoxStream<Bytes>, limit: Option<usize>) -> BoxStream<Bytes> {
    match limit {
        None => frames,
        Some(limit) => Box::pin(frames.map(move |frame| {
            let frame = frame?;
            check_request_size(&frame, Some(limit)).map(|()| frame)
        })),
    }
}

/// Reports the retries a committed call took, as grpc-java does, in its response metadata.
fn with_previous<T>(mut response: Response<T>, previous: u32) -> Response<T> {
    if previous > 0 {
        response
            .metadata_mut()
            .set_reserved(retry::PREVIOUS_ATTEMPTS, previous.into());
    }
    response
}

/// A committed streaming response as the call type wants it: client streaming reads its one
/// message.
async fn finish_streaming(
    response: Response<RawStream>,
    client_streaming: bool,
) -> Result<Response<ResponseBody>, Status> {
    if !client_streaming {
        return Ok(response.map(|s| ResponseBody(RawResponse::Stream(s))));
    }
    let (metadata, stream, _) = response.into_parts();
    let (message, trailers) = match stream {
        RawStream::Wire(mut messages, trailers) => (single_raw(&mut messages).await?, trailers),
        RawStream::Empty(_) => return Err(no_message_status(Status::new(crate::Code::Ok, ""))),
    };
    let trailers = trailers
        .lock()
        .ok()
        .and_then(|mut t| t.take())
        .unwrap_or_default();
    let (message, info) = message;
    let mut response =
        Response::from_parts(metadata, ResponseBody(RawResponse::Once(message)), trailers);
    response.extensions_mut().insert(info);
    Ok(response)
}

#[cfg(test)]
mod tests {
    /// Every future that holds a call inline is copied as it moves to the task that polls it
    /// (a 9.9 KB unary future cost ~2k instructions per call in memcpy): the call's state is
    /// boxed, and this keeps it that way.
    #[tokio::test]
    async fn the_unary_call_future_stays_small() {
        let (io, _peer) = tokio::io::duplex(64);
        let client = crate::client::Client::new(crate::Channel::from_io(io));
        let unary = client.unary::<String, String>("/a/b", crate::Request::new(String::new()));
        let size = std::mem::size_of_val(&unary);
        assert!(size <= 2048, "Client::unary's future is {size} bytes");
    }
}
