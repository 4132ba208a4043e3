//! The streaming calls' responses: one per `ResponseParameters`, paced by `interval_us`,
//! compressed or not as each one's `compressed` asks, then the requested status.

use std::collections::VecDeque;
use std::time::Duration;

use rill::compression::CompressionEncoding;
use rill::{BoxStream, Response, SendMessage, Status, Streaming};

use super::echo::requested_status;
use super::payload::{check_response_type, zeros};
use crate::grpc::testing::{
    ResponseParameters, StreamingOutputCallRequest, StreamingOutputCallResponse,
};

/// The encoding the server compresses with when a client asks for compression.
pub(super) const COMPRESSION: CompressionEncoding = CompressionEncoding::Gzip;

/// What a streaming call still has to do.
pub(super) enum Step {
    /// Wait `interval_us`, then send a payload of `size` zeros.
    Reply(ResponseParameters),
    /// End the call with this status.
    Fail(Status),
}

/// The steps one request asks for: its responses, then its status if it asks for one.
pub(super) fn steps_for(request: StreamingOutputCallRequest) -> VecDeque<Step> {
    if let Err(status) = check_response_type(request.response_type) {
        return VecDeque::from([Step::Fail(status)]);
    }
    let fail = requested_status(request.response_status.as_ref()).map(Step::Fail);
    let replies = request.response_parameters.into_iter().map(Step::Reply);
    replies.chain(fail).collect()
}

/// Whether any of `steps` asks for a compressed response: the call must then compress
/// (`grpc-encoding` is per call), and the responses that ask for none are sent uncompressed.
pub(super) fn wants_compression(steps: &VecDeque<Step>) -> bool {
    steps.iter().any(|step| {
        matches!(step, Step::Reply(params) if params.compressed.as_ref().is_some_and(|c| c.value))
    })
}

async fn reply(
    params: &ResponseParameters,
) -> Result<SendMessage<StreamingOutputCallResponse>, Status> {
    let interval = u64::try_from(params.interval_us).unwrap_or(0);
    if interval > 0 {
        tokio::time::sleep(Duration::from_micros(interval)).await;
    }
    let response = StreamingOutputCallResponse {
        payload: Some(zeros(params.size)?),
    };
    // `compressed: false` sends this one uncompressed even on a compressing call.
    let compress = params.compressed.as_ref().is_none_or(|c| c.value);
    Ok(SendMessage::new(response).compressed(compress))
}

/// State of a response stream: steps to run, then more requests to read (full duplex).
struct Replies {
    steps: VecDeque<Step>,
    requests: Option<Streaming<StreamingOutputCallRequest>>,
    done: bool,
}

/// A response that runs `steps`, then the steps of each request read from `requests` as it
/// arrives; compressed when the known steps ask for it.
pub(super) fn replies(
    steps: VecDeque<Step>,
    requests: Option<Streaming<StreamingOutputCallRequest>>,
) -> Response<BoxStream<StreamingOutputCallResponse>> {
    let compress = wants_compression(&steps);
    let state = Replies {
        steps,
        requests,
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut state| async move {
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
    });
    let mut response = Response::stream_with_options(stream);
    if compress {
        response.set_compression(COMPRESSION);
    }
    response
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use rill::Code;

    use super::*;
    use crate::grpc::testing::{BoolValue, EchoStatus};

    fn params(size: i32) -> ResponseParameters {
        ResponseParameters {
            size,
            ..ResponseParameters::default()
        }
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

    #[test]
    fn compression_follows_the_parameters() {
        let with = |compressed: Option<bool>| {
            let params = ResponseParameters {
                compressed: compressed.map(|value| BoolValue { value }),
                ..params(1)
            };
            VecDeque::from([Step::Reply(params)])
        };
        assert!(!wants_compression(&with(None)));
        assert!(!wants_compression(&with(Some(false))));
        assert!(wants_compression(&with(Some(true))));
        assert!(replies(with(Some(true)), None).compression().is_some());
        assert!(replies(with(None), None).compression().is_none());
    }

    #[tokio::test]
    async fn replies_end_at_the_first_error() {
        let steps = VecDeque::from([
            Step::Reply(params(3)),
            Step::Fail(Status::aborted("stop")),
            Step::Reply(params(4)),
        ]);
        let items: Vec<_> = replies(steps, None).into_inner().collect().await;
        assert_eq!(items.len(), 2);
        let first = items[0].as_ref().expect("a reply");
        assert_eq!(first.payload.as_ref().map(|p| p.body.len()), Some(3));
        assert_eq!(
            items[1].as_ref().map(|_| ()).unwrap_err().code(),
            Code::Aborted
        );
    }
}
