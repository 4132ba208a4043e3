//! server_compressed_unary: the server compresses the response when `response_compressed` asks,
//! and only then (checked with the message's Compressed-Flag).

use rill::MessageInfo;

use crate::client::support::{
    bool_value, check_payload, ok, simple_request, LARGE_REQUEST, LARGE_RESPONSE,
};
use crate::client::{CaseResult, Ctx};
use crate::grpc::testing::SimpleRequest;

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    for compressed in [true, false] {
        let what = format!("UnaryCall with response_compressed={compressed}");
        let request = SimpleRequest {
            response_compressed: bool_value(compressed),
            ..simple_request(LARGE_RESPONSE, LARGE_REQUEST)
        };
        let response = ok(&what, ctx.test_service().unary_call(request).await)?;
        let flag = response
            .extensions()
            .get::<MessageInfo>()
            .is_some_and(MessageInfo::compressed);
        ensure!(
            flag == compressed,
            "{what}: the response's compressed flag is {flag}"
        );
        check_payload(&what, response.get_ref().payload.as_ref(), LARGE_RESPONSE)?;
    }
    Ok(())
}
