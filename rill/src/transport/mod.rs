//! HTTP/2 glue: the only module that knows about `h2`.
//!
//! Upward it exposes "a call": request/response heads as `http` types, a body of DATA chunks
//! with flow control released as the reader consumes them (`RecvBody`), a sender that waits
//! for flow-control capacity (`SendBody`), trailers and resets. Nothing h2-specific leaks out.
//!
//! The server side runs on one of two HTTP/2 implementations, chosen per server: h2, or
//! rill's own connection in `http2/` (one task per connection, no lock across streams).

mod body;
pub(crate) mod client;
pub(crate) mod http2;
mod io;
pub(crate) mod server;

pub(crate) use body::{RecvBody, SendBody};
pub(crate) use io::BoxIo;
pub use io::Io;

use crate::Status;

/// Maps an h2 error to the gRPC status a call sees: a stream reset per the PROTOCOL-HTTP2
/// "Errors" table; anything that took the whole connection down (GOAWAY, a protocol error on
/// the connection, I/O) is UNAVAILABLE, as in grpc-go, since a new connection may succeed.
pub(crate) fn status_from_h2(err: h2::Error) -> Status {
    match err.reason() {
        Some(reason) if err.is_reset() => {
            let code = match reason {
                h2::Reason::REFUSED_STREAM => crate::Code::Unavailable,
                h2::Reason::CANCEL => crate::Code::Cancelled,
                h2::Reason::ENHANCE_YOUR_CALM => crate::Code::ResourceExhausted,
                h2::Reason::INADEQUATE_SECURITY => crate::Code::PermissionDenied,
                _ => crate::Code::Internal,
            };
            Status::new(code, format!("stream reset: {err}"))
        }
        Some(h2::Reason::NO_ERROR) if err.is_go_away() => {
            Status::unavailable("the server closed the connection (GOAWAY)")
        }
        _ => Status::unavailable(format!("connection error: {err}")),
    }
}
