//! Compiles the official `grpc/health/v1/health.proto` (kept in `proto/`, identical to the one
//! the gRPC project publishes) into messages, server and client.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    rill_build::compile_protos(&["proto/grpc/health/v1/health.proto"], &["proto"])?;
    Ok(())
}
