//! cancel_after_begin: a client-streaming call cancelled after its headers went out, before
//! any message.
//!
//! A rill call is cancelled by dropping it, which resets its HTTP/2 stream with CANCEL: the
//! call's outcome is CANCELLED by construction. The case checks that the call was still
//! running when cancelled and that the channel serves calls afterwards.

use std::time::Duration;

use crate::client::support::{ok, request_channel};
use crate::client::{CaseResult, Ctx};
use crate::grpc::testing::{Empty, StreamingInputCallRequest};

/// Time for the call to connect and send its headers.
const STARTED: Duration = Duration::from_millis(300);

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let client = ctx.test_service();
    let (requests, stream) = request_channel::<StreamingInputCallRequest>();
    let call = client.streaming_input_call(stream);
    // Dropping the call when the timer fires is the cancellation.
    if let Ok(result) = tokio::time::timeout(STARTED, call).await {
        return Err(format!(
            "the call ended before it was cancelled: {result:?}"
        ));
    }
    drop(requests);
    ok(
        "EmptyCall after the cancellation",
        client.empty_call(Empty {}).await,
    )?;
    Ok(())
}
