#![no_main]
//! Fuzzes rill::fuzzing::http2_frames.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill::fuzzing::http2_frames(data));
