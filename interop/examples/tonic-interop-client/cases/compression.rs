//! The compression cases tonic can run: per-call client compression, and the server's
//! compressed responses (Compressed-Flags read at the HTTP level).

use tonic::codec::CompressionEncoding;
use tonic::Code;

use crate::ctx::Ctx;
use crate::pb;
use crate::support::{
    check_payload, expect_status, ok, output_request, response_compressed, simple_request,
    CaseResult, LARGE_REQUEST, LARGE_RESPONSE,
};

fn expecting(compressed: bool) -> pb::SimpleRequest {
    pb::SimpleRequest {
        expect_compressed: Some(pb::BoolValue { value: compressed }),
        ..simple_request(LARGE_RESPONSE, LARGE_REQUEST)
    }
}

pub(super) async fn client_compressed_unary(ctx: &Ctx) -> CaseResult {
    let result = ctx.client().unary_call(expecting(true)).await;
    expect_status(
        "uncompressed request expecting compression (probe)",
        result,
        Code::InvalidArgument,
        None,
    )?;
    client_compressed_unary_noprobe(ctx).await
}

pub(super) async fn client_compressed_unary_noprobe(ctx: &Ctx) -> CaseResult {
    let mut compressing = ctx.client().send_compressed(CompressionEncoding::Gzip);
    let response = ok(
        "compressed UnaryCall",
        compressing.unary_call(expecting(true)).await,
    )?;
    check_payload(
        "compressed UnaryCall",
        response.get_ref().payload.as_ref(),
        LARGE_RESPONSE,
    )?;
    let response = ok(
        "uncompressed UnaryCall",
        ctx.client().unary_call(expecting(false)).await,
    )?;
    check_payload(
        "uncompressed UnaryCall",
        response.get_ref().payload.as_ref(),
        LARGE_RESPONSE,
    )
}

pub(super) async fn server_compressed_unary(ctx: &Ctx) -> CaseResult {
    let mut client = ctx.client().accept_compressed(CompressionEncoding::Gzip);
    for compressed in [true, false] {
        let what = format!("UnaryCall with response_compressed={compressed}");
        let request = pb::SimpleRequest {
            response_compressed: Some(pb::BoolValue { value: compressed }),
            ..simple_request(LARGE_RESPONSE, LARGE_REQUEST)
        };
        let response = ok(&what, client.unary_call(request).await)?;
        let flag = response_compressed(&response, 0);
        ensure!(
            flag == Some(compressed),
            "{what}: the response's compressed flag is {flag:?}"
        );
        check_payload(&what, response.get_ref().payload.as_ref(), LARGE_RESPONSE)?;
    }
    Ok(())
}

pub(super) async fn server_compressed_streaming(ctx: &Ctx) -> CaseResult {
    let mut client = ctx.client().accept_compressed(CompressionEncoding::Gzip);
    let sizes = [31_415, 92_653];
    let mut request = output_request(&sizes, 0);
    for (params, compressed) in request.response_parameters.iter_mut().zip([true, false]) {
        params.compressed = Some(pb::BoolValue { value: compressed });
    }
    let response = ok(
        "StreamingOutputCall",
        client.streaming_output_call(request).await,
    )?;
    let flags = response
        .extensions()
        .get::<crate::reframe::MessageFlags>()
        .cloned();
    let mut stream = response.into_inner();
    for (i, (size, compressed)) in sizes.into_iter().zip([true, false]).enumerate() {
        let what = format!("response {i}");
        let Some(message) = ok(&what, stream.message().await)? else {
            return Err(format!("the stream ended after {i} responses instead of 2"));
        };
        let flag = flags.as_ref().and_then(|f| f.compressed(i));
        ensure!(
            flag == Some(compressed),
            "{what}: compressed flag {flag:?}, asked for {compressed}"
        );
        check_payload(&what, message.payload.as_ref(), size)?;
    }
    ensure!(
        ok("end of stream", stream.message().await)?.is_none(),
        "more than 2 responses"
    );
    Ok(())
}
