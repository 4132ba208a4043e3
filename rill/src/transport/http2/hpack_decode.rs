//! The HPACK decoder (RFC 7541 §3–§6): integers, raw and Huffman strings, the static and
//! dynamic tables. Huffman strings decode against a canonical table built once (loona-hpack
//! rebuilds a hash map for every string, which cost ~88% of a request's instructions);
//! decoded bytes go into one arena per block. loona-hpack stays the oracle in the tests.

use std::collections::VecDeque;
use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};

use super::hpack_table::{HUFFMAN_CODES, STATIC_TABLE};

/// Why a block could not be decoded (always a connection error: COMPRESSION_ERROR).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HpackError(pub(crate) &'static str);

/// Canonical Huffman decoding tables: per code length, the first code, how many codes, and
/// where their symbols start in `symbols` (sorted by length, then code).
struct Canonical {
    first: [u32; 31],
    count: [u32; 31],
    offset: [u32; 31],
    symbols: Vec<u16>,
}

fn canonical() -> &'static Canonical {
    static TABLE: OnceLock<Canonical> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut by_len: Vec<(u8, u32, u16)> = HUFFMAN_CODES
            .iter()
            .enumerate()
            .map(|(sym, &(code, len))| (len, code, sym as u16))
            .collect();
        by_len.sort_unstable();
        let mut t = Canonical {
            first: [0; 31],
            count: [0; 31],
            offset: [0; 31],
            symbols: Vec::with_capacity(by_len.len()),
        };
        for (i, &(len, code, sym)) in by_len.iter().enumerate() {
            let l = usize::from(len);
            if t.count[l] == 0 {
                t.first[l] = code;
                t.offset[l] = i as u32;
            }
            t.count[l] += 1;
            t.symbols.push(sym);
        }
        t
    })
}

/// Symbols whose codes fit in 8 bits (most of what paths, hosts and header values use),
/// looked up by the next 8 input bits: `(symbol, code length)`, length 0 when the code is
/// longer.
fn short_codes() -> &'static [(u8, u8); 256] {
    static TABLE: OnceLock<[(u8, u8); 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [(0u8, 0u8); 256];
        for (sym, &(code, len)) in HUFFMAN_CODES.iter().enumerate() {
            if len <= 8 {
                let first = (code << (8 - len)) as usize;
                for entry in &mut t[first..first + (1 << (8 - len))] {
                    *entry = (sym as u8, len);
                }
            }
        }
        t
    })
}

/// Appends the Huffman-decoded `input` to `out` (§5.2): EOS inside, or padding that is longer
/// than 7 bits or not all ones, is an error. Codes of up to 8 bits take one table lookup;
/// longer ones walk the canonical table bit by bit.
pub(crate) fn huffman_decode(input: &[u8], out: &mut BytesMut) -> Result<(), HpackError> {
    let short = short_codes();
    let t = canonical();
    // The next `bits` input bits are the low bits of `acc`.
    let (mut acc, mut bits) = (0u64, 0u32);
    let mut bytes = input.iter();
    out.reserve(input.len() * 8 / 5 + 1);
    loop {
        while bits <= 56 {
            match bytes.next() {
                Some(&b) => {
                    acc = acc << 8 | u64::from(b);
                    bits += 8;
                }
                None => break,
            }
        }
        if bits == 0 {
            return Ok(());
        }
        if bits >= 8 {
            let (sym, len) = short[(acc >> (bits - 8)) as usize & 0xff];
            if len > 0 {
                out.extend_from_slice(&[sym]);
                bits -= u32::from(len);
                acc &= (1u64 << bits) - 1;
                continue;
            }
        }
        // A long code, or the last bits of the input (a short code or the padding). With
        // input left, at least 57 bits are buffered: more than the longest code (30).
        let (mut code, mut len) = (0u32, 0u32);
        loop {
            if len == bits {
                // Input exhausted inside a code: only padding (up to 7 one bits) may remain.
                if len > 7 || code != (1 << len) - 1 {
                    return Err(HpackError("bad Huffman padding"));
                }
                return Ok(());
            }
            code = code << 1 | ((acc >> (bits - 1 - len)) & 1) as u32;
            len += 1;
            if len > 30 {
                return Err(HpackError("Huffman code too long"));
            }
            let l = len as usize;
            let n = t.count[l];
            if n > 0 && code >= t.first[l] && code - t.first[l] < n {
                let sym = t.symbols[(t.offset[l] + code - t.first[l]) as usize];
                if sym == 256 {
                    return Err(HpackError("EOS in a Huffman string"));
                }
                out.extend_from_slice(&[sym as u8]);
                bits -= len;
                acc &= (1u64 << bits) - 1;
                break;
            }
        }
    }
}

