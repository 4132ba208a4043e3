//! One `tracing` span per call, named and attributed per OpenTelemetry's RPC semantic
//! conventions, with W3C trace context carried in `traceparent` / `tracestate` metadata.

use tracing::field::Empty;

use super::call::{observe_layer, CallObserver, CallStart, Observe, Side, Summary};
use super::trace_context::{TraceContext, TRACEPARENT, TRACESTATE};
use crate::{Code, Request};

/// A layer that opens one `tracing` span per call, on a server or a client, and propagates
/// W3C trace context (`traceparent`, `tracestate`).
///
/// Spans are named `grpc.server` / `grpc.client` (INFO level) with the OpenTelemetry RPC
/// attributes: `otel.name` (`package.Service/Method`), `otel.kind`, `rpc.system = "grpc"`,
/// `rpc.service`, `rpc.method`, `network.peer.address` / `network.peer.port` (server) or
/// `server.address` (client), and at the end `rpc.grpc.status_code`, `otel.status_code`
/// (`ERROR` as the conventions define it) and `duration_ms`; plus `trace_id`, `span_id`
/// and `parent_span_id` (hex) and `trace_flags` (bit 0: sampled): the W3C context that
/// travels in `traceparent`. With `tracing-opentelemetry`, the `otel.*` fields become the
/// exported span's name, kind and status; its ids are the SDK's own unless the tracer
/// starts rill's spans with the W3C ids above, as `examples/otel`'s `RillTracer` does.
///
/// - Server: the call's [`TraceContext`] continues the caller's `traceparent` (or starts a
///   new trace) and is a request extension for the handler; while the handler runs it is
///   also [`TraceContext::current`], so traced client calls it makes continue the trace.
/// - Client: the call is a child of the request's `TraceContext` extension, else of a
///   `traceparent` already in its metadata, else of [`TraceContext::current`], else a new
///   trace; its own span id goes out as the `traceparent` parent-id.
///
/// ```
/// let server = rill::server::Server::builder().layer(rill::observability::TracingLayer::new());
/// # drop(server);
/// ```
#[derive(Clone, Debug, Default)]
pub struct TracingLayer {
    _private: (),
}

impl TracingLayer {
    /// The layer.
    ///
    /// ```
    /// let client = rill::Client::new(rill::Channel::lazy("localhost:50051").unwrap())
    ///     .layer(rill::observability::TracingLayer::new());
    /// # drop(client);
    /// ```
    pub fn new() -> Self {
        TracingLayer::default()
    }
}

observe_layer!(TracingLayer);

/// The span and trace context of one call.
pub(crate) struct TracedCall {
    span: tracing::Span,
    context: Option<TraceContext>,
    side: Side,
}

fn service_and_method(path: &str) -> (&str, &str) {
    let path = super::method_label(path);
    path.rsplit_once('/').unwrap_or((path, ""))
}

impl Observe for TracingLayer {
    type Call = TracedCall;

    fn start(&self, call: &CallStart<'_>, head: &mut Request<()>) -> TracedCall {
        let (service, method) = service_and_method(call.path);
        let name = super::method_label(call.path);
        match call.side {
            Side::Server => {
                let tracestate = head.metadata().get_all(TRACESTATE).join(",");
                let context = TraceContext::from_headers(
                    head.metadata().get(TRACEPARENT),
                    Some(tracestate.as_str()).filter(|s| !s.is_empty()),
                );
                let span = tracing::info_span!(
                    "grpc.server",
                    otel.name = name,
                    otel.kind = "server",
                    otel.status_code = Empty,
                    rpc.system = "grpc",
                    rpc.service = service,
                    rpc.method = method,
                    rpc.grpc.status_code = Empty,
                    network.peer.address = Empty,
                    network.peer.port = Empty,
                    trace_id = %context.trace_id(),
                    span_id = %context.span_id(),
                    parent_span_id = Empty,
                    trace_flags = context.flags(),
                    duration_ms = Empty,
                );
                if let Some(peer) = call.peer {
                    span.record("network.peer.address", tracing::field::display(peer.ip()));
                    span.record("network.peer.port", peer.port());
                }
                if let Some(parent) = context.parent_span_id() {
                    span.record("parent_span_id", tracing::field::display(parent));
                }
                head.extensions_mut().insert(context.clone());
                TracedCall {
                    span,
                    context: Some(context),
                    side: Side::Server,
                }
            }
            Side::Client => {
                let context = client_context(head);
                let traceparent = context.traceparent().to_string();
                // Ours replaces any the caller set: it names this call's span as the parent.
                let _ = head.metadata_mut().insert(TRACEPARENT, &traceparent);
                head.metadata_mut().remove(TRACESTATE);
                if let Some(state) = context.trace_state() {
                    let _ = head.metadata_mut().insert(TRACESTATE, state);
                }
                let span = tracing::info_span!(
                    "grpc.client",
                    otel.name = name,
                    otel.kind = "client",
                    otel.status_code = Empty,
                    rpc.system = "grpc",
                    rpc.service = service,
                    rpc.method = method,
                    rpc.grpc.status_code = Empty,
                    server.address = call.target,
                    trace_id = %context.trace_id(),
                    span_id = %context.span_id(),
                    parent_span_id = Empty,
                    trace_flags = context.flags(),
                    duration_ms = Empty,
                );
                if let Some(parent) = context.parent_span_id() {
                    span.record("parent_span_id", tracing::field::display(parent));
                }
                TracedCall {
                    span,
                    // Client calls do not change the current context of their task.
                    context: None,
                    side: Side::Client,
                }
            }
        }
    }
}

/// The context of an outgoing call: a child of what the request or its task carries.
fn client_context(head: &Request<()>) -> TraceContext {
    if let Some(parent) = head.extensions().get::<TraceContext>() {
        return parent.child();
    }
    if let Some(traceparent) = head.metadata().get(TRACEPARENT) {
        let tracestate = head.metadata().get_all(TRACESTATE).join(",");
        let tracestate = Some(tracestate.as_str()).filter(|s| !s.is_empty());
        let context = TraceContext::from_headers(Some(traceparent), tracestate);
        if context.parent_span_id().is_some() {
            return context;
        }
    }
    match TraceContext::current() {
        Some(parent) => parent.child(),
        None => TraceContext::new_root(),
    }
}

/// Whether a span ends in error, per the OpenTelemetry RPC conventions: every non-OK code on
/// a client; on a server only the codes that mean the server failed.
fn is_error(side: Side, code: Code) -> bool {
    match side {
        Side::Client => code != Code::Ok,
        Side::Server => matches!(
            code,
            Code::Unknown
                | Code::DeadlineExceeded
                | Code::Unimplemented
                | Code::Internal
                | Code::Unavailable
                | Code::DataLoss
        ),
    }
}

impl CallObserver for TracedCall {
    fn span(&self) -> Option<&tracing::Span> {
        Some(&self.span)
    }

    fn context(&self) -> Option<&TraceContext> {
        self.context.as_ref()
    }

    fn finish(&self, summary: &Summary<'_>) {
        self.span
            .record("rpc.grpc.status_code", summary.code.as_i32());
        self.span
            .record("duration_ms", summary.elapsed.as_secs_f64() * 1000.0);
        if is_error(self.side, summary.code) {
            self.span.record("otel.status_code", "ERROR");
        }
    }
}
