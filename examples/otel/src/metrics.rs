//! The `metrics` → OpenTelemetry recorder for rill's `MetricsLayer`.

use metrics_opentelemetry::{OpenTelemetryMetrics, OpenTelemetryRecorder};
use opentelemetry::metrics::Meter;
use rill::observability::{LATENCY_BUCKETS, SIZE_BUCKETS};

/// The latency histograms (seconds) rill records: gRFC A66's buckets apply.
pub const DURATION_METRICS: [&str; 3] = [
    "grpc.server.call.duration",
    "grpc.client.attempt.duration",
    "grpc.client.call.duration",
];

/// The size histograms (bytes per call) rill records.
pub const SIZE_METRICS: [&str; 4] = [
    "grpc.server.call.sent_total_compressed_message_size",
    "grpc.server.call.rcvd_total_compressed_message_size",
    "grpc.client.attempt.sent_total_compressed_message_size",
    "grpc.client.attempt.rcvd_total_compressed_message_size",
];

/// A `metrics` recorder that records onto OTel instruments from `meter` (counters → `Sum`,
/// gauges → `Gauge`, histograms → `Histogram` with A66's buckets for rill's metrics).
/// Install it with `metrics::set_global_recorder`, then call
/// `rill::observability::describe_metrics()` for the units and descriptions.
///
/// ```
/// use opentelemetry::metrics::MeterProvider as _;
/// let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
/// let recorder = otel_example::recorder(provider.meter("rill"));
/// # drop(recorder);
/// ```
pub fn recorder(meter: Meter) -> OpenTelemetryRecorder {
    let mut recorder = OpenTelemetryRecorder::new(OpenTelemetryMetrics::new(meter));
    recorder.set_histogram_bounds_mut(DURATION_METRICS.into_iter(), LATENCY_BUCKETS);
    recorder.set_histogram_bounds_mut(SIZE_METRICS.into_iter(), SIZE_BUCKETS);
    recorder
}
