//! The benchmark servers answer all five BenchmarkService methods as gRPC's own benchmark
//! servers do. Runs rill's `bench-server` and, when cargo built it (it does for `cargo test`),
//! the `tonic-bench-server` example, and talks to both with rill's client.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bench::pb::benchmark_service_client::BenchmarkServiceClient;
use bench::pb::SimpleRequest;
use futures_util::StreamExt;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn start(binary: &PathBuf) -> (Server, String) {
    let port = free_port();
    let child = Command::new(binary)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--workers", "1"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    let server = Server(child);
    let target = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if BenchmarkServiceClient::connect(&target).await.is_ok() {
            return (server, target);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} did not start", binary.display());
}

fn req(size: i32) -> SimpleRequest {
    SimpleRequest {
        response_size: size,
        ..Default::default()
    }
}

fn body_len(resp: &bench::pb::SimpleResponse) -> Option<usize> {
    resp.payload.as_ref().map(|p| p.body.len())
}

async fn client(target: &str) -> BenchmarkServiceClient {
    BenchmarkServiceClient::connect(target).await.unwrap()
}

async fn check_all_methods(binary: PathBuf) {
    let (_server, target) = start(&binary).await;
    let client = client(&target).await;

    let one = client.unary_call(req(10)).await.unwrap().into_inner();
    assert_eq!(body_len(&one), Some(10));
    assert!(one.payload.unwrap().body.iter().all(|b| *b == 0));
    let empty = client.unary_call(req(0)).await.unwrap().into_inner();
    assert_eq!(body_len(&empty), None, "response_size 0: no payload");

    let requests = futures_util::stream::iter([req(1), req(2), req(3)]);
    let mut replies = client.streaming_call(requests).await.unwrap().into_inner();
    for size in 1..=3 {
        let reply = replies
            .message()
            .await
            .unwrap()
            .expect("a reply per request");
        assert_eq!(body_len(&reply), Some(size));
    }
    assert!(replies.message().await.unwrap().is_none());

    let requests = futures_util::stream::iter([req(1), req(2), req(7)]);
    let last = client
        .streaming_from_client(requests)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(body_len(&last), Some(7), "answers for the last request");

    let mut endless = client
        .streaming_from_server(req(5))
        .await
        .unwrap()
        .into_inner();
    for _ in 0..3 {
        assert_eq!(body_len(&endless.next().await.unwrap().unwrap()), Some(5));
    }
    drop(endless); // cancels

    let client = self::client(&target).await;
    let requests = futures_util::stream::iter([req(4), req(9)]);
    let mut both = client
        .streaming_both_ways(requests)
        .await
        .unwrap()
        .into_inner();
    for _ in 0..3 {
        assert_eq!(body_len(&both.next().await.unwrap().unwrap()), Some(4));
    }
    drop(both);

    // The server is still fine after the cancellations.
    let client = self::client(&target).await;
    let again = client.unary_call(req(3)).await.unwrap().into_inner();
    assert_eq!(body_len(&again), Some(3));
}

async fn with_timeout(f: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("timed out");
}

#[tokio::test]
async fn rill_server_answers_every_method() {
    with_timeout(check_all_methods(env!("CARGO_BIN_EXE_bench-server").into())).await;
}

#[tokio::test]
async fn tonic_server_answers_every_method() {
    let dir = PathBuf::from(env!("CARGO_BIN_EXE_bench-server"));
    let example = dir.with_file_name("examples").join("tonic-bench-server");
    if !example.exists() {
        eprintln!("skipped: {} not built", example.display());
        return;
    }
    with_timeout(check_all_methods(example)).await;
}

/// Cancelling server streams of small messages back to back while the server is sending:
/// on h2 0.4.20 the client connection charged each small DATA frame against a budget refunded
/// only when the application read it, so frames arriving after the local reset were never
/// refunded and the connection closed itself with GOAWAY ENHANCE_YOUR_CALM
/// ("too_many_data_frames"); the next call failed with UNAVAILABLE. rill's own client
/// connection drops frames of streams it reset and returns their flow-control credit.
#[tokio::test]
async fn client_connection_survives_cancelled_fast_streams() {
    with_timeout(async {
        let (_server, target) = start(&env!("CARGO_BIN_EXE_bench-server").into()).await;
        let client = client(&target).await;
        for _ in 0..5 {
            let mut endless = client
                .streaming_from_server(req(5))
                .await
                .unwrap()
                .into_inner();
            for _ in 0..3 {
                endless.next().await.unwrap().unwrap();
            }
            drop(endless);
        }
        let reply = client.unary_call(req(3)).await.unwrap().into_inner();
        assert_eq!(body_len(&reply), Some(3));
    })
    .await;
}

/// Client streaming of small messages as fast as the request stream yields them: when rill's
/// client sent one DATA frame per message, an h2 0.4.20 server (rill's or tonic's) charged each
/// small frame against its DATA frame budget until its application read it, and closed the
/// connection with GOAWAY ENHANCE_YOUR_CALM ("too_many_data_frames") when the client outpaced
/// it. The client now sends the messages that are ready together (client/wire.rs).
#[tokio::test]
async fn client_streaming_many_small_messages_completes() {
    with_timeout(async {
        let (_server, target) = start(&env!("CARGO_BIN_EXE_bench-server").into()).await;
        let client = client(&target).await;
        let requests = futures_util::stream::iter((0..200_000).map(|_| req(1)));
        let last = client
            .streaming_from_client(requests)
            .await
            .expect("the call completes")
            .into_inner();
        assert_eq!(body_len(&last), Some(1));
    })
    .await;
}
