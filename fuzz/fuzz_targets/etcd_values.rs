#![no_main]
//! Fuzzes rill_etcd::fuzzing::etcd_values (registry values as the etcd resolver reads them).
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill_etcd::fuzzing::etcd_values(data));
