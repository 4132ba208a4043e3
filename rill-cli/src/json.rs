//! Request messages from JSON text (one value after another, with line and column in every
//! error) and response messages to JSON, with the proto3 JSON mapping of prost-reflect.

use std::io::BufRead;

use prost_reflect::{
    DeserializeOptions, DynamicMessage, MessageDescriptor, ReflectMessage, SerializeOptions, Value,
};
use serde::de::IgnoredAny;

use crate::error::CliError;

/// One JSON value's text and where it starts (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonText {
    pub(crate) text: String,
    /// Where the text comes from ("stdin", "the JSON argument", a file name).
    pub(crate) origin: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// Splits a reader into JSON values, reading a line at a time (so values typed or piped one
/// by one are sent as soon as they are complete).
pub(crate) struct JsonReader<R> {
    reader: R,
    /// Where the input comes from, for errors ("stdin", "the argument", a file name).
    name: String,
    buf: String,
    line: usize,
    column: usize,
    eof: bool,
    failed: bool,
}

impl<R: BufRead> JsonReader<R> {
    pub(crate) fn new(reader: R, name: impl Into<String>) -> Self {
        JsonReader {
            reader,
            name: name.into(),
            buf: String::new(),
            line: 1,
            column: 1,
            eof: false,
            failed: false,
        }
    }

    /// Moves the position over `text`.
    fn advance(&mut self, text: &str) {
        for c in text.chars() {
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += c.len_utf8();
            }
        }
    }

    fn skip_whitespace(&mut self) {
        let trimmed = self.buf.len() - self.buf.trim_start().len();
        let ws: String = self.buf.drain(..trimmed).collect();
        self.advance(&ws);
    }

    fn fail(&mut self, error: &serde_json::Error) -> CliError {
        self.failed = true;
        let (line, column) = absolute(self.line, self.column, error);
        bad_json(&self.name, line, column, error)
    }
}

impl<R: BufRead> Iterator for JsonReader<R> {
    type Item = Result<JsonText, CliError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            self.skip_whitespace();
            if !self.buf.is_empty() {
                let mut values =
                    serde_json::Deserializer::from_str(&self.buf).into_iter::<IgnoredAny>();
                match values.next() {
                    Some(Ok(_)) => {
                        let end = values.byte_offset();
                        let text: String = self.buf.drain(..end).collect();
                        let found = JsonText {
                            text: text.clone(),
                            origin: self.name.clone(),
                            line: self.line,
                            column: self.column,
                        };
                        self.advance(&text);
                        return Some(Ok(found));
                    }
                    Some(Err(e)) if e.is_eof() && !self.eof => {}
                    Some(Err(e)) => return Some(Err(self.fail(&e))),
                    None => {}
                }
            } else if self.eof {
                return None;
            }
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) => {
                    self.failed = true;
                    return Some(Err(CliError::Input(format!("reading {}: {e}", self.name))));
                }
            }
        }
    }
}

/// A position in `error` (relative to a text starting at `line`:`column`) made absolute.
fn absolute(line: usize, column: usize, error: &serde_json::Error) -> (usize, usize) {
    let (l, c) = (error.line().max(1), error.column().max(1));
    if l == 1 {
        (line, column + c - 1)
    } else {
        (line + l - 1, c)
    }
}

fn bad_json(name: &str, line: usize, column: usize, error: &serde_json::Error) -> CliError {
    // serde_json ends its messages with the (relative) position: say it once, absolute.
    let message = error.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    };
    CliError::Input(format!(
        "bad request JSON in {name} at line {line}, column {column}: {message}"
    ))
}

