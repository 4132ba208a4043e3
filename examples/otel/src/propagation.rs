//! OpenTelemetry's text-map propagators over rill's metadata.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::Context;
use rill::MetadataMap;

struct Metadata<'a>(&'a mut MetadataMap);

impl Injector for Metadata<'_> {
    fn set(&mut self, key: &str, value: String) {
        // A value the propagator made is valid ASCII; a bad one is skipped, never a panic.
        let _ = self.0.insert(key, &value);
    }
}

struct ReadMetadata<'a>(&'a MetadataMap);

impl Extractor for ReadMetadata<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().collect()
    }
}

/// Writes `cx` (e.g. `tracing::Span::current().context()`) into `metadata` with
/// `propagator`: a rill client call with `TracingLayer` then continues that trace (its span
/// becomes a child of `cx`'s span).
pub fn inject(propagator: &dyn TextMapPropagator, cx: &Context, metadata: &mut MetadataMap) {
    propagator.inject_context(cx, &mut Metadata(metadata));
}

/// Reads a context from received `metadata` with `propagator`.
pub fn extract(propagator: &dyn TextMapPropagator, metadata: &MetadataMap) -> Context {
    propagator.extract(&ReadMetadata(metadata))
}
