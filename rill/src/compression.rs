//! Message compression: gzip, deflate (zlib) and zstd, each behind its cargo feature.
//!
//! Decompression is bounded: it never produces more than the configured message limit, so a
//! small "zip bomb" fails fast with `RESOURCE_EXHAUSTED` instead of exhausting memory.

use std::fmt;
#[cfg(any(feature = "gzip", feature = "deflate", feature = "zstd"))]
use std::io::Read;

use bytes::{Bytes, BytesMut};

use crate::Status;

/// A message compression algorithm, as named in `grpc-encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CompressionEncoding {
    /// gzip (RFC 1952).
    Gzip,
    /// deflate in the zlib format (RFC 1950), as gRPC C-core and grpc-go send it.
    Deflate,
    /// Zstandard (RFC 8878).
    Zstd,
}

impl CompressionEncoding {
    /// Every encoding rill knows, whether or not its feature is enabled.
    pub const ALL: [CompressionEncoding; 3] = [
        CompressionEncoding::Gzip,
        CompressionEncoding::Deflate,
        CompressionEncoding::Zstd,
    ];

    /// The `grpc-encoding` name, e.g. `"gzip"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompressionEncoding::Gzip => "gzip",
            CompressionEncoding::Deflate => "deflate",
            CompressionEncoding::Zstd => "zstd",
        }
    }

    /// Parses a `grpc-encoding` name (case-insensitive, surrounding spaces ignored); `None` for
    /// `identity` and unknown names.
    ///
    /// ```rust
    /// use rill::compression::CompressionEncoding;
    ///
    /// assert_eq!(CompressionEncoding::from_name("gzip"), Some(CompressionEncoding::Gzip));
    /// assert_eq!(CompressionEncoding::from_name("identity"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<CompressionEncoding> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|enc| enc.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether this build can compress and decompress with the encoding (its cargo feature is on).
    pub fn is_enabled(self) -> bool {
        match self {
            CompressionEncoding::Gzip => cfg!(feature = "gzip"),
            CompressionEncoding::Deflate => cfg!(feature = "deflate"),
            CompressionEncoding::Zstd => cfg!(feature = "zstd"),
        }
    }
}

impl fmt::Display for CompressionEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for an encoding whose feature is disabled.
fn disabled(enc: CompressionEncoding) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("{enc} support is not compiled in (cargo feature \"{enc}\")"),
    )
}

/// Compresses `input`, appending the result to `out`.
pub(crate) fn compress(
    enc: CompressionEncoding,
    input: &[u8],
    out: &mut BytesMut,
) -> std::io::Result<()> {
    match enc {
        #[cfg(feature = "gzip")]
        CompressionEncoding::Gzip => {
            use std::io::Write as _;
            let mut encoder = flate2::write::GzEncoder::new(
                bytes::BufMut::writer(out),
                flate2::Compression::default(),
            );
            encoder.write_all(input)?;
            encoder.finish().map(drop)
        }
        #[cfg(feature = "deflate")]
        CompressionEncoding::Deflate => {
            use std::io::Write as _;
            let mut encoder = flate2::write::ZlibEncoder::new(
                bytes::BufMut::writer(out),
                flate2::Compression::default(),
            );
            encoder.write_all(input)?;
            encoder.finish().map(drop)
        }
        #[cfg(feature = "zstd")]
        CompressionEncoding::Zstd => {
            // Bulk mode records the content size, letting the peer size its buffers exactly.
            let compressed = zstd::bulk::compress(input, zstd::DEFAULT_COMPRESSION_LEVEL)?;
            out.extend_from_slice(&compressed);
            Ok(())
        }
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (input, out);
            Err(disabled(enc))
        }
    }
}

