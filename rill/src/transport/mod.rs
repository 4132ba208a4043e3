//! HTTP/2 glue: the only module that knows about `h2`.
//!
//! Upward it exposes "a call": request/response heads as `http` types, a body of DATA chunks
//! with flow control released as the reader consumes them ([`RecvBody`]), a sender that waits
//! for flow-control capacity ([`SendBody`]), trailers and resets. Nothing h2-specific leaks out.

mod body;
pub(crate) mod client;
mod io;
pub(crate) mod server;

pub(crate) use body::{RecvBody, SendBody};
pub(crate) use io::BoxIo;
pub use io::Io;

use crate::Status;

/// Maps an h2 error to the gRPC status a call sees (PROTOCOL-HTTP2 "Errors" table).
pub(crate) fn status_from_h2(err: h2::Error) -> Status {
    if let Some(reason) = err.reason() {
        let code = match reason {
            h2::Reason::NO_ERROR
            | h2::Reason::PROTOCOL_ERROR
            | h2::Reason::INTERNAL_ERROR
            | h2::Reason::FLOW_CONTROL_ERROR
            | h2::Reason::SETTINGS_TIMEOUT
            | h2::Reason::FRAME_SIZE_ERROR
            | h2::Reason::COMPRESSION_ERROR
            | h2::Reason::CONNECT_ERROR => crate::Code::Internal,
            h2::Reason::REFUSED_STREAM => crate::Code::Unavailable,
            h2::Reason::CANCEL => crate::Code::Cancelled,
            h2::Reason::ENHANCE_YOUR_CALM => crate::Code::ResourceExhausted,
            h2::Reason::INADEQUATE_SECURITY => crate::Code::PermissionDenied,
            _ => crate::Code::Internal,
        };
        // A GOAWAY or a reset of the whole connection means the server went away: retryable.
        if err.is_go_away() && reason == h2::Reason::NO_ERROR {
            return Status::unavailable("the server closed the connection (GOAWAY)");
        }
        return Status::new(code, format!("stream error: {err}"));
    }
    if err.is_io() {
        return Status::unavailable(format!("connection error: {err}"));
    }
    Status::unavailable(format!("http/2 error: {err}"))
}
