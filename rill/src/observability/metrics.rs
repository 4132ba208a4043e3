//! Call metrics through the `metrics` façade, named as gRFC A66 names them
//! (<https://github.com/grpc/proposal/blob/master/A66-otel-stats.md>), plus in-flight gauges
//! and completed/message counters under the same prefixes.

use metrics::{counter, gauge, histogram, Unit};

use super::call::{observe_layer, CallObserver, CallStart, Observe, Side, Summary};
use crate::Request;

/// A66's latency histogram buckets, in seconds: pass them to your exporter (e.g.
/// `PrometheusBuilder::set_buckets_for_metric`) for the `.duration` metrics.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005,
    0.006, 0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16,
    0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
];

/// A66's size histogram buckets, in bytes, for the `_compressed_message_size` metrics.
pub const SIZE_BUCKETS: &[f64] = &[
    0.0,
    1024.0,
    2048.0,
    4096.0,
    16384.0,
    65536.0,
    262144.0,
    1048576.0,
    4194304.0,
    16777216.0,
    67108864.0,
    268435456.0,
    1073741824.0,
    4294967296.0,
];

const SERVER_STARTED: &str = "grpc.server.call.started";
const SERVER_DURATION: &str = "grpc.server.call.duration";
const SERVER_SENT_SIZE: &str = "grpc.server.call.sent_total_compressed_message_size";
const SERVER_RCVD_SIZE: &str = "grpc.server.call.rcvd_total_compressed_message_size";
const SERVER_COMPLETED: &str = "grpc.server.call.completed";
const SERVER_IN_FLIGHT: &str = "grpc.server.call.in_flight";
const SERVER_SENT_MESSAGES: &str = "grpc.server.call.sent_messages";
const SERVER_RCVD_MESSAGES: &str = "grpc.server.call.rcvd_messages";
const CLIENT_STARTED: &str = "grpc.client.attempt.started";
const CLIENT_ATTEMPT_DURATION: &str = "grpc.client.attempt.duration";
const CLIENT_CALL_DURATION: &str = "grpc.client.call.duration";
const CLIENT_SENT_SIZE: &str = "grpc.client.attempt.sent_total_compressed_message_size";
const CLIENT_RCVD_SIZE: &str = "grpc.client.attempt.rcvd_total_compressed_message_size";
const CLIENT_COMPLETED: &str = "grpc.client.call.completed";
const CLIENT_IN_FLIGHT: &str = "grpc.client.call.in_flight";
const CLIENT_SENT_MESSAGES: &str = "grpc.client.attempt.sent_messages";
const CLIENT_RCVD_MESSAGES: &str = "grpc.client.attempt.rcvd_messages";

/// Registers units and descriptions of every metric [`MetricsLayer`] records with the
/// installed recorder (exporters show them as help text). Optional; call once after
/// installing the recorder.
pub fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    for (name, what) in [
        (SERVER_STARTED, "calls started on the server"),
        (CLIENT_STARTED, "call attempts started on the client"),
        (SERVER_COMPLETED, "calls completed on the server, by status"),
        (CLIENT_COMPLETED, "calls completed on the client, by status"),
        (SERVER_SENT_MESSAGES, "messages sent by the server"),
        (SERVER_RCVD_MESSAGES, "messages received by the server"),
        (CLIENT_SENT_MESSAGES, "messages sent by the client"),
        (CLIENT_RCVD_MESSAGES, "messages received by the client"),
    ] {
        describe_counter!(name, Unit::Count, what);
    }
    describe_gauge!(
        SERVER_IN_FLIGHT,
        Unit::Count,
        "calls in progress on the server"
    );
    describe_gauge!(
        CLIENT_IN_FLIGHT,
        Unit::Count,
        "calls in progress on the client"
    );
    for (name, what) in [
        (SERVER_DURATION, "end-to-end time of a call on the server"),
        (CLIENT_ATTEMPT_DURATION, "end-to-end time of a call attempt"),
        (
            CLIENT_CALL_DURATION,
            "end-to-end time of a call on the client",
        ),
    ] {
        describe_histogram!(name, Unit::Seconds, what);
    }
    for (name, what) in [
        (
            SERVER_SENT_SIZE,
            "bytes of messages sent per call (compressed)",
        ),
        (
            SERVER_RCVD_SIZE,
            "bytes of messages received per call (compressed)",
        ),
        (
            CLIENT_SENT_SIZE,
            "bytes of messages sent per attempt (compressed)",
        ),
        (
            CLIENT_RCVD_SIZE,
            "bytes of messages received per attempt (compressed)",
        ),
    ] {
        describe_histogram!(name, Unit::Bytes, what);
    }
}

