//! rill's call metrics (gRFC A66 names, through the `metrics` façade) recorded onto
//! OpenTelemetry instruments by the example's recorder and read back from the SDK's
//! in-memory exporter: names, kinds, units, attributes, counts, sums and buckets.

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use otel_example::demo::{self, Hello, SAY_HELLO};
use prost::Message as _;
use rill::observability::{LATENCY_BUCKETS, SIZE_BUCKETS};
use rill::{Channel, Code, Request};

fn find<'a>(metrics: &'a ResourceMetrics, name: &str) -> &'a Metric {
    metrics
        .scope_metrics()
        .flat_map(|scope| scope.metrics())
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no {name} in {metrics:#?}"))
}

/// `key=value` pairs, sorted: a data point's attributes.
fn labels<'a>(attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>) -> Vec<String> {
    let mut labels: Vec<String> = attributes
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    labels.sort();
    labels
}

/// A monotonic `u64` sum's value for the attributes.
fn sum(metrics: &ResourceMetrics, name: &str, attributes: &[&str]) -> u64 {
    let AggregatedMetrics::U64(MetricData::Sum(sum)) = find(metrics, name).data() else {
        panic!("{name} is not a u64 sum");
    };
    assert!(sum.is_monotonic(), "{name}");
    let points: Vec<u64> = sum
        .data_points()
        .filter(|p| labels(p.attributes()) == attributes)
        .map(|p| p.value())
        .collect();
    assert_eq!(points.len(), 1, "{name} {attributes:?}: {sum:#?}");
    points[0]
}

/// A histogram's (count, sum, bounds) for the attributes.
fn histogram(metrics: &ResourceMetrics, name: &str, attributes: &[&str]) -> (u64, f64, Vec<f64>) {
    let AggregatedMetrics::F64(MetricData::Histogram(histogram)) = find(metrics, name).data()
    else {
        panic!("{name} is not an f64 histogram");
    };
    let points: Vec<_> = histogram
        .data_points()
        .filter(|p| labels(p.attributes()) == attributes)
        .map(|p| (p.count(), p.sum(), p.bounds().collect()))
        .collect();
    assert_eq!(points.len(), 1, "{name} {attributes:?}: {histogram:#?}");
    points[0].clone()
}

/// A gauge's value for the attributes.
fn gauge(metrics: &ResourceMetrics, name: &str, attributes: &[&str]) -> f64 {
    let AggregatedMetrics::F64(MetricData::Gauge(gauge)) = find(metrics, name).data() else {
        panic!("{name} is not an f64 gauge");
    };
    let points: Vec<f64> = gauge
        .data_points()
        .filter(|p| labels(p.attributes()) == attributes)
        .map(|p| p.value())
        .collect();
    assert_eq!(points.len(), 1, "{name} {attributes:?}: {gauge:#?}");
    points[0]
}

#[tokio::test]
async fn a66_metrics_reach_opentelemetry_with_their_values() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    metrics::set_global_recorder(otel_example::recorder(provider.meter("rill"))).unwrap();
    rill::observability::describe_metrics();

    let addr = demo::serve().await.unwrap();
    let client = demo::client(Channel::connect(&format!("http://{addr}")).await.unwrap());
    let request = Hello {
        name: "otel".into(),
        ..Hello::default()
    };
    let mut replies = 0;
    for _ in 0..2 {
        let reply = client
            .unary::<Hello, Hello>(SAY_HELLO, Request::new(request.clone()))
            .await
            .unwrap();
        replies += reply.get_ref().encoded_len();
    }
    let empty = Request::new(Hello::default());
    let status = client
        .unary::<Hello, Hello>(SAY_HELLO, empty)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    provider.force_flush().unwrap();
    let exported = exporter.get_finished_metrics().unwrap();
    let metrics = exported.last().expect("an export");

    let method = "grpc.method=demo.Greeter/SayHello";
    let target = format!("grpc.target=127.0.0.1:{}", addr.port());
    let target = target.as_str();
    let (ok, not_found) = ("grpc.status=OK", "grpc.status=NOT_FOUND");

    // Server: started, duration by status, sizes.
    assert_eq!(sum(metrics, "grpc.server.call.started", &[method]), 3);
    assert_eq!(find(metrics, "grpc.server.call.started").unit(), "1");
    let duration = "grpc.server.call.duration";
    assert_eq!(find(metrics, duration).unit(), "s");
    let (count, seconds, bounds) = histogram(metrics, duration, &[method, ok]);
    assert_eq!(count, 2);
    assert!(seconds > 0.0 && seconds < 10.0, "{seconds}");
    assert_eq!(bounds, LATENCY_BUCKETS);
    assert_eq!(histogram(metrics, duration, &[method, not_found]).0, 1);
    let rcvd = "grpc.server.call.rcvd_total_compressed_message_size";
    assert_eq!(find(metrics, rcvd).unit(), "By");
    let (count, bytes, bounds) = histogram(metrics, rcvd, &[method, ok]);
    assert_eq!((count, bytes), (2, 2.0 * request.encoded_len() as f64));
    assert_eq!(bounds, SIZE_BUCKETS);
    let sent = "grpc.server.call.sent_total_compressed_message_size";
    let (count, bytes, _) = histogram(metrics, sent, &[method, ok]);
    assert_eq!((count, bytes), (2, replies as f64));
    assert_eq!(histogram(metrics, sent, &[method, not_found]).1, 0.0);

    // Client: attempt started, attempt and call durations, sizes (with grpc.target).
    let started = "grpc.client.attempt.started";
    assert_eq!(sum(metrics, started, &[method, target]), 3);
    for duration in ["grpc.client.attempt.duration", "grpc.client.call.duration"] {
        assert_eq!(find(metrics, duration).unit(), "s");
        let (count, _, bounds) = histogram(metrics, duration, &[method, ok, target]);
        assert_eq!(count, 2, "{duration}");
        assert_eq!(bounds, LATENCY_BUCKETS);
        assert_eq!(
            histogram(metrics, duration, &[method, not_found, target]).0,
            1
        );
    }
    let sent = "grpc.client.attempt.sent_total_compressed_message_size";
    let (count, bytes, _) = histogram(metrics, sent, &[method, ok, target]);
    assert_eq!((count, bytes), (2, 2.0 * request.encoded_len() as f64));
    let rcvd = "grpc.client.attempt.rcvd_total_compressed_message_size";
    let (count, bytes, _) = histogram(metrics, rcvd, &[method, ok, target]);
    assert_eq!((count, bytes), (2, replies as f64));

    // rill's own: completed by status, in-flight back to zero.
    let completed = "grpc.server.call.completed";
    assert_eq!(sum(metrics, completed, &[method, not_found]), 1);
    assert_eq!(sum(metrics, completed, &[method, ok]), 2);
    let completed = "grpc.client.call.completed";
    assert_eq!(sum(metrics, completed, &[method, not_found, target]), 1);
    assert_eq!(gauge(metrics, "grpc.server.call.in_flight", &[method]), 0.0);
    let in_flight = "grpc.client.call.in_flight";
    assert_eq!(gauge(metrics, in_flight, &[method, target]), 0.0);
}
