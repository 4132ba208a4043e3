//! Retries, hedging and the service config end to end (gRFC A6), mostly against the scripted
//! HTTP/2 server of `scripted/`, plus a real rill server over TCP.

mod common;
mod scripted;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Msg;
use rill::service_config::ServiceConfig;
use rill::{Channel, Client, Code, Request};
use scripted::*;

#[tokio::test]
async fn retries_until_success_within_max_attempts() {
    let config = retry_config(4, r#""UNAVAILABLE""#, "");
    let (client, seen) = scripted(&config, |n| match n {
        0 | 1 => Act::Fail(Code::Unavailable, None),
        _ => ok("done"),
    });
    let response = unary(&client, "hi").await.unwrap();
    assert_eq!(response.get_ref().text, "done");
    // The server saw each attempt's number, and every attempt carried the request.
    assert_eq!(seen.previous(), [None, Some("1".into()), Some("2".into())]);
    assert!(seen
        .requests
        .lock()
        .unwrap()
        .iter()
        .all(|(_, m)| m == &[Msg::text("hi")]));
    // The caller learns how many attempts went before.
    assert_eq!(
        response.metadata().get("grpc-previous-rpc-attempts"),
        Some("2")
    );
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let config = retry_config(3, "14", "");
    let (client, seen) = scripted(&config, |_| Act::Fail(Code::Unavailable, None));
    let status = unary(&client, "hi").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.metadata().get("grpc-previous-rpc-attempts"),
        Some("2")
    );
    assert_eq!(seen.arrived.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn non_retryable_code_returns_at_once() {
    let config = retry_config(5, r#""UNAVAILABLE""#, "");
    let (client, seen) = scripted(&config, |_| Act::Fail(Code::InvalidArgument, None));
    let status = unary(&client, "hi").await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(seen.arrived.load(Ordering::SeqCst), 1);
    assert!(status
        .metadata()
        .get("grpc-previous-rpc-attempts")
        .is_none());
}

#[tokio::test(start_paused = true)]
async fn pushback_is_honored() {
    // A backoff of up to 1000 s, unless the server's pushback says otherwise.
    let config = r#"{"methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": 3,
        "initialBackoff": "1000s", "maxBackoff": "1000s", "backoffMultiplier": 1,
        "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#;
    let (client, seen) = scripted(config, |n| match n {
        0 => Act::Fail(Code::Unavailable, Some("5000")),
        _ => ok("after pushback"),
    });
    let start = tokio::time::Instant::now();
    unary(&client, "hi").await.unwrap();
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_millis(5100),
        "waited {waited:?}"
    );
    assert_eq!(seen.arrived.load(Ordering::SeqCst), 2);

    // A negative or malformed pushback: no retry at all.
    for pushback in ["-1", "soon"] {
        let (client, seen) = scripted(config, move |_| {
            Act::Fail(Code::Unavailable, Some(pushback))
        });
        assert_eq!(
            unary(&client, "hi").await.unwrap_err().code(),
            Code::Unavailable
        );
        assert_eq!(seen.arrived.load(Ordering::SeqCst), 1, "{pushback}");
    }
}

#[tokio::test]
async fn throttling_stops_retries() {
    // 10 tokens; retries only while more than 5 are left; each failed attempt costs one.
    let throttling = r#", "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}"#;
    let config = retry_config(5, r#""UNAVAILABLE""#, throttling);
    let (client, seen) = scripted(&config, |_| Act::Fail(Code::Unavailable, None));
    assert!(unary(&client, "1").await.is_err());
    // 5 attempts: the tokens went 10 → 5.
    assert_eq!(seen.arrived.load(Ordering::SeqCst), 5);
    assert!(unary(&client, "2").await.is_err());
    // 4 tokens left after the first failure: no retry.
    assert_eq!(seen.arrived.load(Ordering::SeqCst), 6);
}

#[tokio::test(start_paused = true)]
async fn hedged_calls_cancel_the_losers() {
    let config = r#"{"methodConfig": [{"name": [{"service": "test.Echo"}], "hedgingPolicy": {
        "maxAttempts": 3, "hedgingDelay": "1s", "nonFatalStatusCodes": ["UNAVAILABLE"]}}]}"#;
    let (client, seen) = scripted(config, |n| match n {
        0 => Act::Hang,
        _ => ok("hedge"),
    });
    let start = tokio::time::Instant::now();
    let response = unary(&client, "hi").await.unwrap();
    assert_eq!(response.get_ref().text, "hedge");
    // The second attempt went out a hedging delay after the first and won; no third.
    assert!(start.elapsed() >= Duration::from_secs(1) && start.elapsed() < Duration::from_secs(2));
    assert_eq!(seen.previous(), [None, Some("1".into())]);
    // The loser was cancelled: the server sees RST_STREAM.
    tokio::time::timeout(Duration::from_secs(5), async {
        while seen.cancelled.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the losing attempt was not cancelled");
}

#[tokio::test(start_paused = true)]
async fn hedging_stops_on_a_fatal_code() {
    let config = r#"{"methodConfig": [{"name": [{}], "hedgingPolicy": {
        "maxAttempts": 5, "hedgingDelay": "1s", "nonFatalStatusCodes": ["UNAVAILABLE"]}}]}"#;
    let (client, seen) = scripted(config, |n| match n {
        0 => Act::Fail(Code::Unavailable, None),
        _ => Act::Fail(Code::PermissionDenied, None),
    });
    let status = unary(&client, "hi").await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(seen.arrived.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn transparent_retry_after_refused_stream() {
    // No retry policy at all: a refused stream is still retried once, not as an attempt.
    let (client, seen) = scripted("{}", |n| match n {
        0 => Act::Refuse,
        _ => ok("second try"),
    });
    let response = unary(&client, "hi").await.unwrap();
    assert_eq!(response.get_ref().text, "second try");
    assert_eq!(seen.previous(), [None, None]);
    // Only once: two refusals fail the call.
    let (client, seen) = scripted("{}", |_| Act::Refuse);
    assert_eq!(
        unary(&client, "hi").await.unwrap_err().code(),
        Code::Unavailable
    );
    assert_eq!(seen.arrived.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn server_streaming_retries_before_commit() {
    let config = retry_config(3, r#""UNAVAILABLE""#, "");
    let (client, seen) = scripted(&config, |n| match n {
        0 => Act::Fail(Code::Unavailable, None),
        _ => Act::Reply(
            (0..3)
                .map(|i| Msg {
                    n: i,
                    ..Msg::default()
                })
                .collect(),
        ),
    });
    let mut stream = client
        .server_streaming::<Msg, Msg>(common::SERVER_STREAM, Request::new(Msg::text("s")))
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(msg) = stream.message().await.unwrap() {
        got.push(msg.n);
    }
    assert_eq!(got, [0, 1, 2]);
    assert_eq!(seen.previous(), [None, Some("1".into())]);
}

#[tokio::test]
async fn streaming_requests_are_replayed_on_retry() {
    let config = retry_config(3, r#""UNAVAILABLE""#, "");
    let (client, seen) = scripted(&config, |n| match n {
        0 => Act::Fail(Code::Unavailable, None),
        _ => ok("sum"),
    });
    let requests: Vec<Msg> = (0..4)
        .map(|i| Msg {
            n: i,
            ..Msg::text("m")
        })
        .collect();
    let response = client
        .client_streaming::<Msg, Msg>(common::CLIENT_STREAM, common::msgs(requests.clone()))
        .await
        .unwrap();
    assert_eq!(response.get_ref().text, "sum");
    {
        let seen_requests = seen.requests.lock().unwrap();
        assert_eq!(seen_requests.len(), 2);
        assert!(seen_requests.iter().all(|(_, m)| m == &requests));
    }

    // Bidi: the same.
    let (client, seen) = scripted(&config, |n| match n {
        0 => Act::Fail(Code::Unavailable, None),
        _ => Act::Reply(vec![Msg::text("a"), Msg::text("b")]),
    });
    let mut stream = client
        .streaming::<Msg, Msg>(common::BIDI, common::msgs(requests.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().text, "a");
    assert_eq!(stream.message().await.unwrap().unwrap().text, "b");
    assert!(stream.message().await.unwrap().is_none());
    assert!(seen
        .requests
        .lock()
        .unwrap()
        .iter()
        .all(|(_, m)| m == &requests));
}

#[tokio::test]
async fn a_full_retry_buffer_commits_the_call() {
    let config = retry_config(3, r#""UNAVAILABLE""#, "");
    let (client, seen) = scripted_endpoint(
        &config,
        |n| match n {
            0 => Act::Fail(Code::Unavailable, None),
            _ => ok("never"),
        },
        |e| e.retry_buffer_limits(100, 1 << 20),
    );
    let big: Vec<Msg> = (0..3)
        .map(|_| Msg {
            blob: vec![7; 80],
            ..Msg::default()
        })
        .collect();
    let status = client
        .client_streaming::<Msg, Msg>(common::CLIENT_STREAM, common::msgs(big))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(seen.arrived.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn method_config_timeout_and_limits() {
    let config = r#"{"methodConfig": [{"name": [{"service": "test.Echo", "method": "Unary"}],
        "timeout": "0.5s", "maxRequestMessageBytes": 100, "maxResponseMessageBytes": 50}]}"#;
    let (client, seen) = scripted(config, |n| match n {
        0 => Act::Hang,
        _ => Act::Reply(vec![Msg {
            blob: vec![1; 60],
            ..Msg::default()
        }]),
    });
    // The server never answers: only the config's timeout ends the call.
    let status = unary(&client, "hi").await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    // The response is larger than maxResponseMessageBytes.
    let status = unary(&client, "hi").await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // The request is larger than maxRequestMessageBytes: never sent.
    let big = Msg {
        blob: vec![1; 200],
        ..Msg::default()
    };
    let status = client
        .unary::<Msg, Msg>(common::UNARY, Request::new(big))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(seen.arrived.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn max_in_flight_answers_resource_exhausted() {
    let (client, seen) = scripted_endpoint("{}", |_| Act::Hang, |e| e.max_in_flight(1));
    let held = tokio::spawn({
        let client = client.clone();
        async move { unary(&client, "held").await }
    });
    while seen.arrived.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = unary(&client, "second").await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    held.abort();
    let _ = held.await;
    // The slot is free again once the first call is gone.
    while seen.cancelled.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let third = tokio::time::timeout(Duration::from_millis(200), unary(&client, "third")).await;
    assert!(
        third.is_err(),
        "the third call should reach the hanging server and wait"
    );
    assert_eq!(seen.arrived.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn fail_fast_while_the_channel_is_in_transient_failure() {
    // Nothing listens on the port: a fail-fast call fails with UNAVAILABLE at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::new(Channel::lazy(&format!("http://{addr}")).unwrap());
    let status = tokio::time::timeout(Duration::from_secs(10), unary(&client, "x"))
        .await
        .expect("a fail-fast call waited")
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    // Later calls fail at once too, while the channel is in TRANSIENT_FAILURE.
    let status = unary(&client, "y").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
}

#[tokio::test]
async fn invalid_configs_are_rejected() {
    let unknown =
        ServiceConfig::from_json(r#"{"loadBalancingConfig": [{"no_such_policy": {}}]}"#).unwrap();
    let err = Channel::builder("127.0.0.1:1")
        .service_config(unknown)
        .connect_lazy()
        .unwrap_err();
    assert!(matches!(err, rill::Error::ServiceConfig(_)), "{err}");
    let chosen = ServiceConfig::from_json(
        r#"{"loadBalancingConfig": [{"no_such_policy": {}}, {"round_robin": {}}]}"#,
    )
    .unwrap();
    assert!(Channel::builder("127.0.0.1:1")
        .service_config(chosen)
        .connect_lazy()
        .is_ok());
    for bad in [
        r#"{"methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": 1}}]}"#,
        r#"{"methodConfig": [{"name": [{}], "timeout": "soon"}]}"#,
        r#"{"retryThrottling": {"maxTokens": 5000, "tokenRatio": 1}}"#,
        "not json",
    ] {
        assert!(ServiceConfig::from_json(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn retries_over_tcp_against_a_rill_server() {
    // The real server and channel stack: a rill server whose handler fails twice.
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let service = rill::server::Server::builder().add_service(FlakyEcho(counter));
    let (addr, _stop, _task) = common::tcp_server(service).await;
    let channel = Channel::builder(&format!("http://{addr}"))
        .service_config(ServiceConfig::from_json(&retry_config(3, r#""UNAVAILABLE""#, "")).unwrap())
        .connect_lazy()
        .unwrap();
    let response = unary(&Client::new(channel), "tcp").await.unwrap();
    assert_eq!(response.get_ref().text, "tcp");
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}

#[derive(Clone)]
struct FlakyEcho(Arc<AtomicUsize>);

impl rill::server::Service for FlakyEcho {
    fn name(&self) -> &'static str {
        common::SERVICE
    }

    fn methods(&self) -> Vec<rill::server::Method> {
        let counter = self.0.clone();
        vec![rill::server::Method::unary(
            "Unary",
            move |req: Request<Msg>| {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        return Err(rill::Status::unavailable("flaky"));
                    }
                    Ok(rill::Response::new(req.into_inner()))
                }
            },
        )]
    }
}

#[tokio::test]
async fn transparent_retry_of_a_call_above_goaway_last_stream_id() {
    let script: Script = Arc::new(|_| ok("on the new connection"));
    let seen = Arc::new(Seen::default());
    let connections = Arc::new(AtomicUsize::new(0));
    let (s, sn, count) = (script.clone(), seen.clone(), connections.clone());
    let channel = Channel::builder("127.0.0.1:1")
        .connector(move |_| {
            let (client, server) = tokio::io::duplex(1 << 20);
            if count.fetch_add(1, Ordering::SeqCst) == 0 {
                tokio::spawn(goaway_server(server));
            } else {
                tokio::spawn(serve(server, s.clone(), sn.clone()));
            }
            async move { Ok(client) }
        })
        .connect_lazy()
        .unwrap();
    // No retry policy: the retry is transparent, and not an attempt.
    let response = unary(&Client::new(channel), "hi").await.unwrap();
    assert_eq!(response.get_ref().text, "on the new connection");
    assert_eq!(seen.previous(), [None]);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn wait_for_ready_from_the_service_config() {
    // Fail fast by default: the refused first connection fails the call.
    let client = flaky_connection_client("{}");
    assert_eq!(
        unary(&client, "x").await.unwrap_err().code(),
        Code::Unavailable
    );
    // waitForReady: the call waits through the failure for the next connection.
    let config = r#"{"methodConfig": [{"name": [{"service": "test.Echo"}], "waitForReady": true,
        "timeout": "30s"}]}"#;
    let client = flaky_connection_client(config);
    assert_eq!(
        unary(&client, "x").await.unwrap().get_ref().text,
        "connected"
    );
    // The call's own choice wins over the config.
    let client = flaky_connection_client(config);
    let mut request = Request::new(Msg::text("x"));
    request.set_wait_for_ready(false);
    let status = client
        .unary::<Msg, Msg>(common::UNARY, request)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
}

#[tokio::test]
async fn hedged_streaming_calls_replay_the_requests_and_cancel_the_loser() {
    let config = r#"{"methodConfig": [{"name": [{"service": "test.Echo"}], "hedgingPolicy": {
        "maxAttempts": 2, "hedgingDelay": "0.05s"}}]}"#;
    let (client, seen) = scripted(config, |n| match n {
        0 => Act::Hang,
        _ => ok("second"),
    });
    let requests: Vec<Msg> = (0..5)
        .map(|i| Msg {
            n: i,
            ..Msg::text("m")
        })
        .collect();
    let response = client
        .client_streaming::<Msg, Msg>(common::CLIENT_STREAM, common::msgs(requests.clone()))
        .await
        .unwrap();
    assert_eq!(response.get_ref().text, "second");
    {
        let seen_requests = seen.requests.lock().unwrap();
        assert_eq!(seen_requests.len(), 2);
        // The winner got every message, though the first attempt pulled them from the source.
        assert_eq!(seen_requests[1], (Some("1".to_string()), requests));
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while seen.cancelled.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the losing attempt was not cancelled");
}
