//! What rill-etcd stores under a key, and the key ranges it reads.
//!
//! Values follow grpc-go's etcd naming (`go.etcd.io/etcd/client/v3/naming/endpoints`): a JSON
//! object whose `"Addr"` is the address (`{"Addr":"10.0.0.5:50051"}`, other members such as
//! `"Metadata"` ignored), so rill and grpc-go services can share a registry. A bare address
//! (`10.0.0.5:50051`) is read too, for registries written by hand or by other tools.

use rill::resolver::Address;

/// Why a stored value is not an address; the resolver skips (and logs) such keys.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ValueError {
    #[error("value is not UTF-8")]
    NotUtf8,
    #[error("JSON value is not an object with a string \"Addr\": {0}")]
    BadJson(String),
    #[error(transparent)]
    Address(#[from] rill::resolver::AddressParseError),
}

/// Reads a stored value as an address: `{"Addr":"host:port",...}` or `host:port`.
pub(crate) fn parse_value(value: &[u8]) -> Result<Address, ValueError> {
    let text = std::str::from_utf8(value).map_err(|_| ValueError::NotUtf8)?;
    let text = text.trim();
    let addr = if text.starts_with('{') {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ValueError::BadJson(e.to_string()))?;
        match json.get("Addr").and_then(serde_json::Value::as_str) {
            Some(addr) => addr.to_string(),
            None => return Err(ValueError::BadJson(truncate(text))),
        }
    } else {
        text.to_string()
    };
    Ok(addr.parse()?)
}

/// The value [`Registration`](crate::Registration) stores: grpc-go's endpoint JSON.
pub(crate) fn encode_value(address: &str) -> Vec<u8> {
    serde_json::json!({ "Addr": address })
        .to_string()
        .into_bytes()
}

/// The key prefix of a service: `prefix` with exactly one trailing `/`, so that `svc` does
/// not also match `svc2/…`.
pub(crate) fn key_prefix(prefix: &str) -> String {
    format!("{}/", prefix.trim_end_matches('/'))
}

/// The `range_end` that makes a Range or Watch cover every key starting with `prefix`:
/// the prefix with its last byte below 0xff incremented (etcd's `GetPrefixRangeEnd`), or
/// `"\0"` (every key from `prefix` on) when all its bytes are 0xff.
pub(crate) fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_bare_values() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"127.0.0.1:50051", Some("127.0.0.1:50051")),
            (b" 10.0.0.1:1 \n", Some("10.0.0.1:1")),
            (b"replica-1.internal:443", Some("replica-1.internal:443")),
            (br#"{"Addr":"127.0.0.1:7"}"#, Some("127.0.0.1:7")),
            (
                br#"{"Op":0,"Addr":"[::1]:8","Metadata":{"zone":"a"}}"#,
                Some("[::1]:8"),
            ),
            (br#"{"Addr":7}"#, None),
            (br#"{"addr":"127.0.0.1:7"}"#, None),
            (br#"{"Addr":"127.0.0.1:7""#, None),
            (b"[1,2]", None),
            (b"", None),
            (b"no-port", None),
            (b"\xff\xfe", None),
            (b"http://x:1/", None),
        ];
        for (value, want) in cases {
            let got = parse_value(value).ok().map(|a| a.to_string());
            assert_eq!(
                got.as_deref(),
                *want,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    /// Values are written by anyone with access to etcd: no input may panic the parser.
    #[test]
    fn arbitrary_bytes_never_panic() {
        let pieces: [&[u8]; 10] = [
            b"{",
            b"}",
            b"\"Addr\"",
            b":",
            b"\"",
            b"127.0.0.1",
            b"[::1]",
            b"\xff",
            b"\\u0000",
            b"99999",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let mut value = Vec::new();
            for _ in 0..(seed % 8) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                value.extend_from_slice(pieces[(seed % 10) as usize]);
            }
            let _ = parse_value(&value);
        }
    }

    #[test]
    fn encoded_values_read_back() {
        let value = encode_value("127.0.0.1:50051");
        assert_eq!(value, br#"{"Addr":"127.0.0.1:50051"}"#);
        assert_eq!(
            parse_value(&value).unwrap(),
            "127.0.0.1:50051".parse().unwrap()
        );
    }

    #[test]
    fn prefix_ranges() {
        assert_eq!(key_prefix("svc"), "svc/");
        assert_eq!(key_prefix("a/b//"), "a/b/");
        let cases: &[(&[u8], &[u8])] = &[
            (b"svc/", b"svc0"),
            (b"a\xff", b"b"),
            (b"\xff\xff", b"\0"),
            (b"", b"\0"),
        ];
        for (prefix, end) in cases {
            assert_eq!(prefix_range_end(prefix), *end, "{prefix:?}");
        }
    }
}
