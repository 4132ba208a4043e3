//! rill's side of the gRPC interop tests: the official `grpc.testing` protos compiled with
//! rill-build, and [`server::TestServiceImpl`], the interop `TestService` on rill.
//!
//! `tests/tonic.rs` checks rill against tonic in both directions with these protos.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

/// Generated code for the official interop protos (`src/proto/grpc/testing` in grpc/grpc).
pub mod grpc {
    /// Package `grpc.testing`: messages, servers and clients.
    #[allow(missing_docs)]
    pub mod testing {
        rill::include_proto!("grpc.testing");
    }
}

pub mod server;
