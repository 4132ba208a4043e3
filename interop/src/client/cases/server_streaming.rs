//! server_streaming: one request, four responses of the requested sizes, in order.

use crate::client::support::{check_sizes, drain, ok, output_request, RESPONSE_SIZES};
use crate::client::{CaseResult, Ctx};

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let request = output_request(&RESPONSE_SIZES, 0);
    let call = ctx.test_service().streaming_output_call(request).await;
    let mut stream = ok("StreamingOutputCall", call)?.into_inner();
    let responses = ok("StreamingOutputCall", drain(&mut stream).await)?;
    check_sizes("StreamingOutputCall", &responses, &RESPONSE_SIZES)
}
