//! The test cases, one module each, and the table that names them.

use std::future::Future;
use std::pin::Pin;

use super::{CaseResult, Ctx};

/// A case's entry point.
pub type CaseFn = for<'a> fn(&'a Ctx) -> Pin<Box<dyn Future<Output = CaseResult> + Send + 'a>>;

/// A named test case.
#[derive(Debug)]
pub struct Case {
    /// The name `--test_case` selects it by.
    pub name: &'static str,
    /// Runs it.
    pub run: CaseFn,
}

// One module per case (declared here, not by the macro, so that rustfmt sees them).
mod cancel_after_begin;
mod cancel_after_first_response;
mod channel_soak;
mod client_compressed_streaming;
mod client_compressed_streaming_noprobe;
mod client_compressed_unary;
mod client_compressed_unary_noprobe;
mod client_streaming;
mod custom_metadata;
mod empty_stream;
mod empty_unary;
mod half_duplex;
mod large_unary;
mod ping_pong;
mod rpc_soak;
mod server_compressed_streaming;
mod server_compressed_unary;
mod server_streaming;
mod special_status_message;
mod status_code_and_message;
mod timeout_on_sleeping_server;
mod unimplemented_method;
mod unimplemented_service;
mod very_large_request;

/// Lists each case module in [`CASES`], in this order.
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// Every case, in the order `--test_case=all` runs them.
        pub const CASES: &[Case] = &[
            $(Case {
                name: stringify!($name),
                run: |ctx| Box::pin($name::run(ctx)),
            }),*
        ];
    };
}

cases! {
    empty_unary,
    large_unary,
    client_compressed_unary,
    client_compressed_unary_noprobe,
    server_compressed_unary,
    client_streaming,
    client_compressed_streaming,
    client_compressed_streaming_noprobe,
    server_streaming,
    server_compressed_streaming,
    ping_pong,
    half_duplex,
    empty_stream,
    cancel_after_begin,
    cancel_after_first_response,
    timeout_on_sleeping_server,
    custom_metadata,
    status_code_and_message,
    special_status_message,
    unimplemented_method,
    unimplemented_service,
    very_large_request,
    rpc_soak,
    channel_soak,
}

/// The case named `name`.
pub fn find(name: &str) -> Option<&'static Case> {
    CASES.iter().find(|case| case.name == name)
}
