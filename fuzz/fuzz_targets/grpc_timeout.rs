#![no_main]
//! Fuzzes rill::fuzzing::grpc_timeout.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill::fuzzing::grpc_timeout(data));
