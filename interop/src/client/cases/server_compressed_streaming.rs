//! server_compressed_streaming: two responses, the first compressed and the second not, as
//! each one's `compressed` asks (checked with each message's Compressed-Flag).

use crate::client::support::{bool_value, check_payload, ok, output_request};
use crate::client::{CaseResult, Ctx};

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let sizes = [31_415, 92_653];
    let mut request = output_request(&sizes, 0);
    request.response_parameters[0].compressed = bool_value(true);
    request.response_parameters[1].compressed = bool_value(false);
    let call = ctx.test_service().streaming_output_call(request).await;
    let mut stream = ok("StreamingOutputCall", call)?.into_inner();
    for (i, (size, compressed)) in sizes.into_iter().zip([true, false]).enumerate() {
        let what = format!("response {i}");
        let response = ok(&what, stream.message().await)?;
        let Some(response) = response else {
            return Err(format!("the stream ended after {i} responses instead of 2"));
        };
        let flag = stream.last_message_compressed();
        ensure!(
            flag == compressed,
            "{what}: compressed flag {flag}, but compressed={compressed} was asked for"
        );
        check_payload(&what, response.payload.as_ref(), size)?;
    }
    let extra = ok("end of stream", stream.message().await)?;
    ensure!(extra.is_none(), "more than 2 responses");
    Ok(())
}
