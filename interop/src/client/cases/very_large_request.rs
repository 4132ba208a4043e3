//! very_large_request (grpc-java): a 10 MiB request for a 10-byte response. The server must
//! accept messages that large (the interop servers allow 16 MiB).

use crate::client::support::{check_payload, ok, simple_request};
use crate::client::{CaseResult, Ctx};

const REQUEST: usize = 10 * 1024 * 1024;

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let request = simple_request(10, REQUEST);
    let response = ok("UnaryCall", ctx.test_service().unary_call(request).await)?;
    check_payload("UnaryCall", response.get_ref().payload.as_ref(), 10)
}
