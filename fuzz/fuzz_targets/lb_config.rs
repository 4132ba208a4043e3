#![no_main]
//! Fuzzes rill::fuzzing::lb_config.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill::fuzzing::lb_config(data));
