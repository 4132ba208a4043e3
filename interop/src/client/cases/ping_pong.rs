//! ping_pong: four request/response rounds on one full-duplex call, then half-close.

use crate::client::support::{
    check_payload, ok, output_request, request_channel, REQUEST_SIZES, RESPONSE_SIZES,
};
use crate::client::{CaseResult, Ctx};

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let (requests, stream) = request_channel();
    let rounds: Vec<_> = REQUEST_SIZES.into_iter().zip(RESPONSE_SIZES).collect();
    // The first request goes out with the call: a server may send no response headers
    // before its first response (grpc-go does), so waiting for them first would deadlock.
    let send = |i: usize, (request, response): (usize, usize)| {
        ensure!(
            requests.send(output_request(&[response], request)).is_ok(),
            "round {i}: the call ended before the request was sent"
        );
        Ok(())
    };
    send(0, rounds[0])?;
    let call = ctx.test_service().full_duplex_call(stream).await;
    let mut responses = ok("FullDuplexCall", call)?.into_inner();
    for (i, &(_, response)) in rounds.iter().enumerate() {
        let what = format!("round {i}");
        if i > 0 {
            send(i, rounds[i])?;
        }
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
