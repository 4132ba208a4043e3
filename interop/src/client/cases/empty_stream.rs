//! empty_stream: a full-duplex call with no message either way.

use crate::client::support::{drain, ok};
use crate::client::{CaseResult, Ctx};
use crate::grpc::testing::StreamingOutputCallRequest;

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let requests = futures_util::stream::empty::<StreamingOutputCallRequest>();
    let call = ctx.test_service().full_duplex_call(requests).await;
    let mut stream = ok("FullDuplexCall", call)?.into_inner();
    let responses = ok("FullDuplexCall", drain(&mut stream).await)?;
    ensure!(
        responses.is_empty(),
        "{} responses instead of none",
        responses.len()
    );
    Ok(())
}
