//! The test cases tonic can run, and the table that names every case.

mod cancel;
mod compression;
mod errors;
mod soak;
mod streaming;
mod unary;

use std::future::Future;
use std::pin::Pin;

use crate::ctx::Ctx;
use crate::support::CaseResult;

/// A case's entry point.
pub(crate) type CaseFn =
    for<'a> fn(&'a Ctx) -> Pin<Box<dyn Future<Output = CaseResult> + Send + 'a>>;

/// How a case runs on tonic.
pub(crate) enum Run {
    /// It runs.
    Case(CaseFn),
    /// tonic cannot run it, for this reason.
    NotApplicable(&'static str),
}

/// A named test case.
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) run: Run,
}

macro_rules! case {
    ($module:ident :: $name:ident) => {
        Case {
            name: stringify!($name),
            run: Run::Case(|ctx| Box::pin($module::$name(ctx))),
        }
    };
}

const PER_MESSAGE: &str =
    "tonic compresses all of a call's request messages or none, never one of two";

/// Every case of rill's interop client, in the same order.
pub(crate) const CASES: &[Case] = &[
    case!(unary::empty_unary),
    case!(unary::large_unary),
    case!(compression::client_compressed_unary),
    case!(compression::client_compressed_unary_noprobe),
    case!(compression::server_compressed_unary),
    case!(streaming::client_streaming),
    Case {
        name: "client_compressed_streaming",
        run: Run::NotApplicable(PER_MESSAGE),
    },
    Case {
        name: "client_compressed_streaming_noprobe",
        run: Run::NotApplicable(PER_MESSAGE),
    },
    case!(streaming::server_streaming),
    case!(compression::server_compressed_streaming),
    case!(streaming::ping_pong),
    case!(streaming::half_duplex),
    case!(streaming::empty_stream),
    case!(cancel::cancel_after_begin),
    case!(cancel::cancel_after_first_response),
    case!(errors::timeout_on_sleeping_server),
    case!(errors::custom_metadata),
    case!(errors::status_code_and_message),
    case!(errors::special_status_message),
    case!(errors::unimplemented_method),
    case!(errors::unimplemented_service),
    case!(unary::very_large_request),
    case!(soak::rpc_soak),
    case!(soak::channel_soak),
];
