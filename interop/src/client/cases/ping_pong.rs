//! ping_pong: four request/response rounds on one full-duplex call, then half-close.

use crate::client::support::{check_payload, ok, output_request, request_channel, REQUEST_SIZES, RESPONSE_SIZES};
use crate::client::{CaseResult, Ctx};

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let (requests, stream) = request_channel();
    let call = ctx.test_service().full_duplex_call(stream).await;
    let mut responses = ok("FullDuplexCall", call)?.into_inner();
    for (i, (request, response)) in REQUEST_SIZES.into_iter().zip(RESPONSE_SIZES).enumerate() {
        let what = format!("round {i}");
        ensure!(
            requests.send(output_request(&[response], request)).is_ok(),
            "{what}: the call ended before the request was sent"
        );
        let Some(reply) = ok(&what, responses.message().await)? else {
            return Err(format!("{what}: the stream ended without a response"));
        };
        check_payload(&what, reply.payload.as_ref(), response)?;
    }
    drop(requests);
    let extra = ok("end of stream", responses.message().await)?;
    ensure!(extra.is_none(), "a response after the half-close");
    Ok(())
}