/// Decompresses `input`, failing with `RESOURCE_EXHAUSTED` as soon as the output would exceed
/// `limit` bytes, `INTERNAL` on corrupt input and `UNIMPLEMENTED` for a disabled encoding.
pub(crate) fn decompress(
    enc: CompressionEncoding,
    input: &[u8],
    limit: usize,
) -> Result<Bytes, Status> {
    let mut out = Vec::new();
    match inflate(enc, input, limit, &mut out) {
        None => Err(Status::unimplemented(format!(
            "message compressed with {enc}, which this build does not support"
        ))),
        Some(Ok(())) if out.len() > limit => Err(Status::resource_exhausted(format!(
            "decompressed message larger than {limit} bytes"
        ))),
        Some(Ok(())) => Ok(Bytes::from(out)),
        Some(Err(err)) => Err(Status::internal(format!(
            "could not decompress {enc} message: {err}"
        ))),
    }
}

/// Decompresses at most `limit + 1` bytes into `out`; `None` when `enc` is disabled.
fn inflate(
    enc: CompressionEncoding,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Option<std::io::Result<()>> {
    match enc {
        #[cfg(feature = "gzip")]
        CompressionEncoding::Gzip => Some(read_limited(
            flate2::read::GzDecoder::new(input),
            limit,
            out,
        )),
        #[cfg(feature = "deflate")]
        CompressionEncoding::Deflate => Some(read_limited(
            flate2::read::ZlibDecoder::new(input),
            limit,
            out,
        )),
        #[cfg(feature = "zstd")]
        CompressionEncoding::Zstd => {
            Some(zstd_decoder(input, limit).and_then(|d| read_limited(d, limit, out)))
        }
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (input, limit, out);
            None
        }
    }
}

/// Reads at most `limit + 1` bytes, enough to tell "fits" from "too large" without inflating
/// the rest.
#[cfg(any(feature = "gzip", feature = "deflate", feature = "zstd"))]
fn read_limited(reader: impl Read, limit: usize, out: &mut Vec<u8>) -> std::io::Result<()> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader.take(cap).read_to_end(out).map(drop)
}

/// A zstd decoder whose window is capped, so a tiny frame cannot make it allocate a huge window.
#[cfg(feature = "zstd")]
fn zstd_decoder(input: &[u8], limit: usize) -> std::io::Result<impl Read + '_> {
    // A legitimate message never needs a window larger than itself, but streaming encoders may
    // declare up to 8 MiB (log 23) regardless of size; 27 is libzstd's own default maximum.
    let needed = usize::BITS - limit.saturating_sub(1).leading_zeros();
    let mut decoder = zstd::stream::read::Decoder::with_buffer(input)?;
    decoder.window_log_max(needed.clamp(23, 27))?;
    Ok(decoder)
}

/// The `grpc-accept-encoding` value for the given encodings, e.g. `"gzip,zstd"`; disabled and
/// duplicate encodings are left out.
pub(crate) fn accept_encoding_value(encodings: &[CompressionEncoding]) -> String {
    let mut names: Vec<&str> = Vec::with_capacity(encodings.len());
    for enc in encodings.iter().filter(|enc| enc.is_enabled()) {
        if !names.contains(&enc.as_str()) {
            names.push(enc.as_str());
        }
    }
    names.join(",")
}

/// [`accept_encoding_value`] as a header value, built once by its owner (cloning one is a
/// refcount); `None` only if nothing could make it valid.
pub(crate) fn accept_encoding_header(
    encodings: &[CompressionEncoding],
) -> Option<http::HeaderValue> {
    http::HeaderValue::from_str(&accept_encoding_value(encodings)).ok()
}

/// Parses a peer's `grpc-accept-encoding` into the encodings this build can use, in the peer's
/// order; unknown names, `identity`, disabled encodings and duplicates are skipped.
pub(crate) fn parse_accept_encoding(value: &str) -> Vec<CompressionEncoding> {
    let mut out = Vec::new();
    for enc in value
        .split(',')
        .filter_map(CompressionEncoding::from_name)
        .filter(|enc| enc.is_enabled())
    {
        if !out.contains(&enc) {
            out.push(enc);
        }
    }
    out
}

#[cfg(test)]
mod tests;

impl CompressionEncoding {
    /// The encodings compiled into this build (cargo features), in preference order.
    pub(crate) fn supported() -> Vec<CompressionEncoding> {
        CompressionEncoding::ALL
            .into_iter()
            .filter(|e| e.is_enabled())
            .collect()
    }
}
