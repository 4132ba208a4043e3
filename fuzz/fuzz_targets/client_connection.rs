#![no_main]
//! Fuzzes rill::fuzzing::client_connection.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill::fuzzing::client_connection(data));
