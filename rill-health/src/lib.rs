//! The standard gRPC health service, `grpc.health.v1.Health`, for rill servers: `Check` and
//! `Watch` exactly as grpc/grpc's
//! [health-checking.md](https://github.com/grpc/grpc/blob/master/doc/health-checking.md)
//! describes, driven by a [`HealthReporter`] handle.
//!
//! - The empty service name `""` is the whole server; it starts out `SERVING`.
//! - `Check` answers the status of a registered service, or `NOT_FOUND` for any other name.
//! - `Watch` sends the current status at once (`SERVICE_UNKNOWN` for a name not registered,
//!   keeping the stream open), then a message each time the status changes: a status is never
//!   sent twice in a row.
//!
//! ```
//! use rill::server::Server;
//! use rill_health::pb::health_client::HealthClient;
//! use rill_health::pb::HealthCheckRequest;
//! use rill_health::ServingStatus;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (reporter, health) = rill_health::health_reporter();
//! reporter.set_service_status("user.UserService", ServingStatus::Serving);
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = Server::builder().add_service(health);
//! tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
//!
//! let client = HealthClient::connect(&format!("http://{addr}")).await?;
//! let request = HealthCheckRequest { service: "user.UserService".into() };
//! let reply = client.check(request).await?.into_inner();
//! assert_eq!(reply.status(), ServingStatus::Serving);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

/// Messages, server and client generated from the official `grpc/health/v1/health.proto`.
#[allow(missing_docs)]
pub mod pb {
    rill::include_proto!("grpc.health.v1");
}

mod reporter;
mod service;

pub use pb::health_check_response::ServingStatus;
pub use pb::health_server::HealthServer;
pub use reporter::HealthReporter;
pub use service::HealthService;

/// The encoded descriptors of `grpc/health/v1/health.proto`, for server reflection:
/// `rill_reflection::ReflectionService::builder().register_encoded_file_descriptor_set(rill_health::FILE_DESCRIPTOR_SET)`.
pub const FILE_DESCRIPTOR_SET: &[u8] = pb::FILE_DESCRIPTOR_SET;

/// A new health service and the reporter that drives it; the whole server (`""`) starts out
/// `SERVING`, every other service unknown until reported.
///
/// ```
/// let (reporter, health) = rill_health::health_reporter();
/// let server = rill::server::Server::builder().add_service(health);
/// assert_eq!(reporter.status(""), Some(rill_health::ServingStatus::Serving));
/// # drop(server);
/// ```
pub fn health_reporter() -> (HealthReporter, HealthServer<HealthService>) {
    let reporter = HealthReporter::new();
    let service = reporter.service();
    (reporter, service)
}
