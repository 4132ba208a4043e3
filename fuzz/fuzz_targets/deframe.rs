#![no_main]
//! Fuzzes rill::fuzzing::deframe.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill::fuzzing::deframe(data));
