//! unimplemented_service: a service the server does not host answers UNIMPLEMENTED.

use rill::Code;

use crate::client::support::expect_status;
use crate::client::{CaseResult, Ctx};
use crate::grpc::testing::Empty;

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let result = ctx
        .unimplemented_service()
        .unimplemented_call(Empty {})
        .await;
    expect_status(
        "UnimplementedService/UnimplementedCall",
        result,
        Code::Unimplemented,
        None,
    )
}
