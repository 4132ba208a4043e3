use std::io;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue};

use super::details::ErrorDetails;
use super::*;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(*k, HeaderValue::from_static(v));
    }
    map
}

#[test]
fn status_is_send_sync_static_error() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<Status>();
}

#[test]
fn code_round_trips_through_i32() {
    for (i, code) in Code::ALL.iter().enumerate() {
        let n = i32::try_from(i).expect("small");
        assert_eq!(code.as_i32(), n);
        assert_eq!(Code::from_i32(n), *code);
    }
}

#[test]
fn out_of_range_codes_are_unknown() {
    for n in [-1, 17, 100, i32::MIN, i32::MAX] {
        assert_eq!(Code::from_i32(n), Code::Unknown, "{n}");
    }
}

#[test]
fn code_names() {
    let cases = [
        (Code::Ok, "OK"),
        (Code::Cancelled, "CANCELLED"),
        (Code::Unknown, "UNKNOWN"),
        (Code::InvalidArgument, "INVALID_ARGUMENT"),
        (Code::DeadlineExceeded, "DEADLINE_EXCEEDED"),
        (Code::NotFound, "NOT_FOUND"),
        (Code::AlreadyExists, "ALREADY_EXISTS"),
        (Code::PermissionDenied, "PERMISSION_DENIED"),
        (Code::ResourceExhausted, "RESOURCE_EXHAUSTED"),
        (Code::FailedPrecondition, "FAILED_PRECONDITION"),
        (Code::Aborted, "ABORTED"),
        (Code::OutOfRange, "OUT_OF_RANGE"),
        (Code::Unimplemented, "UNIMPLEMENTED"),
        (Code::Internal, "INTERNAL"),
        (Code::Unavailable, "UNAVAILABLE"),
        (Code::DataLoss, "DATA_LOSS"),
        (Code::Unauthenticated, "UNAUTHENTICATED"),
    ];
    for (code, name) in cases {
        assert_eq!(code.as_str(), name);
        assert_eq!(code.to_string(), name);
        assert!(!code.description().is_empty());
    }
}

#[test]
fn http_status_mapping() {
    let cases = [
        (400, Code::Internal),
        (401, Code::Unauthenticated),
        (403, Code::PermissionDenied),
        (404, Code::Unimplemented),
        (429, Code::Unavailable),
        (502, Code::Unavailable),
        (503, Code::Unavailable),
        (504, Code::Unavailable),
        (200, Code::Unknown),
        (500, Code::Unknown),
        (418, Code::Unknown),
    ];
    for (http, code) in cases {
        assert_eq!(Code::from_http_status(http), code, "{http}");
    }
    let status = Status::from_http_status(404);
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(status.message(), "HTTP status 404 (no grpc-status)");
}

