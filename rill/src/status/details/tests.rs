use std::collections::HashMap;
use std::time::Duration as StdDuration;

use prost::{Message, Name};

use super::*;

fn full() -> ErrorDetails {
    ErrorDetails::new()
        .with_error_info(
            "API_DISABLED",
            "example.com",
            HashMap::from([("service".to_owned(), "users".to_owned())]),
        )
        .with_retry_info(StdDuration::from_millis(1500))
        .with_debug_info(vec!["frame 1".into(), "frame 2".into()], "detail")
        .with_quota_failure(vec![QuotaViolation {
            subject: "clientip:1.2.3.4".into(),
            description: "daily limit".into(),
        }])
        .with_precondition_failure(vec![PreconditionViolation {
            r#type: "TOS".into(),
            subject: "example.com".into(),
            description: "terms not accepted".into(),
        }])
        .with_bad_request(vec![FieldViolation::new("email", "not an email")])
        .with_request_info("req-1", "data")
        .with_resource_info("user", "users/7", "admin", "missing")
        .with_help(vec![HelpLink::new("docs", "https://example.com")])
        .with_localized_message("en-US", "Oops")
        .with_other(Any {
            type_url: "type.googleapis.com/acme.Custom".into(),
            value: vec![1, 2, 3],
        })
}

#[test]
fn builders_fill_getters() {
    let d = full();
    assert!(!d.is_empty());
    let info = d.error_info().expect("set");
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        ("API_DISABLED", "example.com")
    );
    assert_eq!(
        info.metadata.get("service").map(String::as_str),
        Some("users")
    );
    assert_eq!(
        d.retry_info().and_then(RetryInfo::delay),
        Some(StdDuration::from_millis(1500))
    );
    assert_eq!(d.debug_info().map(|x| x.stack_entries.len()), Some(2));
    assert_eq!(
        d.quota_failure().map(|x| x.violations[0].subject.as_str()),
        Some("clientip:1.2.3.4")
    );
    assert_eq!(
        d.precondition_failure()
            .map(|x| x.violations[0].r#type.as_str()),
        Some("TOS")
    );
    assert_eq!(
        d.bad_request()
            .map(|x| x.field_violations[0].field.as_str()),
        Some("email")
    );
    assert_eq!(
        d.request_info().map(|x| x.request_id.as_str()),
        Some("req-1")
    );
    assert_eq!(d.resource_info().map(|x| x.owner.as_str()), Some("admin"));
    assert_eq!(
        d.help().map(|x| x.links[0].url.as_str()),
        Some("https://example.com")
    );
    assert_eq!(
        d.localized_message().map(|x| x.message.as_str()),
        Some("Oops")
    );
    assert_eq!(d.other().len(), 1);
}

#[test]
fn empty_details() {
    let d = ErrorDetails::new();
    assert!(d.is_empty());
    assert!(d.to_any_vec().is_empty());
    assert_eq!(
        ErrorDetails::decode(&d.encode(Code::Ok, "")),
        Ok(ErrorDetails::new())
    );
    assert_eq!(ErrorDetails::decode(&[]), Ok(ErrorDetails::new()));
}

#[test]
fn encode_decode_round_trip() {
    let d = full();
    let bytes = d.encode(Code::InvalidArgument, "invalid");
    let status = RpcStatus::decode(bytes.as_ref()).expect("valid");
    assert_eq!(status.code, 3);
    assert_eq!(status.message, "invalid");
    assert_eq!(status.details.len(), 11);
    assert_eq!(ErrorDetails::decode(&bytes), Ok(d));
}

#[test]
fn to_any_vec_uses_googleapis_type_urls_in_fixed_order() {
    let urls: Vec<String> = full()
        .to_any_vec()
        .into_iter()
        .map(|a| a.type_url)
        .collect();
    let expected = [
        "ErrorInfo",
        "RetryInfo",
        "DebugInfo",
        "QuotaFailure",
        "PreconditionFailure",
        "BadRequest",
        "RequestInfo",
        "ResourceInfo",
        "Help",
        "LocalizedMessage",
    ]
    .map(|n| format!("type.googleapis.com/google.rpc.{n}"));
    assert_eq!(urls[..10], expected);
    assert_eq!(urls[10], "type.googleapis.com/acme.Custom");
}

#[test]
fn type_names() {
    let cases = [
        (
            RpcStatus::type_url(),
            "type.googleapis.com/google.rpc.Status",
        ),
        (Any::type_url(), "type.googleapis.com/google.protobuf.Any"),
        (
            Duration::type_url(),
            "type.googleapis.com/google.protobuf.Duration",
        ),
        (
            QuotaViolation::type_url(),
            "type.googleapis.com/google.rpc.QuotaFailure.Violation",
        ),
        (
            PreconditionViolation::type_url(),
            "type.googleapis.com/google.rpc.PreconditionFailure.Violation",
        ),
        (
            FieldViolation::type_url(),
            "type.googleapis.com/google.rpc.BadRequest.FieldViolation",
        ),
        (
            HelpLink::type_url(),
            "type.googleapis.com/google.rpc.Help.Link",
        ),
    ];
    for (url, expected) in cases {
        assert_eq!(url, expected);
    }
}

