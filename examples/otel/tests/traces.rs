//! rill's spans exported through tracing-opentelemetry and the SDK's in-memory exporter:
//! both ends of a call are exported, linked in one OTel trace whose ids are the W3C ids
//! rill sends in `traceparent`; and the OTel SDK's own W3C propagator, as a peer, agrees.

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceContextExt, TraceId, TracerProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SpanData;
use otel_example::demo::{self, Hello, RELAY, SAY_HELLO};
use rill::{Channel, Client, Code, Request};
use tracing_opentelemetry::OpenTelemetrySpanExt;

mod common;
use common::otel;

fn hello(name: &str) -> Request<Hello> {
    Request::new(Hello {
        name: name.into(),
        ..Hello::default()
    })
}

fn find<'a>(spans: &'a [SpanData], name: &str, kind: SpanKind) -> &'a SpanData {
    let found: Vec<_> = spans
        .iter()
        .filter(|s| s.name == name && s.span_kind == kind)
        .collect();
    assert_eq!(found.len(), 1, "{name} {kind:?} in {spans:#?}");
    found[0]
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// The span's OTel ids are rill's: the `trace_id` / `span_id` / `parent_span_id` fields.
fn assert_rill_ids(span: &SpanData) {
    let ctx = &span.span_context;
    assert_eq!(
        attribute(span, "trace_id"),
        Some(ctx.trace_id().to_string())
    );
    assert_eq!(attribute(span, "span_id"), Some(ctx.span_id().to_string()));
    let parent = (span.parent_span_id != SpanId::INVALID).then(|| span.parent_span_id.to_string());
    assert_eq!(attribute(span, "parent_span_id"), parent);
}

async fn client() -> Client {
    let addr = demo::serve().await.unwrap();
    demo::client(Channel::connect(&format!("http://{addr}")).await.unwrap())
}

#[tokio::test]
async fn client_and_server_spans_are_one_trace_with_rills_ids() {
    let (exporter, _provider, _guard) = otel();
    let client = client().await;
    let reply = client
        .unary::<Hello, Hello>(RELAY, hello("otel"))
        .await
        .unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 4, "{spans:#?}");

    let relay_client = find(&spans, "demo.Greeter/Relay", SpanKind::Client);
    let relay_server = find(&spans, "demo.Greeter/Relay", SpanKind::Server);
    let hello_client = find(&spans, "demo.Greeter/SayHello", SpanKind::Client);
    let hello_server = find(&spans, "demo.Greeter/SayHello", SpanKind::Server);
    let trace_id = relay_client.span_context.trace_id();
    assert_ne!(trace_id, TraceId::INVALID);
    for span in [relay_client, relay_server, hello_client, hello_server] {
        assert_eq!(span.span_context.trace_id(), trace_id, "{span:#?}");
        assert!(span.span_context.is_sampled());
        assert_rill_ids(span);
        assert_eq!(attribute(span, "rpc.system").as_deref(), Some("grpc"));
        assert_eq!(
            attribute(span, "rpc.grpc.status_code").as_deref(),
            Some("0")
        );
    }
    // client → server → (the handler's) client → server.
    assert_eq!(relay_client.parent_span_id, SpanId::INVALID);
    assert_eq!(
        relay_server.parent_span_id,
        relay_client.span_context.span_id()
    );
    assert!(relay_server.parent_span_is_remote);
    assert_eq!(
        hello_client.parent_span_id,
        relay_server.span_context.span_id()
    );
    assert_eq!(
        hello_server.parent_span_id,
        hello_client.span_context.span_id()
    );

    // What SayHello's handler saw: its TraceContext and the traceparent on the wire are
    // the exported spans' ids.
    let ctx = &hello_server.span_context;
    assert_eq!(
        reply.get_ref().context,
        format!(
            "{}/{}/{}",
            ctx.trace_id(),
            ctx.span_id(),
            hello_client.span_context.span_id()
        )
    );
    assert_eq!(
        reply.get_ref().traceparent,
        format!(
            "00-{}-{}-01",
            ctx.trace_id(),
            hello_client.span_context.span_id()
        )
    );
}

