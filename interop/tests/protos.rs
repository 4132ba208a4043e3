//! rill's copies of the interop protos are Debian's official ones (package `grpc-proto`), byte
//! for byte: every peer of the interop matrix is generated from Debian's, so any difference
//! would make rill's messages disagree with theirs.

use std::path::Path;

const OFFICIAL: &str = "/usr/share/grpc-proto/grpc/testing";
const FILES: [&str; 3] = ["empty.proto", "messages.proto", "test.proto"];

#[test]
fn protos_are_debians_official_copies() {
    let official = Path::new(OFFICIAL);
    if !official.is_dir() {
        eprintln!("skipped: {OFFICIAL} is missing (apt-get install grpc-proto)");
        return;
    }
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/grpc/testing");
    for file in FILES {
        let theirs = std::fs::read(official.join(file)).unwrap();
        let mine = std::fs::read(ours.join(file)).unwrap();
        assert!(
            mine == theirs,
            "interop/proto/grpc/testing/{file} differs from {OFFICIAL}/{file}"
        );
    }
}
