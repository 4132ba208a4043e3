//! large_unary: a 271828-byte request for a 314159-byte response.

use crate::client::support::{check_payload, ok, simple_request, LARGE_REQUEST, LARGE_RESPONSE};
use crate::client::{CaseResult, Ctx};

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let request = simple_request(LARGE_RESPONSE, LARGE_REQUEST);
    let response = ok("UnaryCall", ctx.test_service().unary_call(request).await)?;
    check_payload(
        "UnaryCall",
        response.get_ref().payload.as_ref(),
        LARGE_RESPONSE,
    )
}
