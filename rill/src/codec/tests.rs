use bytes::{Bytes, BytesMut};
use prost::Message;

use super::*;
use crate::compression::CompressionEncoding;
use crate::Code;

#[derive(Clone, PartialEq, prost::Message)]
struct Msg {
    #[prost(string, tag = "1")]
    text: String,
    #[prost(bytes = "vec", tag = "2")]
    data: Vec<u8>,
}

fn msg(text: &str, data_len: usize) -> Msg {
    Msg {
        text: text.to_owned(),
        data: vec![b'z'; data_len],
    }
}

fn frame(flag: u8, payload: &[u8]) -> Bytes {
    let len = u32::try_from(payload.len()).expect("small");
    let mut out = vec![flag];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Bytes::from(out)
}

/// Status has no PartialEq; compare errors by code and message.
fn next(d: &mut FrameDecoder) -> Result<Option<Bytes>, (Code, String)> {
    d.next_message()
        .map_err(|e| (e.code(), e.message().to_owned()))
}

fn finish(d: &FrameDecoder) -> Result<(), Code> {
    d.finish().map_err(|e| e.code())
}

fn enabled() -> impl Iterator<Item = CompressionEncoding> {
    CompressionEncoding::ALL
        .into_iter()
        .filter(|e| e.is_enabled())
}

fn opts(compression: Option<CompressionEncoding>, max: usize) -> EncodeOptions {
    EncodeOptions {
        compression,
        max_message_size: max,
        ..EncodeOptions::default()
    }
}

#[test]
fn default_options() {
    let o = EncodeOptions::default();
    assert_eq!(o.compression, None);
    assert_eq!(o.max_message_size, usize::MAX);
    assert_eq!(o.compression_threshold, 1);
}

#[test]
fn encodes_uncompressed_frame() {
    let m = msg("hi", 3);
    let framed = encode_message(&m, EncodeOptions::default()).expect("encode");
    assert_eq!(framed, frame(0, &m.encode_to_vec()));
    assert_eq!(framed.len(), HEADER_LEN + m.encoded_len());
}

#[test]
fn length_is_big_endian() {
    let m = msg("", 300);
    let framed = encode_message(&m, EncodeOptions::default()).expect("encode");
    let len = m.encoded_len();
    assert_eq!(len, 303);
    assert_eq!(&framed[..HEADER_LEN], &[0, 0, 0, 0x01, 0x2f]);
}

#[test]
fn empty_message_is_five_zero_bytes() {
    for compression in std::iter::once(None).chain(enabled().map(Some)) {
        let framed = encode_message(&Msg::default(), opts(compression, 0)).expect("encode");
        assert_eq!(framed, Bytes::from_static(&[0; 5]), "{compression:?}");
    }
}

#[test]
fn encodes_compressed_frame() {
    let m = msg("compress me", 1000);
    for enc in enabled() {
        let framed = encode_message(&m, opts(Some(enc), usize::MAX)).expect("encode");
        assert_eq!(framed[0], 1, "{enc}");
        let len = u32::from_be_bytes([framed[1], framed[2], framed[3], framed[4]]) as usize;
        assert_eq!(len, framed.len() - HEADER_LEN);
        assert!(len < m.encoded_len(), "{enc} compresses");
        let plain = compression::decompress(enc, &framed[HEADER_LEN..], usize::MAX).expect("valid");
        assert_eq!(decode_message::<Msg>(plain).ok(), Some(m.clone()));
    }
}

#[test]
fn compression_threshold() {
    let m = msg("abc", 5); // 3 + 2 + 5 + 2 = 12 bytes
    assert_eq!(m.encoded_len(), 12);
    for enc in enabled() {
        let cases = [(13, 0u8), (12, 1), (0, 1)];
        for (threshold, flag) in cases {
            let o = EncodeOptions {
                compression: Some(enc),
                compression_threshold: threshold,
                ..EncodeOptions::default()
            };
            let framed = encode_message(&m, o).expect("encode");
            assert_eq!(framed[0], flag, "{enc} threshold {threshold}");
        }
    }
}