#[test]
fn wire_format_matches_proto_field_numbers() {
    let cases: [(Vec<u8>, &[u8]); 6] = [
        (
            RpcStatus {
                code: 3,
                message: "m".into(),
                details: vec![],
            }
            .encode_to_vec(),
            &[0x08, 0x03, 0x12, 0x01, b'm'],
        ),
        (
            Any {
                type_url: "t".into(),
                value: vec![7],
            }
            .encode_to_vec(),
            &[0x0a, 0x01, b't', 0x12, 0x01, 7],
        ),
        (
            ErrorInfo {
                reason: "R".into(),
                domain: "D".into(),
                metadata: HashMap::new(),
            }
            .encode_to_vec(),
            &[0x0a, 0x01, b'R', 0x12, 0x01, b'D'],
        ),
        (
            BadRequest {
                field_violations: vec![FieldViolation::new("f", "d")],
            }
            .encode_to_vec(),
            &[0x0a, 0x06, 0x0a, 0x01, b'f', 0x12, 0x01, b'd'],
        ),
        (
            Duration::from(StdDuration::from_millis(1500)).encode_to_vec(),
            &[0x08, 0x01, 0x10, 0x80, 0xca, 0xb5, 0xee, 0x01],
        ),
        (
            ResourceInfo {
                resource_type: "a".into(),
                resource_name: "b".into(),
                owner: "c".into(),
                description: "d".into(),
            }
            .encode_to_vec(),
            &[0x0a, 1, b'a', 0x12, 1, b'b', 0x1a, 1, b'c', 0x22, 1, b'd'],
        ),
    ];
    for (encoded, expected) in cases {
        assert_eq!(encoded, expected);
    }
}

#[test]
fn decode_accepts_any_type_url_domain() {
    let info = ErrorInfo {
        reason: "R".into(),
        ..Default::default()
    };
    for url in [
        "type.googleapis.com/google.rpc.ErrorInfo",
        "example.com/x/google.rpc.ErrorInfo",
        "google.rpc.ErrorInfo",
    ] {
        let any = Any {
            type_url: url.into(),
            value: info.encode_to_vec(),
        };
        let bytes = ErrorDetails::new()
            .with_other(any)
            .encode(Code::Internal, "");
        let d = ErrorDetails::decode(&bytes).expect("valid");
        assert_eq!(d.error_info(), Some(&info), "{url}");
        assert!(d.other().is_empty());
    }
}

#[test]
fn decode_keeps_unknown_duplicate_and_malformed_in_other() {
    let first = Any::pack(&LocalizedMessage {
        locale: "en".into(),
        message: "a".into(),
    });
    let duplicate = Any::pack(&LocalizedMessage {
        locale: "fr".into(),
        message: "b".into(),
    });
    let malformed = Any {
        type_url: BadRequest::type_url(),
        value: vec![0xff, 0xff],
    };
    let unknown = Any {
        type_url: "type.googleapis.com/acme.X".into(),
        value: vec![1],
    };
    let bytes = ErrorDetails::new()
        .with_other(first)
        .with_other(duplicate.clone())
        .with_other(malformed.clone())
        .with_other(unknown.clone())
        .encode(Code::Internal, "");
    let d = ErrorDetails::decode(&bytes).expect("outer status is valid");
    assert_eq!(d.localized_message().map(|m| m.locale.as_str()), Some("en"));
    assert!(d.bad_request().is_none());
    assert_eq!(d.other(), &[duplicate, malformed, unknown]);
}

#[test]
fn decode_rejects_malformed_status() {
    let cases: [&[u8]; 3] = [&[0xff], &[0x1a, 0x05, 0x00], &[0x12, 0x02, 0xc3, 0x28]];
    for bytes in cases {
        assert!(ErrorDetails::decode(bytes).is_err(), "{bytes:?}");
    }
}

#[test]
fn any_unpack() {
    let info = RequestInfo {
        request_id: "r".into(),
        serving_data: String::new(),
    };
    let any = Any::pack(&info);
    assert_eq!(any.unpack::<RequestInfo>(), Some(Ok(info)));
    assert_eq!(any.unpack::<ErrorInfo>(), None);
    let bad = Any {
        type_url: RequestInfo::type_url(),
        value: vec![0xff],
    };
    assert!(matches!(bad.unpack::<RequestInfo>(), Some(Err(_))));
}

#[test]
fn duration_conversions() {
    let cases = [
        (
            Duration {
                seconds: 1,
                nanos: 500_000_000,
            },
            Some(StdDuration::from_millis(1500)),
        ),
        (
            Duration {
                seconds: 0,
                nanos: 0,
            },
            Some(StdDuration::ZERO),
        ),
        (
            Duration {
                seconds: -1,
                nanos: 0,
            },
            None,
        ),
        (
            Duration {
                seconds: 0,
                nanos: -1,
            },
            None,
        ),
        (
            Duration {
                seconds: 0,
                nanos: 1_000_000_000,
            },
            None,
        ),
    ];
    for (proto, std) in cases {
        assert_eq!(proto.to_std(), std, "{proto:?}");
    }
    assert_eq!(Duration::from(StdDuration::MAX).seconds, i64::MAX);
    assert_eq!(RetryInfo { retry_delay: None }.delay(), None);
}

#[test]
fn bad_request_violation_appends() {
    let d = ErrorDetails::new()
        .with_bad_request_violation("a", "x")
        .with_bad_request_violation("b", "y");
    let fields: Vec<&str> = d
        .bad_request()
        .map(|b| {
            b.field_violations
                .iter()
                .map(|v| v.field.as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(fields, ["a", "b"]);
}
