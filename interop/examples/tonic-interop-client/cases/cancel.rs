//! cancel_after_begin, cancel_after_first_response. A tonic call is cancelled by dropping it
//! (its HTTP/2 stream is reset); each case then checks the channel still serves calls.

use std::time::Duration;

use crate::ctx::Ctx;
use crate::pb;
use crate::support::{check_payload, ok, output_request, request_channel, CaseResult};

pub(super) async fn cancel_after_begin(ctx: &Ctx) -> CaseResult {
    let mut client = ctx.client();
    let (requests, stream) = request_channel::<pb::StreamingInputCallRequest>();
    let call = client.streaming_input_call(stream);
    if let Ok(result) = tokio::time::timeout(Duration::from_millis(300), call).await {
        return Err(format!(
            "the call ended before it was cancelled: {result:?}"
        ));
    }
    drop(requests);
    ok(
        "EmptyCall after the cancellation",
        ctx.client().empty_call(pb::Empty {}).await,
    )?;
    Ok(())
}

pub(super) async fn cancel_after_first_response(ctx: &Ctx) -> CaseResult {
    let (requests, stream) = request_channel();
    // Queued before the call: a server may hold its headers until its first response.
    ensure!(
        requests.send(output_request(&[31_415], 27_182)).is_ok(),
        "could not queue the request"
    );
    let call = ctx.client().full_duplex_call(stream).await;
    let mut responses = ok("FullDuplexCall", call)?.into_inner();
    let Some(first) = ok("first response", responses.message().await)? else {
        return Err("the stream ended without a response".into());
    };
    check_payload("first response", first.payload.as_ref(), 31_415)?;
    drop(responses);
    drop(requests);
    ok(
        "EmptyCall after the cancellation",
        ctx.client().empty_call(pb::Empty {}).await,
    )?;
    Ok(())
}
