//! Table-driven tests of the W3C Trace Context parsing and of TraceContext.

use super::*;

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn traceparent_table() {
    use TraceParentError::*;
    let cases: &[(&str, Result<(), TraceParentError>)] = &[
        (VALID, Ok(())),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            Ok(()),
        ),
        // Future versions: read the first four fields, allow "-"-led extensions.
        (
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Ok(()),
        ),
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what",
            Ok(()),
        ),
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01what",
            Err(Format),
        ),
        (
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Err(InvalidVersion),
        ),
        (
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            Err(ZeroTraceId),
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            Err(ZeroParentId),
        ),
        (
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            Err(NotHex),
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            Err(NotHex),
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0X",
            Err(NotHex),
        ),
        (
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Err(NotHex),
        ),
        // Version 00 must be exactly 55 characters.
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            Err(Format),
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            Err(Format),
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b-01",
            Err(Format),
        ),
        (
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            Err(Format),
        ),
        ("", Err(Format)),
        (
            "00-é4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            Err(Format),
        ),
        (
            "00-é4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
            Err(NotHex),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            TraceParent::parse(input).map(|_| ()),
            *expected,
            "input {input:?}"
        );
    }
}

#[test]
fn traceparent_round_trips() {
    let parsed = TraceParent::parse(VALID).unwrap();
    assert_eq!(parsed.to_string(), VALID);
    assert_eq!(parsed.flags, 1);
    // A future version is answered as version 00.
    let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x";
    assert_eq!(TraceParent::parse(future).unwrap().to_string(), VALID);
}

#[test]
fn tracestate_table() {
    let cases: &[(&str, Option<&str>)] = &[
        ("a=1", Some("a=1")),
        ("a=1 , ,b=2\t", Some("a=1,b=2")),
        ("tenant@system=x", Some("tenant@system=x")),
        ("1tenant@sys=x", Some("1tenant@sys=x")),
        ("1simple=x", None),
        ("UPPER=x", None),
        ("a=", None),
        ("a=b=c", None),
        ("a", None),
        ("", None),
    ];
    for (input, expected) in cases {
        assert_eq!(parse_tracestate(input).as_deref(), *expected, "{input:?}");
    }
    let many = (0..33)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(parse_tracestate(&many), None);
}

#[test]
fn context_continues_or_restarts() {
    let ctx = TraceContext::from_headers(Some(VALID), Some("a=1"));
    assert_eq!(
        ctx.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(
        ctx.parent_span_id().map(|s| s.to_string()).as_deref(),
        Some("00f067aa0ba902b7")
    );
    assert_ne!(ctx.span_id().to_string(), "00f067aa0ba902b7");
    let child = ctx.child();
    assert_eq!(child.trace_id(), ctx.trace_id());
    assert_eq!(child.parent_span_id(), Some(ctx.span_id()));
    assert_eq!(child.trace_state(), Some("a=1"));
    // An invalid traceparent starts a new trace and drops tracestate.
    let fresh = TraceContext::from_headers(Some("garbage"), Some("a=1"));
    assert_eq!(fresh.parent_span_id(), None);
    assert_eq!(fresh.trace_state(), None);
    assert_ne!(fresh.trace_id(), ctx.trace_id());
}
