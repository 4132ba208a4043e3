//! Entry points for fuzz targets (feature `fuzzing`): arbitrary bytes into what reads etcd's
//! values, which anyone with write access to the registry controls.

use crate::resolver::Endpoints;

/// The resolver's view of a prefix under arbitrary updates: `data` split at NUL bytes into
/// key, value, key, value… (an empty value deletes the key). Never panics; the resulting
/// address list has no duplicates and every address in it was read from a value.
pub fn etcd_values(data: &[u8]) {
    let _ = crate::value::parse_value(data);
    let mut endpoints = Endpoints::default();
    let mut parts = data.split(|&b| b == 0);
    while let (Some(key), Some(value)) = (parts.next(), parts.next()) {
        if value.is_empty() {
            endpoints.delete(key);
        } else {
            endpoints.put(key, value);
        }
        let addresses = endpoints.state().addresses;
        for (i, address) in addresses.iter().enumerate() {
            assert!(!addresses[..i].contains(address), "duplicate {address}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator, so the entry point runs on every `cargo test`.
    fn inputs() -> impl Iterator<Item = Vec<u8>> {
        let pieces: [&[u8]; 12] = [
            b"\0",
            b"svc/a",
            b"svc/b",
            b"{",
            b"}",
            b"\"Addr\"",
            b":",
            b"\"",
            b"127.0.0.1:1",
            b"[::1]:2",
            b"\xff",
            b"h:99999",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        (0..3000).map(move |i| {
            let mut input = Vec::new();
            for _ in 0..(i % 23) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                input.extend_from_slice(pieces[(state % 12) as usize]);
            }
            input
        })
    }

    #[test]
    fn etcd_values_survive_arbitrary_input() {
        let seeds: [&[u8]; 3] = [
            b"svc/a\x00127.0.0.1:1\x00svc/b\x00{\"Addr\":\"127.0.0.1:1\"}\x00svc/a\x00",
            b"k\0{\"Addr\":[1]}\0k\0\xff\xfe",
            b"",
        ];
        for input in seeds.iter().map(|s| s.to_vec()).chain(inputs()) {
            etcd_values(&input);
        }
    }
}
