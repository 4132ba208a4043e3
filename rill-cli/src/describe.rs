//! Descriptors printed as proto source, as grpcurl's `describe` does.

use std::fmt::Write as _;

use prost_reflect::{
    Cardinality, DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor,
    MethodDescriptor, ServiceDescriptor, Syntax,
};

/// What a name refers to.
pub(crate) enum Symbol {
    Service(ServiceDescriptor),
    Method(MethodDescriptor),
    Message(MessageDescriptor),
    Enum(EnumDescriptor),
}

/// Looks `name` up: a service, a method (`pkg.Svc.Method` or `pkg.Svc/Method`), a message or
/// an enum. A leading dot is allowed.
pub(crate) fn find(pool: &DescriptorPool, name: &str) -> Option<Symbol> {
    let name = name.trim_start_matches('.');
    if let Some(s) = pool.get_service_by_name(name) {
        return Some(Symbol::Service(s));
    }
    if let Some(m) = pool.get_message_by_name(name) {
        return Some(Symbol::Message(m));
    }
    if let Some(e) = pool.get_enum_by_name(name) {
        return Some(Symbol::Enum(e));
    }
    let (service, method) = name.rsplit_once('/').or_else(|| name.rsplit_once('.'))?;
    let service = pool.get_service_by_name(service)?;
    let method = service.methods().find(|m| m.name() == method)?;
    Some(Symbol::Method(method))
}

/// `NAME is a KIND:` and the proto text.
pub(crate) fn describe(symbol: &Symbol) -> String {
    let mut out = String::new();
    match symbol {
        Symbol::Service(s) => {
            let _ = writeln!(out, "{} is a service:", s.full_name());
            comments(
                &mut out,
                s.parent_file().file_descriptor_proto(),
                s.path(),
                "",
            );
            service(&mut out, s);
        }
        Symbol::Method(m) => {
            let _ = writeln!(out, "{} is a method:", m.full_name());
            comments(
                &mut out,
                m.parent_file().file_descriptor_proto(),
                m.path(),
                "",
            );
            method(&mut out, m, "");
        }
        Symbol::Message(m) => {
            let _ = writeln!(out, "{} is a message:", m.full_name());
            comments(&mut out, m.parent_file_descriptor_proto(), m.path(), "");
            message(&mut out, m, "");
        }
        Symbol::Enum(e) => {
            let _ = writeln!(out, "{} is an enum:", e.full_name());
            comments(&mut out, e.parent_file_descriptor_proto(), e.path(), "");
            enumeration(&mut out, e, "");
        }
    }
    out
}

/// The leading comments of the element at `path`, as `//` lines.
fn comments(out: &mut String, file: &prost_types::FileDescriptorProto, path: &[i32], indent: &str) {
    let Some(info) = &file.source_code_info else {
        return;
    };
    let Some(location) = info.location.iter().find(|l| l.path == path) else {
        return;
    };
    if let Some(text) = &location.leading_comments {
        for line in text.trim_end().lines() {
            let _ = writeln!(out, "{indent}//{}", line.trim_end());
        }
    }
}

fn service(out: &mut String, s: &ServiceDescriptor) {
    let _ = writeln!(out, "service {} {{", s.name());
    for m in s.methods() {
        comments(out, m.parent_file().file_descriptor_proto(), m.path(), "  ");
        method(out, &m, "  ");
    }
    out.push_str("}\n");
}

fn method(out: &mut String, m: &MethodDescriptor, indent: &str) {
    let stream = |yes: bool| if yes { "stream " } else { "" };
    let _ = writeln!(
        out,
        "{indent}rpc {} ( {}.{} ) returns ( {}.{} );",
        m.name(),
        stream(m.is_client_streaming()),
        m.input().full_name(),
        stream(m.is_server_streaming()),
        m.output().full_name(),
    );
}

fn message(out: &mut String, m: &MessageDescriptor, indent: &str) {
    let file = m.parent_file_descriptor_proto().clone();
    let _ = writeln!(out, "{indent}message {} {{", m.name());
    let inner = format!("{indent}  ");
    let mut oneofs_done = Vec::new();
    for f in m.fields() {
        match f.containing_oneof().filter(|o| !o.is_synthetic()) {
            Some(oneof) => {
                if oneofs_done.contains(&oneof.name().to_string()) {
                    continue;
                }
                oneofs_done.push(oneof.name().to_string());
                let _ = writeln!(out, "{inner}oneof {} {{", oneof.name());
                for f in oneof.fields() {
                    comments(out, &file, f.path(), &format!("{inner}  "));
                    field(out, &f, &format!("{inner}  "), true);
                }
                let _ = writeln!(out, "{inner}}}");
            }
            None => {
                comments(out, &file, f.path(), &inner);
                field(out, &f, &inner, false);
            }
        }
    }
    for child in m.child_messages().filter(|c| !c.is_map_entry()) {
        message(out, &child, &inner);
    }
    for child in m.child_enums() {
        enumeration(out, &child, &inner);
    }
    let reserved: Vec<String> = m
        .reserved_ranges()
        .map(|r| match r.end - r.start {
            1 => r.start.to_string(),
            _ => format!("{} to {}", r.start, r.end - 1),
        })
        .collect();
    if !reserved.is_empty() {
        let _ = writeln!(out, "{inner}reserved {};", reserved.join(", "));
    }
    let _ = writeln!(out, "{indent}}}");
}