#[test]
fn too_large_to_send() {
    let m = msg("", 100); // 102 bytes
    assert!(encode_message(&m, opts(None, 102)).is_ok());
    let err = encode_message(&m, opts(None, 101)).expect_err("too large");
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert_eq!(err.message(), "message too large to send: 102 > 101");
}

#[test]
fn send_limit_applies_after_compression() {
    let m = msg("", 10_000);
    for enc in enabled() {
        let framed = encode_message(&m, opts(Some(enc), 1000)).expect("fits once compressed");
        assert_eq!(framed[0], 1);
        let err = encode_message(&m, opts(Some(enc), 5)).expect_err("still too large");
        assert_eq!(err.code(), Code::ResourceExhausted, "{enc}");
    }
}

#[test]
fn compressing_with_disabled_encoding_is_internal() {
    for enc in CompressionEncoding::ALL
        .into_iter()
        .filter(|e| !e.is_enabled())
    {
        let err = encode_message(&msg("x", 10), opts(Some(enc), usize::MAX)).expect_err("disabled");
        assert_eq!(err.code(), Code::Internal);
    }
}

#[test]
fn decode_message_errors_are_internal() {
    let cases: [&[u8]; 3] = [&[0xff], &[0x0a, 0x05, b'a'], &[0x0a, 0x01, 0xff]];
    for bytes in cases {
        let err = decode_message::<Msg>(Bytes::copy_from_slice(bytes)).expect_err("invalid");
        assert_eq!(err.code(), Code::Internal, "{bytes:?}");
        assert!(err.message().starts_with("could not decode message"));
    }
    assert_eq!(
        decode_message::<Msg>(Bytes::new()).ok(),
        Some(Msg::default())
    );
}

#[test]
fn decoder_many_messages_in_one_push() {
    let mut d = FrameDecoder::new(usize::MAX, None);
    let mut all = BytesMut::new();
    for payload in [&b"one"[..], b"", b"three"] {
        all.extend_from_slice(&frame(0, payload));
    }
    d.push(all.freeze());
    assert_eq!(next(&mut d), Ok(Some(Bytes::from_static(b"one"))));
    assert_eq!(next(&mut d), Ok(Some(Bytes::new())));
    assert_eq!(next(&mut d), Ok(Some(Bytes::from_static(b"three"))));
    assert_eq!(next(&mut d), Ok(None));
    assert_eq!(d.buffered(), 0);
    assert_eq!(finish(&d), Ok(()));
}

#[test]
fn decoder_message_split_byte_by_byte() {
    let framed = frame(0, b"hello world");
    let mut d = FrameDecoder::new(usize::MAX, None);
    for byte in framed.iter() {
        assert_eq!(next(&mut d), Ok(None));
        d.push(Bytes::copy_from_slice(&[*byte]));
    }
    assert_eq!(next(&mut d), Ok(Some(Bytes::from_static(b"hello world"))));
    assert_eq!(finish(&d), Ok(()));
}

#[test]
fn round_trip_with_arbitrary_splits() {
    let messages: Vec<Msg> = (0..40).map(|i| msg(&"t".repeat(i), i * 37 % 500)).collect();
    for compression in std::iter::once(None).chain(enabled().map(Some)) {
        let mut stream = Vec::new();
        for m in &messages {
            stream.extend_from_slice(&encode_message(m, opts(compression, 4096)).expect("encode"));
        }
        let mut d = FrameDecoder::new(4096, compression);
        let mut got = Vec::new();
        let mut rest = &stream[..];
        let mut step = 1;
        while !rest.is_empty() {
            let n = step.min(rest.len());
            d.push(Bytes::copy_from_slice(&rest[..n]));
            rest = &rest[n..];
            step = step * 7 % 97 + 1; // deterministic, varied chunk sizes
            while let Some(payload) = d.next_message().expect("valid stream") {
                got.push(decode_message::<Msg>(payload).expect("valid message"));
            }
        }
        assert_eq!(got, messages, "{compression:?}");
        assert_eq!(finish(&d), Ok(()));
    }
}

