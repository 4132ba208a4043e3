//! rill-reflection's protos are the gRPC project's own, byte for byte: Debian's package
//! `grpc-proto` ships them, and every other implementation is generated from them.

use std::path::Path;

const OFFICIAL: &str = "/usr/share/grpc-proto";
const FILES: [&str; 2] = [
    "grpc/reflection/v1/reflection.proto",
    "grpc/reflection/v1alpha/reflection.proto",
];

#[test]
fn reflection_protos_are_the_official_ones() {
    let official = Path::new(OFFICIAL);
    if !official.join(FILES[0]).is_file() {
        println!(
            "skipped: {OFFICIAL}/{} is missing (apt-get install grpc-proto)",
            FILES[0]
        );
        return;
    }
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
    for file in FILES {
        let theirs = std::fs::read(official.join(file)).expect("read the official proto");
        let mine = std::fs::read(ours.join(file)).expect("read rill-reflection's proto");
        assert!(
            mine == theirs,
            "proto/{file} differs from {OFFICIAL}/{file}"
        );
    }
}