fn field(out: &mut String, f: &FieldDescriptor, indent: &str, in_oneof: bool) {
    let proto2 = f.parent_file().syntax() == Syntax::Proto2;
    let label = if f.is_map() || in_oneof {
        ""
    } else {
        match f.cardinality() {
            Cardinality::Repeated => "repeated ",
            Cardinality::Required => "required ",
            Cardinality::Optional if proto2 || f.field_descriptor_proto().proto3_optional() => {
                "optional "
            }
            Cardinality::Optional => "",
        }
    };
    let kind = if f.is_map() {
        let Kind::Message(entry) = f.kind() else {
            return;
        };
        format!(
            "map<{}, {}>",
            kind_name(&entry.map_entry_key_field().kind()),
            kind_name(&entry.map_entry_value_field().kind())
        )
    } else {
        kind_name(&f.kind())
    };
    let _ = writeln!(out, "{indent}{label}{kind} {} = {};", f.name(), f.number());
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Message(m) => format!(".{}", m.full_name()),
        Kind::Enum(e) => format!(".{}", e.full_name()),
    }
}

fn enumeration(out: &mut String, e: &EnumDescriptor, indent: &str) {
    let file = e.parent_file_descriptor_proto().clone();
    let _ = writeln!(out, "{indent}enum {} {{", e.name());
    for v in e.values() {
        comments(out, &file, v.path(), &format!("{indent}  "));
        let _ = writeln!(out, "{indent}  {} = {};", v.name(), v.number());
    }
    let _ = writeln!(out, "{indent}}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> DescriptorPool {
        let source = r#"
            syntax = "proto3";
            package t;
            // Says hello.
            service Greeter {
              // One greeting.
              rpc Hello (Req) returns (Rep);
              rpc Chat (stream Req) returns (stream Rep);
            }
            message Req {
              string name = 1;
              repeated int64 ids = 2;
              map<string, Rep> by_name = 3;
              optional bool flag = 4;
              oneof choice { int32 a = 5; string b = 6; }
              enum Mood { MOOD_UNSPECIFIED = 0; HAPPY = 1; }
              Mood mood = 7;
              reserved 9, 10 to 12;
            }
            message Rep { bytes data = 1; }
        "#;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.proto"), source).unwrap();
        let mut compiler = protox::Compiler::new([dir.path()]).unwrap();
        compiler.include_source_info(true);
        compiler.open_file("t.proto").unwrap();
        compiler.descriptor_pool()
    }

    #[test]
    fn describes_each_kind_of_symbol() {
        let pool = pool();
        let cases: &[(&str, &str)] = &[
            (
                "t.Greeter",
                "t.Greeter is a service:\n// Says hello.\nservice Greeter {\n  // One greeting.\n  rpc Hello ( .t.Req ) returns ( .t.Rep );\n  rpc Chat ( stream .t.Req ) returns ( stream .t.Rep );\n}\n",
            ),
            (
                "t.Greeter/Chat",
                "t.Greeter.Chat is a method:\nrpc Chat ( stream .t.Req ) returns ( stream .t.Rep );\n",
            ),
            (
                "t.Req",
                "t.Req is a message:\nmessage Req {\n  string name = 1;\n  repeated int64 ids = 2;\n  map<string, .t.Rep> by_name = 3;\n  optional bool flag = 4;\n  oneof choice {\n    int32 a = 5;\n    string b = 6;\n  }\n  .t.Req.Mood mood = 7;\n  enum Mood {\n    MOOD_UNSPECIFIED = 0;\n    HAPPY = 1;\n  }\n  reserved 9, 10 to 12;\n}\n",
            ),
            (
                ".t.Req.Mood",
                "t.Req.Mood is an enum:\nenum Mood {\n  MOOD_UNSPECIFIED = 0;\n  HAPPY = 1;\n}\n",
            ),
        ];
        for (name, expected) in cases {
            let symbol = find(&pool, name).unwrap_or_else(|| panic!("{name} not found"));
            assert_eq!(describe(&symbol), *expected, "{name}");
        }
        assert!(find(&pool, "t.Nope").is_none());
        assert!(find(&pool, "t.Greeter.Nope").is_none());
    }
}
