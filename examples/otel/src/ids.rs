//! Exported spans with rill's W3C ids. The SDK takes every id from its `IdGenerator` and
//! ignores those a `SpanBuilder` names, so [`RillTracer`] hands rill's ids (the span's
//! `trace_id` / `span_id` / `parent_span_id` fields) to [`RillIdGenerator`] just for the
//! synchronous call that starts the span, and gives the span rill's parent.

use std::cell::Cell;

use opentelemetry::trace::{
    SpanBuilder, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

thread_local! {
    /// The ids of the rill span being started on this thread, if any.
    static NEXT: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// An SDK id generator that gives the span [`RillTracer`] is starting rill's ids, and random
/// ones (the SDK's default) to every other span. Install it on the tracer provider whose
/// tracer `RillTracer` wraps:
///
/// ```
/// use opentelemetry::trace::TracerProvider as _;
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
///     .with_id_generator(otel_example::RillIdGenerator::default())
///     .build();
/// let tracer = otel_example::RillTracer::new(provider.tracer("rill"));
/// # drop(tracer);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RillIdGenerator {
    random: RandomIdGenerator,
}

impl IdGenerator for RillIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        match NEXT.get() {
            Some((trace_id, _)) => trace_id,
            None => self.random.new_trace_id(),
        }
    }

    fn new_span_id(&self) -> SpanId {
        match NEXT.get() {
            Some((_, span_id)) => span_id,
            None => self.random.new_span_id(),
        }
    }
}

/// A tracer for `tracing_opentelemetry::layer().with_tracer(..)` that starts rill's spans
/// (`rpc.system = "grpc"` with rill's `trace_id` and `span_id` fields) with rill's ids: its
/// trace id, its span id, and its parent (the caller's span, remote or local, with the
/// caller's sampled flag: the SDK's default parent-based sampler drops what the caller did
/// not sample); other spans start as the inner tracer starts them. The inner tracer's
/// provider needs [`RillIdGenerator`].
///
/// The SDK's sampler decides whether a span is recorded; rill decides the flags it sends
/// (a new trace is sampled), so a ratio sampler at the root makes unrecorded spans whose
/// children downstream are still sampled.
#[derive(Clone, Debug)]
pub struct RillTracer<T> {
    inner: T,
}

impl<T> RillTracer<T> {
    /// Wraps a tracer of a provider built with [`RillIdGenerator`].
    pub fn new(inner: T) -> Self {
        RillTracer { inner }
    }
}

/// rill's ids, read from a span's attributes.
struct RillIds {
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
    flags: TraceFlags,
}

fn rill_ids(builder: &SpanBuilder) -> Option<RillIds> {
    let attributes = builder.attributes.as_deref()?;
    let get = |key: &str| {
        attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    };
    if !matches!(get("rpc.system"), Some(Value::String(s)) if s.as_str() == "grpc") {
        return None;
    }
    let hex = |key: &str| match get(key) {
        Some(Value::String(s)) => Some(s.as_str().to_owned()),
        _ => None,
    };
    let trace_id = TraceId::from_hex(&hex("trace_id")?).ok()?;
    let span_id = SpanId::from_hex(&hex("span_id")?).ok()?;
    let parent_span_id = hex("parent_span_id").and_then(|h| SpanId::from_hex(&h).ok());
    // An integer field: tracing-opentelemetry records it as a string or an i64.
    let flags = match get("trace_flags") {
        Some(Value::I64(flags)) => u8::try_from(*flags).ok()?,
        Some(Value::String(flags)) => flags.as_str().parse().ok()?,
        _ => TraceFlags::SAMPLED.to_u8(),
    };
    let flags = TraceFlags::new(flags);
    (trace_id != TraceId::INVALID && span_id != SpanId::INVALID).then_some(RillIds {
        trace_id,
        span_id,
        parent_span_id,
        flags,
    })
}

impl<T: Tracer> Tracer for RillTracer<T> {
    type Span = T::Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Self::Span {
        let Some(ids) = rill_ids(&builder) else {
            return self.inner.build_with_context(builder, parent_cx);
        };
        let active = parent_cx.span().span_context().clone();
        let parent = match ids.parent_span_id {
            // The local parent already is rill's parent (a client call from a traced handler).
            Some(parent) if active.trace_id() == ids.trace_id && active.span_id() == parent => {
                parent_cx.clone()
            }
            // The caller's span: in another process (a server span), or a span rill learnt
            // from the request (its `TraceContext` extension or `traceparent` metadata). Its
            // flags let a parent-based sampler follow the caller's sampling decision.
            Some(parent) => parent_cx.with_remote_span_context(SpanContext::new(
                ids.trace_id,
                parent,
                ids.flags,
                true,
                TraceState::default(),
            )),
            // rill began a new trace: so does the exported span (the SDK then takes the
            // trace id from the generator), whatever span encloses it locally.
            None => Context::new(),
        };
        NEXT.set(Some((ids.trace_id, ids.span_id)));
        let span = self.inner.build_with_context(builder, &parent);
        NEXT.set(None);
        span
    }
}
