//! cancel_after_first_response: a full-duplex call cancelled once its first response arrived.
//!
//! A rill call is cancelled by dropping its response stream, which resets the HTTP/2 stream
//! with CANCEL. The case checks the first response and that the channel serves calls after.

use crate::client::support::{check_payload, ok, output_request, request_channel};
use crate::client::{CaseResult, Ctx};
use crate::grpc::testing::Empty;

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let client = ctx.test_service();
    let (requests, stream) = request_channel();
    // Queued before the call: a server may hold its headers until its first response.
    ensure!(
        requests.send(output_request(&[31_415], 27_182)).is_ok(),
        "could not queue the request"
    );
    let call = client.full_duplex_call(stream).await;
    let mut responses = ok("FullDuplexCall", call)?.into_inner();
    let Some(first) = ok("first response", responses.message().await)? else {
        return Err("the stream ended without a response".into());
    };
    check_payload("first response", first.payload.as_ref(), 31_415)?;
    // The cancellation: the stream is reset while the request side is still open.
    drop(responses);
    drop(requests);
    ok(
        "EmptyCall after the cancellation",
        client.empty_call(Empty {}).await,
    )?;
    Ok(())
}
