//! Rust names for proto services and methods.

/// Converts a proto identifier (`GetUser`, `getHTTPStatus`, `list_users_v2`) to a
/// `snake_case` Rust identifier, made raw or suffixed when it is a keyword.
pub(crate) fn snake_ident(proto_name: &str) -> String {
    sanitize(&to_snake_case(proto_name))
}

/// Word boundaries: lower/digit -> upper (`getUser`), and the last capital of an acronym
/// followed by a lowercase letter (`HTTPStatus` -> `http_status`).
fn to_snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(char::is_lowercase),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Makes `ident` usable as a Rust identifier: keywords become raw identifiers, and the few
/// keywords that cannot be raw (`self`, `super`, `crate`, `Self`, `_`) get a `_` suffix.
pub(crate) fn sanitize(ident: &str) -> String {
    const RAW_OK: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern",
        "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
        "pub", "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use",
        "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro", "override",
        "priv", "try", "typeof", "unsized", "virtual", "yield",
    ];
    const NO_RAW: &[&str] = &["self", "super", "crate", "Self", "_"];
    if RAW_OK.contains(&ident) {
        format!("r#{ident}")
    } else if NO_RAW.contains(&ident) {
        format!("{ident}_")
    } else {
        ident.to_owned()
    }
}

/// Names the generated client already uses for its own methods (or that would shadow common
/// trait methods such as `clone`); an RPC with one of these names gets an `_rpc` suffix on the
/// client so both stay callable.
const CLIENT_RESERVED: &[&str] = &[
    "new",
    "connect",
    "client",
    "send_compressed",
    "accept_compressed",
    "timeout",
    "max_decoding_message_size",
    "max_encoding_message_size",
    "clone",
    "clone_from",
    "fmt",
    "into",
    "to_owned",
];

/// The client method name for an RPC whose server-trait method is `method`.
pub(crate) fn client_method(method: &str) -> String {
    if CLIENT_RESERVED.contains(&method) {
        format!("{method}_rpc")
    } else {
        method.to_owned()
    }
}

/// Qualifies a type path that prost-build resolved relative to the package module so that it
/// works one module deeper (inside the generated `*_server` / `*_client` modules). Absolute
/// paths and non-paths (prost maps `google.protobuf.Empty` to `()`) stay as they are.
pub(crate) fn qualify_type(rust_path: &str) -> String {
    let is_relative_path = rust_path.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && !rust_path.starts_with("crate::");
    if !is_relative_path {
        rust_path.to_owned()
    } else {
        format!("super::{rust_path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_conversions() {
        let cases = [
            ("GetUser", "get_user"),
            ("getUser", "get_user"),
            ("get_user", "get_user"),
            ("ListUsersV2", "list_users_v2"),
            ("GetHTTPStatus", "get_http_status"),
            ("HTTP", "http"),
            ("Type", "r#type"),
            ("Async", "r#async"),
            ("Self", "self_"),
            ("Super", "super_"),
            ("Ping", "ping"),
            ("A", "a"),
        ];
        for (input, expected) in cases {
            assert_eq!(snake_ident(input), expected, "input {input}");
        }
    }

    #[test]
    fn client_names_avoid_helpers() {
        assert_eq!(client_method("connect"), "connect_rpc");
        assert_eq!(client_method("clone"), "clone_rpc");
        assert_eq!(client_method("get_user"), "get_user");
    }

    #[test]
    fn type_paths() {
        assert_eq!(qualify_type("User"), "super::User");
        assert_eq!(
            qualify_type("super::common::Id"),
            "super::super::common::Id"
        );
        assert_eq!(qualify_type("::prost_types::Empty"), "::prost_types::Empty");
        assert_eq!(qualify_type("crate::ext::Msg"), "crate::ext::Msg");
        assert_eq!(qualify_type("()"), "()");
        assert_eq!(qualify_type("r#Type"), "super::r#Type");
    }
}
