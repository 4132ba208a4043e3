//! half_duplex (gRPC C++): four requests, half-close, then the four responses in order.

use crate::client::support::{check_sizes, drain, ok, output_request, RESPONSE_SIZES};
use crate::client::{CaseResult, Ctx};

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let requests = RESPONSE_SIZES.map(|size| output_request(&[size], 0));
    let call = ctx
        .test_service()
        .half_duplex_call(futures_util::stream::iter(requests))
        .await;
    let mut stream = ok("HalfDuplexCall", call)?.into_inner();
    let responses = ok("HalfDuplexCall", drain(&mut stream).await)?;
    check_sizes("HalfDuplexCall", &responses, &RESPONSE_SIZES)
}
