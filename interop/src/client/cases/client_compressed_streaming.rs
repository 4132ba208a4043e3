//! client_compressed_streaming: a probe stream (one uncompressed message expecting
//! compression) the server must refuse with INVALID_ARGUMENT, then a compressed message and an
//! uncompressed one on the same call.

use rill::{Code, SendMessage};

use crate::client::support::{bool_value, expect_status, zeros};
use crate::client::{CaseResult, Ctx};
use crate::grpc::testing::StreamingInputCallRequest;

/// A request of `size` bytes with `expect_compressed` set to `compressed`.
pub(super) fn request(compressed: bool, size: usize) -> StreamingInputCallRequest {
    StreamingInputCallRequest {
        payload: Some(zeros(size)),
        expect_compressed: bool_value(compressed),
    }
}

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let probe = [SendMessage::uncompressed(request(true, 27_182))];
    let mut call = rill::Request::stream_with_options(futures_util::stream::iter(probe));
    call.disable_compression();
    let result = ctx.test_service().streaming_input_call(call).await;
    expect_status(
        "uncompressed message expecting compression (probe)",
        result,
        Code::InvalidArgument,
        None,
    )?;
    super::client_compressed_streaming_noprobe::run(ctx).await
}