/// Parses `json` as a `desc` message (unknown fields are errors).
pub(crate) fn to_message(
    json: &JsonText,
    desc: &MessageDescriptor,
) -> Result<DynamicMessage, CliError> {
    let mut de = serde_json::Deserializer::from_str(&json.text);
    let options = DeserializeOptions::new();
    let fail = |e: serde_json::Error| {
        let (line, column) = absolute(json.line, json.column, &e);
        bad_json(&json.origin, line, column, &e)
    };
    let message =
        DynamicMessage::deserialize_with_options(desc.clone(), &mut de, &options).map_err(fail)?;
    de.end().map_err(fail)?;
    Ok(message)
}

/// The `@type` names in a JSON text (for `Any` fields), without the URL prefix.
pub(crate) fn any_types_in_json(json: &JsonText) -> Vec<String> {
    fn walk(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(url)) = map.get("@type") {
                    out.push(type_name(url).to_string());
                }
                map.values().for_each(|v| walk(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(&json.text) {
        walk(&value, &mut out);
    }
    out
}

/// The message name of an `Any` type URL.
fn type_name(url: &str) -> &str {
    url.rsplit_once('/').map_or(url, |(_, name)| name)
}

/// The types of the `Any` values in `message` (nested too) that its pool does not know.
pub(crate) fn unknown_any_types(message: &DynamicMessage) -> Vec<String> {
    fn walk(message: &DynamicMessage, out: &mut Vec<String>) {
        let desc = message.descriptor();
        if desc.full_name() == "google.protobuf.Any" {
            if let Some(Value::String(url)) = message.get_field_by_name("type_url").as_deref() {
                let name = type_name(url);
                if desc.parent_pool().get_message_by_name(name).is_none() {
                    out.push(name.to_string());
                }
            }
            return;
        }
        for (_, value) in message.fields() {
            walk_value(value, out);
        }
    }
    fn walk_value(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Message(m) => walk(m, out),
            Value::List(items) => items.iter().for_each(|v| walk_value(v, out)),
            Value::Map(map) => map.values().for_each(|v| walk_value(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(message, &mut out);
    out
}

/// `message` as JSON: one line, or indented with `pretty`.
pub(crate) fn to_json(
    message: &DynamicMessage,
    emit_defaults: bool,
    pretty: bool,
) -> Result<String, String> {
    let options = SerializeOptions::new().skip_default_fields(!emit_defaults);
    let mut out = Vec::new();
    let result = if pretty {
        let mut ser = serde_json::Serializer::pretty(&mut out);
        message.serialize_with_options(&mut ser, &options)
    } else {
        let mut ser = serde_json::Serializer::new(&mut out);
        message.serialize_with_options(&mut ser, &options)
    };
    result.map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(input: &str) -> Vec<Result<JsonText, String>> {
        JsonReader::new(input.as_bytes(), "stdin")
            .map(|r| r.map_err(|e| e.render()))
            .collect()
    }

    fn text(text: &str, line: usize, column: usize) -> Result<JsonText, String> {
        Ok(JsonText {
            text: text.into(),
            origin: "stdin".into(),
            line,
            column,
        })
    }

    #[test]
    fn splits_values_with_positions() {
        let cases: Vec<(&str, Vec<Result<JsonText, String>>)> = vec![
            ("", vec![]),
            ("  \n\n", vec![]),
            ("{}", vec![text("{}", 1, 1)]),
            (
                "{\"a\":1}\n{\"b\":2}\n",
                vec![text("{\"a\":1}", 1, 1), text("{\"b\":2}", 2, 1)],
            ),
            (
                "{\"a\":1} {\"b\":2}",
                vec![text("{\"a\":1}", 1, 1), text("{\"b\":2}", 1, 9)],
            ),
            (
                "\n  {\n  \"a\": 1\n}\n",
                vec![text("{\n  \"a\": 1\n}", 2, 3)],
            ),
            (
                "{}\n{\"a\": tru}\n{}",
                vec![
                    text("{}", 1, 1),
                    Err(
                        "rill: bad request JSON in stdin at line 2, column 10: expected ident"
                            .into(),
                    ),
                ],
            ),
            (
                "{\"a\":\n",
                vec![Err(
                    "rill: bad request JSON in stdin at line 2, column 1: EOF while parsing a value"
                        .into(),
                )],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(values(input), expected, "{input:?}");
        }
    }

    /// Every truncation and every one-byte corruption of some inputs: no panic, and every
    /// error points inside the input.
    #[test]
    fn mangled_inputs_never_panic_and_errors_point_inside() {
        let inputs = [
            "{\"a\": [1, 2, {\"b\": \"c\\u00e9\"}]}\n{\"x\": null}\n",
            "  {\n \"k\": \"é\" }  {}\n\n[true, false]",
        ];
        let replacements = [b'{', b'}', b'"', b'\\', b'\n', b' ', b'x', 0xff, 0x00];
        for input in inputs {
            let bytes = input.as_bytes();
            let mut cases: Vec<Vec<u8>> = (0..=bytes.len()).map(|n| bytes[..n].to_vec()).collect();
            for i in 0..bytes.len() {
                for r in replacements {
                    let mut mangled = bytes.to_vec();
                    mangled[i] = r;
                    cases.push(mangled);
                }
            }
            for case in cases {
                let lines = case.iter().filter(|&&b| b == b'\n').count() + 1;
                for value in JsonReader::new(&case[..], "stdin") {
                    match value {
                        Ok(text) => assert!(text.line <= lines, "{case:?}"),
                        Err(CliError::Input(message)) => {
                            if let Some(at) = message.find("at line ") {
                                let line: usize = message[at + 8..]
                                    .split(',')
                                    .next()
                                    .and_then(|n| n.parse().ok())
                                    .unwrap_or_else(|| panic!("{message}"));
                                assert!(line >= 1 && line <= lines, "{message} for {case:?}");
                            }
                        }
                        Err(other) => panic!("{other:?}"),
                    }
                }
            }
        }
    }

    fn user_desc() -> MessageDescriptor {
        let source = r#"syntax = "proto3"; package t;
            import "google/protobuf/timestamp.proto";
            message M { int64 big = 1; bytes data = 2; E e = 3; google.protobuf.Timestamp at = 4; string name = 5; }
            enum E { E_UNSPECIFIED = 0; E_ONE = 1; }"#;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.proto"), source).unwrap();
        let mut compiler = protox::Compiler::new([dir.path()]).unwrap();
        compiler.open_file("t.proto").unwrap();
        compiler
            .descriptor_pool()
            .get_message_by_name("t.M")
            .unwrap()
    }

    #[test]
    fn proto3_json_mapping_round_trip() {
        let desc = user_desc();
        let input = r#"{"big":"9007199254740993","data":"AAEC","e":"E_ONE","at":"2024-01-02T03:04:05.500Z"}"#;
        let json = JsonText {
            text: input.into(),
            origin: "arg".into(),
            line: 1,
            column: 1,
        };
        let message = to_message(&json, &desc).unwrap();
        assert_eq!(to_json(&message, false, false).unwrap(), input);
        let with_defaults = to_json(&DynamicMessage::new(desc.clone()), true, false).unwrap();
        assert_eq!(
            with_defaults,
            r#"{"big":"0","data":"","e":"E_UNSPECIFIED","name":""}"#
        );
    }

    #[test]
    fn semantic_errors_have_absolute_positions() {
        let desc = user_desc();
        let json = JsonText {
            text: "{\n  \"nmae\": 1\n}".into(),
            origin: "stdin".into(),
            line: 4,
            column: 3,
        };
        let err = to_message(&json, &desc).unwrap_err().render();
        assert!(err.contains("in stdin at line 5, column"), "{err}");
        assert!(err.contains("nmae"), "{err}");
        let json = JsonText {
            text: "{\"e\": \"NOPE\"}".into(),
            origin: "stdin".into(),
            line: 1,
            column: 5,
        };
        let err = to_message(&json, &desc).unwrap_err().render();
        assert!(err.contains("at line 1, column"), "{err}");
    }
}
