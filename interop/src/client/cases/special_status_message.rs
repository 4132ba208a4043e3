//! special_status_message: a status message with whitespace and non-ASCII characters survives
//! its percent-encoding both ways.

use rill::Code;

use crate::client::support::{echo_status, expect_status};
use crate::client::{CaseResult, Ctx};
use crate::grpc::testing::SimpleRequest;

const MESSAGE: &str = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let request = SimpleRequest {
        response_status: echo_status(Code::Unknown, MESSAGE),
        ..SimpleRequest::default()
    };
    let result = ctx.test_service().unary_call(request).await;
    expect_status("UnaryCall", result, Code::Unknown, Some(MESSAGE))
}