/// Decodes an integer with an `n`-bit prefix (§5.1); returns it and the bytes used.
fn integer(buf: &[u8], n: u32) -> Result<(usize, usize), HpackError> {
    let first = *buf.first().ok_or(HpackError("truncated integer"))?;
    let max = (1usize << n) - 1;
    let mut value = usize::from(first) & max;
    if value < max {
        return Ok((value, 1));
    }
    let mut shift = 0u32;
    for (i, &b) in buf.iter().enumerate().skip(1) {
        if shift > 28 {
            return Err(HpackError("integer too large"));
        }
        value += usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(HpackError("truncated integer"))
}

/// The decoder's state: the dynamic table the peer's encoder fills.
pub(crate) struct HpackDecoder {
    table: VecDeque<(Bytes, Bytes)>,
    size: usize,
    max_size: usize,
    /// Our SETTINGS_HEADER_TABLE_SIZE: the most a size update may ask for.
    allowed: usize,
}

impl HpackDecoder {
    pub(crate) fn new(allowed: usize) -> HpackDecoder {
        HpackDecoder {
            table: VecDeque::new(),
            size: 0,
            max_size: allowed,
            allowed,
        }
    }

    fn evict(&mut self) {
        while self.size > self.max_size {
            match self.table.pop_back() {
                Some((n, v)) => self.size -= n.len() + v.len() + 32,
                None => break,
            }
        }
    }

    fn get(&self, index: usize) -> Result<(Bytes, Bytes), HpackError> {
        if index == 0 {
            return Err(HpackError("index 0"));
        }
        if let Some(&(n, v)) = STATIC_TABLE.get(index - 1) {
            return Ok((Bytes::from_static(n), Bytes::from_static(v)));
        }
        self.table
            .get(index - 1 - STATIC_TABLE.len())
            .cloned()
            .ok_or(HpackError("index out of range"))
    }

    /// Reads a string literal (§5.2) at `buf`; raw bytes and Huffman output go to `arena`.
    fn string(buf: &[u8], arena: &mut BytesMut) -> Result<(Bytes, usize), HpackError> {
        let huffman = buf.first().is_some_and(|b| b & 0x80 != 0);
        let (len, used) = integer(buf, 7)?;
        let end = used.checked_add(len).filter(|&e| e <= buf.len());
        let raw = &buf[used..end.ok_or(HpackError("truncated string"))?];
        if huffman {
            huffman_decode(raw, arena)?;
        } else {
            arena.extend_from_slice(raw);
        }
        Ok((arena.split().freeze(), used + len))
    }

    /// Decodes a block, calling `field` for each field in order.
    pub(crate) fn decode(
        &mut self,
        block: &[u8],
        mut field: impl FnMut(Bytes, Bytes),
    ) -> Result<(), HpackError> {
        let mut arena = BytesMut::with_capacity(block.len() * 2 + 64);
        let mut at = 0;
        let mut fields_seen = false;
        while at < block.len() {
            let buf = &block[at..];
            let b = buf[0];
            if b & 0x80 != 0 {
                let (index, used) = integer(buf, 7)?;
                let (n, v) = self.get(index)?;
                field(n, v);
                at += used;
            } else if b & 0xe0 == 0x20 {
                // Dynamic table size update: only before the first field (§4.2).
                if fields_seen {
                    return Err(HpackError("table size update after a field"));
                }
                let (size, used) = integer(buf, 5)?;
                if size > self.allowed {
                    return Err(HpackError("table size update over the limit"));
                }
                self.max_size = size;
                self.evict();
                at += used;
                continue;
            } else {
                let (prefix, index) = if b & 0xc0 == 0x40 {
                    (6, true)
                } else {
                    (4, false)
                };
                let (name_index, mut used) = integer(buf, prefix)?;
                let name = if name_index == 0 {
                    let (name, n) = Self::string(&buf[used..], &mut arena)?;
                    used += n;
                    name
                } else {
                    self.get(name_index)?.0
                };
                let (value, n) = Self::string(&buf[used..], &mut arena)?;
                used += n;
                if index {
                    let entry = name.len() + value.len() + 32;
                    self.table.push_front((name.clone(), value.clone()));
                    self.size += entry;
                    self.evict();
                }
                field(name, value);
                at += used;
            }
            fields_seen = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_huffman_code_is_canonical() {
        let t = canonical();
        for len in 5..30 {
            if t.count[len + 1] > 0 && t.count[len] > 0 {
                let next = (t.first[len] + t.count[len]) << 1;
                let mut l = len + 1;
                let mut want = next;
                while t.count[l] == 0 {
                    l += 1;
                    want <<= 1;
                }
                assert_eq!(t.first[l], want, "length {l}");
            }
        }
        assert_eq!(t.symbols.len(), 257);
    }

    /// Blocks from RFC 7541 Appendix C and hand-made ones decode as loona-hpack decodes them.
    #[test]
    fn decodes_as_loona_hpack_does() {
        let hex = |s: &str| -> Vec<u8> {
            let s: String = s.split_whitespace().collect();
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        // C.4: requests with Huffman coding (three blocks sharing one dynamic table).
        let blocks = [
            hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"),
            hex("8286 84be 5886 a8eb 1064 9cbf"),
            hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
            // C.6: responses with Huffman coding and eviction.
            hex("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3"),
            hex("4883 640e ff"),
            // A size update, then literals never indexed / without indexing.
            hex("3fe1 1f 10 0378 2d61 0162 0f10 8294 e7"),
        ];
        let mut ours = HpackDecoder::new(4096);
        let mut theirs = loona_hpack::Decoder::new();
        for (i, block) in blocks.iter().enumerate() {
            let mut got = Vec::new();
            let r = ours.decode(block, |n, v| got.push((n.to_vec(), v.to_vec())));
            let want = theirs.decode(block);
            match (r, want) {
                (Ok(()), Ok(want)) => assert_eq!(got, want, "block {i}"),
                (r, want) => assert_eq!(r.is_ok(), want.is_ok(), "block {i}: {r:?}"),
            }
        }
    }

    /// The reference: one bit at a time against the canonical table.
    fn huffman_bit_by_bit(input: &[u8]) -> Result<Vec<u8>, HpackError> {
        let t = canonical();
        let (mut code, mut len, mut out) = (0u32, 0usize, Vec::new());
        for &byte in input {
            for shift in (0..8).rev() {
                code = code << 1 | u32::from(byte >> shift & 1);
                len += 1;
                if len > 30 {
                    return Err(HpackError("Huffman code too long"));
                }
                let n = t.count[len];
                if n > 0 && code >= t.first[len] && code - t.first[len] < n {
                    let sym = t.symbols[(t.offset[len] + code - t.first[len]) as usize];
                    if sym == 256 {
                        return Err(HpackError("EOS in a Huffman string"));
                    }
                    out.push(sym as u8);
                    code = 0;
                    len = 0;
                }
            }
        }
        if len > 7 || code != (1 << len) - 1 {
            return Err(HpackError("bad Huffman padding"));
        }
        Ok(out)
    }

    /// Encodes `text` with the RFC 7541 Appendix B code, padded with ones.
    fn huffman_encode(text: &[u8]) -> Vec<u8> {
        let (mut acc, mut bits, mut out) = (0u64, 0u32, Vec::new());
        for &c in text {
            let (code, len) = HUFFMAN_CODES[usize::from(c)];
            acc = acc << len | u64::from(code);
            bits += u32::from(len);
            while bits >= 8 {
                out.push((acc >> (bits - 8)) as u8);
                bits -= 8;
            }
        }
        if bits > 0 {
            out.push((acc << (8 - bits) | ((1 << (8 - bits)) - 1)) as u8);
        }
        out
    }

    #[test]
    fn the_table_driven_huffman_decoder_agrees_with_the_bit_by_bit_one() {
        let mut inputs: Vec<Vec<u8>> = [
            &b"/grpc.testing.BenchmarkService/UnaryCall"[..],
            b"",
            b"a",
            b"application/grpc",
            b"\x00\xff\x7f~{}|^<>",
            &(0u8..=255).collect::<Vec<u8>>(),
        ]
        .iter()
        .map(|t| huffman_encode(t))
        .collect();
        // Every byte string up to 2 bytes, and pseudo-random longer ones (bad padding, EOS,
        // truncated codes).
        for a in 0..=255u8 {
            inputs.push(vec![a]);
            for b in (0..=255u8).step_by(3) {
                inputs.push(vec![a, b]);
            }
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for n in 0..2000 {
            let bytes = (0..n % 40)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8 | if n % 3 == 0 { 0xf0 } else { 0 }
                })
                .collect();
            inputs.push(bytes);
        }
        for input in inputs {
            let mut out = BytesMut::new();
            let fast = huffman_decode(&input, &mut out).map(|()| out.to_vec());
            assert_eq!(fast, huffman_bit_by_bit(&input), "{input:x?}");
        }
        let mut out = BytesMut::new();
        huffman_decode(&huffman_encode(b"/a.B/Method"), &mut out).unwrap();
        assert_eq!(&out[..], b"/a.B/Method");
        // Appended after what is there.
        let long = b"/pkg.Service/Method".repeat(9);
        huffman_decode(&huffman_encode(&long), &mut out).unwrap();
        assert_eq!(&out[..11], b"/a.B/Method");
        assert_eq!(&out[11..], &long[..]);
    }

    #[test]
    fn malformed_blocks_are_errors() {
        let cases: &[&[u8]] = &[
            &[0x80],                                     // index 0
            &[0x80 | 100],                               // beyond both tables
            &[0x00, 0x05, b'a'],                         // truncated string
            &[0x00, 0x81, 0x00], // Huffman string of only zero bits (bad padding)
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // integer overflow
            &[0x82, 0x3f, 0xe1, 0x1f], // size update after a field
            &[0x3f, 0xe1, 0x3f], // size update over 4096
            &[0x00, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00], // EOS inside
        ];
        for case in cases {
            let mut d = HpackDecoder::new(4096);
            assert!(d.decode(case, |_, _| {}).is_err(), "{case:x?}");
        }
    }
}
