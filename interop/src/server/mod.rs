//! The interop `grpc.testing.TestService` on rill, as the "Server" section of grpc/grpc's
//! `doc/interop-test-descriptions.md` describes it: payloads of zeros of the requested sizes,
//! paced by `interval_us`; echoed metadata and statuses; compressed responses on request
//! (`response_compressed`, `ResponseParameters.compressed`, with gzip) and the
//! `expect_compressed` check of request messages.
//!
//! ```no_run
//! # async fn run() -> Result<(), rill::Error> {
//! interop::server::interop_server()
//!     .serve("127.0.0.1:10000".parse().expect("valid address"))
//!     .await
//! # }
//! ```
//!
//! The `fill_username` and `fill_oauth_scope` fields are left empty (no authentication here);
//! `fill_server_id` names the server `rill`.

mod echo;
mod payload;
mod replies;

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use rill::{BoxStream, MessageInfo, Request, Response, Status, Streaming};

use crate::grpc::testing::test_service_server::{TestService, TestServiceServer};
use crate::grpc::testing::{
    Empty, Payload, PayloadType, SimpleRequest, SimpleResponse, StreamingInputCallRequest,
    StreamingInputCallResponse, StreamingOutputCallRequest, StreamingOutputCallResponse,
};
use echo::{requested_status, Echo};
use payload::{check_compressed, check_response_type, zeros};
use replies::{replies, steps_for, COMPRESSION};

/// Request metadata the server echoes in its response headers (initial metadata).
pub const ECHO_INITIAL_KEY: &str = "x-grpc-test-echo-initial";
/// Binary request metadata the server echoes in its trailers.
pub const ECHO_TRAILING_KEY: &str = "x-grpc-test-echo-trailing-bin";

/// The largest request message the interop server accepts: 16 MiB, as grpc-java's interop
/// server, so that very_large_request (10 MiB) fits.
pub const MAX_REQUEST_SIZE: usize = 16 * 1024 * 1024;

/// A rill server hosting [`TestServiceImpl`], configured as interop servers are. The
/// HTTP/2 backend comes from `RILL_SERVER_TRANSPORT` (`native` or `h2`) when it is set.
pub fn interop_server() -> rill::server::Server {
    let mut server = rill::server::Server::builder();
    if let Ok(name) = std::env::var("RILL_SERVER_TRANSPORT") {
        match rill::server::Http2Backend::from_name(&name) {
            Some(backend) => server = server.http2_backend(backend),
            None => eprintln!("RILL_SERVER_TRANSPORT={name:?} is not native or h2; ignored"),
        }
    }
    server
        .max_decoding_message_size(MAX_REQUEST_SIZE)
        .add_service(TestServiceServer::new(TestServiceImpl))
}

/// The interop test service.
#[derive(Clone, Copy, Debug, Default)]
pub struct TestServiceImpl;

impl TestService for TestServiceImpl {
    async fn empty_call(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty {}))
    }

    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        let echo = Echo::from_request(request.metadata())?;
        let compressed = arrived_compressed(&request);
        let request = request.into_inner();
        if let Some(status) = requested_status(request.response_status.as_ref()) {
            return Err(echo.into_status(status));
        }
        check_response_type(request.response_type)?;
        check_compressed(request.expect_compressed.as_ref(), compressed)?;
        let mut response = Response::new(SimpleResponse {
            payload: Some(zeros(request.response_size)?),
            server_id: if request.fill_server_id {
                "rill".into()
            } else {
                String::new()
            },
            ..SimpleResponse::default()
        });
        match request.response_compressed {
            Some(choice) if choice.value => response.set_compression(COMPRESSION),
            Some(_) => response.disable_compression(),
            None => {}
        }
        echo.apply(&mut response)?;
        Ok(response)
    }

    async fn cacheable_unary_call(
        &self,
        _request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        // The spec's answer: the current time in nanoseconds, cacheable for 60 s by a proxy.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut response = Response::new(SimpleResponse {
            payload: Some(Payload {
                r#type: PayloadType::Compressable.into(),
                body: nanos.to_string().into_bytes(),
            }),
            ..SimpleResponse::default()
        });
        response
            .metadata_mut()
            .insert("cache-control", "max-age=60, public")?;
        Ok(response)
    }

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        Ok(replies(steps_for(request.into_inner()), None))
    }

    async fn streaming_input_call(
        &self,
        request: Request<Streaming<StreamingInputCallRequest>>,
    ) -> Result<Response<StreamingInputCallResponse>, Status> {
        let mut requests = request.into_inner();
        let mut total = 0usize;
        while let Some(request) = requests.message().await? {
            check_compressed(
                request.expect_compressed.as_ref(),
                requests.last_message_compressed(),
            )?;
            total += request.payload.map_or(0, |p| p.body.len());
        }
        let aggregated_payload_size = i32::try_from(total)
            .map_err(|_| Status::out_of_range(format!("{total} payload bytes overflow int32")))?;
        Ok(Response::new(StreamingInputCallResponse {
            aggregated_payload_size,
        }))
    }

    async fn full_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        let echo = Echo::from_request(request.metadata())?;
        let mut response = replies(VecDeque::new(), Some(request.into_inner()));
        echo.apply(&mut response)?;
        Ok(response)
    }

    async fn half_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        let mut requests = request.into_inner();
        let mut all = VecDeque::new();
        while let Some(request) = requests.message().await? {
            all.extend(steps_for(request));
        }
        Ok(replies(all, None))
    }

    async fn unimplemented_call(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<Empty>, Status> {
        Err(Status::unimplemented(
            "grpc.testing.TestService/UnimplementedCall is never implemented",
        ))
    }
}

/// Whether a unary or server-streaming request message arrived compressed.
fn arrived_compressed<T>(request: &Request<T>) -> bool {
    request
        .extensions()
        .get::<MessageInfo>()
        .is_some_and(MessageInfo::compressed)
}
