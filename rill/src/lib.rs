//! rill: a gRPC framework for Rust — tokio, h2 and prost, wire-compatible with every gRPC.
//!
//! rill implements gRPC over HTTP/2 exactly as grpc/grpc's
//! [PROTOCOL-HTTP2](https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md) describes:
//! the four call types, all 17 status codes with rich error details, ASCII and binary
//! metadata, deadlines, cancellation, gzip/deflate/zstd compression and message size limits.
//!
//! # With generated code (the usual way)
//!
//! `build.rs` compiles your protos with `rill-build` (pure Rust: no `protoc` needed):
//!
//! ```ignore
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     rill_build::compile_protos(&["proto/user.proto"], &["proto"])?;
//!     Ok(())
//! }
//! ```
//!
//! and your crate implements the generated trait with plain `async fn`s:
//!
//! ```ignore
//! pub mod pb { rill::include_proto!("user"); }
//! use pb::user_service_server::{UserService, UserServiceServer};
//!
//! struct Users;
//! impl UserService for Users {
//!     async fn get_user(&self, req: rill::Request<pb::GetUserRequest>)
//!         -> Result<rill::Response<pb::User>, rill::Status> {
//!         Ok(rill::Response::new(pb::User { id: req.get_ref().id, ..Default::default() }))
//!     }
//! }
//!
//! // Server
//! rill::server::Server::builder()
//!     .add_service(UserServiceServer::new(Users))
//!     .serve("127.0.0.1:50051".parse()?)
//!     .await?;
//! // Client
//! let client = pb::user_service_client::UserServiceClient::connect("http://127.0.0.1:50051").await?;
//! let user = client.get_user(pb::GetUserRequest { id: 1 }).await?.into_inner();
//! ```
//!
//! # Without generated code
//!
//! A complete server and client, runnable as is; generated code does exactly this for you.
//!
//! ```
//! use rill::server::{Method, Server, Service};
//! use rill::{Client, Channel, Request, Response, Status};
//!
//! #[derive(Clone, PartialEq, prost::Message)]
//! struct Hello {
//!     #[prost(string, tag = "1")]
//!     name: String,
//! }
//!
//! struct Greeter;
//! impl Service for Greeter {
//!     fn name(&self) -> &'static str {
//!         "demo.Greeter"
//!     }
//!     fn methods(&self) -> Vec<Method> {
//!         vec![Method::unary("SayHello", |req: Request<Hello>| async move {
//!             let name = req.into_inner().name;
//!             Ok::<_, Status>(Response::new(Hello { name: format!("hello, {name}") }))
//!         })]
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = Server::builder().add_service(Greeter);
//! tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
//!
//! let client = Client::new(Channel::connect(&format!("http://{addr}")).await?);
//! let reply: Response<Hello> = client
//!     .unary("/demo.Greeter/SayHello", Request::new(Hello { name: "rill".into() }))
//!     .await?;
//! assert_eq!(reply.get_ref().name, "hello, rill");
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! Modules follow gRPC's own vocabulary: [`status`], [`metadata`], [`codec`] (framing),
//! [`compression`], [`transport`] (HTTP/2), [`server`], [`client`], [`resolver`] (name
//! resolution), [`balancer`] (load balancing), [`observability`] (tracing spans with W3C trace
//! context, metrics, a log line per call, request ids); `tls` and `auth`
//! (bearer tokens, JWT, authorization policy) behind default features. See ARCHITECTURE.md.
#![forbid(unsafe_code)]
// Library code never unwraps: a peer must not be able to crash us.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod codec;
pub mod compression;
pub(crate) mod deadline;
pub mod metadata;
pub mod status;

pub use metadata::MetadataMap;
pub use status::details::ErrorDetails;
pub use status::{Code, Status};

#[cfg(feature = "auth")]
pub mod auth;
pub mod balancer;
pub mod client;
mod error;
mod extensions;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod interceptor;
mod message;
mod middleware;
pub mod observability;
mod request;
pub mod resolver;
mod response;
pub(crate) mod retry;
pub mod server;
pub mod service_config;
mod streaming;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;
pub mod web;

pub use client::{Channel, Client};
pub use error::Error;
pub use extensions::Extensions;
pub use message::{MessageInfo, SendMessage};
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
