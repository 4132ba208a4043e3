//! `tests/protocol.rs` again, with the server on the h2 backend: the suite's
//! servers come from `common::server_builder`, which picks the backend from this file's name.

#[path = "protocol.rs"]
mod suite;
