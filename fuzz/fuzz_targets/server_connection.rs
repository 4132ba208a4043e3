#![no_main]
//! Fuzzes rill::fuzzing::server_connection.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill::fuzzing::server_connection(data));
