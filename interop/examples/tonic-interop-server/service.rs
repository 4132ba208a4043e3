//! `grpc.testing.TestService` on tonic, per the "Server" section of grpc/grpc's
//! `doc/interop-test-descriptions.md`.

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use crate::layer::Uncompressed;
use crate::pb;
use crate::reframe::MessageFlags;

type TonicStream<T> = tonic::codegen::BoxStream<T>;

const ECHO_INITIAL_KEY: &str = "x-grpc-test-echo-initial";
const ECHO_TRAILING_KEY: &str = "x-grpc-test-echo-trailing-bin";

/// The interop test service on tonic.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TonicTestService;

fn requested_status(echo: Option<&pb::EchoStatus>) -> Option<Status> {
    echo.filter(|s| s.code != 0)
        .map(|s| Status::new(s.code.into(), s.message.clone()))
}

fn zeros(size: i32) -> Result<pb::Payload, Status> {
    let size = usize::try_from(size)
        .map_err(|_| Status::invalid_argument(format!("payload size {size} is negative")))?;
    Ok(pb::Payload {
        r#type: pb::PayloadType::Compressable.into(),
        body: vec![0; size],
    })
}

fn check_response_type(response_type: i32) -> Result<(), Status> {
    if response_type == pb::PayloadType::Compressable as i32 {
        return Ok(());
    }
    Err(Status::invalid_argument(format!(
        "unsupported response_type {response_type}"
    )))
}

/// `expect_compressed: true` on a message that arrived uncompressed is INVALID_ARGUMENT.
fn check_compressed(
    expect: Option<&pb::BoolValue>,
    compressed: Option<bool>,
) -> Result<(), Status> {
    if expect.is_some_and(|e| e.value) && compressed != Some(true) {
        return Err(Status::invalid_argument(
            "expected a compressed request message, but it arrived uncompressed",
        ));
    }
    Ok(())
}

/// The Compressed-Flag of request message `index`, as the HTTP layer saw it.
fn flag<T>(request: &Request<T>) -> MessageFlags {
    request
        .extensions()
        .get::<MessageFlags>()
        .cloned()
        .unwrap_or_default()
}

/// Copies the echo keys of `from` into `to`.
fn echo(from: &MetadataMap, to: &mut MetadataMap) {
    if let Some(value) = from.get(ECHO_INITIAL_KEY) {
        to.insert(ECHO_INITIAL_KEY, value.clone());
    }
}

/// A status carrying the echoed metadata (a Trailers-Only answer has no separate trailers).
fn with_echo(status: Status, request: &MetadataMap) -> Status {
    let mut metadata = MetadataMap::new();
    echo(request, &mut metadata);
    if let Some(value) = request.get_bin(ECHO_TRAILING_KEY) {
        metadata.insert_bin(ECHO_TRAILING_KEY, value.clone());
    }
    Status::with_metadata(status.code(), status.message(), metadata)
}

/// Answers each request as it arrives (from a task, so pacing never blocks reading), ending
/// with a request's `response_status` if it asks for one; marks in `uncompressed` the
/// responses whose parameters say `compressed: false`.
fn replies<S>(
    mut requests: S,
    uncompressed: Uncompressed,
) -> TonicStream<pb::StreamingOutputCallResponse>
where
    S: Stream<Item = Result<pb::StreamingOutputCallRequest, Status>> + Send + Unpin + 'static,
{
    let (tx, mut rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut index = 0;
        while let Some(request) = requests.next().await {
            let request =
                match request.and_then(|r| check_response_type(r.response_type).map(|()| r)) {
                    Ok(request) => request,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                };
            for params in &request.response_parameters {
                let interval = u64::try_from(params.interval_us).unwrap_or(0);
                tokio::time::sleep(Duration::from_micros(interval)).await;
                let reply = zeros(params.size).map(|payload| pb::StreamingOutputCallResponse {
                    payload: Some(payload),
                });
                if params.compressed.as_ref().is_some_and(|c| !c.value) {
                    uncompressed.insert(index);
                }
                index += 1;
                if tx.send(reply).await.is_err() {
                    return;
                }
            }
            if let Some(status) = requested_status(request.response_status.as_ref()) {
                let _ = tx.send(Err(status)).await;
                return;
            }
        }
    });
    Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

