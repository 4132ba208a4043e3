//! Observability: tower layers for tracing spans with W3C trace context, metrics (gRFC A66
//! names, through the `metrics` façade; feature `metrics`), one log line per call, and
//! request ids. Each layer works on both sides:
//! [`Server::layer`](crate::server::Server::layer) and [`Client::layer`](crate::Client::layer).
//!
//! ```
//! use rill::observability::{LoggingLayer, RequestIdLayer, TracingLayer};
//!
//! // A layer added later wraps (runs before) the ones added before it: the request id is
//! // known by the time the logging layer starts.
//! let server = rill::server::Server::builder()
//!     .layer(LoggingLayer::new())
//!     .layer(TracingLayer::new())
//!     .layer(RequestIdLayer::new());
//! let client = rill::Client::new(rill::Channel::lazy("localhost:50051").unwrap())
//!     .layer(TracingLayer::new());
//! # drop((server, client));
//! ```
//!
//! Layers see the calls the router hands to handlers; calls refused before that (unknown
//! method, unsupported encoding, a failing interceptor) answer without reaching them.

mod call;
mod logging;
#[cfg(feature = "metrics")]
mod metrics;
mod request_id;
mod trace_context;
mod tracing_layer;

pub use call::Observed;
pub use logging::LoggingLayer;
#[cfg(feature = "metrics")]
pub use metrics::{describe_metrics, MetricsLayer, LATENCY_BUCKETS, SIZE_BUCKETS};
pub use request_id::{RequestId, RequestIdLayer, REQUEST_ID};
pub use trace_context::{
    parse_tracestate, SpanId, TraceContext, TraceId, TraceParent, TraceParentError, TRACEPARENT,
    TRACESTATE,
};
pub use tracing_layer::TracingLayer;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// A non-zero random number for ids: SipHash, keyed randomly per process and thread by the
/// standard library, of a counter (unpredictable without a dependency on an RNG crate).
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        let value = hasher.finish();
        if value != 0 {
            return value;
        }
    }
}

/// `/package.Service/Method` → `package.Service/Method`, the `grpc.method` label (A66).
fn method_label(path: &str) -> &str {
    path.strip_prefix('/').unwrap_or(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_ids_differ() {
        let ids: std::collections::HashSet<u64> = (0..1000).map(|_| super::random_u64()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(!ids.contains(&0));
    }
}
