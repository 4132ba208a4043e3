//! empty_unary, large_unary, very_large_request.

use crate::ctx::Ctx;
use crate::pb;
use crate::support::{
    check_payload, ok, simple_request, CaseResult, LARGE_REQUEST, LARGE_RESPONSE,
};

pub(super) async fn empty_unary(ctx: &Ctx) -> CaseResult {
    let response = ok("EmptyCall", ctx.client().empty_call(pb::Empty {}).await)?;
    ensure!(
        *response.get_ref() == pb::Empty {},
        "EmptyCall answered {:?}",
        response.get_ref()
    );
    Ok(())
}

pub(super) async fn large_unary(ctx: &Ctx) -> CaseResult {
    let request = simple_request(LARGE_RESPONSE, LARGE_REQUEST);
    let response = ok("UnaryCall", ctx.client().unary_call(request).await)?;
    check_payload(
        "UnaryCall",
        response.get_ref().payload.as_ref(),
        LARGE_RESPONSE,
    )
}

/// grpc-java's case: a 10 MiB request for a 10-byte response.
pub(super) async fn very_large_request(ctx: &Ctx) -> CaseResult {
    let request = simple_request(10, 10 * 1024 * 1024);
    let response = ok("UnaryCall", ctx.client().unary_call(request).await)?;
    check_payload("UnaryCall", response.get_ref().payload.as_ref(), 10)
}
