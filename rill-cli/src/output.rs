//! What `rill` prints: response messages (stdout, one JSON document per line), metadata
//! (stderr, with -v).

use std::io::Write;

use prost_reflect::{DynamicMessage, MessageDescriptor};
use rill::{MetadataMap, Streaming};

use crate::call::CallOptions;
use crate::error::CliError;
use crate::json;
use crate::raw::RawMessage;
use crate::source::Source;

/// Writes `text` to stdout now; a closed stdout (`| head`) is not an error.
pub(crate) fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

pub(crate) struct Printer<'a> {
    pub(crate) output: MessageDescriptor,
    pub(crate) options: &'a CallOptions,
    pub(crate) count: usize,
}

impl Printer<'_> {
    pub(crate) fn done(&self) {
        if self.options.verbose {
            eprintln!("Received {} response message(s)", self.count);
        }
    }

    /// Decodes and prints one response message, fetching unknown `Any` types first.
    pub(crate) async fn print(
        &mut self,
        source: &mut Source,
        raw: RawMessage,
    ) -> Result<(), CliError> {
        let decode = |desc: &MessageDescriptor| {
            DynamicMessage::decode(desc.clone(), raw.0.clone()).map_err(|e| {
                CliError::Input(format!(
                    "the response is not a valid {}: {e}",
                    desc.full_name()
                ))
            })
        };
        let mut message = decode(&self.output)?;
        let unknown = json::unknown_any_types(&message);
        if !unknown.is_empty() {
            // Loaded now, or already for the request: decode again with the latest pool.
            source.load_types(&unknown).await?;
            if let Some(fresh) = source.pool().get_message_by_name(self.output.full_name()) {
                self.output = fresh;
                message = decode(&self.output)?;
            }
        }
        let text = json::to_json(&message, self.options.emit_defaults, self.options.pretty)
            .map_err(|e| CliError::Input(format!("cannot print the response as JSON: {e}")))?;
        stdout(&format!("{text}\n"));
        self.count += 1;
        Ok(())
    }
}

pub(crate) fn trailers<T>(verbose: bool, stream: &mut Streaming<T>) {
    if verbose {
        if let Some(trailers) = stream.trailers() {
            print_metadata("Response trailers received", trailers);
        }
    }
}

pub(crate) fn print_metadata_if(verbose: bool, title: &str, metadata: &MetadataMap) {
    if verbose {
        print_metadata(title, metadata);
    }
}

/// `title:` then `key: value` lines (on stderr; `-bin` values stay base64).
pub(crate) fn print_metadata(title: &str, metadata: &MetadataMap) {
    let mut text = format!("{title}:\n");
    if metadata.is_empty() {
        text.push_str("(empty)\n");
    }
    for (key, value) in metadata.iter() {
        let value = match value {
            rill::metadata::MetadataValue::Ascii(v) => v.to_string(),
            rill::metadata::MetadataValue::Binary(v) => String::from_utf8_lossy(v).into_owned(),
        };
        text.push_str(&format!("{key}: {value}\n"));
    }
    eprint!("{text}");
}