#[test]
fn shorthand_constructors() {
    type Constructor = fn(&'static str) -> Status;
    let cases: [(Constructor, Code); 16] = [
        (Status::cancelled, Code::Cancelled),
        (Status::unknown, Code::Unknown),
        (Status::invalid_argument, Code::InvalidArgument),
        (Status::deadline_exceeded, Code::DeadlineExceeded),
        (Status::not_found, Code::NotFound),
        (Status::already_exists, Code::AlreadyExists),
        (Status::permission_denied, Code::PermissionDenied),
        (Status::resource_exhausted, Code::ResourceExhausted),
        (Status::failed_precondition, Code::FailedPrecondition),
        (Status::aborted, Code::Aborted),
        (Status::out_of_range, Code::OutOfRange),
        (Status::unimplemented, Code::Unimplemented),
        (Status::internal, Code::Internal),
        (Status::unavailable, Code::Unavailable),
        (Status::data_loss, Code::DataLoss),
        (Status::unauthenticated, Code::Unauthenticated),
    ];
    for (make, code) in cases {
        let status = make("msg");
        assert_eq!(status.code(), code);
        assert_eq!(status.message(), "msg");
        assert!(status.details().is_empty());
        assert!(status.metadata().is_empty());
    }
}

#[test]
fn display_and_debug() {
    let status = Status::not_found("user \"7\" missing");
    assert_eq!(
        status.to_string(),
        r#"status: NOT_FOUND, message: "user \"7\" missing""#
    );
    let debug = format!("{status:?}");
    assert!(debug.contains("NotFound"), "{debug}");
    assert!(!debug.contains("details"), "{debug}");

    let mut md = MetadataMap::new();
    md.insert("x-a", "b").expect("valid");
    let status =
        Status::with_details(Code::Internal, "", Bytes::from_static(b"abc")).with_metadata(md);
    let debug = format!("{status:?}");
    assert!(debug.contains("3 bytes"), "{debug}");
    assert!(debug.contains("x-a"), "{debug}");
}

#[test]
fn grpc_message_is_percent_encoded() {
    let cases = [
        ("hello world", "hello world"),
        ("100%", "100%25"),
        (
            "~!\"#$&'()*+,-./:;<=>?@[\\]^_`{|}",
            "~!\"#$&'()*+,-./:;<=>?@[\\]^_`{|}",
        ),
        ("a\tb", "a%09b"),
        ("line\r\nnext", "line%0D%0Anext"),
        ("\x7f", "%7F"),
        ("\0", "%00"),
        ("ünï", "%C3%BCn%C3%AF"),
        ("😀", "%F0%9F%98%80"),
    ];
    for (message, wire) in cases {
        let mut map = HeaderMap::new();
        Status::new(Code::Internal, message).add_to_headers(&mut map);
        assert_eq!(
            map.get("grpc-message").map(|v| v.as_bytes()),
            Some(wire.as_bytes()),
            "{message:?}"
        );
        let back = Status::from_headers(&map).expect("has status");
        assert_eq!(back.message(), message);
    }
}

#[test]
fn add_to_headers_writes_all_parts() {
    let mut md = MetadataMap::new();
    md.insert("x-trace", "abc").expect("valid");
    md.insert_bin("x-bin", [0xffu8]).expect("valid");
    let status = Status::with_details(Code::NotFound, "nope", Bytes::from_static(b"\x01\x02"))
        .with_metadata(md);
    let mut map = HeaderMap::new();
    status.add_to_headers(&mut map);
    assert_eq!(
        map.get("grpc-status").map(|v| v.as_bytes()),
        Some(&b"5"[..])
    );
    assert_eq!(
        map.get("grpc-message").map(|v| v.as_bytes()),
        Some(&b"nope"[..])
    );
    // Base64 without padding ("AQI=" padded).
    assert_eq!(
        map.get("grpc-status-details-bin").map(|v| v.as_bytes()),
        Some(&b"AQI"[..])
    );
    assert_eq!(map.get("x-trace").map(|v| v.as_bytes()), Some(&b"abc"[..]));
    assert_eq!(map.get("x-bin").map(|v| v.as_bytes()), Some(&b"/w"[..]));
}

#[test]
fn add_to_headers_omits_empty_parts() {
    let mut map = HeaderMap::new();
    Status::new(Code::Ok, "").add_to_headers(&mut map);
    assert_eq!(map.len(), 1);
    assert_eq!(
        map.get("grpc-status").map(|v| v.as_bytes()),
        Some(&b"0"[..])
    );
}

#[test]
fn from_headers_without_grpc_status_is_none() {
    assert!(Status::from_headers(&HeaderMap::new()).is_none());
    assert!(Status::from_headers(&headers(&[("grpc-message", "x")])).is_none());
}

#[test]
fn from_headers_parses_code() {
    let cases = [
        ("0", Code::Ok),
        ("5", Code::NotFound),
        ("16", Code::Unauthenticated),
        ("17", Code::Unknown),
        ("-1", Code::Unknown),
        ("abc", Code::Unknown),
        ("", Code::Unknown),
        ("99999999999999", Code::Unknown),
    ];
    for (raw, code) in cases {
        let status = Status::from_headers(&headers(&[("grpc-status", raw)])).expect("present");
        assert_eq!(status.code(), code, "{raw:?}");
        assert_eq!(status.message(), "");
    }
    let mut map = HeaderMap::new();
    map.insert(
        "grpc-status",
        HeaderValue::from_bytes(b"\xff").expect("obs-text allowed"),
    );
    assert_eq!(
        Status::from_headers(&map).map(|s| s.code()),
        Some(Code::Unknown)
    );
}

#[test]
fn from_headers_decodes_message_leniently() {
    let cases: [(&[u8], &str); 9] = [
        (b"%41", "A"),
        (b"100%25", "100%"),
        (b"%zz", "%zz"),
        (b"%", "%"),
        (b"%4", "%4"),
        (b"50% off", "50% off"),
        (b"%C3%BC", "ü"),
        (b"%FF", "\u{FFFD}"),
        (b"caf\xc3\xa9", "café"),
    ];
    for (raw, message) in cases {
        let mut map = headers(&[("grpc-status", "2")]);
        map.insert(
            "grpc-message",
            HeaderValue::from_bytes(raw).expect("valid header"),
        );
        let status = Status::from_headers(&map).expect("present");
        assert_eq!(status.message(), message, "{raw:?}");
    }
}

#[test]
fn from_headers_decodes_details_padded_or_not() {
    let cases: [(&'static str, &[u8]); 5] = [
        ("AQI", b"\x01\x02"),
        ("AQI=", b"\x01\x02"),
        ("AQID", b"\x01\x02\x03"),
        ("not base64!", b""),
        ("A", b""),
    ];
    for (raw, details) in cases {
        let status = Status::from_headers(&headers(&[
            ("grpc-status", "13"),
            ("grpc-status-details-bin", raw),
        ]))
        .expect("present");
        assert_eq!(status.details(), details, "{raw:?}");
    }
}

#[test]
fn from_headers_keeps_only_custom_metadata() {
    let map = headers(&[
        ("grpc-status", "3"),
        ("grpc-message", "bad"),
        ("grpc-status-details-bin", "AQI"),
        ("content-type", "application/grpc"),
        ("x-user", "ann"),
        ("x-user", "bob"),
    ]);
    let status = Status::from_headers(&map).expect("present");
    assert_eq!(status.metadata().len(), 2);
    assert_eq!(status.metadata().get_all("x-user"), vec!["ann", "bob"]);
}

#[test]
fn headers_round_trip() {
    let mut md = MetadataMap::new();
    md.append("x-a", "1").expect("valid");
    md.append("x-a", "2").expect("valid");
    let details = ErrorDetails::new().with_bad_request_violation("name", "empty");
    let original = Status::with_error_details(Code::InvalidArgument, "bad 100% ✗", details.clone())
        .with_metadata(md);
    let mut map = HeaderMap::new();
    original.add_to_headers(&mut map);
    let back = Status::from_headers(&map).expect("present");
    assert_eq!(back.code(), Code::InvalidArgument);
    assert_eq!(back.message(), "bad 100% ✗");
    assert_eq!(back.details(), original.details());
    assert_eq!(back.error_details(), Ok(details));
    assert_eq!(back.metadata().get_all("x-a"), vec!["1", "2"]);
}

#[test]
fn error_details_of_empty_and_garbage() {
    assert_eq!(
        Status::internal("x").error_details(),
        Ok(ErrorDetails::new())
    );
    let garbage = Status::with_details(Code::Internal, "x", Bytes::from_static(b"\xff\xff\xff"));
    assert!(garbage.error_details().is_err());
}

#[test]
fn with_error_details_encodes_code_and_message() {
    let status = Status::with_error_details(Code::NotFound, "gone", ErrorDetails::new());
    let rpc = <details::RpcStatus as prost::Message>::decode(status.details()).expect("valid");
    assert_eq!(rpc.code, 5);
    assert_eq!(rpc.message, "gone");
    assert!(rpc.details.is_empty());
}

#[test]
fn metadata_accessors() {
    let mut status = Status::internal("x");
    status.metadata_mut().insert("x-k", "v").expect("valid");
    assert_eq!(status.metadata().get("x-k"), Some("v"));
    let status = status.with_metadata(MetadataMap::new());
    assert!(status.metadata().is_empty());
}

#[test]
fn from_io_error() {
    let cases = [
        (io::ErrorKind::TimedOut, Code::DeadlineExceeded),
        (io::ErrorKind::ConnectionRefused, Code::Unavailable),
        (io::ErrorKind::ConnectionReset, Code::Unavailable),
        (io::ErrorKind::ConnectionAborted, Code::Unavailable),
        (io::ErrorKind::NotConnected, Code::Unavailable),
        (io::ErrorKind::BrokenPipe, Code::Unavailable),
        (io::ErrorKind::UnexpectedEof, Code::Unavailable),
        (io::ErrorKind::AddrNotAvailable, Code::Unavailable),
        (io::ErrorKind::Other, Code::Unknown),
        (io::ErrorKind::InvalidData, Code::Unknown),
    ];
    for (kind, code) in cases {
        let status = Status::from(io::Error::new(kind, "boom"));
        assert_eq!(status.code(), code, "{kind:?}");
        assert_eq!(status.message(), "boom");
    }
}

#[test]
fn from_io_error_unwraps_tunnelled_status() {
    let inner = Status::permission_denied("no");
    let status = Status::from(io::Error::other(inner));
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(status.message(), "no");
}
