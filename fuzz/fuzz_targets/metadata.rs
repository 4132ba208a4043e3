#![no_main]
//! Fuzzes rill::fuzzing::metadata.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill::fuzzing::metadata(data));
