//! rill-health's `health.proto` is the gRPC project's own, byte for byte: Debian's package
//! `grpc-proto` ships it, and every other implementation is generated from it.

use std::path::Path;

const OFFICIAL: &str = "/usr/share/grpc-proto/grpc/health/v1/health.proto";

#[test]
fn health_proto_is_the_official_one() {
    let official = Path::new(OFFICIAL);
    if !official.is_file() {
        println!("skipped: {OFFICIAL} is missing (apt-get install grpc-proto)");
        return;
    }
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/grpc/health/v1/health.proto");
    let theirs = std::fs::read(official).expect("read the official proto");
    let mine = std::fs::read(&ours).expect("read rill-health's proto");
    assert!(mine == theirs, "{} differs from {OFFICIAL}", ours.display());
}
