#![no_main]
//! Fuzzes rill::fuzzing::trace_context (W3C traceparent / tracestate).
libfuzzer_sys::fuzz_target!(|data: &[u8]| rill::fuzzing::trace_context(data));
