//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the `traceparent` and
//! `tracestate` headers, parsed and formatted exactly as the spec says, and the
//! [`TraceContext`] a traced call carries.

use std::fmt;
use std::sync::Arc;

/// The `traceparent` metadata key.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` metadata key.
pub const TRACESTATE: &str = "tracestate";

/// A 16-byte trace id; never all zeros.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// An 8-byte span id; never all zeros.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

impl TraceId {
    /// A trace id from its bytes; `None` for the invalid all-zero id.
    ///
    /// ```
    /// assert!(rill::observability::TraceId::from_bytes([0; 16]).is_none());
    /// ```
    pub fn from_bytes(bytes: [u8; 16]) -> Option<TraceId> {
        (bytes != [0; 16]).then_some(TraceId(bytes))
    }

    /// A new random trace id.
    pub fn random() -> TraceId {
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&super::random_u64().to_be_bytes());
        bytes[8..].copy_from_slice(&super::random_u64().to_be_bytes());
        TraceId(bytes)
    }

    /// The id's bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }
}

impl SpanId {
    /// A span id from its bytes; `None` for the invalid all-zero id.
    ///
    /// ```
    /// assert!(rill::observability::SpanId::from_bytes([0; 8]).is_none());
    /// ```
    pub fn from_bytes(bytes: [u8; 8]) -> Option<SpanId> {
        (bytes != [0; 8]).then_some(SpanId(bytes))
    }

    /// A new random span id.
    pub fn random() -> SpanId {
        SpanId(super::random_u64().to_be_bytes())
    }

    /// The id's bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

impl fmt::Display for TraceId {
    /// 32 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    /// 16 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// Why a `traceparent` value was rejected (the spec says: start a new trace instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceParentError {
    /// Wrong length or misplaced `-` separators.
    #[error("malformed traceparent: wrong length or separators")]
    Format,
    /// A field holds something other than lowercase hex digits.
    #[error("malformed traceparent: a field is not lowercase hex")]
    NotHex,
    /// Version `ff`, which the spec forbids.
    #[error("traceparent version ff is invalid")]
    InvalidVersion,
    /// The all-zero trace id.
    #[error("traceparent trace-id is all zeros")]
    ZeroTraceId,
    /// The all-zero parent id.
    #[error("traceparent parent-id is all zeros")]
    ZeroParentId,
}

/// A parsed `traceparent` header: `version-traceid-parentid-flags`, e.g.
/// `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace the call belongs to.
    pub trace_id: TraceId,
    /// The caller's span.
    pub parent_id: SpanId,
    /// The trace flags (bit 0: sampled).
    pub flags: u8,
}

fn hex_digit(c: u8) -> Option<u8> {
    // Uppercase is invalid: the spec allows lowercase hex only.
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn parse_hex<const N: usize>(text: &[u8]) -> Result<[u8; N], TraceParentError> {
    if text.len() != 2 * N {
        return Err(TraceParentError::Format);
    }
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let (Some(hi), Some(lo)) = (hex_digit(pair[0]), hex_digit(pair[1])) else {
            return Err(TraceParentError::NotHex);
        };
        *byte = hi << 4 | lo;
    }
    Ok(out)
}

impl TraceParent {
    /// Parses a `traceparent` value per Trace Context §3.2 (version 00; a higher version is
    /// read for its first four fields, as the spec asks of a version-00 parser).
    ///
    /// ```
    /// use rill::observability::TraceParent;
    /// let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?;
    /// assert_eq!(tp.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// assert!(tp.sampled());
    /// assert!(TraceParent::parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_err());
    /// # Ok::<(), rill::observability::TraceParentError>(())
    /// ```
    pub fn parse(value: &str) -> Result<TraceParent, TraceParentError> {
        let bytes = value.trim_matches([' ', '\t']).as_bytes();
        if bytes.len() < 55 {
            return Err(TraceParentError::Format);
        }
        let version = parse_hex::<1>(&bytes[0..2])?[0];
        if version == 0xff {
            return Err(TraceParentError::InvalidVersion);
        }
        // Version 00 is exactly 55 characters; later versions may append "-…" fields.
        let extra_ok = if version == 0 {
            bytes.len() == 55
        } else {
            bytes.len() == 55 || bytes[55] == b'-'
        };
        if !extra_ok || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return Err(TraceParentError::Format);
        }
        let trace_id = parse_hex::<16>(&bytes[3..35])?;
        let parent_id = parse_hex::<8>(&bytes[36..52])?;
        let flags = parse_hex::<1>(&bytes[53..55])?[0];
        Ok(TraceParent {
            trace_id: TraceId::from_bytes(trace_id).ok_or(TraceParentError::ZeroTraceId)?,
            parent_id: SpanId::from_bytes(parent_id).ok_or(TraceParentError::ZeroParentId)?,
            flags,
        })
    }

    /// Whether the caller sampled (recorded) its span: flag bit 0.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

