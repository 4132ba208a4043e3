use http::header::{HeaderMap, HeaderValue};

use super::*;

#[test]
fn insert_replaces_and_append_keeps() {
    let mut md = MetadataMap::new();
    assert!(md.is_empty());
    md.insert("x-a", "1").expect("valid");
    md.insert("x-a", "2").expect("valid");
    assert_eq!(md.get_all("x-a"), vec!["2"]);
    md.append("x-a", "3").expect("valid");
    assert_eq!(md.get("x-a"), Some("2"));
    assert_eq!(md.get_all("x-a"), vec!["2", "3"]);
    assert_eq!(md.len(), 2);
    assert!(md.contains_key("x-a"));
    assert!(md.remove("x-a"));
    assert!(!md.remove("x-a"));
    assert!(!md.contains_key("x-a"));
    assert!(md.is_empty());
}

#[test]
fn valid_keys_are_lowercased() {
    let cases = [
        ("x-request-id", "x-request-id"),
        ("X-Request-ID", "x-request-id"),
        ("a", "a"),
        ("under_score.dot-dash09", "under_score.dot-dash09"),
        ("user-agent", "user-agent"),
        ("grpc", "grpc"),
        ("grpcx-a", "grpcx-a"),
    ];
    for (input, stored) in cases {
        let mut md = MetadataMap::new();
        md.insert(input, "v").expect(input);
        assert_eq!(md.keys().collect::<Vec<_>>(), vec![stored]);
        // Lookups are case-insensitive too.
        assert_eq!(md.get(input), Some("v"), "{input}");
    }
}

#[test]
fn invalid_and_reserved_keys() {
    let cases = [
        ("", InvalidMetadata::InvalidKey(String::new())),
        ("x a", InvalidMetadata::InvalidKey("x a".into())),
        ("x/a", InvalidMetadata::InvalidKey("x/a".into())),
        ("x~", InvalidMetadata::InvalidKey("x~".into())),
        ("ключ", InvalidMetadata::InvalidKey("ключ".into())),
        ("x\n", InvalidMetadata::InvalidKey("x\n".into())),
        (":path", InvalidMetadata::ReservedKey(":path".into())),
        (
            "grpc-status",
            InvalidMetadata::ReservedKey("grpc-status".into()),
        ),
        (
            "GRPC-Timeout",
            InvalidMetadata::ReservedKey("grpc-timeout".into()),
        ),
        (
            "grpc-custom",
            InvalidMetadata::ReservedKey("grpc-custom".into()),
        ),
        ("te", InvalidMetadata::ReservedKey("te".into())),
        (
            "content-type",
            InvalidMetadata::ReservedKey("content-type".into()),
        ),
        (
            "Connection",
            InvalidMetadata::ReservedKey("connection".into()),
        ),
        ("host", InvalidMetadata::ReservedKey("host".into())),
        (
            "keep-alive",
            InvalidMetadata::ReservedKey("keep-alive".into()),
        ),
        (
            "proxy-connection",
            InvalidMetadata::ReservedKey("proxy-connection".into()),
        ),
        (
            "transfer-encoding",
            InvalidMetadata::ReservedKey("transfer-encoding".into()),
        ),
        ("upgrade", InvalidMetadata::ReservedKey("upgrade".into())),
    ];
    for (key, err) in cases {
        let mut md = MetadataMap::new();
        assert_eq!(md.insert(key, "v"), Err(err.clone()), "{key:?}");
        assert_eq!(md.append(key, "v"), Err(err), "{key:?}");
        assert!(md.is_empty());
    }
}

#[test]
fn invalid_ascii_values() {
    let cases = ["tab\there", "new\nline", "\r", "\0", "del\x7f", "é", "😀"];
    for value in cases {
        let mut md = MetadataMap::new();
        let err = InvalidMetadata::InvalidValue { key: "x-a".into() };
        assert_eq!(md.insert("x-a", value), Err(err.clone()), "{value:?}");
        assert_eq!(md.append("x-a", value), Err(err), "{value:?}");
    }
}

#[test]
fn valid_ascii_values() {
    for value in ["", " ", "a b", "~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./"] {
        let mut md = MetadataMap::new();
        md.insert("x-a", value).expect(value);
        assert_eq!(md.get("x-a"), Some(value));
    }
}

