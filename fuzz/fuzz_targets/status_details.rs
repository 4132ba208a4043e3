#![no_main]
//! Fuzzes rill::fuzzing::status_details.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill::fuzzing::status_details(data));