impl fmt::Display for TraceParent {
    /// The version-00 header value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id, self.parent_id, self.flags
        )
    }
}

/// Checks a `tracestate` value (Trace Context §3.3): at most 32 comma-separated
/// `key=value` members with valid keys and values. Returns the value normalized (no empty
/// members, no optional whitespace), or `None` when it must be discarded.
///
/// ```
/// use rill::observability::parse_tracestate;
/// assert_eq!(parse_tracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE").as_deref(),
///            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
/// assert_eq!(parse_tracestate("no equals sign"), None);
/// ```
pub fn parse_tracestate(value: &str) -> Option<String> {
    let mut members = Vec::new();
    for member in value.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let (key, val) = member.split_once('=')?;
        if !valid_key(key) || !valid_value(val) {
            return None;
        }
        members.push(member);
    }
    if members.is_empty() || members.len() > 32 {
        return None;
    }
    Some(members.join(","))
}

fn valid_key(key: &str) -> bool {
    let simple = |k: &str, max: usize, first_digit: bool| {
        let b = k.as_bytes();
        !b.is_empty()
            && b.len() <= max
            && (b[0].is_ascii_lowercase() || (first_digit && b[0].is_ascii_digit()))
            && b.iter().all(|&c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || matches!(c, b'_' | b'-' | b'*' | b'/')
            })
    };
    match key.split_once('@') {
        None => simple(key, 256, false),
        Some((tenant, system)) => simple(tenant, 241, true) && simple(system, 14, false),
    }
}

fn valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && b.last() != Some(&b' ')
        && b.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
}

/// The trace context of one call: what a traced server call exposes to its handler (as a
/// request extension) and what a traced client call continues.
///
/// On the server, `span_id` is the server span's own id and `parent_span_id` the caller's
/// span (from `traceparent`); a call without a valid `traceparent` starts a new trace.
///
/// ```
/// # fn handler(req: &rill::Request<()>) {
/// if let Some(ctx) = req.extensions().get::<rill::observability::TraceContext>() {
///     println!("trace {} span {}", ctx.trace_id(), ctx.span_id());
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
    flags: u8,
    trace_state: Option<Arc<str>>,
}

impl TraceContext {
    /// A new trace (random trace and span ids, sampled flag set).
    ///
    /// ```
    /// let ctx = rill::observability::TraceContext::new_root();
    /// assert!(ctx.parent_span_id().is_none());
    /// ```
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            parent_span_id: None,
            flags: 1,
            trace_state: None,
        }
    }

    /// A child of `self`: same trace, flags and state, a new span whose parent is `self`.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            trace_id: self.trace_id,
            span_id: SpanId::random(),
            parent_span_id: Some(self.span_id),
            flags: self.flags,
            trace_state: self.trace_state.clone(),
        }
    }

    /// The context a server span continues from received metadata values: a child of the
    /// caller's span, or a new trace when `traceparent` is absent or invalid (then
    /// `tracestate` is ignored too, as the spec requires).
    ///
    /// ```
    /// use rill::observability::TraceContext;
    /// let ctx = TraceContext::from_headers(
    ///     Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), Some("k=v"));
    /// assert_eq!(ctx.parent_span_id().unwrap().to_string(), "00f067aa0ba902b7");
    /// assert_eq!(ctx.trace_state(), Some("k=v"));
    /// ```
    pub fn from_headers(traceparent: Option<&str>, tracestate: Option<&str>) -> TraceContext {
        let Some(parent) = traceparent.and_then(|v| TraceParent::parse(v).ok()) else {
            return TraceContext::new_root();
        };
        TraceContext {
            trace_id: parent.trace_id,
            span_id: SpanId::random(),
            parent_span_id: Some(parent.parent_id),
            flags: parent.flags,
            trace_state: tracestate.and_then(parse_tracestate).map(Arc::from),
        }
    }

    /// The `traceparent` that makes this context's span the parent of a downstream call.
    pub fn traceparent(&self) -> TraceParent {
        TraceParent {
            trace_id: self.trace_id,
            parent_id: self.span_id,
            flags: self.flags,
        }
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// This span's id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The parent span's id, if this span continues one.
    pub fn parent_span_id(&self) -> Option<SpanId> {
        self.parent_span_id
    }

    /// The trace flags (bit 0: sampled).
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// The vendor `tracestate`, passed along unchanged (normalized).
    pub fn trace_state(&self) -> Option<&str> {
        self.trace_state.as_deref()
    }
}

tokio::task_local! {
    /// The trace context of the server call whose handler is running: client calls made
    /// from that handler continue it.
    static CURRENT: TraceContext;
}

impl TraceContext {
    /// The trace context of the traced server call whose handler (or response stream) is
    /// running on this task, if any; a traced client call made there continues it.
    pub fn current() -> Option<TraceContext> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Runs `f` with `self` as the [`current`](TraceContext::current) context.
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self.clone(), f)
    }
}

#[cfg(test)]
#[path = "trace_context_tests.rs"]
mod tests;
