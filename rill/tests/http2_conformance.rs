//! HTTP/2 conformance of rill's native server transport, after h2spec's cases (RFC 9113 and
//! RFC 7541 section by section): a raw TCP peer writes exact frames and checks the server's
//! answer — GOAWAY or RST_STREAM with the right error code, an ack, or a response.

mod common;

use std::time::Duration;

use common::*;
use rill::server::{Http2Backend, Method, Server, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const PRIORITY: u8 = 2;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const WINDOW_UPDATE: u8 = 8;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY_FLAG: u8 = 0x20;

const PROTOCOL_ERROR: u32 = 1;
const FLOW_CONTROL_ERROR: u32 = 3;
const STREAM_CLOSED: u32 = 5;
const FRAME_SIZE_ERROR: u32 = 6;
const COMPRESSION_ERROR: u32 = 9;
const ENHANCE_YOUR_CALM: u32 = 11;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn literal(name: &str, value: &str, out: &mut Vec<u8>) {
    // Literal without indexing, new name; lengths below 127.
    out.push(0);
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out.push(value.len() as u8);
    out.extend_from_slice(value.as_bytes());
}

fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in fields {
        literal(n, v, &mut out);
    }
    out
}

const REQUEST: &[(&str, &str)] = &[
    (":method", "POST"),
    (":scheme", "http"),
    (":path", UNARY),
    (":authority", "localhost"),
    ("content-type", "application/grpc"),
    ("te", "trailers"),
];

fn req() -> Vec<u8> {
    block(REQUEST)
}

/// The request with one field replaced (or added, if `name` is new), or removed (`None`).
fn req_with(name: &str, value: Option<&str>) -> Vec<u8> {
    let mut fields: Vec<(&str, &str)> = REQUEST.to_vec();
    match (fields.iter().position(|(n, _)| *n == name), value) {
        (Some(at), Some(v)) => fields[at].1 = v,
        (Some(at), None) => drop(fields.remove(at)),
        // New pseudo-headers go first, so only the one thing under test is wrong.
        (None, Some(v)) if name.starts_with(':') => fields.insert(0, (name, v)),
        (None, Some(v)) => fields.push((name, v)),
        (None, None) => {}
    }
    block(&fields)
}

