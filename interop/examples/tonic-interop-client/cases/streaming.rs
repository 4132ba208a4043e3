//! client_streaming, server_streaming, ping_pong, half_duplex, empty_stream.

use crate::ctx::Ctx;
use crate::pb;
use crate::support::{
    check_payload, check_sizes, drain, ok, output_request, request_channel, zeros, CaseResult,
    REQUEST_SIZES, RESPONSE_SIZES,
};

pub(super) async fn client_streaming(ctx: &Ctx) -> CaseResult {
    let requests = REQUEST_SIZES.map(|size| pb::StreamingInputCallRequest {
        payload: Some(zeros(size)),
        ..Default::default()
    });
    let call = ctx
        .client()
        .streaming_input_call(futures_util::stream::iter(requests))
        .await;
    let total = ok("StreamingInputCall", call)?
        .get_ref()
        .aggregated_payload_size;
    ensure!(
        total == 74_922,
        "aggregated payload size {total} instead of 74922"
    );
    Ok(())
}

pub(super) async fn server_streaming(ctx: &Ctx) -> CaseResult {
    let call = ctx
        .client()
        .streaming_output_call(output_request(&RESPONSE_SIZES, 0))
        .await;
    let mut stream = ok("StreamingOutputCall", call)?.into_inner();
    let responses = ok("StreamingOutputCall", drain(&mut stream).await)?;
    check_sizes("StreamingOutputCall", &responses, &RESPONSE_SIZES)
}

pub(super) async fn ping_pong(ctx: &Ctx) -> CaseResult {
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
    let call = ctx.client().full_duplex_call(stream).await;
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

pub(super) async fn half_duplex(ctx: &Ctx) -> CaseResult {
    let requests = RESPONSE_SIZES.map(|size| output_request(&[size], 0));
    let call = ctx
        .client()
        .half_duplex_call(futures_util::stream::iter(requests))
        .await;
    let mut stream = ok("HalfDuplexCall", call)?.into_inner();
    let responses = ok("HalfDuplexCall", drain(&mut stream).await)?;
    check_sizes("HalfDuplexCall", &responses, &RESPONSE_SIZES)
}

pub(super) async fn empty_stream(ctx: &Ctx) -> CaseResult {
    let requests = futures_util::stream::empty::<pb::StreamingOutputCallRequest>();
    let mut stream = ok(
        "FullDuplexCall",
        ctx.client().full_duplex_call(requests).await,
    )?
    .into_inner();
    let responses = ok("FullDuplexCall", drain(&mut stream).await)?;
    ensure!(
        responses.is_empty(),
        "{} responses instead of none",
        responses.len()
    );
    Ok(())
}
