//! The interop `grpc.testing.TestService` on rill, as the "Server" section of grpc/grpc's
//! `doc/interop-test-descriptions.md` describes it.
//!
//! ```no_run
//! # async fn run() -> Result<(), rill::Error> {
//! use interop::grpc::testing::test_service_server::TestServiceServer;
//! use interop::server::TestServiceImpl;
//!
//! rill::server::Server::builder()
//!     .add_service(TestServiceServer::new(TestServiceImpl))
//!     .serve("127.0.0.1:10000".parse().expect("valid address"))
//!     .await
//! # }
//! ```
//!
//! Not covered: `expect_compressed` and `response_compressed` (rill handlers can neither see
//! whether a request message arrived compressed nor choose per response; responses are
//! compressed as the server is configured), and the `fill_*` fields.

use std::collections::VecDeque;
use std::time::Duration;

use rill::{BoxStream, Code, MetadataMap, Request, Response, Status, Streaming};

use crate::grpc::testing::test_service_server::TestService;
use crate::grpc::testing::{
    EchoStatus, Empty, Payload, PayloadType, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
    StreamingOutputCallResponse,
};

/// Request metadata the server echoes in its response headers (initial metadata).
pub const ECHO_INITIAL_KEY: &str = "x-grpc-test-echo-initial";
/// Binary request metadata the server echoes in its trailers.
pub const ECHO_TRAILING_KEY: &str = "x-grpc-test-echo-trailing-bin";

