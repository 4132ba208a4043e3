//! client_compressed_unary_noprobe (grpc-java): a compressed request expecting compression,
//! then an uncompressed one expecting none.

use rill::compression::CompressionEncoding;

use super::client_compressed_unary::request;
use crate::client::support::{check_payload, ok, LARGE_RESPONSE};
use crate::client::{CaseResult, Ctx};

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    for compressed in [true, false] {
        let what = if compressed {
            "compressed UnaryCall"
        } else {
            "uncompressed UnaryCall"
        };
        let mut request = rill::Request::new(request(compressed));
        if compressed {
            request.set_compression(CompressionEncoding::Gzip);
        } else {
            request.disable_compression();
        }
        let response = ok(what, ctx.test_service().unary_call(request).await)?;
        check_payload(what, response.get_ref().payload.as_ref(), LARGE_RESPONSE)?;
    }
    Ok(())
}
