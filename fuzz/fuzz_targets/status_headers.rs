#![no_main]
//! Fuzzes rill::fuzzing::status_headers.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill::fuzzing::status_headers(data));