/// A layer that records call metrics through the [`metrics`](https://docs.rs/metrics)
/// façade (feature `metrics`): install any recorder (Prometheus, OpenTelemetry, statsd…).
///
/// Labels: `grpc.method` (`package.Service/Method`), `grpc.status` (`OK`, `NOT_FOUND`…) on
/// what is recorded at the end, `grpc.target` (the channel's authority) on the client.
///
/// | server | client | kind |
/// |---|---|---|
/// | `grpc.server.call.started` | `grpc.client.attempt.started` | counter |
/// | `grpc.server.call.duration` | `grpc.client.attempt.duration`, `grpc.client.call.duration` | histogram, s |
/// | `grpc.server.call.sent_total_compressed_message_size` | `grpc.client.attempt.sent_total_compressed_message_size` | histogram, bytes per call |
/// | `grpc.server.call.rcvd_total_compressed_message_size` | `grpc.client.attempt.rcvd_total_compressed_message_size` | histogram, bytes per call |
/// | `grpc.server.call.completed` | `grpc.client.call.completed` | counter |
/// | `grpc.server.call.sent_messages`, `.rcvd_messages` | `grpc.client.attempt.sent_messages`, `.rcvd_messages` | counter |
/// | `grpc.server.call.in_flight` | `grpc.client.call.in_flight` | gauge |
///
/// The first four rows are gRFC A66's; the rest are rill's. The client layer sees a call as
/// one attempt (rill has no built-in retries).
///
/// ```
/// let server = rill::server::Server::builder().layer(rill::observability::MetricsLayer::new());
/// # drop(server);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MetricsLayer {
    _private: (),
}

impl MetricsLayer {
    /// The layer.
    ///
    /// ```
    /// let client = rill::Client::new(rill::Channel::lazy("localhost:50051").unwrap())
    ///     .layer(rill::observability::MetricsLayer::new());
    /// # drop(client);
    /// ```
    pub fn new() -> Self {
        MetricsLayer::default()
    }
}

observe_layer!(MetricsLayer);

/// The labels of one call.
pub(crate) struct MeteredCall {
    side: Side,
    method: String,
    target: String,
}

impl Observe for MetricsLayer {
    type Call = MeteredCall;

    fn start(&self, call: &CallStart<'_>, _head: &mut Request<()>) -> MeteredCall {
        let method = super::method_label(call.path).to_owned();
        let target = call.target.unwrap_or_default().to_owned();
        match call.side {
            Side::Server => {
                counter!(SERVER_STARTED, "grpc.method" => method.clone()).increment(1);
                gauge!(SERVER_IN_FLIGHT, "grpc.method" => method.clone()).increment(1.0);
            }
            Side::Client => {
                let labels = [
                    ("grpc.method", method.clone()),
                    ("grpc.target", target.clone()),
                ];
                counter!(CLIENT_STARTED, &labels).increment(1);
                gauge!(CLIENT_IN_FLIGHT, &labels).increment(1.0);
            }
        }
        MeteredCall {
            side: call.side,
            method,
            target,
        }
    }
}

impl CallObserver for MeteredCall {
    fn finish(&self, s: &Summary<'_>) {
        let status = s.code.as_str();
        let seconds = s.elapsed.as_secs_f64();
        match self.side {
            Side::Server => {
                let method = self.method.clone();
                gauge!(SERVER_IN_FLIGHT, "grpc.method" => method.clone()).decrement(1.0);
                let labels = [("grpc.method", method), ("grpc.status", status.to_owned())];
                histogram!(SERVER_DURATION, &labels).record(seconds);
                histogram!(SERVER_SENT_SIZE, &labels).record(s.sent_bytes as f64);
                histogram!(SERVER_RCVD_SIZE, &labels).record(s.received_bytes as f64);
                counter!(SERVER_COMPLETED, &labels).increment(1);
                counter!(SERVER_SENT_MESSAGES, &labels).increment(s.sent_messages);
                counter!(SERVER_RCVD_MESSAGES, &labels).increment(s.received_messages);
            }
            Side::Client => {
                let (method, target) = (self.method.clone(), self.target.clone());
                let start = [
                    ("grpc.method", method.clone()),
                    ("grpc.target", target.clone()),
                ];
                gauge!(CLIENT_IN_FLIGHT, &start).decrement(1.0);
                let labels = [
                    ("grpc.method", method),
                    ("grpc.target", target),
                    ("grpc.status", status.to_owned()),
                ];
                histogram!(CLIENT_ATTEMPT_DURATION, &labels).record(seconds);
                histogram!(CLIENT_CALL_DURATION, &labels).record(seconds);
                histogram!(CLIENT_SENT_SIZE, &labels).record(s.sent_bytes as f64);
                histogram!(CLIENT_RCVD_SIZE, &labels).record(s.received_bytes as f64);
                counter!(CLIENT_COMPLETED, &labels).increment(1);
                counter!(CLIENT_SENT_MESSAGES, &labels).increment(s.sent_messages);
                counter!(CLIENT_RCVD_MESSAGES, &labels).increment(s.received_messages);
            }
        }
    }
}
