//! empty_unary: a zero-size request and response.

use crate::client::support::ok;
use crate::client::{CaseResult, Ctx};
use crate::grpc::testing::Empty;

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let response = ok("EmptyCall", ctx.test_service().empty_call(Empty {}).await)?;
    ensure!(
        *response.get_ref() == Empty {},
        "EmptyCall answered {:?}",
        response.get_ref()
    );
    Ok(())
}
