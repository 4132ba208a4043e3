//! Observability end to end: a server and a client with the tracing, metrics, logging and
//! request-id layers; spans and log lines go to stdout (tracing-subscriber's fmt), metrics
//! to an in-memory recorder printed at the end.
//!
//! Run with `cargo run -p rill --features metrics --example observability`.

use rill::observability::{
    LoggingLayer, MetricsLayer, RequestId, RequestIdLayer, TraceContext, TracingLayer,
};
use rill::server::{Method, Server, Service};
use rill::{Channel, Client, Request, Response, Status};

#[derive(Clone, PartialEq, prost::Message)]
struct Hello {
    #[prost(string, tag = "1")]
    name: String,
}

struct Greeter;

impl Service for Greeter {
    fn name(&self) -> &'static str {
        "demo.Greeter"
    }

    fn methods(&self) -> Vec<Method> {
        vec![Method::unary(
            "SayHello",
            |req: Request<Hello>| async move {
                // What the layers hand the handler.
                let trace = req.extensions().get::<TraceContext>().map(|c| c.trace_id());
                let id = req.extensions().get::<RequestId>().cloned();
                tracing::info!(?trace, ?id, "in the handler");
                let name = req.into_inner().name;
                Ok::<_, Status>(Response::new(Hello {
                    name: format!("hello, {name}"),
                }))
            },
        )]
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::set_global_recorder(recorder)?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = Server::builder()
        .add_service(Greeter)
        .layer(LoggingLayer::new())
        .layer(MetricsLayer::new())
        .layer(TracingLayer::new())
        .layer(RequestIdLayer::new());
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));

    let client = Client::new(Channel::connect(&format!("http://{addr}")).await?)
        .layer(LoggingLayer::new())
        .layer(MetricsLayer::new())
        .layer(TracingLayer::new());
    let mut request = Request::new(Hello {
        name: "rill".into(),
    });
    request.metadata_mut().insert("x-request-id", "example-1")?;
    let reply = client
        .unary::<Hello, Hello>("/demo.Greeter/SayHello", request)
        .await?;
    println!(
        "reply {:?}, x-request-id {:?}",
        reply.get_ref().name,
        reply.metadata().get("x-request-id")
    );

    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        println!("{} {{{}}} {value:?}", key.name(), labels.join(","));
    }
    Ok(())
}
