//! rill's observability exported through the OpenTelemetry SDK, with no OpenTelemetry code
//! in rill itself:
//!
//! - metrics: rill's `MetricsLayer` records through the `metrics` façade; the
//!   [`metrics-opentelemetry`](https://docs.rs/metrics-opentelemetry) recorder turns each
//!   metric into an OTel instrument of the same name ([`recorder`] also gives the A66
//!   histograms their buckets);
//! - traces: rill's `TracingLayer` spans go to OTel through
//!   [`tracing-opentelemetry`](https://docs.rs/tracing-opentelemetry); [`RillTracer`] and
//!   [`RillIdGenerator`] make each exported span carry the very W3C ids rill propagates in
//!   `traceparent`, so the OTel trace and the wire agree with any OTel-instrumented peer;
//! - [`inject`] / [`extract`]: OTel's propagators over rill's metadata, to start a rill call
//!   inside a trace begun outside rill (or to read a received `traceparent` the OTel way).
//!
//! Run `cargo run -p otel-example`: a server and a client export to stdout.

pub mod demo;
mod ids;
mod metrics;
mod propagation;

pub use ids::{RillIdGenerator, RillTracer};
pub use metrics::{recorder, DURATION_METRICS, SIZE_METRICS};
pub use propagation::{extract, inject};
