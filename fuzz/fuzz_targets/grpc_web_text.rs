#![no_main]
//! Fuzzes rill::fuzzing::grpc_web_text.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill::fuzzing::grpc_web_text(data));