/// The interop test service: payloads of zeros of the requested sizes, requested statuses,
/// echoed metadata, and the pacing (`interval_us`) the streaming calls ask for.
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
        let request = request.into_inner();
        if let Some(status) = requested_status(request.response_status.as_ref()) {
            return Err(echo.into_status(status));
        }
        let mut response = Response::new(SimpleResponse {
            payload: Some(zeros(request.response_size)?),
            ..SimpleResponse::default()
        });
        echo.apply(&mut response)?;
        Ok(response)
    }

    async fn cacheable_unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        // Caching needs GET requests, which gRPC over HTTP/2 does not use: answer as UnaryCall.
        self.unary_call(request).await
    }

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        let steps = steps_for(request.into_inner());
        Ok(Response::new(replies(steps, None)))
    }

    async fn streaming_input_call(
        &self,
        request: Request<Streaming<StreamingInputCallRequest>>,
    ) -> Result<Response<StreamingInputCallResponse>, Status> {
        let mut requests = request.into_inner();
        let mut total = 0usize;
        while let Some(request) = requests.message().await? {
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
        let mut response = Response::new(replies(VecDeque::new(), Some(request.into_inner())));
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
        Ok(Response::new(replies(all, None)))
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

/// The metadata a call echoes back, read from its request.
struct Echo {
    initial: Option<String>,
    trailing: Option<Vec<u8>>,
}

impl Echo {
    fn from_request(metadata: &MetadataMap) -> Result<Echo, Status> {
        Ok(Echo {
            initial: metadata.get(ECHO_INITIAL_KEY).map(str::to_owned),
            trailing: metadata.get_bin(ECHO_TRAILING_KEY).transpose()?,
        })
    }

    fn apply<T>(&self, response: &mut Response<T>) -> Result<(), Status> {
        if let Some(value) = &self.initial {
            response.metadata_mut().insert(ECHO_INITIAL_KEY, value)?;
        }
        if let Some(value) = &self.trailing {
            response
                .trailers_mut()
                .insert_bin(ECHO_TRAILING_KEY, value)?;
        }
        Ok(())
    }

    /// An error is a Trailers-Only answer: both echoes travel in its one header block.
    fn into_status(self, status: Status) -> Status {
        let mut metadata = MetadataMap::new();
        // Both values were valid metadata on the way in, so they are valid on the way out.
        if let Some(value) = &self.initial {
            let _ = metadata.insert(ECHO_INITIAL_KEY, value);
        }
        if let Some(value) = &self.trailing {
            let _ = metadata.insert_bin(ECHO_TRAILING_KEY, value);
        }
        status.with_metadata(metadata)
    }
}

/// The status a request asks for, unless it asks for OK (or nothing).
fn requested_status(echo: Option<&EchoStatus>) -> Option<Status> {
    echo.filter(|s| s.code != 0)
        .map(|s| Status::new(Code::from_i32(s.code), s.message.clone()))
}

/// A compressible payload of `size` zero bytes.
fn zeros(size: i32) -> Result<Payload, Status> {
    let size = usize::try_from(size)
        .map_err(|_| Status::invalid_argument(format!("payload size {size} is negative")))?;
    Ok(Payload {
        r#type: PayloadType::Compressable.into(),
        body: vec![0; size],
    })
}

/// What a streaming call still has to do.
enum Step {
    /// Wait `interval_us`, then send a payload of `size` zeros.
    Reply(ResponseParameters),
    /// End the call with this status.
    Fail(Status),
}

/// The steps one request asks for: its responses, then its status if it asks for one.
fn steps_for(request: StreamingOutputCallRequest) -> VecDeque<Step> {
    let fail = requested_status(request.response_status.as_ref()).map(Step::Fail);
    let replies = request.response_parameters.into_iter().map(Step::Reply);
    replies.chain(fail).collect()
}

async fn reply(params: &ResponseParameters) -> Result<StreamingOutputCallResponse, Status> {
    let interval = u64::try_from(params.interval_us).unwrap_or(0);
    if interval > 0 {
        tokio::time::sleep(Duration::from_micros(interval)).await;
    }
    Ok(StreamingOutputCallResponse {
        payload: Some(zeros(params.size)?),
    })
}

/// State of a response stream: steps to run, then more requests to read (full duplex).
struct Replies {
    steps: VecDeque<Step>,
    requests: Option<Streaming<StreamingOutputCallRequest>>,
    done: bool,
}

/// Runs `steps`, then the steps of each request read from `requests` as it arrives.
fn replies(
    steps: VecDeque<Step>,
    requests: Option<Streaming<StreamingOutputCallRequest>>,
) -> BoxStream<StreamingOutputCallResponse> {
    let state = Replies {
        steps,
        requests,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(
        state,
        |mut state| async move {
            loop {
                if state.done {
                    return None;
                }
                if let Some(step) = state.steps.pop_front() {
                    let item = match step {
                        Step::Reply(params) => reply(&params).await,
                        Step::Fail(status) => Err(status),
                    };
                    state.done = item.is_err();
                    return Some((item, state));
                }
                match state.requests.as_mut()?.message().await {
                    Ok(Some(request)) => state.steps.extend(steps_for(request)),
                    Ok(None) => return None,
                    Err(status) => {
                        state.done = true;
                        return Some((Err(status), state));
                    }
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(size: i32) -> ResponseParameters {
        ResponseParameters {
            size,
            ..ResponseParameters::default()
        }
    }

    #[test]
    fn requested_status_ignores_ok_and_absent() {
        let cases = [
            (None, None),
            (Some((0, "ignored")), None),
            (Some((2, "boom")), Some(Code::Unknown)),
            (Some((5, "gone")), Some(Code::NotFound)),
            (Some((99, "odd")), Some(Code::Unknown)),
        ];
        for (echo, want) in cases {
            let echo = echo.map(|(code, message): (i32, &str)| EchoStatus {
                code,
                message: message.into(),
            });
            let got = requested_status(echo.as_ref());
            assert_eq!(got.as_ref().map(Status::code), want, "{echo:?}");
            if let (Some(status), Some(echo)) = (got, echo) {
                assert_eq!(status.message(), echo.message);
            }
        }
    }

    #[test]
    fn zeros_has_the_requested_size() {
        for size in [0, 1, 271_828] {
            let body = zeros(size).unwrap().body;
            assert_eq!(body.len(), size as usize);
            assert!(body.iter().all(|&b| b == 0));
        }
        assert_eq!(zeros(-1).unwrap_err().code(), Code::InvalidArgument);
    }

    #[test]
    fn steps_put_the_status_after_the_replies() {
        let request = StreamingOutputCallRequest {
            response_parameters: vec![params(1), params(2)],
            response_status: Some(EchoStatus {
                code: 3,
                message: "bad".into(),
            }),
            ..StreamingOutputCallRequest::default()
        };
        let kinds: Vec<_> = steps_for(request)
            .into_iter()
            .map(|step| match step {
                Step::Reply(p) => format!("reply {}", p.size),
                Step::Fail(s) => format!("fail {:?}", s.code()),
            })
            .collect();
        assert_eq!(kinds, ["reply 1", "reply 2", "fail InvalidArgument"]);
    }

    #[tokio::test]
    async fn replies_end_at_the_first_error() {
        use futures_util::StreamExt;
        let steps = VecDeque::from([
            Step::Reply(params(3)),
            Step::Fail(Status::aborted("stop")),
            Step::Reply(params(4)),
        ]);
        let items: Vec<_> = replies(steps, None).collect().await;
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0]
                .as_ref()
                .unwrap()
                .payload
                .as_ref()
                .unwrap()
                .body
                .len(),
            3
        );
        assert_eq!(items[1].as_ref().unwrap_err().code(), Code::Aborted);
    }
}
