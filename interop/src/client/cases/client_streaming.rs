//! client_streaming: four requests, one response with their total payload size (74922).

use crate::client::support::{ok, zeros, REQUEST_SIZES};
use crate::client::{CaseResult, Ctx};
use crate::grpc::testing::StreamingInputCallRequest;

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let requests = REQUEST_SIZES.map(|size| StreamingInputCallRequest {
        payload: Some(zeros(size)),
        ..StreamingInputCallRequest::default()
    });
    let call = ctx
        .test_service()
        .streaming_input_call(futures_util::stream::iter(requests))
        .await;
    let response = ok("StreamingInputCall", call)?;
    let total = response.get_ref().aggregated_payload_size;
    ensure!(
        total == 74_922,
        "aggregated payload size {total} instead of 74922"
    );
    Ok(())
}
