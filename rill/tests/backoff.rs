//! Connection backoff per grpc/grpc doc/connection-backoff.md, on tokio's paused clock:
//! INITIAL_BACKOFF 1 s, MULTIPLIER 1.6, JITTER 0.2, MAX_BACKOFF 120 s, MIN_CONNECT_TIMEOUT 20 s,
//! and a fresh start after a successful connection.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rill::client::{ConnectivityState, Endpoint};
use rill::resolver::Address;
use tokio::time::Instant;

type Attempts = Arc<Mutex<Vec<Instant>>>;

/// A channel whose every connection attempt is recorded and fails at once.
fn failing_channel(attempts: &Attempts) -> rill::Channel {
    let attempts = attempts.clone();
    Endpoint::new("ipv4:127.0.0.1:1")
        .connector(move |_: Address| {
            attempts.lock().unwrap().push(Instant::now());
            async {
                Err::<tokio::io::DuplexStream, _>(std::io::ErrorKind::ConnectionRefused.into())
            }
        })
        .connect_lazy()
        .unwrap()
}

fn gaps(attempts: &Attempts) -> Vec<f64> {
    let attempts = attempts.lock().unwrap();
    attempts
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect()
}

/// Within the jitter of `expected` (and the timer's millisecond rounding).
fn assert_jittered(gap: f64, expected: f64, what: &str) {
    assert!(
        gap >= expected * 0.8 - 0.002 && gap <= expected * 1.2 + 0.002,
        "{what}: {gap} s is not within 20% of {expected} s"
    );
}

#[tokio::test(start_paused = true)]
async fn attempts_follow_the_backoff_and_its_cap() {
    let attempts = Attempts::default();
    let channel = failing_channel(&attempts);
    channel.request_connection();
    tokio::time::sleep(Duration::from_secs(1200)).await;
    let gaps = gaps(&attempts);
    assert!(gaps.len() >= 15, "only {} retries", gaps.len());
    // The first retry: INITIAL_BACKOFF exactly.
    assert!((gaps[0] - 1.0).abs() < 0.002, "first gap {}", gaps[0]);
    let mut expected = 1.0f64;
    for (i, gap) in gaps.iter().enumerate().skip(1) {
        expected = (expected * 1.6).min(120.0);
        assert_jittered(*gap, expected, &format!("retry {i}"));
    }
    // Capped: the last gaps are MAX_BACKOFF ± jitter.
    assert_jittered(*gaps.last().unwrap(), 120.0, "last retry");
    assert_eq!(channel.state(), ConnectivityState::TransientFailure);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_gets_at_least_the_min_connect_timeout() {
    let attempts = Attempts::default();
    let recorded = attempts.clone();
    let channel = Endpoint::new("ipv4:127.0.0.1:1")
        .connector(move |_: Address| {
            recorded.lock().unwrap().push(Instant::now());
            std::future::pending::<std::io::Result<tokio::io::DuplexStream>>()
        })
        .connect_lazy()
        .unwrap();
    let started = Instant::now();
    let mut request = rill::Request::new(common::Msg::default());
    request.set_timeout(Duration::from_secs(90));
    request.set_wait_for_ready(true);
    let err = rill::Client::new(channel)
        .unary::<common::Msg, common::Msg>(common::UNARY, request)
        .await
        .unwrap_err();
    assert_eq!(err.code(), rill::Code::DeadlineExceeded);
    let waited = started.elapsed().as_secs_f64();
    assert!((waited - 90.0).abs() < 0.01, "{waited}");
    // Backoffs below 20 s: each attempt times out after MIN_CONNECT_TIMEOUT, and the next
    // starts at once.
    let gaps = gaps(&attempts);
    assert_eq!(gaps.len(), 4, "{gaps:?}");
    for gap in gaps {
        assert!((gap - 20.0).abs() < 0.002, "{gap}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_successful_connection_resets_the_backoff() {
    let attempts = Attempts::default();
    let recorded = attempts.clone();
    let server: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>> = Arc::default();
    let serving = server.clone();
    let channel = Endpoint::new("ipv4:127.0.0.1:1")
        .connector(move |_: Address| {
            let mut attempts = recorded.lock().unwrap();
            attempts.push(Instant::now());
            // The fourth attempt reaches a server; all others fail.
            let result = if attempts.len() == 4 {
                let (client_io, server_io) = tokio::io::duplex(1 << 16);
                let (echo, _) = common::echo_server();
                *serving.lock().unwrap() = Some(tokio::spawn(echo.serve_connection(server_io)));
                Ok(client_io)
            } else {
                Err(std::io::ErrorKind::ConnectionRefused.into())
            };
            async move { result }
        })
        .connect_lazy()
        .unwrap();
    let mut states = channel.watch_state();
    channel.request_connection();
    states
        .wait_for(|s| *s == ConnectivityState::Ready)
        .await
        .unwrap();
    assert_eq!(attempts.lock().unwrap().len(), 4);
    // The server goes away: pick_first goes IDLE; reconnecting starts the backoff over.
    server.lock().unwrap().take().unwrap().abort();
    states
        .wait_for(|s| *s == ConnectivityState::Idle)
        .await
        .unwrap();
    channel.request_connection();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let gaps = gaps(&attempts);
    assert_eq!(gaps.len(), 5, "{gaps:?}");
    assert!((gaps[0] - 1.0).abs() < 0.002);
    assert_jittered(gaps[1], 1.6, "second retry");
    assert_jittered(gaps[2], 2.56, "third retry");
    assert!((gaps[4] - 1.0).abs() < 0.002, "after a reset: {gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn reset_connect_backoff_retries_at_once() {
    let attempts = Attempts::default();
    let channel = failing_channel(&attempts);
    channel.request_connection();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let before = attempts.lock().unwrap().len();
    assert!(before >= 5, "{before}");
    let reset_at = Instant::now();
    channel.reset_connect_backoff();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let attempts = attempts.lock().unwrap();
    assert_eq!(attempts.len(), before + 2, "{attempts:?}");
    assert_eq!(attempts[before], reset_at);
    assert_eq!(
        attempts[before + 1] - attempts[before],
        Duration::from_secs(1)
    );
}