fn settings(values: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in values {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    frame(SETTINGS, 0, 0, &p)
}

fn grpc_message(msg: &Msg) -> Vec<u8> {
    let body = prost::Message::encode_to_vec(msg);
    let mut out = vec![0];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend(body);
    out
}

/// A raw HTTP/2 client.
struct Peer {
    tcp: TcpStream,
    buf: Vec<u8>,
}

#[derive(Debug)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

impl Peer {
    async fn connect(addr: std::net::SocketAddr) -> Peer {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(PREFACE).await.unwrap();
        tcp.write_all(&settings(&[])).await.unwrap();
        Peer {
            tcp,
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        // The server may already have hung up: what it sent is checked next.
        let _ = self.tcp.write_all(bytes).await;
    }

    /// The next frame, or `None` once the connection is closed or `limit` passes.
    async fn next(&mut self, limit: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.buf.len() >= 9 {
                let len = (usize::from(self.buf[0]) << 16)
                    | (usize::from(self.buf[1]) << 8)
                    | usize::from(self.buf[2]);
                if self.buf.len() >= 9 + len {
                    let bytes: Vec<u8> = self.buf.drain(..9 + len).collect();
                    return Some(Frame {
                        kind: bytes[3],
                        flags: bytes[4],
                        stream: u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]),
                        payload: bytes[9..].to_vec(),
                    });
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout_at(deadline, self.tcp.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    /// Reads until a frame matches `want` (true), or the connection ends (false).
    async fn until(&mut self, mut want: impl FnMut(&Frame) -> bool) -> Result<Frame, Vec<Frame>> {
        let mut seen = Vec::new();
        while let Some(f) = self.next(Duration::from_secs(3)).await {
            if want(&f) {
                return Ok(f);
            }
            seen.push(f);
        }
        Err(seen)
    }
}

fn code(f: &Frame, at: usize) -> u32 {
    u32::from_be_bytes([
        f.payload[at],
        f.payload[at + 1],
        f.payload[at + 2],
        f.payload[at + 3],
    ])
}

/// What the server must answer.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// GOAWAY with this code (then the connection closes).
    Conn(u32),
    /// RST_STREAM on this stream with this code, or GOAWAY with the code.
    Stream(u32, u32),
    /// The connection is closed (GOAWAY optional).
    Closed,
    PingAck,
    SettingsAck,
    /// Response HEADERS on this stream.
    Response(u32),
}

async fn check(
    addr: std::net::SocketAddr,
    name: &str,
    handshake: bool,
    bytes: &[u8],
    expect: Expect,
) {
    let mut peer = if handshake {
        Peer::connect(addr).await
    } else {
        Peer {
            tcp: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    };
    peer.send(bytes).await;
    let got = match expect {
        Expect::Conn(c) => peer
            .until(|f| f.kind == GOAWAY && code(f, 4) == c)
            .await
            .map(drop),
        Expect::Stream(id, c) => peer
            .until(|f| {
                (f.kind == RST_STREAM && f.stream == id && code(f, 0) == c)
                    || (f.kind == GOAWAY && code(f, 4) == c)
            })
            .await
            .map(drop),
        Expect::Closed => match peer.until(|_| false).await {
            Err(_) => Ok(()),
            Ok(_) => unreachable!(),
        },
        Expect::PingAck => peer
            .until(|f| f.kind == PING && f.flags & ACK != 0 && f.payload == b"conform!")
            .await
            .map(drop),
        Expect::SettingsAck => peer
            .until(|f| f.kind == SETTINGS && f.flags & ACK != 0)
            .await
            .map(drop),
        Expect::Response(id) => peer
            .until(|f| f.kind == HEADERS && f.stream == id)
            .await
            .map(drop),
    };
    if let Err(seen) = got {
        let seen: Vec<(u8, u8, u32)> = seen.iter().map(|f| (f.kind, f.flags, f.stream)).collect();
        panic!("{name}: expected {expect:?}; saw (kind, flags, stream) {seen:?}");
    }
}

async fn native_server(server: Server) -> std::net::SocketAddr {
    let (addr, stop, _) = tcp_server(server.http2_backend(Http2Backend::Native)).await;
    std::mem::forget(stop);
    addr
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

#[tokio::test]
async fn h2spec_cases() {
    use Expect::*;
    let addr = native_server(echo_server().0).await;
    let h = |flags: u8, stream: u32| frame(HEADERS, flags | END_HEADERS, stream, &req());
    let ping = frame(PING, 0, 0, b"conform!");
    let trailer = block(&[("x-trailer", "1")]);
    let mut prio_self = vec![0, 0, 0, 1, 16];
    prio_self.extend(req());
    let mut padded_headers = vec![200];
    padded_headers.extend(req());
    let size_update = {
        // Dynamic table size update to 8192, over our SETTINGS_HEADER_TABLE_SIZE of 4096.
        let mut b = vec![0x3f, 0xe1, 0x3f];
        b.extend(req());
        b
    };
    let half = req();
    let (first, rest) = half.split_at(10);
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("4.2 DATA over SETTINGS_MAX_FRAME_SIZE", cat(&[h(0, 1), frame(DATA, 0, 1, &[0; 16385])]), Conn(FRAME_SIZE_ERROR)),
        ("4.2 HEADERS over SETTINGS_MAX_FRAME_SIZE", frame(HEADERS, END_HEADERS, 1, &[0; 16385]), Conn(FRAME_SIZE_ERROR)),
        ("4.3 undecodable header block", frame(HEADERS, END_HEADERS, 1, &[0x80 | 100]), Conn(COMPRESSION_ERROR)),
        ("4.3 table size update over the limit", frame(HEADERS, END_HEADERS | END_STREAM, 1, &size_update), Conn(COMPRESSION_ERROR)),
        ("5.1 idle: DATA", frame(DATA, 0, 1, b"x"), Conn(PROTOCOL_ERROR)),
        ("5.1 idle: RST_STREAM", frame(RST_STREAM, 0, 1, &[0, 0, 0, 8]), Conn(PROTOCOL_ERROR)),
        ("5.1 idle: WINDOW_UPDATE", frame(WINDOW_UPDATE, 0, 1, &[0, 0, 0, 1]), Conn(PROTOCOL_ERROR)),
        ("5.1 idle: CONTINUATION", frame(CONTINUATION, END_HEADERS, 1, &req()), Conn(PROTOCOL_ERROR)),
        ("5.1 half-closed (remote): DATA", cat(&[h(END_STREAM, 1), frame(DATA, 0, 1, b"x")]), Stream(1, STREAM_CLOSED)),
        ("5.1 half-closed (remote): HEADERS", cat(&[h(END_STREAM, 1), frame(HEADERS, END_HEADERS | END_STREAM, 1, &trailer)]), Stream(1, STREAM_CLOSED)),
        ("5.1 closed: DATA after RST_STREAM", cat(&[h(0, 1), frame(RST_STREAM, 0, 1, &[0, 0, 0, 8]), frame(DATA, 0, 1, b"x")]), Stream(1, STREAM_CLOSED)),
        ("5.1 closed: HEADERS after RST_STREAM", cat(&[h(0, 1), frame(RST_STREAM, 0, 1, &[0, 0, 0, 8]), h(0, 1)]), Conn(STREAM_CLOSED)),
        ("5.1.1 even stream id", h(END_STREAM, 2), Conn(PROTOCOL_ERROR)),
        ("5.1.1 decreasing stream id", cat(&[h(0, 5), h(0, 3)]), Conn(PROTOCOL_ERROR)),
        ("5.3.1 HEADERS depending on itself", frame(HEADERS, END_HEADERS | PRIORITY_FLAG, 1, &prio_self), Stream(1, PROTOCOL_ERROR)),
        ("5.3.1 PRIORITY depending on itself", frame(PRIORITY, 0, 1, &[0, 0, 0, 1, 16]), Stream(1, PROTOCOL_ERROR)),
        ("5.5 unknown frame types are ignored", cat(&[frame(0x20, 0, 0, b"abc"), ping.clone()]), PingAck),
        ("5.5 unknown frame inside a header block", cat(&[frame(HEADERS, 0, 1, &req()), frame(0x20, 0, 1, b"x")]), Conn(PROTOCOL_ERROR)),
        ("6.1 DATA on stream 0", frame(DATA, 0, 0, b"x"), Conn(PROTOCOL_ERROR)),
        ("6.1 DATA padding longer than the payload", cat(&[h(0, 1), frame(DATA, PADDED, 1, &[10, 1, 2])]), Conn(PROTOCOL_ERROR)),
        ("6.2 HEADERS on stream 0", frame(HEADERS, END_HEADERS, 0, &req()), Conn(PROTOCOL_ERROR)),
        ("6.2 HEADERS padding longer than the payload", frame(HEADERS, END_HEADERS | PADDED, 1, &padded_headers), Conn(PROTOCOL_ERROR)),
        ("6.3 PRIORITY on stream 0", frame(PRIORITY, 0, 0, &[0, 0, 0, 1, 16]), Conn(PROTOCOL_ERROR)),
        ("6.3 PRIORITY of the wrong length", frame(PRIORITY, 0, 1, &[0, 0, 0, 3]), Stream(1, FRAME_SIZE_ERROR)),
        ("6.4 RST_STREAM on stream 0", frame(RST_STREAM, 0, 0, &[0, 0, 0, 8]), Conn(PROTOCOL_ERROR)),
        ("6.4 RST_STREAM of the wrong length", cat(&[h(0, 1), frame(RST_STREAM, 0, 1, &[0, 0, 8])]), Conn(FRAME_SIZE_ERROR)),
        ("6.5 SETTINGS ack with a payload", frame(SETTINGS, ACK, 0, &[0, 3, 0, 0, 0, 1]), Conn(FRAME_SIZE_ERROR)),
        ("6.5 SETTINGS on a stream", frame(SETTINGS, 0, 1, &[]), Conn(PROTOCOL_ERROR)),
        ("6.5 SETTINGS of a bad length", frame(SETTINGS, 0, 0, &[0, 3, 0]), Conn(FRAME_SIZE_ERROR)),
        ("6.5.2 ENABLE_PUSH of 2", settings(&[(2, 2)]), Conn(PROTOCOL_ERROR)),
        ("6.5.2 INITIAL_WINDOW_SIZE over 2^31-1", settings(&[(4, 1 << 31)]), Conn(FLOW_CONTROL_ERROR)),
        ("6.5.2 MAX_FRAME_SIZE below 16384", settings(&[(5, 16383)]), Conn(PROTOCOL_ERROR)),
        ("6.5.2 MAX_FRAME_SIZE over 2^24-1", settings(&[(5, 1 << 24)]), Conn(PROTOCOL_ERROR)),
        ("6.5.3 SETTINGS (with an unknown id) are acknowledged", settings(&[(0xff, 1)]), SettingsAck),
        ("6.7 PING is acknowledged", ping.clone(), PingAck),
        ("6.7 PING on a stream", frame(PING, 0, 1, b"conform!"), Conn(PROTOCOL_ERROR)),
        ("6.7 PING of the wrong length", frame(PING, 0, 0, b"short"), Conn(FRAME_SIZE_ERROR)),
        ("6.8 GOAWAY on a stream", frame(GOAWAY, 0, 1, &[0; 8]), Conn(PROTOCOL_ERROR)),
        ("6.9 WINDOW_UPDATE of 0 on the connection", frame(WINDOW_UPDATE, 0, 0, &[0; 4]), Conn(PROTOCOL_ERROR)),
        ("6.9 WINDOW_UPDATE of 0 on a stream", cat(&[h(0, 1), frame(WINDOW_UPDATE, 0, 1, &[0; 4])]), Stream(1, PROTOCOL_ERROR)),
        ("6.9 WINDOW_UPDATE of the wrong length", frame(WINDOW_UPDATE, 0, 0, &[0, 0, 1]), Conn(FRAME_SIZE_ERROR)),
        ("6.9.1 connection window over 2^31-1", frame(WINDOW_UPDATE, 0, 0, &0x7fff_ffffu32.to_be_bytes()), Conn(FLOW_CONTROL_ERROR)),
        ("6.9.1 stream window over 2^31-1", cat(&[h(0, 1), frame(WINDOW_UPDATE, 0, 1, &0x7fff_ffffu32.to_be_bytes())]), Stream(1, FLOW_CONTROL_ERROR)),
        ("6.9.2 INITIAL_WINDOW_SIZE pushing a stream window over 2^31-1", cat(&[h(0, 1), frame(WINDOW_UPDATE, 0, 1, &(0x7fff_ffffu32 - 65_535).to_be_bytes()), settings(&[(4, 65_536)])]), Conn(FLOW_CONTROL_ERROR)),
        ("6.10 CONTINUATION after END_HEADERS", cat(&[h(0, 1), frame(CONTINUATION, END_HEADERS, 1, &trailer)]), Conn(PROTOCOL_ERROR)),
        ("6.10 DATA inside a header block", cat(&[frame(HEADERS, 0, 1, &req()), frame(DATA, 0, 1, b"x")]), Conn(PROTOCOL_ERROR)),
        ("6.10 CONTINUATION on another stream", cat(&[frame(HEADERS, 0, 1, first), frame(CONTINUATION, END_HEADERS, 3, rest)]), Conn(PROTOCOL_ERROR)),
        ("6.10 HEADERS + CONTINUATION make one request", cat(&[frame(HEADERS, END_STREAM, 1, first), frame(CONTINUATION, 0, 1, &[]), frame(CONTINUATION, END_HEADERS, 1, rest)]), Response(1)),
        ("8.1 a second HEADERS without END_STREAM", cat(&[h(0, 1), frame(HEADERS, END_HEADERS, 1, &trailer)]), Stream(1, PROTOCOL_ERROR)),
        ("8.2.1 uppercase field name", frame(HEADERS, END_HEADERS, 1, &req_with("X-Upper", Some("1"))), Stream(1, PROTOCOL_ERROR)),
        ("8.2.2 connection-specific field", frame(HEADERS, END_HEADERS, 1, &req_with("connection", Some("keep-alive"))), Stream(1, PROTOCOL_ERROR)),
        ("8.2.2 te other than trailers", frame(HEADERS, END_HEADERS, 1, &req_with("te", Some("gzip"))), Stream(1, PROTOCOL_ERROR)),
        ("8.3 unknown pseudo-header", frame(HEADERS, END_HEADERS, 1, &req_with(":foo", Some("1"))), Stream(1, PROTOCOL_ERROR)),
        ("8.3 response pseudo-header in a request", frame(HEADERS, END_HEADERS, 1, &req_with(":status", Some("200"))), Stream(1, PROTOCOL_ERROR)),
        ("8.3 pseudo-header after a regular field", frame(HEADERS, END_HEADERS, 1, &cat(&[req(), block(&[(":authority", "x")])])), Stream(1, PROTOCOL_ERROR)),
        ("8.3 duplicate :path", frame(HEADERS, END_HEADERS, 1, &cat(&[block(&[(":path", "/x")]), req()])), Stream(1, PROTOCOL_ERROR)),
        ("8.3.1 missing :method", frame(HEADERS, END_HEADERS, 1, &req_with(":method", None)), Stream(1, PROTOCOL_ERROR)),
        ("8.3.1 missing :scheme", frame(HEADERS, END_HEADERS, 1, &req_with(":scheme", None)), Stream(1, PROTOCOL_ERROR)),
        ("8.3.1 missing :path", frame(HEADERS, END_HEADERS, 1, &req_with(":path", None)), Stream(1, PROTOCOL_ERROR)),
        ("8.3.1 empty :path", frame(HEADERS, END_HEADERS, 1, &req_with(":path", Some(""))), Stream(1, PROTOCOL_ERROR)),
        ("8.1 pseudo-header in trailers", cat(&[h(0, 1), frame(HEADERS, END_HEADERS | END_STREAM, 1, &block(&[(":path", "/")]))]), Stream(1, PROTOCOL_ERROR)),
        ("8.1.1 content-length not matching DATA", cat(&[frame(HEADERS, END_HEADERS, 1, &req_with("content-length", Some("10"))), frame(DATA, END_STREAM, 1, b"12345")]), Stream(1, PROTOCOL_ERROR)),
    ];
    for (name, bytes, expect) in cases {
        check(addr, name, true, &bytes, expect).await;
    }
    check(
        addr,
        "3.4 invalid preface",
        false,
        b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
        Expect::Closed,
    )
    .await;
    check(
        addr,
        "3.4 preface not followed by SETTINGS",
        false,
        &cat(&[PREFACE.to_vec(), ping]),
        Expect::Conn(PROTOCOL_ERROR),
    )
    .await;
    still_serving(addr).await;
}

/// A well-behaved rill client still gets answers.
async fn still_serving(addr: std::net::SocketAddr) {
    let client = rill::Client::new(
        rill::Channel::connect(&format!("http://{addr}"))
            .await
            .unwrap(),
    );
    let resp = client
        .unary::<Msg, Msg>(UNARY, rill::Request::new(Msg::text("ok")))
        .await
        .unwrap();
    assert_eq!(resp.get_ref().text, "ok");
}

#[tokio::test]
async fn send_side_flow_control_waits_for_the_peers_window() {
    let addr = native_server(echo_server().0).await;
    let mut peer = Peer::connect(addr).await;
    // The client's stream windows start at 0: the server may send HEADERS, not DATA.
    peer.send(&settings(&[(4, 0)])).await;
    let body = grpc_message(&Msg::text("flow control"));
    peer.send(&cat(&[
        frame(HEADERS, END_HEADERS, 1, &req()),
        frame(DATA, END_STREAM, 1, &body),
    ]))
    .await;
    let mut seen = Vec::new();
    while let Some(f) = peer.next(Duration::from_millis(500)).await {
        assert_ne!(f.kind, DATA, "DATA sent into a zero window");
        seen.push(f.kind);
    }
    assert!(
        seen.contains(&HEADERS),
        "response headers are not flow-controlled: {seen:?}"
    );
    // Open the window three bytes at a time: DATA frames never exceed it.
    let mut got = 0;
    let mut trailers = false;
    while !trailers {
        peer.send(&frame(WINDOW_UPDATE, 0, 1, &3u32.to_be_bytes()))
            .await;
        let mut budget = 3;
        while let Some(f) = peer.next(Duration::from_millis(200)).await {
            match f.kind {
                DATA => {
                    assert!(
                        f.payload.len() <= budget,
                        "DATA of {} with window {budget}",
                        f.payload.len()
                    );
                    budget -= f.payload.len();
                    got += f.payload.len();
                }
                HEADERS if f.stream == 1 && f.flags & END_STREAM != 0 => trailers = true,
                _ => {}
            }
        }
        assert!(got <= body.len() + 16, "runaway");
    }
    assert_eq!(got, grpc_message(&Msg::text("flow control")).len());
}

/// A client-streaming method that never reads its requests: nothing gives credit back.
struct Stall;

impl Service for Stall {
    fn name(&self) -> &'static str {
        "test.Stall"
    }

    fn methods(&self) -> Vec<Method> {
        vec![Method::client_streaming(
            "Stall",
            |_req: rill::Request<rill::Streaming<Msg>>| async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(rill::Response::new(Msg::default()))
            },
        )]
    }
}

fn stall_request() -> Vec<u8> {
    req_with(":path", Some("/test.Stall/Stall"))
}

#[tokio::test]
async fn receive_windows_are_enforced() {
    // Stream window 16 KiB: 16 KiB + 1 byte on one stream is a stream error.
    let server = Server::builder()
        .add_service(Stall)
        .initial_window_sizes(16 * 1024, 1 << 20);
    let addr = native_server(server).await;
    let mut peer = Peer::connect(addr).await;
    peer.send(&cat(&[
        frame(HEADERS, END_HEADERS, 1, &stall_request()),
        frame(DATA, 0, 1, &[0; 16 * 1024]),
        frame(DATA, 0, 1, &[0]),
    ]))
    .await;
    let got = peer
        .until(|f| f.kind == RST_STREAM && f.stream == 1 && code(f, 0) == FLOW_CONTROL_ERROR)
        .await;
    assert!(got.is_ok(), "stream window not enforced: {got:?}");

    // Connection window 65,535: five streams of 16,000 bytes overrun it.
    let server = Server::builder()
        .add_service(Stall)
        .initial_window_sizes(1 << 20, 65_535);
    let addr = native_server(server).await;
    let mut peer = Peer::connect(addr).await;
    let mut bytes = Vec::new();
    for id in [1u32, 3, 5, 7, 9] {
        bytes.extend(frame(HEADERS, END_HEADERS, id, &stall_request()));
        bytes.extend(frame(DATA, 0, id, &[0; 16_000]));
    }
    peer.send(&bytes).await;
    let got = peer
        .until(|f| f.kind == GOAWAY && code(f, 4) == FLOW_CONTROL_ERROR)
        .await;
    assert!(got.is_ok(), "connection window not enforced: {got:?}");
}

#[tokio::test]
async fn graceful_shutdown_is_two_phase_goaway() {
    let (server, _) = echo_server();
    let (addr, stop, handle) = tcp_server(server.http2_backend(Http2Backend::Native)).await;
    let mut peer = Peer::connect(addr).await;
    let slow = grpc_message(&Msg {
        sleep_ms: 500,
        ..Msg::text("slow")
    });
    peer.send(&cat(&[
        frame(HEADERS, END_HEADERS, 1, &req()),
        frame(DATA, END_STREAM, 1, &slow),
    ]))
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    // Phase one: GOAWAY with the largest id, and a PING.
    let first = peer
        .until(|f| f.kind == GOAWAY)
        .await
        .expect("first GOAWAY");
    assert_eq!((code(&first, 0), code(&first, 4)), (0x7fff_ffff, 0));
    let ping = peer
        .until(|f| f.kind == PING && f.flags & ACK == 0)
        .await
        .expect("PING");
    peer.send(&frame(PING, ACK, 0, &ping.payload)).await;
    // Phase two: the real last stream, after the ack.
    let second = peer
        .until(|f| f.kind == GOAWAY)
        .await
        .expect("second GOAWAY");
    assert_eq!((code(&second, 0), code(&second, 4)), (1, 0));
    // The call in flight completes, then the connection closes.
    let end = peer
        .until(|f| f.kind == HEADERS && f.stream == 1 && f.flags & END_STREAM != 0)
        .await;
    assert!(end.is_ok(), "the call in flight did not complete");
    assert!(peer.next(Duration::from_secs(3)).await.is_none());
    tokio::time::timeout(Duration::from_secs(3), handle)
        .await
        .expect("server did not stop")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn too_many_pings_get_goaway_enhance_your_calm() {
    let addr = native_server(echo_server().0).await;
    let mut peer = Peer::connect(addr).await;
    for i in 0..4u8 {
        peer.send(&frame(PING, 0, 0, &[i; 8])).await;
    }
    let goaway = peer
        .until(|f| f.kind == GOAWAY)
        .await
        .expect("GOAWAY after too many pings");
    assert_eq!(code(&goaway, 4), ENHANCE_YOUR_CALM);
    assert_eq!(&goaway.payload[8..], b"too_many_pings");
    // Pings spaced as the policy allows are fine.
    let server = echo_server()
        .0
        .keepalive_enforcement(Duration::from_millis(50), true);
    let addr = native_server(server).await;
    let mut peer = Peer::connect(addr).await;
    for i in 0..5u8 {
        peer.send(&frame(PING, 0, 0, &[i; 8])).await;
        let ack = peer
            .until(|f| f.kind == PING || f.kind == GOAWAY)
            .await
            .unwrap();
        assert_eq!(ack.kind, PING);
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
}

#[tokio::test]
async fn max_connection_age_drains_then_closes_after_the_grace() {
    let server = echo_server()
        .0
        .max_connection_age(Duration::from_millis(200))
        .max_connection_age_grace(Duration::from_millis(300));
    let addr = native_server(server).await;
    let mut peer = Peer::connect(addr).await;
    let slow = grpc_message(&Msg {
        sleep_ms: 3_000,
        ..Msg::text("slow")
    });
    let started = std::time::Instant::now();
    peer.send(&cat(&[
        frame(HEADERS, END_HEADERS, 1, &req()),
        frame(DATA, END_STREAM, 1, &slow),
    ]))
    .await;
    let first = peer
        .until(|f| f.kind == GOAWAY)
        .await
        .expect("GOAWAY at max age");
    assert_eq!(code(&first, 0), 0x7fff_ffff);
    assert!(started.elapsed() >= Duration::from_millis(150));
    // The slow call outlives the grace: the connection closes without its response.
    let rest = peer.until(|f| f.kind == HEADERS && f.stream == 1).await;
    assert!(rest.is_err(), "the call was not cut off");
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(2_500),
        "closed after {elapsed:?}"
    );
}
