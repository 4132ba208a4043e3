//! rpc_soak: `--soak_iterations` large unary calls on one channel, within the latency and
//! failure limits of the `--soak_*` flags.

use crate::client::soak::{soak, Channels};
use crate::client::{CaseResult, Ctx};

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    soak(ctx, Channels::Shared).await
}
