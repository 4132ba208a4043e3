//! Custom gRPC metadata: the user-visible request headers, response headers and trailers.
//!
//! Keys are lowercase `0-9 a-z _ - .`; keys ending in `-bin` carry binary values (sent as
//! base64), all other keys carry printable ASCII. Transport and `grpc-*` headers are reserved.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::Status;

/// Encodes binary metadata: standard alphabet, no padding (what PROTOCOL-HTTP2 asks senders to use).
pub(crate) const BASE64_ENCODE: GeneralPurpose = STANDARD_NO_PAD;

/// Decodes binary metadata: padded or unpadded input, lenient about trailing bits.
pub(crate) const BASE64_DECODE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Headers owned by HTTP/2 or the gRPC protocol itself; never user metadata. `h2` also refuses
/// to send the connection-specific ones.
const RESERVED_KEYS: &[&str] = &[
    "te",
    "content-type",
    "connection",
    "host",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// Why a metadata key or value was rejected.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidMetadata {
    /// The key is empty or has characters outside `0-9 a-z _ - .`.
    #[error("invalid metadata key {0:?}")]
    InvalidKey(String),
    /// The key is reserved for the transport or the gRPC protocol (`grpc-*`, `te`, ...).
    #[error("metadata key {0:?} is reserved")]
    ReservedKey(String),
    /// An ASCII value has bytes outside printable ASCII (0x20..=0x7E).
    #[error("invalid value for metadata key {key:?}")]
    InvalidValue {
        /// The key the value was meant for.
        key: String,
    },
    /// An ASCII value was used with a `-bin` key.
    #[error("metadata key {0:?} ends in -bin and needs a binary value")]
    BinaryKey(String),
    /// A binary value was used with a key that does not end in `-bin`.
    #[error("metadata key {0:?} does not end in -bin and cannot hold a binary value")]
    NotBinaryKey(String),
    /// A received binary value is not valid base64.
    #[error("invalid base64 in binary metadata {key:?}")]
    InvalidBase64 {
        /// The key of the undecodable value.
        key: String,
    },
}

impl From<InvalidMetadata> for Status {
    fn from(err: InvalidMetadata) -> Status {
        Status::invalid_argument(err.to_string())
    }
}

