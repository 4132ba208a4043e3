//! Peers that stop reading: flow control, not server memory, absorbs them.
//!
//! A client opens many large server streams and never reads a byte. The server must pull only
//! as many messages from the handlers as the peer's flow-control windows let it send, so its
//! memory stays bounded, and it keeps serving everyone else.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use rill::Request;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A length-prefixed, uncompressed gRPC message.
fn grpc_body(msg: &Msg) -> Bytes {
    let encoded = prost::Message::encode_to_vec(msg);
    let mut body = vec![0];
    body.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
    body.extend(encoded);
    body.into()
}

async fn assert_still_serving(addr: std::net::SocketAddr) {
    let client = rill::Client::new(
        rill::Channel::connect(&format!("http://{addr}"))
            .await
            .unwrap(),
    );
    let started = Instant::now();
    let reply = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::text("ok")))
        .await
        .unwrap();
    assert_eq!(reply.get_ref().text, "ok");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_grow_server_memory() {
    const STREAMS: usize = 20;
    const MESSAGES: i32 = 1_000;
    const BLOB: usize = 64 * 1024;
    let (server, probe) = echo_server();
    let (addr, _stop, _task) = tcp_server(server).await;

    // A raw HTTP/2 client with the default 64 KiB windows that never reads or releases.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let before = rss_kib();
    let request = grpc_body(&Msg {
        n: MESSAGES,
        blob: vec![7; BLOB],
        ..Msg::default()
    });
    let mut held = Vec::new();
    for _ in 0..STREAMS {
        let mut send = send.clone().ready().await.unwrap();
        let head = http::Request::builder()
            .method("POST")
            .uri(format!("http://localhost{SERVER_STREAM}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        let (response, mut body) = send.send_request(head, false).unwrap();
        body.send_data(request.clone(), true).unwrap();
        held.push((response, body));
    }
    // Give the handlers time to produce everything they would if nothing held them back.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 20 streams × 1000 × 64 KiB would be 1.25 GiB; flow control lets out about one window
    // (64 KiB) per stream, so each handler gets pulled a few messages at most.
    let pulled = probe.sent.load(Ordering::SeqCst);
    assert!(
        pulled <= STREAMS * 4,
        "the server pulled {pulled} messages for {STREAMS} stalled streams"
    );
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "memory grew by {grown} KiB");
    assert_still_serving(addr).await;

    // Hanging up ends the stalled calls: their handler streams are dropped, not drained.
    drop(held);
    drop(send);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let settled = probe.sent.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        probe.sent.load(Ordering::SeqCst),
        settled,
        "handlers still pulled"
    );
    assert_still_serving(addr).await;
}

/// Large messages reach a client with HTTP/2's default 64 KiB windows, which must send many
/// WINDOW_UPDATEs. (The native server once stalled here when its write buffer filled while a
/// stream still had window left; that showed with tonic's client against the release
/// bench-server, `bench/run --only 3`, and this in-process test does not reproduce it.)
#[tokio::test]
async fn large_messages_reach_a_client_with_default_windows() {
    let (server, _probe) = echo_server();
    let (addr, _stop, _task) = tcp_server(server).await;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let request = grpc_body(&Msg {
        n: 3,
        blob: vec![7; 1024 * 1024],
        ..Msg::default()
    });
    let mut send = send.ready().await.unwrap();
    let head = http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{SERVER_STREAM}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (response, mut body) = send.send_request(head, false).unwrap();
    body.send_data(request, true).unwrap();
    let read_all = async {
        let mut recv = response.await.unwrap().into_body();
        let mut total = 0;
        while let Some(chunk) = recv.data().await {
            let chunk = chunk.unwrap();
            total += chunk.len();
            let _ = recv.flow_control().release_capacity(chunk.len());
        }
        let trailers = recv.trailers().await.unwrap().unwrap();
        (total, trailers["grpc-status"].clone())
    };
    let (total, status) = tokio::time::timeout(Duration::from_secs(10), read_all)
        .await
        .expect("the stream stalled");
    assert!(total > 3 * 1024 * 1024, "{total}");
    assert_eq!(status, "0");
}
