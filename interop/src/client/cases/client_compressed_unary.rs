//! client_compressed_unary: a probe (uncompressed, `expect_compressed`) the server must refuse
//! with INVALID_ARGUMENT, then a compressed and an uncompressed request.

use rill::Code;

use crate::client::support::{
    bool_value, expect_status, simple_request, LARGE_REQUEST, LARGE_RESPONSE,
};
use crate::client::{CaseResult, Ctx};
use crate::grpc::testing::SimpleRequest;

/// The request with `expect_compressed` set to `compressed`.
pub(super) fn request(compressed: bool) -> SimpleRequest {
    SimpleRequest {
        expect_compressed: bool_value(compressed),
        ..simple_request(LARGE_RESPONSE, LARGE_REQUEST)
    }
}

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let probe = rill::Request::new(request(true));
    let result = ctx.test_service().unary_call(probe).await;
    expect_status(
        "uncompressed request expecting compression (probe)",
        result,
        Code::InvalidArgument,
        None,
    )?;
    super::client_compressed_unary_noprobe::run(ctx).await
}
