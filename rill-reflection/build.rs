//! Compiles the official `grpc/reflection/v1/reflection.proto` and its `v1alpha` twin (kept in
//! `proto/`, identical to the ones the gRPC project publishes). The two packages have the same
//! messages, so v1alpha's service uses the v1 Rust types.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    rill_build::configure()
        .extern_path(".grpc.reflection.v1alpha", "crate::pb::v1")
        // Files are sent as registered: shared, not copied.
        .bytes(".grpc.reflection.v1.FileDescriptorResponse.file_descriptor_proto")
        .compile(
            &[
                "proto/grpc/reflection/v1/reflection.proto",
                "proto/grpc/reflection/v1alpha/reflection.proto",
            ],
            &["proto"],
        )?;
    Ok(())
}
