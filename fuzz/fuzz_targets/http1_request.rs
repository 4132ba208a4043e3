#![no_main]
//! Fuzzes rill::fuzzing::http1_request.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill::fuzzing::http1_request(data));
