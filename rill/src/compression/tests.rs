use super::*;
use crate::Code;

fn enabled() -> Vec<CompressionEncoding> {
    CompressionEncoding::ALL
        .into_iter()
        .filter(|e| e.is_enabled())
        .collect()
}

#[test]
fn names() {
    let cases = [
        ("gzip", Some(CompressionEncoding::Gzip)),
        ("deflate", Some(CompressionEncoding::Deflate)),
        ("zstd", Some(CompressionEncoding::Zstd)),
        ("GZIP", Some(CompressionEncoding::Gzip)),
        (" zstd ", Some(CompressionEncoding::Zstd)),
        ("identity", None),
        ("br", None),
        ("snappy", None),
        ("", None),
        ("gzip,zstd", None),
    ];
    for (name, expected) in cases {
        assert_eq!(CompressionEncoding::from_name(name), expected, "{name:?}");
    }
    for enc in CompressionEncoding::ALL {
        assert_eq!(CompressionEncoding::from_name(enc.as_str()), Some(enc));
        assert_eq!(enc.to_string(), enc.as_str());
    }
}

#[test]
fn features_decide_what_is_enabled() {
    assert_eq!(
        CompressionEncoding::Gzip.is_enabled(),
        cfg!(feature = "gzip")
    );
    assert_eq!(
        CompressionEncoding::Deflate.is_enabled(),
        cfg!(feature = "deflate")
    );
    assert_eq!(
        CompressionEncoding::Zstd.is_enabled(),
        cfg!(feature = "zstd")
    );
}

#[test]
fn round_trips_every_enabled_encoding() {
    let inputs: [Vec<u8>; 4] = [
        Vec::new(),
        b"x".to_vec(),
        b"hello hello hello hello".repeat(50),
        (0..200_000u32).map(|i| (i % 251) as u8).collect(),
    ];
    for enc in enabled() {
        for input in &inputs {
            let mut out = BytesMut::from(&b"prefix"[..]);
            compress(enc, input, &mut out).expect("compress");
            assert_eq!(&out[..6], b"prefix", "{enc}: appends");
            let back = decompress(enc, &out[6..], input.len()).expect("decompress");
            assert_eq!(back, input[..], "{enc}, {} bytes", input.len());
        }
    }
}

#[test]
fn wire_formats() {
    // gzip member header, zlib header (CM=8), zstd frame magic.
    let cases: [(CompressionEncoding, &[u8]); 3] = [
        (CompressionEncoding::Gzip, &[0x1f, 0x8b]),
        (CompressionEncoding::Deflate, &[0x78]),
        (CompressionEncoding::Zstd, &[0x28, 0xb5, 0x2f, 0xfd]),
    ];
    for (enc, magic) in cases.into_iter().filter(|(e, _)| e.is_enabled()) {
        let mut out = BytesMut::new();
        compress(enc, b"abc", &mut out).expect("compress");
        assert!(out.starts_with(magic), "{enc}: {out:?}");
    }
}

#[test]
fn limit_is_inclusive() {
    let input = vec![7u8; 1000];
    for enc in enabled() {
        let mut out = BytesMut::new();
        compress(enc, &input, &mut out).expect("compress");
        assert_eq!(
            decompress(enc, &out, 1000).map(|b| b.len()).ok(),
            Some(1000)
        );
        let err = decompress(enc, &out, 999).expect_err("over limit");
        assert_eq!(err.code(), Code::ResourceExhausted, "{enc}");
        assert_eq!(err.message(), "decompressed message larger than 999 bytes");
        let err = decompress(enc, &out, 0).expect_err("over limit");
        assert_eq!(err.code(), Code::ResourceExhausted, "{enc}");
    }
}

#[test]
fn corrupt_input_is_internal() {
    let cases: [&[u8]; 3] = [b"definitely not compressed", &[0xff; 64], &[0x00]];
    for enc in enabled() {
        for input in cases {
            let err = decompress(enc, input, 1 << 20).expect_err("corrupt");
            assert_eq!(err.code(), Code::Internal, "{enc} {input:?}");
            assert!(err.message().starts_with("could not decompress"), "{err}");
        }
    }
}

#[test]
fn truncated_input_is_internal() {
    for enc in enabled() {
        let mut out = BytesMut::new();
        compress(enc, &b"0123456789".repeat(100), &mut out).expect("compress");
        let err = decompress(enc, &out[..out.len() / 2], 1 << 20).expect_err("truncated");
        assert_eq!(err.code(), Code::Internal, "{enc}");
    }
}

#[cfg(any(feature = "gzip", feature = "deflate", feature = "zstd"))]
#[test]
fn read_limited_stops_on_endless_input() {
    let mut out = Vec::new();
    read_limited(std::io::repeat(1), 4096, &mut out).expect("read");
    assert_eq!(out.len(), 4097);
    let mut out = Vec::new();
    read_limited(std::io::empty(), usize::MAX, &mut out).expect("read");
    assert!(out.is_empty());
}

/// A raw deflate stream inflating to `units` MiB of zeros, built by repeating one byte-aligned
/// (sync-flushed) chunk instead of compressing the whole thing.
#[cfg(any(feature = "gzip", feature = "deflate"))]
fn deflate_bomb(units: usize) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![0u8; 1 << 20]).expect("write");
    encoder.flush().expect("sync flush");
    let unit = encoder.get_ref().clone();
    let mut stream = unit.repeat(units);
    // Final, empty fixed-Huffman block.
    stream.extend_from_slice(&[0x03, 0x00]);
    stream
}

