//! Hostile and broken HTTP/2 peers: each attack gets a clear protocol answer (GOAWAY, RST_STREAM
//! or a status), the server keeps serving a well-behaved client meanwhile, and memory stays
//! bounded. Attack loops are bounded in count and time and target only 127.0.0.1.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rill::server::Server;
use rill::{Code, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// HPACK integer with an N-bit prefix (RFC 7541 §5.1).
fn hpack_int(first: u8, prefix_bits: u32, mut value: usize, out: &mut Vec<u8>) {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128 + 128) as u8);
        value /= 128;
    }
    out.push(value as u8);
}

/// A literal header (no Huffman); `index` = add it to the dynamic table.
fn literal(name: &str, value: &[u8], index: bool, out: &mut Vec<u8>) {
    out.push(if index { 0x40 } else { 0x00 });
    hpack_int(0, 7, name.len(), out);
    out.extend_from_slice(name.as_bytes());
    hpack_int(0, 7, value.len(), out);
    out.extend_from_slice(value);
}

/// A gRPC request header block for `path`.
fn request_block(path: &str) -> Vec<u8> {
    let mut block = vec![0x83, 0x86]; // :method POST, :scheme http
    block.push(0x04); // :path, literal without indexing, indexed name 4
    hpack_int(0, 7, path.len(), &mut block);
    block.extend_from_slice(path.as_bytes());
    literal(":authority", b"localhost", false, &mut block);
    literal("content-type", b"application/grpc", false, &mut block);
    literal("te", b"trailers", false, &mut block);
    block
}

async fn serve(server: Server) -> std::net::SocketAddr {
    let (addr, stop, _) = tcp_server(server).await;
    std::mem::forget(stop);
    addr
}

async fn attacker(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(PREFACE).await.unwrap();
    stream.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    stream
}

/// Reads until the server closes the connection (or `limit` passes); returns whether it did
/// and whether a GOAWAY frame was seen.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (bool, bool) {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (true, has_goaway(&seen)),
            Ok(Ok(n)) => {
                if seen.len() < 1 << 20 {
                    seen.extend_from_slice(&buf[..n]);
                }
            }
            Err(_) => return (false, has_goaway(&seen)),
        }
    }
}

fn has_goaway(bytes: &[u8]) -> bool {
    let mut at = 0;
    while at + 9 <= bytes.len() {
        let len = (usize::from(bytes[at]) << 16)
            | (usize::from(bytes[at + 1]) << 8)
            | usize::from(bytes[at + 2]);
        if bytes[at + 3] == 7 {
            return true;
        }
        at += 9 + len;
    }
    false
}

/// A well-behaved client keeps getting answers while `attack` runs.
async fn still_serving(addr: std::net::SocketAddr) {
    let client = rill::Client::new(
        rill::Channel::connect(&format!("http://{addr}"))
            .await
            .unwrap(),
    );
    for _ in 0..5 {
        let started = Instant::now();
        let resp = client
            .unary::<Msg, Msg>(UNARY, Request::new(Msg::text("ok")))
            .await;
        assert_eq!(resp.unwrap().get_ref().text, "ok");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a good call took {:?}",
            started.elapsed()
        );
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn rapid_reset_is_cut_off() {
    let addr = serve(echo_server().0).await;
    let mut stream = attacker(addr).await;
    let mut batch = Vec::new();
    let before = rss_kib();
    let mut sent = 0;
    for id in (1..200_000u32).step_by(2) {
        batch.extend(frame(HEADERS, END_HEADERS, id, &request_block(UNARY)));
        batch.extend(frame(RST_STREAM, 0, id, &8u32.to_be_bytes())); // CANCEL
        if batch.len() > 64 * 1024 {
            if stream.write_all(&batch).await.is_err() {
                break; // the server hung up on us: good
            }
            batch.clear();
        }
        sent += 1;
    }
    let (closed, goaway) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(
        closed && goaway,
        "after {sent} open+reset pairs: closed {closed}, goaway {goaway}"
    );
    still_serving(addr).await;
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 100 * 1024, "memory grew by {grown} KiB");
}

#[tokio::test]
async fn ping_and_settings_floods_do_not_grow_memory() {
    let addr = serve(echo_server().0).await;
    let before = rss_kib();
    for kind in [PING, SETTINGS] {
        let mut stream = attacker(addr).await;
        let one = if kind == PING {
            frame(PING, 0, 0, &[7; 8])
        } else {
            frame(SETTINGS, 0, 0, &[])
        };
        let batch: Vec<u8> = one.iter().copied().cycle().take(one.len() * 4096).collect();
        // We never read the acks: the server must stop reading (or hang up) instead of queueing.
        let flood = async {
            for _ in 0..200 {
                if stream.write_all(&batch).await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(3), flood).await;
        still_serving(addr).await;
        drop(stream);
    }
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 100 * 1024, "memory grew by {grown} KiB");
}

