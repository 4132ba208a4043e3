//! rill's own HTTP/2 server connection (RFC 9113), built for gRPC.
//!
//! One task owns each connection's state: it reads frames and hands DATA to per-stream
//! queues, takes commands (headers, data, trailers, resets, consumed bytes) from the stream
//! handles over one channel, and writes the frames of many streams with one vectored write
//! per turn. No lock is shared by the streams of a connection (hyperium/h2#531), and a unary
//! response leaves as a single command (headers, message and trailers together).
//!
//! Files: `frame` (parsing and encoding), `hpack` (decoding under limits, a stateless
//! encoder; `hpack_decode` and `hpack_table` below it), `request` (request-head validation),
//! `stream` (the handles), `conn` (the task: I/O, stream bookkeeping), `lifecycle`
//! (deadlines, graceful shutdown), `send` (commands, flow-controlled output), `recv`
//! (incoming frames and stream states), `limits` (rapid-reset budget, keepalive
//! enforcement), `write` (the output buffer).

mod conn;
pub(crate) mod frame;
pub(crate) mod hpack;
mod hpack_decode;
mod hpack_table;
mod lifecycle;
mod limits;
mod recv;
mod request;
mod send;
pub(crate) mod stream;
mod write;

pub(crate) use conn::serve;
#[cfg(feature = "fuzzing")]
pub(crate) use request::request_head;