#[cfg(feature = "gzip")]
#[test]
fn gzip_bomb_is_resource_exhausted() {
    let mut bomb = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    bomb.extend(deflate_bomb(1024)); // 1 GiB
    bomb.extend_from_slice(&[0; 8]); // wrong CRC and size: never reached
    assert!(bomb.len() < 2 << 20, "bomb is {} bytes", bomb.len());
    let err = decompress(CompressionEncoding::Gzip, &bomb, 4 << 20).expect_err("bomb");
    assert_eq!(err.code(), Code::ResourceExhausted);
}

#[cfg(feature = "deflate")]
#[test]
fn zlib_bomb_is_resource_exhausted() {
    let mut bomb = vec![0x78, 0xda];
    bomb.extend(deflate_bomb(1024));
    bomb.extend_from_slice(&[0; 4]); // wrong Adler-32: never reached
    let err = decompress(CompressionEncoding::Deflate, &bomb, 4 << 20).expect_err("bomb");
    assert_eq!(err.code(), Code::ResourceExhausted);
}

/// A zstd frame of `blocks` RLE blocks of 128 KiB each: 4 bytes of input per 128 KiB output.
#[cfg(feature = "zstd")]
fn zstd_rle_bomb(window_descriptor: u8, blocks: usize) -> Vec<u8> {
    // Magic, frame header descriptor (no content size, no checksum), window descriptor.
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, window_descriptor];
    let block_size: u32 = 128 << 10;
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = last | (1 << 1) | (block_size << 3); // block type 1 = RLE
        frame.extend_from_slice(&header.to_le_bytes()[..3]);
        frame.push(0);
    }
    frame
}

#[cfg(feature = "zstd")]
#[test]
fn zstd_bomb_is_resource_exhausted() {
    // 128 KiB window (log 17); 8192 blocks = 1 GiB from 32 KiB.
    let bomb = zstd_rle_bomb(0x38, 8192);
    assert!(decompress(
        CompressionEncoding::Zstd,
        &zstd_rle_bomb(0x38, 2),
        256 << 10
    )
    .is_ok());
    let err = decompress(CompressionEncoding::Zstd, &bomb, 4 << 20).expect_err("bomb");
    assert_eq!(err.code(), Code::ResourceExhausted);
}

#[cfg(feature = "zstd")]
#[test]
fn zstd_huge_window_is_rejected() {
    // Window log 10 + 15 = 25 (32 MiB): libzstd would accept it, but for a 4 MiB limit the cap
    // is log 23, so the frame is refused before the window is allocated.
    let frame = zstd_rle_bomb(15 << 3, 1);
    let err = decompress(CompressionEncoding::Zstd, &frame, 4 << 20).expect_err("window");
    assert_eq!(err.code(), Code::Internal);
    // With a 64 MiB limit the cap is log 26, so the same frame is fine.
    let ok = decompress(CompressionEncoding::Zstd, &frame, 64 << 20).expect("window allowed");
    assert_eq!(ok.len(), 128 << 10);
}

#[test]
fn disabled_encodings_fail() {
    for enc in CompressionEncoding::ALL
        .into_iter()
        .filter(|e| !e.is_enabled())
    {
        let mut out = BytesMut::new();
        let err = compress(enc, b"abc", &mut out).expect_err("disabled");
        assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
        let status = decompress(enc, b"abc", 100).expect_err("disabled");
        assert_eq!(status.code(), Code::Unimplemented);
    }
}

#[test]
fn accept_encoding_value_lists_enabled_once() {
    let all = CompressionEncoding::ALL;
    let expected: Vec<&str> = enabled().iter().map(|e| e.as_str()).collect();
    assert_eq!(accept_encoding_value(&all), expected.join(","));
    assert_eq!(accept_encoding_value(&[]), "");
    let doubled = [all, all].concat();
    assert_eq!(accept_encoding_value(&doubled), expected.join(","));
    #[cfg(all(feature = "gzip", feature = "deflate", feature = "zstd"))]
    assert_eq!(accept_encoding_value(&all), "gzip,deflate,zstd");
}

#[test]
fn parse_accept_encoding_skips_unknown() {
    use CompressionEncoding::{Deflate, Gzip, Zstd};
    let cases: [(&str, Vec<CompressionEncoding>); 7] = [
        ("gzip,deflate,zstd", vec![Gzip, Deflate, Zstd]),
        ("identity, zstd , gzip", vec![Zstd, Gzip]),
        ("br,snappy", vec![]),
        ("", vec![]),
        (" , ,", vec![]),
        ("gzip,GZIP,gzip", vec![Gzip]),
        ("Deflate", vec![Deflate]),
    ];
    for (value, expected) in cases {
        let expected: Vec<_> = expected.into_iter().filter(|e| e.is_enabled()).collect();
        assert_eq!(parse_accept_encoding(value), expected, "{value:?}");
    }
}

#[test]
fn empty_input_is_internal() {
    // A compressed message always has at least a header; zero bytes cannot be a valid stream.
    for enc in enabled() {
        let err = decompress(enc, b"", 100).expect_err("empty");
        assert_eq!(err.code(), Code::Internal, "{enc}");
    }
}
