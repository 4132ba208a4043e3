//! Broken and hostile HTTP/2 servers against rill's client connection: each misbehaviour
//! ends the call with a clear status within a bound (never a hang or a panic), and a server
//! that answers correctly in unusual ways (a head split over CONTINUATION frames) is
//! understood.

mod common;

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use common::*;
use rill::{Channel, Client, Code, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PUSH_PROMISE: u8 = 5;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let len = payload.len() as u32;
    buf.put_slice(&len.to_be_bytes()[1..]);
    buf.put_u8(kind);
    buf.put_u8(flags);
    buf.put_u32(stream);
    buf.put_slice(payload);
    buf.to_vec()
}

/// HPACK: `:status: 200`, then `content-type: application/grpc` (literal, static name 31).
fn ok_head() -> Vec<u8> {
    let mut b = vec![0x88, 0x0f, 0x10, 16];
    b.extend_from_slice(b"application/grpc");
    b
}

/// HPACK: `grpc-status: <code>` as a literal with a new name.
fn grpc_status(code: &str) -> Vec<u8> {
    let mut b = vec![0x00, 11];
    b.extend_from_slice(b"grpc-status");
    b.push(code.len() as u8);
    b.extend_from_slice(code.as_bytes());
    b
}

/// Reads the client's preface and frames until the HEADERS of stream 1 has arrived.
async fn read_request(io: &mut DuplexStream) -> Option<()> {
    let mut preface = [0u8; 24];
    io.read_exact(&mut preface).await.ok()?;
    assert_eq!(&preface[..], PREFACE);
    loop {
        let mut head = [0u8; 9];
        io.read_exact(&mut head).await.ok()?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        io.read_exact(&mut payload).await.ok()?;
        if head[3] == HEADERS {
            return Some(());
        }
    }
}

/// A server that sends SETTINGS, waits for the first request, then sends `reply` and keeps
/// reading (or closes, if `close`).
fn scripted(reply: Vec<u8>, close: bool) -> Client {
    let channel = Channel::with_connector("hostile.test", move || {
        let reply = reply.clone();
        async move {
            let (client, mut server) = tokio::io::duplex(64 * 1024);
            tokio::spawn(async move {
                if server.write_all(&frame(SETTINGS, 0, 0, &[])).await.is_err() {
                    return;
                }
                if read_request(&mut server).await.is_none() {
                    return;
                }
                let _ = server.write_all(&reply).await;
                if close {
                    return;
                }
                let mut sink = [0u8; 4096];
                while matches!(server.read(&mut sink).await, Ok(n) if n > 0) {}
            });
            Ok(client)
        }
    });
    Client::new(channel)
}

#[tokio::test]
async fn every_misbehaving_server_gets_a_clear_status_not_a_hang() {
    let head = ok_head();
    let mut split_trailers_only = ok_head();
    split_trailers_only.extend(grpc_status("5"));
    let (first, rest) = split_trailers_only.split_at(3);
    let cases: Vec<(&str, Vec<u8>, bool, Code)> = vec![
        (
            "frame larger than the max frame size",
            frame(DATA, 0, 1, &vec![0u8; 20_000]),
            false,
            Code::Unavailable,
        ),
        (
            "HEADERS on an even stream",
            frame(HEADERS, END_HEADERS, 2, &head),
            false,
            Code::Unavailable,
        ),
        (
            "HEADERS on a stream never opened",
            frame(HEADERS, END_HEADERS, 99, &head),
            false,
            Code::Unavailable,
        ),
        (
            "DATA before the response head",
            frame(DATA, 0, 1, b"\0\0\0\0\0"),
            false,
            Code::Internal,
        ),
        (
            "undecodable HPACK",
            frame(HEADERS, END_HEADERS, 1, &[0xff, 0xff, 0xff, 0xff, 0xff]),
            false,
            Code::Unavailable,
        ),
        (
            "response head without :status",
            frame(HEADERS, END_HEADERS, 1, &head[1..]),
            false,
            Code::Internal,
        ),
        (
            "trailers without END_STREAM",
            [
                frame(HEADERS, END_HEADERS, 1, &head),
                frame(HEADERS, END_HEADERS, 1, &grpc_status("0")),
            ]
            .concat(),
            false,
            Code::Internal,
        ),
        (
            "RST_STREAM CANCEL",
            frame(RST_STREAM, 0, 1, &8u32.to_be_bytes()),
            false,
            Code::Cancelled,
        ),
        (
            "RST_STREAM ENHANCE_YOUR_CALM",
            frame(RST_STREAM, 0, 1, &11u32.to_be_bytes()),
            false,
            Code::ResourceExhausted,
        ),
        (
            "PUSH_PROMISE (push is disabled)",
            frame(PUSH_PROMISE, END_HEADERS, 1, &[0, 0, 0, 2, 0x82]),
            false,
            Code::Unavailable,
        ),
        (
            "a header block interrupted by another frame",
            [frame(HEADERS, 0, 1, first), frame(PING, 0, 0, &[0; 8])].concat(),
            false,
            Code::Unavailable,
        ),
        ("EOF after the request", Vec::new(), true, Code::Unavailable),
        (
            "GOAWAY with an error, then EOF",
            frame(GOAWAY, 0, 0, &[0, 0, 0, 1, 0, 0, 0, 2]),
            true,
            Code::Unavailable,
        ),
        (
            "a Trailers-Only head split over CONTINUATION (valid)",
            [
                frame(HEADERS, END_STREAM, 1, first),
                frame(CONTINUATION, END_HEADERS, 1, rest),
            ]
            .concat(),
            false,
            Code::NotFound,
        ),
    ];
    for (name, reply, close, want) in cases {
        let client = scripted(reply, close);
        let call = client.unary::<Msg, Msg>(UNARY, Request::new(Msg::text("hi")));
        let result = tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .unwrap_or_else(|_| panic!("{name}: the call hung"));
        let status = result.expect_err(name);
        assert_eq!(status.code(), want, "{name}: {status:?}");
    }
}

