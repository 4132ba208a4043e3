//! rill's own HTTP/2 connection (RFC 9113), server and client, built for gRPC.
//!
//! One task owns each connection's state: it reads frames and hands DATA to per-stream
//! queues, takes commands (headers, data, trailers, resets, consumed bytes; on a client,
//! new streams) from the stream handles over one channel, and writes the frames of many
//! streams with one vectored write per turn. No lock is shared by the streams of a
//! connection (hyperium/h2#531); a unary response (headers, message, trailers) and a unary
//! request (headers, message, END_STREAM) each leave as a single command.
//!
//! Files: `frame` (parsing and encoding), `hpack` (decoding under limits, an encoder for
//! gRPC's recurring fields; `hpack_decode` and `hpack_table` below it), `request` (head
//! validation), `stream` (the handles), `output` (flow-controlled sending, both ends),
//! `write` (the output buffer), `read` (read sizes). Server: `conn` (the task: I/O, stream bookkeeping),
//! `lifecycle` (deadlines, graceful shutdown), `send` (commands), `recv` (incoming frames
//! and stream states), `limits` (rapid-reset budget, keepalive enforcement). Client:
//! `client` (the handle and the task), `client_recv` (incoming frames).

pub(crate) mod client;
mod client_recv;
mod conn;
pub(crate) mod frame;
pub(crate) mod hpack;
mod hpack_decode;
mod hpack_table;
mod lifecycle;
mod limits;
mod output;
mod read;
mod recv;
mod request;
mod send;
pub(crate) mod stream;
mod write;

pub(crate) use conn::serve;
#[cfg(feature = "fuzzing")]
pub(crate) use request::request_head;
