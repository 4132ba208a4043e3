//! rill: a gRPC framework for Rust.
#![forbid(unsafe_code)]

pub mod codec;
pub mod compression;
pub(crate) mod deadline;
pub mod metadata;
pub mod status;

pub use metadata::MetadataMap;
pub use status::{Code, Status};

pub mod client;
mod error;
mod extensions;
mod request;
mod response;
pub mod server;
mod streaming;
pub mod transport;

pub use client::{Channel, Client};
pub use error::Error;
pub use extensions::Extensions;
pub use request::{IntoRequest, IntoStreamingRequest, Request, RequestStream};
pub use response::Response;
pub use streaming::{BoxStream, Streaming};

/// Default limit on the size of a received message: 4 MiB, as in every gRPC implementation.
pub const DEFAULT_MAX_RECV_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// Includes the code `rill-build` generated for a proto package, e.g.
/// `rill::include_proto!("user")` for `package user;`.
#[macro_export]
macro_rules! include_proto {
    ($package:tt) => {
        include!(concat!(env!("OUT_DIR"), "/", $package, ".rs"));
    };
}
