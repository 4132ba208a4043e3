//! Writes a gRPC-framed `SimpleRequest` (5-byte prefix + message) for h2load's `-d`:
//!
//! `bench-request --response-size 10 --payload 10 > small.bin`

use prost::Message;

use bench::pb::{Payload, SimpleRequest};

fn main() {
    let (mut response_size, mut payload) = (10i32, 10usize);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().and_then(|v| v.parse::<i64>().ok());
        match (flag.as_str(), value) {
            ("--response-size", Some(v)) if (0..=i32::MAX as i64).contains(&v) => {
                response_size = v as i32
            }
            ("--payload", Some(v)) if v >= 0 => payload = v as usize,
            _ => {
                eprintln!("usage: bench-request [--response-size N] [--payload N] > body.bin");
                std::process::exit(2);
            }
        }
    }
    let request = SimpleRequest {
        response_size,
        payload: (payload > 0).then(|| Payload {
            r#type: 0,
            body: vec![0; payload].into(),
        }),
        ..Default::default()
    };
    let message = request.encode_to_vec();
    let mut framed = Vec::with_capacity(5 + message.len());
    framed.push(0); // not compressed
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(&message);
    use std::io::Write;
    if let Err(err) = std::io::stdout().write_all(&framed) {
        eprintln!("bench-request: {err}");
        std::process::exit(1);
    }
}
