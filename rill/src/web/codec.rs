//! gRPC-Web wire details: content types, the trailer frame and the `-text` base64 codec
//! ([PROTOCOL-WEB](https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md)).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderMap;

/// Flag byte of the frame that carries the trailers at the end of a response body.
pub(crate) const TRAILER_FLAG: u8 = 0x80;

/// The two body encodings of gRPC-Web.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `application/grpc-web[+proto]`: gRPC frames as they are.
    Binary,
    /// `application/grpc-web-text[+proto]`: the frames base64-encoded, both ways.
    Text,
}

impl Mode {
    /// The mode a request's content-type asks for; `None` for anything that is not gRPC-Web
    /// with the protobuf codec (`+json` and other codecs are not served).
    pub(crate) fn from_content_type(value: &[u8]) -> Option<Mode> {
        let (mode, rest) = if let Some(rest) = value.strip_prefix(b"application/grpc-web-text") {
            (Mode::Text, rest)
        } else if let Some(rest) = value.strip_prefix(b"application/grpc-web") {
            (Mode::Binary, rest)
        } else {
            return None;
        };
        // Parameters (`; charset=…`) do not change the meaning.
        let subtype = rest.split(|&b| b == b';').next().unwrap_or_default();
        match subtype.trim_ascii() {
            b"" | b"+proto" => Some(mode),
            _ => None,
        }
    }

    /// The response content-type for this mode.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Mode::Binary => "application/grpc-web+proto",
            Mode::Text => "application/grpc-web-text+proto",
        }
    }

    /// A chunk of the response body as it goes on the wire: as is, or base64 with its own
    /// padding (PROTOCOL-WEB allows padding between chunks; every client decodes it).
    pub(crate) fn encode_chunk(self, chunk: Bytes) -> Bytes {
        match self {
            Mode::Binary => chunk,
            Mode::Text => Bytes::from(STANDARD.encode(&chunk)),
        }
    }
}

/// Whether a content-type names gRPC-Web at all (any codec), to route it away from gRPC.
pub(crate) fn is_grpc_web_content_type(value: &[u8]) -> bool {
    value.starts_with(b"application/grpc-web")
}

/// The trailer frame: flag 0x80, 4-byte length, then `name: value\r\n` lines (names are
/// already lowercase in a `HeaderMap`, as the spec requires).
pub(crate) fn encode_trailers(trailers: &HeaderMap) -> Bytes {
    let mut block = BytesMut::new();
    for (name, value) in trailers {
        block.put_slice(name.as_str().as_bytes());
        block.put_slice(b": ");
        block.put_slice(value.as_bytes());
        block.put_slice(b"\r\n");
    }
    let mut frame = BytesMut::with_capacity(5 + block.len());
    frame.put_u8(TRAILER_FLAG);
    // A header map's size is bounded far below 4 GiB by the transport's header limits.
    frame.put_u32(u32::try_from(block.len()).unwrap_or(u32::MAX));
    frame.put_slice(&block);
    frame.freeze()
}

/// A `-text` body that is not valid base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TextError {
    /// A character outside the base64 alphabet, misplaced padding, or non-zero trailing bits.
    #[error("malformed base64 in grpc-web-text body: {0}")]
    Malformed(String),
    /// The body ended in the middle of a base64 quantum.
    #[error("grpc-web-text body ends in the middle of a base64 quantum")]
    Truncated,
}

/// Last quantum of a body sent without padding (lenient: some clients omit it).
const UNPADDED: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Incremental decoder of a `-text` body: the stream is a concatenation of base64 segments,
/// each with its own padding, split across chunks anywhere.
#[derive(Debug, Default)]
pub(crate) struct TextDecoder {
    /// Characters of an incomplete 4-character quantum from the previous chunk.
    pending: Vec<u8>,
}

impl TextDecoder {
    /// Decodes what `chunk` completes, appending the bytes to `out`.
    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), TextError> {
        let mut input = chunk;
        // Complete a quantum left over from the previous chunk first.
        if !self.pending.is_empty() {
            let need = 4 - self.pending.len();
            let take = need.min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() < 4 {
                return Ok(());
            }
            let quantum = std::mem::take(&mut self.pending);
            decode_quanta(&quantum, out)?;
        }
        let whole = input.len() / 4 * 4;
        decode_quanta(&input[..whole], out)?;
        self.pending.extend_from_slice(&input[whole..]);
        Ok(())
    }

    /// Ends the body: a leftover of 2 or 3 characters is an unpadded final quantum.
    pub(crate) fn finish(&mut self, out: &mut BytesMut) -> Result<(), TextError> {
        let rest = std::mem::take(&mut self.pending);
        match rest.len() {
            0 => Ok(()),
            1 => Err(TextError::Truncated),
            _ => {
                let bytes = UNPADDED
                    .decode(&rest)
                    .map_err(|e| TextError::Malformed(e.to_string()))?;
                out.extend_from_slice(&bytes);
                Ok(())
            }
        }
    }
}