#[tokio::test]
async fn a_server_that_never_sends_settings_fails_the_call_by_its_deadline() {
    let channel = Channel::with_connector("silent.test", || async {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let mut sink = [0u8; 4096];
            while matches!(server.read(&mut sink).await, Ok(n) if n > 0) {}
        });
        Ok(client)
    });
    let client = Client::new(channel);
    let mut request = Request::new(Msg::text("hi"));
    request.set_timeout(Duration::from_millis(300));
    let call = client.unary::<Msg, Msg>(UNARY, request);
    let status = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the deadline ends the call")
        .expect_err("no answer");
    assert_eq!(status.code(), Code::DeadlineExceeded);
}

/// Regression: gRPC C-core raises SETTINGS_MAX_FRAME_SIZE to several MiB and then sometimes
/// stalls on a client DATA frame that large (the interop case very_large_request against
/// grpcio hung). Whatever the server allows, the client's DATA frames stay at 64 KiB.
#[tokio::test]
async fn client_data_frames_stay_small_when_the_server_allows_huge_ones() {
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel::<Vec<usize>>();
    let seen_tx = std::sync::Mutex::new(Some(seen_tx));
    let channel = Channel::with_connector("big-frames.test", move || {
        let seen_tx = seen_tx.lock().unwrap().take();
        async move {
            let (client, mut server) = tokio::io::duplex(1 << 20);
            tokio::spawn(async move {
                // MAX_FRAME_SIZE 16 MiB - 1, INITIAL_WINDOW_SIZE 16 MiB, and a connection
                // window to match: nothing but the client's own cap limits its frames.
                let mut settings = Vec::new();
                for (id, value) in [(5u16, (1u32 << 24) - 1), (4, 1 << 24)] {
                    settings.extend_from_slice(&id.to_be_bytes());
                    settings.extend_from_slice(&value.to_be_bytes());
                }
                let mut hello = frame(SETTINGS, 0, 0, &settings);
                hello.extend(frame(8, 0, 0, &(1u32 << 24).to_be_bytes()));
                server.write_all(&hello).await.unwrap();
                let mut preface = [0u8; 24];
                server.read_exact(&mut preface).await.unwrap();
                let mut data_frames = Vec::new();
                loop {
                    let mut head = [0u8; 9];
                    server.read_exact(&mut head).await.unwrap();
                    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
                    let mut payload = vec![0u8; len];
                    server.read_exact(&mut payload).await.unwrap();
                    if head[3] == DATA {
                        data_frames.push(len);
                        if head[4] & END_STREAM != 0 {
                            break;
                        }
                    }
                }
                let reply = frame(HEADERS, END_STREAM | END_HEADERS, 1, &{
                    let mut b = ok_head();
                    b.extend(grpc_status("0"));
                    b
                });
                let _ = server.write_all(&reply).await;
                if let Some(tx) = seen_tx {
                    let _ = tx.send(data_frames);
                }
                let mut sink = [0u8; 4096];
                while matches!(server.read(&mut sink).await, Ok(n) if n > 0) {}
            });
            Ok(client)
        }
    });
    let client = Client::new(channel);
    let big = Msg::text(&"x".repeat(3 << 20));
    // The Trailers-Only reply with OK and no message is an error for a unary call; what
    // matters here is what went over the wire.
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        client.unary::<Msg, Msg>(UNARY, Request::new(big)),
    )
    .await
    .expect("the call ends");
    let frames = seen_rx.await.expect("the server saw the request");
    let total: usize = frames.iter().sum();
    assert!(total > 3 << 20, "{total}");
    assert!(frames.iter().all(|&n| n <= 64 * 1024), "{frames:?}");
}