#[test]
fn ascii_and_binary_keys_do_not_mix() {
    let mut md = MetadataMap::new();
    assert_eq!(
        md.insert("x-bin", "v"),
        Err(InvalidMetadata::BinaryKey("x-bin".into()))
    );
    assert_eq!(
        md.append("X-BIN", "v"),
        Err(InvalidMetadata::BinaryKey("x-bin".into()))
    );
    assert_eq!(
        md.insert_bin("x-a", b"v"),
        Err(InvalidMetadata::NotBinaryKey("x-a".into()))
    );
    assert_eq!(
        md.append_bin("x-a", b"v"),
        Err(InvalidMetadata::NotBinaryKey("x-a".into()))
    );
    assert_eq!(
        md.insert_bin("grpc-x-bin", b"v"),
        Err(InvalidMetadata::ReservedKey("grpc-x-bin".into()))
    );
    assert_eq!(
        md.insert_bin("bad key-bin", b"v"),
        Err(InvalidMetadata::InvalidKey("bad key-bin".into()))
    );
    // "-bin" alone has no name before the suffix: an ASCII key.
    md.insert("-bin", "v").expect("ascii key");
    assert_eq!(md.get("-bin"), Some("v"));
}

#[test]
fn binary_values_round_trip_unpadded() {
    let cases: [(&[u8], &str); 5] = [
        (b"", ""),
        (b"\x00", "AA"),
        (b"\x00\x01", "AAE"),
        (b"\x00\x01\x02", "AAEC"),
        (b"\xff\xfe\xfd\xfc", "//79/A"),
    ];
    for (raw, wire) in cases {
        let mut md = MetadataMap::new();
        md.insert_bin("trace-bin", raw).expect("valid");
        assert_eq!(
            md.as_headers().get("trace-bin").map(|v| v.as_bytes()),
            Some(wire.as_bytes())
        );
        assert_eq!(md.get_bin("trace-bin"), Some(Ok(raw.to_vec())));
        assert_eq!(md.get("trace-bin"), None);
        assert!(md.get_all("trace-bin").is_empty());
    }
}

#[test]
fn binary_append_and_get_all() {
    let mut md = MetadataMap::new();
    md.insert_bin("Trace-Bin", [1u8]).expect("valid");
    md.append_bin("trace-bin", [2u8]).expect("valid");
    assert_eq!(md.get_all_bin("trace-bin"), vec![Ok(vec![1]), Ok(vec![2])]);
    assert_eq!(md.get_bin("TRACE-BIN"), Some(Ok(vec![1])));
    md.insert_bin("trace-bin", Vec::from([3u8])).expect("valid");
    assert_eq!(md.get_all_bin("trace-bin"), vec![Ok(vec![3])]);
    assert_eq!(md.get_bin("x-a"), None);
    assert!(md.get_all_bin("x-a").is_empty());
    assert_eq!(md.get_bin("missing-bin"), None);
}

