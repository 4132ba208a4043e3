//! A rill server and client whose call metrics and spans are exported through the
//! OpenTelemetry SDK to stdout (`opentelemetry-stdout`): swap the exporters for OTLP to
//! send them to a collector. Run with `cargo run -p otel-example`.

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use otel_example::demo::{self, Hello};
use otel_example::{RillIdGenerator, RillTracer};
use rill::{Channel, Request};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Traces: tracing → tracing-opentelemetry → SDK (rill's W3C ids) → stdout.
    let tracer_provider = SdkTracerProvider::builder()
        .with_id_generator(RillIdGenerator::default())
        .with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
        .build();
    let tracer = RillTracer::new(tracer_provider.tracer("rill"));
    // INFO: rill's call spans, not h2's debug ones.
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(LevelFilter::INFO);
    let subscriber = tracing_subscriber::registry().with(otel_layer);
    tracing::subscriber::set_global_default(subscriber)?;

    // Metrics: the `metrics` façade → metrics-opentelemetry → SDK → stdout.
    let meter_provider = SdkMeterProvider::builder()
        .with_periodic_exporter(opentelemetry_stdout::MetricExporter::default())
        .build();
    metrics::set_global_recorder(otel_example::recorder(meter_provider.meter("rill")))?;
    rill::observability::describe_metrics();

    let addr = demo::serve().await?;
    let client = demo::client(Channel::connect(&format!("http://{addr}")).await?);
    for name in ["rill", ""] {
        let request = Request::new(Hello {
            name: name.into(),
            ..Hello::default()
        });
        match client.unary::<Hello, Hello>(demo::RELAY, request).await {
            Ok(reply) => println!("reply: {:?}", reply.get_ref().name),
            Err(status) => println!("{status}"),
        }
    }

    tracer_provider.shutdown()?;
    meter_provider.shutdown()?;
    Ok(())
}
