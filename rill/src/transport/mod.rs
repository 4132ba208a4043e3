//! HTTP/2: the only module that knows about `h2` or frames.
//!
//! Upward it exposes "a call": request/response heads as `http` types, a body of DATA chunks
//! with flow control released as the reader consumes them (`RecvBody`), a sender that waits
//! for flow-control capacity (`SendBody`), trailers and resets. Nothing h2-specific leaks out.
//!
//! Both sides run on one of two HTTP/2 implementations, chosen per server and per channel:
//! rill's own connection in `http2/` (one task per connection, no lock across streams; the
//! default), or h2.

mod body;
pub(crate) mod client;
pub(crate) mod http1;
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
    // REFUSED_STREAM from the server, or a GOAWAY whose last stream id is below this stream's
    // (h2 fails only those streams when the GOAWAY arrives; later failures are I/O errors):
    // the server's application never saw the call (PROTOCOL-HTTP2, gRFC A6).
    let refused = err.is_reset() && err.reason() == Some(h2::Reason::REFUSED_STREAM);
    if err.is_remote() && (refused || err.is_go_away()) {
        return Status::unavailable(format!("{UNPROCESSED}{err}"));
    }
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

/// How the message of a status for a call the server never processed starts.
pub(crate) const UNPROCESSED: &str = "the server did not process the call: ";

/// Whether `status` says the server's application never saw the call (so retrying it
/// transparently is safe).
pub(crate) fn is_unprocessed(status: &Status) -> bool {
    status.code() == crate::Code::Unavailable && status.message().starts_with(UNPROCESSED)
}