/// One metadata value, as yielded by [`MetadataMap::iter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataValue<'a> {
    /// The value of an ASCII key.
    Ascii(&'a str),
    /// The value of a `-bin` key, still base64 text; see [`MetadataMap::get_bin`] to decode.
    Binary(&'a [u8]),
}

/// A multimap of custom gRPC metadata.
///
/// Every entry satisfies the key and value rules, whether inserted locally or received.
#[derive(Clone, Default, Debug)]
pub struct MetadataMap {
    headers: HeaderMap,
}

impl MetadataMap {
    /// Creates an empty map.
    pub fn new() -> MetadataMap {
        MetadataMap::default()
    }

    /// The number of values (a key with two values counts twice).
    pub fn len(&self) -> usize {
        self.headers.len()
    }

    /// Whether the map holds no values.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// Sets an ASCII value, replacing any previous values of the key.
    ///
    /// ```rust
    /// let mut md = rill::MetadataMap::new();
    /// md.insert("x-request-id", "42").unwrap();
    /// md.insert("X-Request-Id", "43").unwrap(); // keys are lowercased
    /// assert_eq!(md.get("x-request-id"), Some("43"));
    /// assert!(md.insert("grpc-status", "0").is_err()); // reserved
    /// ```
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), InvalidMetadata> {
        let (name, value) = ascii_entry(key, value)?;
        self.headers.insert(name, value);
        Ok(())
    }

    /// Adds an ASCII value, keeping previous values of the key.
    pub fn append(&mut self, key: &str, value: &str) -> Result<(), InvalidMetadata> {
        let (name, value) = ascii_entry(key, value)?;
        self.headers.append(name, value);
        Ok(())
    }

    /// Sets a binary value (key must end in `-bin`), replacing previous values of the key.
    ///
    /// ```rust
    /// let mut md = rill::MetadataMap::new();
    /// md.insert_bin("trace-bin", [0u8, 1, 2]).unwrap();
    /// assert_eq!(md.get_bin("trace-bin"), Some(Ok(vec![0, 1, 2])));
    /// ```
    pub fn insert_bin(
        &mut self,
        key: &str,
        value: impl AsRef<[u8]>,
    ) -> Result<(), InvalidMetadata> {
        let (name, value) = binary_entry(key, value.as_ref())?;
        self.headers.insert(name, value);
        Ok(())
    }

    /// Adds a binary value (key must end in `-bin`), keeping previous values of the key.
    pub fn append_bin(
        &mut self,
        key: &str,
        value: impl AsRef<[u8]>,
    ) -> Result<(), InvalidMetadata> {
        let (name, value) = binary_entry(key, value.as_ref())?;
        self.headers.append(name, value);
        Ok(())
    }

    /// The first value of an ASCII key; `None` when absent or for `-bin` keys.
    pub fn get(&self, key: &str) -> Option<&str> {
        if is_binary_key(key) {
            return None;
        }
        self.headers.get(key).and_then(|v| v.to_str().ok())
    }

    /// All values of an ASCII key, in insertion order; empty for `-bin` keys.
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        if is_binary_key(key) {
            return Vec::new();
        }
        self.headers
            .get_all(key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// The first value of a `-bin` key, base64-decoded; `None` when absent or not a `-bin` key.
    pub fn get_bin(&self, key: &str) -> Option<Result<Vec<u8>, InvalidMetadata>> {
        if !is_binary_key(key) {
            return None;
        }
        self.headers.get(key).map(|v| decode_binary(key, v))
    }

    /// All values of a `-bin` key, base64-decoded; empty when not a `-bin` key.
    pub fn get_all_bin(&self, key: &str) -> Vec<Result<Vec<u8>, InvalidMetadata>> {
        if !is_binary_key(key) {
            return Vec::new();
        }
        self.headers
            .get_all(key)
            .iter()
            .map(|v| decode_binary(key, v))
            .collect()
    }

    /// Removes every value of a key; returns whether there was any.
    pub fn remove(&mut self, key: &str) -> bool {
        self.headers.remove(key).is_some()
    }

    /// Whether the key has at least one value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.headers.contains_key(key)
    }

    /// Each distinct key once.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.headers.keys().map(HeaderName::as_str)
    }

    /// Every (key, value) pair; a key with several values appears several times.
    pub fn iter(&self) -> impl Iterator<Item = (&str, MetadataValue<'_>)> {
        self.headers.iter().filter_map(|(name, value)| {
            let key = name.as_str();
            let value = if is_binary_key(key) {
                MetadataValue::Binary(value.as_bytes())
            } else {
                // Always valid: ASCII values are checked on insert and on receipt.
                MetadataValue::Ascii(value.to_str().ok()?)
            };
            Some((key, value))
        })
    }

    /// Appends every value of `other`, keeping existing values.
    pub fn merge(&mut self, other: MetadataMap) {
        extend_appending(&mut self.headers, other.headers);
    }

    /// Keeps the custom metadata of received headers, dropping reserved keys and entries that
    /// break the key or ASCII value rules.
    pub(crate) fn from_headers(mut headers: HeaderMap) -> MetadataMap {
        // The common case keeps the received map and drops the few reserved entries in place
        // (no second map, no allocation); a key with a non-printable ASCII value is rare and
        // takes the rebuilding path. One pass over the entries finds both.
        loop {
            let mut needs_rebuild = false;
            let mut bad: [Option<HeaderName>; 8] = Default::default();
            let mut found = 0usize;
            for (name, value) in headers.iter() {
                let key = name.as_str();
                if !key_is_valid(key) {
                    // A key's values come one after another: note the key once.
                    let last = found.checked_sub(1).and_then(|i| bad[i].as_ref());
                    if found < bad.len() && last != Some(name) {
                        bad[found] = Some(name.clone());
                        found += 1;
                    }
                } else if !is_binary_key(key) && !is_valid_ascii_value(value.as_bytes()) {
                    needs_rebuild = true;
                }
            }
            for name in bad.iter().flatten() {
                headers.remove(name);
            }
            if found == bad.len() {
                // More reserved keys than one pass holds (a hostile peer): look again.
                continue;
            }
            return if needs_rebuild {
                MetadataMap::rebuild(headers)
            } else {
                MetadataMap { headers }
            };
        }
    }

    /// Copies only the valid entries of `headers` (a key with some invalid values keeps its
    /// valid ones).
    fn rebuild(headers: HeaderMap) -> MetadataMap {
        let mut out = HeaderMap::with_capacity(headers.len());
        let mut current: Option<HeaderName> = None;
        // HeaderMap's owned iterator yields a name only for the first value of each key.
        for (name, value) in headers {
            if let Some(name) = name {
                current = Some(name);
            }
            let Some(name) = current.as_ref() else {
                continue;
            };
            let key = name.as_str();
            let keep =
                key_is_valid(key) && (is_binary_key(key) || is_valid_ascii_value(value.as_bytes()));
            if keep {
                out.append(name.clone(), value);
            }
        }
        MetadataMap { headers: out }
    }

    /// Sets a reserved key the library itself reports (e.g. `grpc-previous-rpc-attempts`).
    pub(crate) fn set_reserved(&mut self, key: &'static str, value: http::HeaderValue) {
        self.headers
            .insert(http::header::HeaderName::from_static(key), value);
    }

    /// Appends every entry to `headers`.
    pub(crate) fn extend_headers(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
    }

    /// The entries as HTTP headers.
    #[allow(dead_code)] // contract API, not used by the transport yet
    pub(crate) fn as_headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Converts into HTTP headers.
    #[allow(dead_code)] // contract API, not used by the transport yet
    pub(crate) fn into_headers(self) -> HeaderMap {
        self.headers
    }
}

