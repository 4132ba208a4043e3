//! rill's side of the gRPC interop tests: the official `grpc.testing` protos (Debian's
//! `grpc-proto` copies) compiled with rill-build, the interop `TestService` ([`server`]), the
//! interop test client ([`client`]) and the command-line flags every implementation's runner
//! uses ([`flags`]).
//!
//! The programs: `interop-server` and `interop-client` (binaries), and the tonic peers
//! `tonic-interop-server` and `tonic-interop-client` (examples: tonic is a dev-dependency).
//! `tests/tonic.rs` checks rill against tonic in both directions with these protos;
//! `tests/nginx.rs` runs the interop cases (and spread, rich-error, metadata and deadline
//! checks) through nginx's `grpc_pass` in front of three rill replicas.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

/// Generated code for the official interop protos (`src/proto/grpc/testing` in grpc/grpc).
pub mod grpc {
    /// Package `grpc.testing`: messages, servers and clients.
    #[allow(missing_docs)]
    pub mod testing {
        rill::include_proto!("grpc.testing");
    }
}

pub mod client;
pub mod flags;
pub mod server;
