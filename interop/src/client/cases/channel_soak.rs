//! channel_soak: like rpc_soak, but each call on a new channel (a new connection).

use crate::client::soak::{soak, Channels};
use crate::client::{CaseResult, Ctx};

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    soak(ctx, Channels::PerCall).await
}
