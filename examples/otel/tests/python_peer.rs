//! A third-party peer instrumented with OpenTelemetry: Python grpcio with
//! opentelemetry-sdk and opentelemetry-instrumentation-grpc (needs `RILL_PYTHON` with those
//! installed, as scripts/test sets it). Its spans and rill's exported spans are one trace,
//! parent and child by the same ids, in both directions.

use std::collections::HashMap;
use std::process::Stdio;

use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::SpanData;
use otel_example::demo::{self, Hello, SAY_HELLO};
use rill::{Channel, Request};
use tokio::io::{AsyncBufReadExt, BufReader};

mod common;
use common::otel;

fn python() -> Option<std::ffi::OsString> {
    let python = std::env::var_os("RILL_PYTHON").filter(|p| !p.is_empty());
    if python.is_none() {
        println!("skipped: set RILL_PYTHON (scripts/test does)");
    }
    python
}

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/otel_peer.py")
}

fn only(spans: &[SpanData], kind: SpanKind) -> &SpanData {
    let found: Vec<_> = spans.iter().filter(|s| s.span_kind == kind).collect();
    assert_eq!(found.len(), 1, "{kind:?} in {spans:#?}");
    found[0]
}

/// The Python client's span is the parent of rill's server span.
#[tokio::test]
async fn an_instrumented_grpcio_client_is_the_parent_of_rills_server_span() {
    let Some(python) = python() else { return };
    let (exporter, _provider, _guard) = otel();
    let addr = demo::serve().await.unwrap();
    // Awaited here: the runtime polls the server while the client runs.
    let output = tokio::process::Command::new(python)
        .arg(script())
        .args(["client", &addr.to_string()])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let peer: HashMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(peer["reply"], "hello, python");
    assert_eq!(peer["trace_id"].len(), 32);

    let spans = exporter.get_finished_spans().unwrap();
    let server = only(&spans, SpanKind::Server);
    assert_eq!(server.name, "demo.Greeter/SayHello");
    assert_eq!(server.span_context.trace_id().to_string(), peer["trace_id"]);
    assert_eq!(server.parent_span_id.to_string(), peer["span_id"]);
    // Its own id is rill's too (the one rill would send downstream).
    let rill_span_id = server
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "span_id")
        .map(|kv| kv.value.to_string());
    assert_eq!(
        rill_span_id,
        Some(server.span_context.span_id().to_string())
    );
    // The traceparent rill's handler saw is the Python span's (grpcio's flags are 03:
    // sampled, and W3C level 2's random trace id).
    let traceparent = format!("00-{}-{}-", peer["trace_id"], peer["span_id"]);
    assert!(peer["traceparent"].starts_with(&traceparent), "{stdout}");
    assert!(server.span_context.is_sampled());
}

/// rill's client span is the parent of the Python server's span.
#[tokio::test]
async fn rills_client_span_is_the_parent_of_an_instrumented_grpcio_server_span() {
    let Some(python) = python() else { return };
    let (exporter, _provider, _guard) = otel();
    let mut server = tokio::process::Command::new(python)
        .arg(script())
        .arg("server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().expect("the port");
    let port = line.strip_prefix("port=").expect("port=N");

    let client = demo::client(
        Channel::connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap(),
    );
    let request = Request::new(Hello {
        name: "rill".into(),
        ..Hello::default()
    });
    let reply = client
        .unary::<Hello, Hello>(SAY_HELLO, request)
        .await
        .unwrap();
    drop(server.stdin.take());
    server.wait().await.unwrap();

    assert_eq!(reply.get_ref().name, "hello, rill");
    let python_span: Vec<&str> = reply.get_ref().context.split('/').collect();
    let spans = exporter.get_finished_spans().unwrap();
    let client_span = only(&spans, SpanKind::Client);
    let ctx = &client_span.span_context;
    assert_eq!(
        python_span,
        [
            ctx.trace_id().to_string().as_str(),
            python_span[1],
            ctx.span_id().to_string().as_str()
        ],
        "{spans:#?}"
    );
    assert_ne!(python_span[1], ctx.span_id().to_string());
}