#[test]
fn decoder_rejects_oversized_length_from_header_alone() {
    let mut d = FrameDecoder::new(10, None);
    d.push(Bytes::from_static(&[0, 0, 0, 0, 11]));
    let err = d.next_message().expect_err("too large");
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert_eq!(
        err.message(),
        "message length too large: found 11 bytes, the limit is 10 bytes"
    );

    let mut d = FrameDecoder::new(4 << 20, None);
    d.push(Bytes::from_static(&[0, 0xff, 0xff, 0xff, 0xff]));
    assert_eq!(
        d.next_message().map_err(|e| e.code()),
        Err(Code::ResourceExhausted)
    );
}

#[test]
fn decoder_accepts_length_equal_to_max() {
    let mut d = FrameDecoder::new(3, None);
    d.push(frame(0, b"abc"));
    assert_eq!(next(&mut d), Ok(Some(Bytes::from_static(b"abc"))));
}

#[test]
fn decoder_rejects_bad_flags() {
    let cases = [
        (
            1u8,
            None,
            "compressed flag set but no grpc-encoding was negotiated",
        ),
        (2, None, "invalid compressed flag 2 in message header"),
        (
            0x80,
            Some(CompressionEncoding::Gzip),
            "invalid compressed flag 128 in message header",
        ),
        (0xff, None, "invalid compressed flag 255 in message header"),
    ];
    for (flag, encoding, message) in cases {
        let mut d = FrameDecoder::new(usize::MAX, encoding);
        d.push(frame(flag, b"x"));
        let err = d.next_message().expect_err("bad flag");
        assert_eq!(err.code(), Code::Internal, "{flag}");
        assert_eq!(err.message(), message);
    }
}

#[test]
fn decoder_decompresses() {
    for enc in enabled() {
        let mut compressed = BytesMut::new();
        compression::compress(enc, b"payload payload payload", &mut compressed).expect("compress");
        let mut d = FrameDecoder::new(1024, Some(enc));
        d.push(frame(1, &compressed));
        d.push(frame(0, b"plain"));
        assert_eq!(
            next(&mut d),
            Ok(Some(Bytes::from_static(b"payload payload payload")))
        );
        // Flag 0 on a compressed stream: the message is taken as is.
        assert_eq!(next(&mut d), Ok(Some(Bytes::from_static(b"plain"))));
    }
}

#[test]
fn decoder_reports_the_compressed_flag_of_the_last_message() {
    for enc in enabled() {
        let mut compressed = BytesMut::new();
        compression::compress(enc, b"squeezed", &mut compressed).expect("compress");
        let mut d = FrameDecoder::new(1024, Some(enc));
        assert!(!d.last_compressed(), "no message yet");
        d.push(frame(1, &compressed));
        d.push(frame(0, b"plain"));
        assert!(next(&mut d).expect("valid").is_some());
        assert!(d.last_compressed(), "{enc}");
        assert!(next(&mut d).expect("valid").is_some());
        assert!(!d.last_compressed(), "{enc}");
        // Waiting for more data keeps the flag of the message last returned.
        d.push(frame(1, &compressed).slice(..3));
        assert_eq!(next(&mut d), Ok(None));
        assert!(!d.last_compressed(), "{enc}");
    }
}

#[test]
fn decoder_limits_decompressed_size() {
    for enc in enabled() {
        let mut compressed = BytesMut::new();
        compression::compress(enc, &[0u8; 10_000], &mut compressed).expect("compress");
        let mut d = FrameDecoder::new(1000, Some(enc));
        d.push(frame(1, &compressed));
        let err = d.next_message().expect_err("too large once decompressed");
        assert_eq!(err.code(), Code::ResourceExhausted, "{enc}");
    }
}

