//! status_code_and_message: the server ends a unary and a full-duplex call with the status
//! the request asks for.

use rill::Code;

use crate::client::support::{drain, echo_status, expect_status};
use crate::client::{CaseResult, Ctx};
use crate::grpc::testing::{SimpleRequest, StreamingOutputCallRequest};

const MESSAGE: &str = "test status message";

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let client = ctx.test_service();
    let request = SimpleRequest {
        response_status: echo_status(Code::Unknown, MESSAGE),
        ..SimpleRequest::default()
    };
    let result = client.unary_call(request).await;
    expect_status("UnaryCall", result, Code::Unknown, Some(MESSAGE))?;

    let request = StreamingOutputCallRequest {
        response_status: echo_status(Code::Unknown, MESSAGE),
        ..StreamingOutputCallRequest::default()
    };
    let result = async {
        let requests = futures_util::stream::iter([request]);
        let mut responses = client.full_duplex_call(requests).await?.into_inner();
        drain(&mut responses).await
    }
    .await;
    expect_status("FullDuplexCall", result, Code::Unknown, Some(MESSAGE))
}