/// A streaming response whose messages follow their `compressed` parameters.
fn stream_response(
    requests: impl Stream<Item = Result<pb::StreamingOutputCallRequest, Status>>
        + Send
        + Unpin
        + 'static,
) -> Response<TonicStream<pb::StreamingOutputCallResponse>> {
    let uncompressed = Uncompressed::default();
    let mut response = Response::new(replies(requests, uncompressed.clone()));
    response.extensions_mut().insert(uncompressed);
    response
}

#[tonic::async_trait]
impl pb::test_service_server::TestService for TonicTestService {
    async fn empty_call(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::Empty>, Status> {
        Ok(Response::new(pb::Empty {}))
    }

    async fn unary_call(
        &self,
        request: Request<pb::SimpleRequest>,
    ) -> Result<Response<pb::SimpleResponse>, Status> {
        let metadata = request.metadata().clone();
        let compressed = flag(&request).compressed(0);
        let request = request.into_inner();
        if let Some(status) = requested_status(request.response_status.as_ref()) {
            return Err(with_echo(status, &metadata));
        }
        check_response_type(request.response_type)?;
        check_compressed(request.expect_compressed.as_ref(), compressed)?;
        let mut response = Response::new(pb::SimpleResponse {
            payload: Some(zeros(request.response_size)?),
            ..Default::default()
        });
        // The server compresses with gzip whenever the client accepts it.
        if request.response_compressed.is_some_and(|c| !c.value) {
            response.disable_compression();
        }
        echo(&metadata, response.metadata_mut());
        Ok(response)
    }

    async fn streaming_output_call(
        &self,
        request: Request<pb::StreamingOutputCallRequest>,
    ) -> Result<Response<TonicStream<pb::StreamingOutputCallResponse>>, Status> {
        let requests = futures_util::stream::iter([Ok(request.into_inner())]);
        Ok(stream_response(requests))
    }

    async fn streaming_input_call(
        &self,
        request: Request<Streaming<pb::StreamingInputCallRequest>>,
    ) -> Result<Response<pb::StreamingInputCallResponse>, Status> {
        let flags = flag(&request);
        let mut requests = request.into_inner();
        let (mut total, mut index) = (0usize, 0);
        while let Some(request) = requests.message().await? {
            check_compressed(request.expect_compressed.as_ref(), flags.compressed(index))?;
            index += 1;
            total += request.payload.map_or(0, |p| p.body.len());
        }
        let aggregated_payload_size = i32::try_from(total)
            .map_err(|_| Status::out_of_range("payload sizes overflow int32"))?;
        Ok(Response::new(pb::StreamingInputCallResponse {
            aggregated_payload_size,
        }))
    }

    async fn full_duplex_call(
        &self,
        request: Request<Streaming<pb::StreamingOutputCallRequest>>,
    ) -> Result<Response<TonicStream<pb::StreamingOutputCallResponse>>, Status> {
        let metadata = request.metadata().clone();
        let mut response = stream_response(request.into_inner());
        echo(&metadata, response.metadata_mut());
        Ok(response)
    }

    async fn half_duplex_call(
        &self,
        request: Request<Streaming<pb::StreamingOutputCallRequest>>,
    ) -> Result<Response<TonicStream<pb::StreamingOutputCallResponse>>, Status> {
        let mut requests = request.into_inner();
        let mut all = Vec::new();
        while let Some(request) = requests.message().await? {
            all.push(Ok(request));
        }
        Ok(stream_response(futures_util::stream::iter(all)))
    }
}
