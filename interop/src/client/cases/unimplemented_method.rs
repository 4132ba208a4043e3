//! unimplemented_method: TestService/UnimplementedCall answers UNIMPLEMENTED.

use rill::Code;

use crate::client::support::expect_status;
use crate::client::{CaseResult, Ctx};
use crate::grpc::testing::Empty;

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let result = ctx.test_service().unimplemented_call(Empty {}).await;
    expect_status(
        "TestService/UnimplementedCall",
        result,
        Code::Unimplemented,
        None,
    )
}
