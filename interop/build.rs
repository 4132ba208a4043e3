//! Compiles the gRPC interop protos twice, both without protoc: rill code into `$OUT_DIR`
//! (for the library) and tonic code into `$OUT_DIR/tonic` (for the cross-implementation tests).

use std::path::PathBuf;

const PROTOS: &[&str] = &["grpc/testing/test.proto"];
const INCLUDES: &[&str] = &["proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rill_build::compile_protos(PROTOS, INCLUDES)?;

    let tonic_dir = PathBuf::from(std::env::var("OUT_DIR")?).join("tonic");
    std::fs::create_dir_all(&tonic_dir)?;
    let fds = protox::compile(PROTOS, INCLUDES)?;
    tonic_prost_build::configure()
        .out_dir(&tonic_dir)
        .generate_default_stubs(true)
        .emit_rerun_if_changed(false)
        .compile_fds(fds)?;
    Ok(())
}