/// Appends the owned entries of `from` to `into`.
fn extend_appending(into: &mut HeaderMap, from: HeaderMap) {
    let mut current: Option<HeaderName> = None;
    for (name, value) in from {
        if let Some(name) = name {
            current = Some(name);
        }
        if let Some(name) = current.as_ref() {
            into.append(name.clone(), value);
        }
    }
}

/// Whether `key` names binary metadata (case-insensitive, like header lookups).
fn is_binary_key(key: &str) -> bool {
    let key = key.as_bytes();
    key.len() > 4 && key[key.len() - 4..].eq_ignore_ascii_case(b"-bin")
}

/// Printable ASCII only, per PROTOCOL-HTTP2's ASCII-Value.
fn is_valid_ascii_value(value: &[u8]) -> bool {
    value.iter().all(|b| (0x20..=0x7E).contains(b))
}

fn is_reserved_key(key: &str) -> bool {
    key.starts_with(':') || key.starts_with("grpc-") || RESERVED_KEYS.contains(&key)
}

fn has_key_grammar(key: &str) -> bool {
    let valid_char = |b: u8| matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'_' | b'-' | b'.');
    !key.is_empty() && key.bytes().all(valid_char)
}

/// Whether a lowercase key is custom metadata; allocation-free, for the receive path.
fn key_is_valid(key: &str) -> bool {
    !is_reserved_key(key) && has_key_grammar(key)
}

/// Checks a lowercase key against the grammar and the reserved list.
fn validate_key(key: &str) -> Result<(), InvalidMetadata> {
    if is_reserved_key(key) {
        return Err(InvalidMetadata::ReservedKey(key.to_owned()));
    }
    if !has_key_grammar(key) {
        return Err(InvalidMetadata::InvalidKey(key.to_owned()));
    }
    Ok(())
}

/// Lowercases and validates a key for insertion.
fn header_name(key: &str) -> Result<HeaderName, InvalidMetadata> {
    let key = key.to_ascii_lowercase();
    validate_key(&key)?;
    HeaderName::from_bytes(key.as_bytes()).map_err(|_| InvalidMetadata::InvalidKey(key))
}

/// Builds a validated ASCII entry.
fn ascii_entry(key: &str, value: &str) -> Result<(HeaderName, HeaderValue), InvalidMetadata> {
    let name = header_name(key)?;
    if is_binary_key(name.as_str()) {
        return Err(InvalidMetadata::BinaryKey(name.as_str().to_owned()));
    }
    let invalid = || InvalidMetadata::InvalidValue {
        key: name.as_str().to_owned(),
    };
    if !is_valid_ascii_value(value.as_bytes()) {
        return Err(invalid());
    }
    let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
    Ok((name, value))
}

/// Builds a validated binary entry, base64-encoding the value.
fn binary_entry(key: &str, value: &[u8]) -> Result<(HeaderName, HeaderValue), InvalidMetadata> {
    let name = header_name(key)?;
    if !is_binary_key(name.as_str()) {
        return Err(InvalidMetadata::NotBinaryKey(name.as_str().to_owned()));
    }
    let value = HeaderValue::try_from(BASE64_ENCODE.encode(value)).map_err(|_| {
        InvalidMetadata::InvalidValue {
            key: name.as_str().to_owned(),
        }
    })?;
    Ok((name, value))
}

/// Decodes a stored binary value.
fn decode_binary(key: &str, value: &HeaderValue) -> Result<Vec<u8>, InvalidMetadata> {
    BASE64_DECODE
        .decode(value.as_bytes())
        .map_err(|_| InvalidMetadata::InvalidBase64 {
            key: key.to_ascii_lowercase(),
        })
}

#[cfg(test)]
mod tests;