/// Decodes whole quanta; a padded quantum ends a segment and the next segment follows it.
fn decode_quanta(mut input: &[u8], out: &mut BytesMut) -> Result<(), TextError> {
    while !input.is_empty() {
        // A segment runs to the first quantum that holds padding, inclusive.
        let end = input
            .chunks(4)
            .position(|q| q.contains(&b'='))
            .map_or(input.len(), |i| (i + 1) * 4);
        let (segment, rest) = input.split_at(end);
        let start = out.len();
        out.resize(start + segment.len() / 4 * 3, 0);
        let written = STANDARD
            .decode_slice(segment, &mut out[start..])
            .map_err(|e| TextError::Malformed(e.to_string()))?;
        out.truncate(start + written);
        input = rest;
    }
    Ok(())
}

/// Decodes a whole `-text` body at once.
pub(crate) fn decode_text(body: &[u8]) -> Result<Bytes, TextError> {
    let mut decoder = TextDecoder::default();
    let mut out = BytesMut::with_capacity(body.len() / 4 * 3 + 3);
    decoder.push(body, &mut out)?;
    decoder.finish(&mut out)?;
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let cases: &[(&str, Option<Mode>)] = &[
            ("application/grpc-web", Some(Mode::Binary)),
            ("application/grpc-web+proto", Some(Mode::Binary)),
            ("application/grpc-web; charset=utf-8", Some(Mode::Binary)),
            ("application/grpc-web-text", Some(Mode::Text)),
            ("application/grpc-web-text+proto", Some(Mode::Text)),
            ("application/grpc-web+json", None),
            ("application/grpc-web-text+thrift", None),
            ("application/grpc", None),
            ("application/grpc-webx", None),
            ("text/plain", None),
        ];
        for (value, want) in cases {
            assert_eq!(Mode::from_content_type(value.as_bytes()), *want, "{value}");
        }
        assert!(is_grpc_web_content_type(b"application/grpc-web+json"));
        assert!(!is_grpc_web_content_type(b"application/grpc+proto"));
    }

    #[test]
    fn trailer_frame_layout() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "3".parse().unwrap());
        trailers.insert("grpc-message", "bad%20id".parse().unwrap());
        let frame = encode_trailers(&trailers);
        let block = b"grpc-status: 3\r\ngrpc-message: bad%20id\r\n";
        assert_eq!(frame[0], 0x80);
        assert_eq!(&frame[1..5], &(block.len() as u32).to_be_bytes());
        assert_eq!(&frame[5..], block);
        assert_eq!(&encode_trailers(&HeaderMap::new())[..], &[0x80, 0, 0, 0, 0]);
    }

    #[test]
    fn text_decoding() {
        let cases: &[(&str, Result<&[u8], ()>)] = &[
            ("", Ok(b"")),
            ("AAAAAAE=", Ok(&[0, 0, 0, 0, 1])),
            ("aGk=", Ok(b"hi")),
            ("aGk", Ok(b"hi")), // unpadded final quantum
            // Separately padded segments, as a server (or client) sends them chunk by chunk.
            ("aGk=aGk=", Ok(b"hihi")),
            ("aA==aGk=aGVsbG8=", Ok(b"hhihello")),
            ("aGVsbG8gd29ybGQ=", Ok(b"hello world")),
            ("a", Err(())),
            ("aGk=a", Err(())),
            ("a===", Err(())),
            ("aG=k", Err(())),
            ("aGk*", Err(())),
            ("aGk=\r\n", Err(())),
            ("aGl=", Err(())), // non-zero trailing bits
        ];
        for (input, want) in cases {
            let got = decode_text(input.as_bytes());
            match want {
                Ok(bytes) => assert_eq!(got.as_deref(), Ok(*bytes), "{input:?}"),
                Err(()) => assert!(got.is_err(), "{input:?} decoded to {got:?}"),
            }
        }
    }

    #[test]
    fn text_decoding_is_independent_of_chunking() {
        let body = "AAAAAAVoZWxsbw==gAAAAA9ncnBjLXN0YXR1czogMA0K";
        let whole = decode_text(body.as_bytes()).unwrap();
        for step in 1..=body.len() {
            let mut decoder = TextDecoder::default();
            let mut out = BytesMut::new();
            for chunk in body.as_bytes().chunks(step) {
                decoder.push(chunk, &mut out).unwrap();
            }
            decoder.finish(&mut out).unwrap();
            assert_eq!(out, whole, "step {step}");
        }
    }

    #[test]
    fn text_chunks_round_trip() {
        let chunks: [&[u8]; 3] = [b"\0\0\0\0\x05hello", b"x", b"\x80\0\0\0\0"];
        let wire: Vec<u8> = chunks
            .iter()
            .flat_map(|c| Mode::Text.encode_chunk(Bytes::copy_from_slice(c)).to_vec())
            .collect();
        assert_eq!(decode_text(&wire).unwrap(), chunks.concat());
        assert_eq!(
            Mode::Binary.encode_chunk(Bytes::from_static(b"ab")),
            &b"ab"[..]
        );
    }
}