#[test]
fn decoder_reports_corrupt_compressed_payload() {
    for enc in enabled() {
        let mut d = FrameDecoder::new(1024, Some(enc));
        d.push(frame(1, b"garbage garbage"));
        assert_eq!(
            d.next_message().map_err(|e| e.code()),
            Err(Code::Internal),
            "{enc}"
        );
    }
}

#[test]
fn errors_are_sticky() {
    let mut d = FrameDecoder::new(10, None);
    d.push(Bytes::from_static(&[7, 0, 0, 0, 1, b'x']));
    let first = d.next_message().expect_err("bad flag");
    assert_eq!(d.buffered(), 0);
    d.push(frame(0, b"ok"));
    assert_eq!(d.buffered(), 0);
    let again = d.next_message().expect_err("still failed");
    assert_eq!(
        (again.code(), again.message()),
        (first.code(), first.message())
    );
    assert_eq!(finish(&d), Err(Code::Internal));
}

#[test]
fn finish_detects_truncation() {
    let full = frame(0, b"hello");
    let cases: [(&[u8], usize); 4] = [
        (&full[..1], 1),
        (&full[..4], 4),
        (&full[..5], 0),
        (&full[..7], 2),
    ];
    for (chunk, buffered) in cases {
        let mut d = FrameDecoder::new(usize::MAX, None);
        d.push(Bytes::copy_from_slice(chunk));
        assert_eq!(next(&mut d), Ok(None));
        assert_eq!(d.buffered(), buffered);
        let err = d.finish().expect_err("truncated");
        assert_eq!(err.code(), Code::Internal);
        assert!(err.message().starts_with("truncated message"), "{err}");
    }
    let d = FrameDecoder::new(usize::MAX, None);
    assert_eq!(finish(&d), Ok(()));
}

#[test]
fn stream_encoder_reuses_its_buffer_once_frames_are_dropped() {
    let message = msg("big", 256 * 1024);
    let mut encoder = MessageEncoder::default();
    let first = encoder.encode(&message, EncodeOptions::default()).unwrap();
    // Still held (queued on the connection): the next frame needs memory of its own.
    let second = encoder.encode(&message, EncodeOptions::default()).unwrap();
    assert_ne!(second.as_ptr(), first.as_ptr());
    assert_eq!(first, second);
    let second_ptr = second.as_ptr();
    drop(first);
    drop(second);
    // Written and dropped: the next message goes into the memory the last one used.
    let third = encoder.encode(&message, EncodeOptions::default()).unwrap();
    assert_eq!(third.as_ptr(), second_ptr);
    assert_eq!(
        decode_message::<Msg>(third.slice(HEADER_LEN..)).unwrap(),
        message
    );
}

#[test]
fn decoder_slices_messages_inside_one_chunk_without_copying() {
    let mut all = BytesMut::new();
    all.extend_from_slice(&frame(0, b"first"));
    all.extend_from_slice(&frame(0, b"second"));
    let chunk = all.freeze();
    let range = chunk.as_ptr_range();
    let mut d = FrameDecoder::new(usize::MAX, None);
    d.push(chunk.clone());
    for want in [&b"first"[..], b"second"] {
        let got = d.next_message().expect("valid").expect("complete");
        assert_eq!(&got[..], want);
        assert!(range.contains(&got.as_ptr()), "a slice of the pushed chunk");
    }
}

#[test]
fn decoder_joins_a_message_spread_over_chunks_once() {
    let framed = frame(0, &[7u8; 3000]);
    let mut d = FrameDecoder::new(usize::MAX, None);
    for piece in framed.chunks(1000) {
        d.push(Bytes::copy_from_slice(piece));
    }
    let got = d.next_message().expect("valid").expect("complete");
    assert_eq!(got.len(), 3000);
    assert!(got.iter().all(|b| *b == 7));
    assert_eq!(d.buffered(), 0);
}