#[tokio::test]
async fn failed_calls_export_their_status() {
    let (exporter, _provider, _guard) = otel();
    let client = client().await;
    let status = client
        .unary::<Hello, Hello>(SAY_HELLO, hello(""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let spans = exporter.get_finished_spans().unwrap();
    let client_span = find(&spans, "demo.Greeter/SayHello", SpanKind::Client);
    let server_span = find(&spans, "demo.Greeter/SayHello", SpanKind::Server);
    // NOT_FOUND is an error for the client, not for the server (OTel's RPC conventions).
    assert!(matches!(client_span.status, Status::Error { .. }));
    assert_eq!(server_span.status, Status::Unset);
    for span in [client_span, server_span] {
        assert_eq!(
            attribute(span, "rpc.grpc.status_code").as_deref(),
            Some("5")
        );
    }
    assert_eq!(
        server_span.parent_span_id,
        client_span.span_context.span_id()
    );
}

/// A peer instrumented with OpenTelemetry (here the SDK's tracer and its W3C propagator,
/// over a client without rill's tracing layer) starts the trace: rill's server span
/// continues it, and the OTel span it exports is the peer span's child.
#[tokio::test]
async fn an_otel_peers_trace_continues_in_rills_server_span() {
    let (exporter, provider, _guard) = otel();
    let addr = demo::serve().await.unwrap();
    let bare = Client::new(Channel::connect(&format!("http://{addr}")).await.unwrap());

    let peer_tracer = provider.tracer("peer");
    let peer_span = opentelemetry::trace::Tracer::start(&peer_tracer, "peer call");
    let peer_cx = opentelemetry::Context::current_with_span(peer_span);
    let peer = peer_cx.span().span_context().clone();
    let mut request = hello("peer");
    otel_example::inject(
        &TraceContextPropagator::new(),
        &peer_cx,
        request.metadata_mut(),
    );
    bare.unary::<Hello, Hello>(SAY_HELLO, request)
        .await
        .unwrap();
    drop(peer_cx);

    let spans = exporter.get_finished_spans().unwrap();
    let server = find(&spans, "demo.Greeter/SayHello", SpanKind::Server);
    assert_eq!(server.span_context.trace_id(), peer.trace_id());
    assert_eq!(server.parent_span_id, peer.span_id());
    assert!(server.parent_span_is_remote);
    assert_rill_ids(server);
    let peer_data = find(&spans, "peer call", SpanKind::Internal);
    assert_eq!(peer_data.span_context, peer);
}

/// rill's client span, seen by an OTel peer: the SDK's propagator reads the `traceparent`
/// rill sent as the exported client span.
#[tokio::test]
async fn an_otel_peer_reads_rills_client_span_as_its_parent() {
    let (exporter, _provider, _guard) = otel();
    let client = client().await;
    let reply = client
        .unary::<Hello, Hello>(SAY_HELLO, hello("peer"))
        .await
        .unwrap();
    let mut received = rill::MetadataMap::new();
    received
        .insert("traceparent", &reply.get_ref().traceparent)
        .unwrap();
    let extracted = otel_example::extract(&TraceContextPropagator::new(), &received);
    let seen = extracted.span().span_context().clone();
    assert!(seen.is_valid() && seen.is_remote());

    let spans = exporter.get_finished_spans().unwrap();
    let client_span = find(&spans, "demo.Greeter/SayHello", SpanKind::Client);
    assert_eq!(seen.trace_id(), client_span.span_context.trace_id());
    assert_eq!(seen.span_id(), client_span.span_context.span_id());
}

/// A rill call inside a span of the application's own (begun outside rill): injecting the
/// OTel context into the request's metadata makes rill's client span its child.
#[tokio::test]
async fn a_call_made_in_an_application_span_joins_its_trace() {
    let (exporter, _provider, _guard) = otel();
    let client = client().await;
    let work = tracing::info_span!("work");
    let mut request = hello("app");
    otel_example::inject(
        &TraceContextPropagator::new(),
        &work.context(),
        request.metadata_mut(),
    );
    let call = client.unary::<Hello, Hello>(SAY_HELLO, request);
    tracing::Instrument::instrument(call, work.clone())
        .await
        .unwrap();
    drop(work);

    let spans = exporter.get_finished_spans().unwrap();
    let work = find(&spans, "work", SpanKind::Internal);
    let client_span = find(&spans, "demo.Greeter/SayHello", SpanKind::Client);
    let server_span = find(&spans, "demo.Greeter/SayHello", SpanKind::Server);
    assert_eq!(
        client_span.span_context.trace_id(),
        work.span_context.trace_id()
    );
    assert_eq!(client_span.parent_span_id, work.span_context.span_id());
    assert_eq!(
        server_span.parent_span_id,
        client_span.span_context.span_id()
    );
}

/// The caller's sampled flag reaches the SDK's (default, parent-based) sampler: a trace the
/// caller did not sample exports no span here, its own calls downstream included; the same
/// call with the flag set exports them all.
#[tokio::test]
async fn a_caller_that_did_not_sample_gets_no_spans_exported() {
    let (exporter, _provider, _guard) = otel();
    let addr = demo::serve().await.unwrap();
    let bare = Client::new(Channel::connect(&format!("http://{addr}")).await.unwrap());
    for flags in ["00", "01"] {
        let mut request = hello("sampling");
        let traceparent = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}");
        request
            .metadata_mut()
            .insert("traceparent", &traceparent)
            .unwrap();
        let reply = bare.unary::<Hello, Hello>(RELAY, request).await.unwrap();
        // rill passes the flag on to the relayed call.
        assert!(reply.get_ref().traceparent.ends_with(flags), "{reply:?}");
        let spans = exporter.get_finished_spans().unwrap();
        let expected = if flags == "00" { 0 } else { 3 };
        assert_eq!(spans.len(), expected, "flags {flags}: {spans:#?}");
    }
    let spans = exporter.get_finished_spans().unwrap();
    let relay_server = find(&spans, "demo.Greeter/Relay", SpanKind::Server);
    assert_eq!(relay_server.parent_span_id.to_string(), "00f067aa0ba902b7");
}