#[test]
fn received_binary_accepts_padded_and_unpadded() {
    let cases: [(&'static str, Result<Vec<u8>, InvalidMetadata>); 6] = [
        ("AAE", Ok(vec![0, 1])),
        ("AAE=", Ok(vec![0, 1])),
        ("AA==", Ok(vec![0])),
        ("AA", Ok(vec![0])),
        (
            "A",
            Err(InvalidMetadata::InvalidBase64 {
                key: "x-bin".into(),
            }),
        ),
        (
            "!!!",
            Err(InvalidMetadata::InvalidBase64 {
                key: "x-bin".into(),
            }),
        ),
    ];
    for (wire, expected) in cases {
        let mut headers = HeaderMap::new();
        headers.insert("x-bin", HeaderValue::from_static(wire));
        let md = MetadataMap::from_headers(headers);
        assert_eq!(md.get_bin("x-bin"), Some(expected), "{wire:?}");
    }
}

#[test]
fn from_headers_drops_reserved_and_invalid() {
    let mut headers = HeaderMap::new();
    for (k, v) in [
        ("te", "trailers"),
        ("content-type", "application/grpc"),
        ("grpc-encoding", "gzip"),
        ("grpc-accept-encoding", "gzip"),
        ("grpc-timeout", "1S"),
        ("grpc-status", "0"),
        ("grpc-message", "ok"),
        ("grpc-status-details-bin", "AA"),
        ("grpc-previous-rpc-attempts", "1"),
        ("connection", "x"),
        ("host", "example.com"),
        ("x!odd", "token chars beyond the gRPC key grammar"),
        ("user-agent", "grpc-go/1.0"),
        ("x-a", "1"),
        ("x-b-bin", "AA"),
    ] {
        headers.append(k, HeaderValue::from_static(v));
    }
    headers.append("x-a", HeaderValue::from_static("2"));
    headers.append(
        "x-obs",
        HeaderValue::from_bytes(b"caf\xe9").expect("obs-text"),
    );
    headers.append("x-tab", HeaderValue::from_static("a\tb"));
    let md = MetadataMap::from_headers(headers);
    let mut keys: Vec<&str> = md.keys().collect();
    keys.sort_unstable();
    assert_eq!(keys, ["user-agent", "x-a", "x-b-bin"]);
    assert_eq!(md.get_all("x-a"), vec!["1", "2"]);
    assert_eq!(md.len(), 4);
}

#[test]
fn iter_yields_every_value() {
    let mut md = MetadataMap::new();
    md.append("x-a", "1").expect("valid");
    md.append("x-a", "2").expect("valid");
    md.insert_bin("x-bin", [0u8]).expect("valid");
    let mut items: Vec<(&str, MetadataValue<'_>)> = md.iter().collect();
    items.sort_by_key(|(k, _)| *k);
    assert_eq!(
        items,
        vec![
            ("x-a", MetadataValue::Ascii("1")),
            ("x-a", MetadataValue::Ascii("2")),
            ("x-bin", MetadataValue::Binary(b"AA")),
        ]
    );
}

#[test]
fn merge_appends() {
    let mut a = MetadataMap::new();
    a.insert("x-a", "1").expect("valid");
    let mut b = MetadataMap::new();
    b.append("x-a", "2").expect("valid");
    b.append("x-a", "3").expect("valid");
    b.insert("x-b", "4").expect("valid");
    a.merge(b);
    assert_eq!(a.get_all("x-a"), vec!["1", "2", "3"]);
    assert_eq!(a.get("x-b"), Some("4"));
    a.merge(MetadataMap::new());
    assert_eq!(a.len(), 4);
}

#[test]
fn extend_and_into_headers() {
    let mut md = MetadataMap::new();
    md.append("x-a", "1").expect("valid");
    md.append("x-a", "2").expect("valid");
    let mut headers = HeaderMap::new();
    headers.insert("x-a", HeaderValue::from_static("0"));
    headers.insert("content-type", HeaderValue::from_static("application/grpc"));
    md.extend_headers(&mut headers);
    let values: Vec<&[u8]> = headers
        .get_all("x-a")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    assert_eq!(values, [&b"0"[..], b"1", b"2"]);
    assert_eq!(headers.len(), 4);
    assert_eq!(md.clone().into_headers().len(), 2);
}

#[test]
fn lookups_with_unusual_keys_do_not_panic() {
    let md = MetadataMap::new();
    for key in ["", " ", "x\n", "ключ", ":path", "a\0b"] {
        assert_eq!(md.get(key), None);
        assert!(md.get_all(key).is_empty());
        assert!(!md.contains_key(key));
        assert_eq!(md.get_bin(key), None);
    }
    let mut md = md;
    assert!(!md.remove("bad key"));
}

#[test]
fn invalid_metadata_becomes_invalid_argument() {
    let status = Status::from(InvalidMetadata::ReservedKey("grpc-x".into()));
    assert_eq!(status.code(), crate::Code::InvalidArgument);
    assert_eq!(status.message(), "metadata key \"grpc-x\" is reserved");
}

#[test]
fn error_messages() {
    let cases = [
        (
            InvalidMetadata::InvalidKey("a b".into()),
            "invalid metadata key \"a b\"",
        ),
        (
            InvalidMetadata::InvalidValue { key: "k".into() },
            "invalid value for metadata key \"k\"",
        ),
        (
            InvalidMetadata::BinaryKey("k-bin".into()),
            "metadata key \"k-bin\" ends in -bin and needs a binary value",
        ),
        (
            InvalidMetadata::NotBinaryKey("k".into()),
            "metadata key \"k\" does not end in -bin and cannot hold a binary value",
        ),
        (
            InvalidMetadata::InvalidBase64 {
                key: "k-bin".into(),
            },
            "invalid base64 in binary metadata \"k-bin\"",
        ),
    ];
    for (err, message) in cases {
        assert_eq!(err.to_string(), message);
    }
}
