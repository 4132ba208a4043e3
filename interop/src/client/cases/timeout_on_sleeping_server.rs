//! timeout_on_sleeping_server: a full-duplex call with a 1 ms deadline whose server never
//! answers ends with DEADLINE_EXCEEDED.

use std::time::Duration;

use rill::Code;

use crate::client::support::{drain, expect_status, request_channel, zeros};
use crate::client::{CaseResult, Ctx};
use crate::grpc::testing::StreamingOutputCallRequest;

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let client = ctx.test_service();
    let (requests, stream) = request_channel();
    let first = StreamingOutputCallRequest {
        payload: Some(zeros(27_182)),
        ..StreamingOutputCallRequest::default()
    };
    ensure!(requests.send(first).is_ok(), "could not queue the request");
    let mut request = rill::Request::new(stream);
    request.set_timeout(Duration::from_millis(1));
    let result = async {
        let mut responses = client.full_duplex_call(request).await?.into_inner();
        drain(&mut responses).await
    }
    .await;
    // The request side stays open until the call is over.
    drop(requests);
    expect_status(
        "FullDuplexCall with a 1 ms deadline",
        result,
        Code::DeadlineExceeded,
        None,
    )
}
