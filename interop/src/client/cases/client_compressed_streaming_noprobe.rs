//! client_compressed_streaming_noprobe (grpc-java): on one compressing call, a compressed
//! message expecting compression, then an uncompressed one expecting none (total 73086).

use rill::compression::CompressionEncoding;
use rill::SendMessage;

use super::client_compressed_streaming::request;
use crate::client::support::ok;
use crate::client::{CaseResult, Ctx};

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let messages = [
        SendMessage::new(request(true, 27_182)),
        SendMessage::uncompressed(request(false, 45_904)),
    ];
    let mut call = rill::Request::stream_with_options(futures_util::stream::iter(messages));
    call.set_compression(CompressionEncoding::Gzip);
    let response = ok(
        "compressed StreamingInputCall",
        ctx.test_service().streaming_input_call(call).await,
    )?;
    let total = response.get_ref().aggregated_payload_size;
    ensure!(
        total == 73_086,
        "aggregated payload size {total} instead of 73086"
    );
    Ok(())
}
