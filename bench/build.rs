//! Compiles gRPC's official benchmark protos (Debian `grpc-proto`, /usr/share/grpc-proto)
//! twice, both without protoc: rill code into `$OUT_DIR` and tonic code into
//! `$OUT_DIR/tonic` (for the tonic peer server, an example of this package).
//!
//! `GRPC_PROTO_DIR` overrides the include root (it must hold `grpc/testing/...`).

use std::path::PathBuf;

const PROTOS: &[&str] = &["grpc/testing/benchmark_service.proto"];
const DEFAULT_ROOT: &str = "/usr/share/grpc-proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-env-changed=GRPC_PROTO_DIR");
    let root = std::env::var("GRPC_PROTO_DIR").unwrap_or_else(|_| DEFAULT_ROOT.to_string());
    let probe = PathBuf::from(&root).join(PROTOS[0]);
    if !probe.exists() {
        return Err(format!(
            "{} not found: install Debian's grpc-proto (apt-get install grpc-proto) \
             or set GRPC_PROTO_DIR",
            probe.display()
        )
        .into());
    }
    for file in ["benchmark_service.proto", "messages.proto"] {
        println!("cargo:rerun-if-changed={root}/grpc/testing/{file}");
    }
    let includes = [root.as_str()];
    // `bytes` fields as `bytes::Bytes` for both servers: a reply is built once and each send
    // clones a reference, not the payload (C++ and Go servers also serialize from one message).
    rill_build::configure()
        .bytes(".")
        .compile_protos(PROTOS, &includes)?;

    let tonic_dir = PathBuf::from(std::env::var("OUT_DIR")?).join("tonic");
    std::fs::create_dir_all(&tonic_dir)?;
    let fds = protox::compile(PROTOS, includes)?;
    tonic_prost_build::configure()
        .bytes(".")
        .out_dir(&tonic_dir)
        .emit_rerun_if_changed(false)
        .compile_fds(fds)?;
    Ok(())
}