#[tokio::test]
async fn continuation_flood_and_huge_headers_are_refused() {
    let addr = serve(echo_server().0.max_header_list_size(16 * 1024)).await;
    // CONTINUATION frames without end: the header block grows past any limit.
    let mut stream = attacker(addr).await;
    let mut bytes = frame(HEADERS, 0, 1, &request_block(UNARY));
    let mut junk = Vec::new();
    literal("x-junk", &[b'a'; 4000], false, &mut junk);
    for _ in 0..2_000 {
        bytes.extend(frame(CONTINUATION, 0, 1, &junk));
    }
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.write_all(&bytes)).await;
    let (closed, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed, "a CONTINUATION flood must end the connection");

    // One oversized header list, and an HPACK bomb: a 4 KiB value indexed once, referenced
    // hundreds of times (tiny on the wire, megabytes decoded).
    for bomb in [false, true] {
        let mut stream = attacker(addr).await;
        let mut block = request_block(UNARY);
        if bomb {
            literal("x-bomb", &[b'b'; 4000], true, &mut block);
            for _ in 0..500 {
                block.push(0x80 | 62); // the dynamic table's newest entry
            }
        } else {
            literal("x-big", &vec![b'c'; 1 << 20][..], false, &mut block);
        }
        let mut bytes = Vec::new();
        // Split into frames of at most 16 KiB (the default max frame size).
        let chunks: Vec<&[u8]> = block.chunks(16 * 1024).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            let (kind, flags) = if i == 0 {
                (HEADERS, 0)
            } else {
                (CONTINUATION, 0)
            };
            bytes.extend(frame(
                kind,
                flags | if last { END_HEADERS } else { 0 },
                1,
                chunk,
            ));
        }
        let _ = tokio::time::timeout(Duration::from_secs(3), stream.write_all(&bytes)).await;
        let (closed, goaway) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(
            closed || goaway,
            "bomb={bomb}: the oversized header list must be refused"
        );
    }
    still_serving(addr).await;
}

#[tokio::test]
async fn slowloris_and_garbage_connections_are_closed() {
    let server = echo_server()
        .0
        .handshake_timeout(Duration::from_millis(300));
    let addr = serve(server).await;
    let cases: [(&str, &[u8]); 3] = [
        ("silent", b""),
        ("half a preface", b"PRI * HTTP/2.0\r\n"),
        ("http/1.1", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ];
    for (name, bytes) in cases {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        let started = Instant::now();
        let (closed, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(closed, "{name}: connection left open");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{name}: took {:?}",
            started.elapsed()
        );
    }
    still_serving(addr).await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let server = echo_server().0.idle_timeout(Duration::from_millis(300));
    let addr = serve(server).await;
    let mut stream = attacker(addr).await;
    let started = Instant::now();
    let (closed, goaway) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(
        closed && goaway,
        "idle connection: closed {closed}, goaway {goaway}"
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
    // A connection in use is not idle: a call longer than the idle time completes.
    let client = rill::Client::new(
        rill::Channel::connect(&format!("http://{addr}"))
            .await
            .unwrap(),
    );
    let req = Msg {
        sleep_ms: 600,
        ..Msg::text("busy")
    };
    assert!(client
        .unary::<Msg, Msg>(UNARY, Request::new(req))
        .await
        .is_ok());
}

#[tokio::test]
async fn streams_over_the_limit_are_refused() {
    let addr = serve(echo_server().0.max_concurrent_streams(4)).await;
    let mut stream = attacker(addr).await;
    // Ten slow calls at once, without waiting for the server's SETTINGS.
    let body = {
        let msg = prost::Message::encode_to_vec(&Msg {
            sleep_ms: 2_000,
            ..Msg::default()
        });
        let mut b = vec![0];
        b.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        b.extend(msg);
        b
    };
    let mut bytes = Vec::new();
    for id in (1..=19u32).step_by(2) {
        bytes.extend(frame(HEADERS, END_HEADERS, id, &request_block(UNARY)));
        bytes.extend(frame(DATA, END_STREAM, id, &body));
    }
    stream.write_all(&bytes).await.unwrap();
    // Read frames for a second: the extra streams get RST_STREAM(REFUSED_STREAM = 7).
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 65536];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    let mut refused = 0;
    let mut at = 0;
    while at + 9 <= seen.len() {
        let len = (usize::from(seen[at]) << 16)
            | (usize::from(seen[at + 1]) << 8)
            | usize::from(seen[at + 2]);
        if seen[at + 3] == RST_STREAM
            && at + 13 <= seen.len()
            && seen[at + 9..at + 13] == 7u32.to_be_bytes()
        {
            refused += 1;
        }
        at += 9 + len;
    }
    assert!(
        refused >= 6,
        "expected the streams over the limit to be refused, saw {refused}"
    );
    still_serving(addr).await;
}

#[tokio::test]
async fn an_oversized_message_is_refused_before_it_arrives() {
    let addr = serve(echo_server().0.max_decoding_message_size(1024)).await;
    // Announce a 100 MB message and send three bytes of it: the server must answer at the
    // length prefix, not wait for (or buffer) the rest.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut send = send.ready().await.unwrap();
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{UNARY}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (response, mut body) = send.send_request(req, false).unwrap();
    let mut prefix = vec![0u8];
    prefix.extend_from_slice(&100_000_000u32.to_be_bytes());
    prefix.extend_from_slice(&[1, 2, 3]);
    body.send_data(prefix.into(), false).unwrap();
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(2), response)
        .await
        .expect("no answer while the message trickles in")
        .unwrap();
    let status = response.headers().get("grpc-status").cloned();
    let status = match status {
        Some(s) => s,
        None => {
            let mut recv = response.into_body();
            while recv.data().await.is_some() {}
            recv.trailers().await.unwrap().unwrap()["grpc-status"].clone()
        }
    };
    assert_eq!(status, "8");
    assert!(started.elapsed() < Duration::from_secs(2));
    let client = rill::Client::new(
        rill::Channel::connect(&format!("http://{addr}"))
            .await
            .unwrap(),
    );
    let big = Msg {
        blob: vec![0; 10_000],
        ..Msg::default()
    };
    let err = client
        .unary::<Msg, Msg>(UNARY, Request::new(big))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    still_serving(addr).await;
}
