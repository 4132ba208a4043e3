#![no_main]
//! Fuzzes rill::fuzzing::service_config (the JSON service config parser).
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill::fuzzing::service_config(data));
