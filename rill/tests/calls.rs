//! End-to-end: the four call types, statuses, metadata, deadlines, cancellation, compression
//! and limits, rill client against rill server.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use rill::compression::CompressionEncoding;
use rill::status::details::{ErrorDetails, FieldViolation};
use rill::{Code, Request, Status};

#[tokio::test]
async fn unary_round_trip_over_duplex() {
    let (server, _) = echo_server();
    let client = duplex_pair(server);
    let resp = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::text("hello")))
        .await
        .unwrap();
    assert_eq!(resp.get_ref().text, "hello");
}

/// On a current-thread runtime the native server first polls a handler on the connection's
/// own task; on a multi-thread one handlers are tasks. Either way a panic ends one call only.
async fn a_panicking_handler_fails_only_its_own_call() {
    let (server, _) = echo_server();
    let client = duplex_pair(server);
    let err = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::text("panic!")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Cancelled, "{err:?}");
    for text in ["after", "still fine"] {
        let resp = client
            .unary::<Msg, Msg>(UNARY, Request::new(Msg::text(text)))
            .await
            .unwrap();
        assert_eq!(resp.get_ref().text, text);
    }
}

#[tokio::test]
async fn a_panicking_handler_fails_only_its_call_on_a_current_thread_runtime() {
    a_panicking_handler_fails_only_its_own_call().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_fails_only_its_call_on_a_multi_thread_runtime() {
    a_panicking_handler_fails_only_its_own_call().await;
}

#[tokio::test]
async fn zero_length_messages_work() {
    let (server, _) = echo_server();
    let client = duplex_pair(server);
    let resp = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::default()))
        .await
        .unwrap();
    assert_eq!(resp.into_inner(), Msg::default());
}

#[tokio::test]
async fn server_streaming_delivers_every_message_in_order() {
    let (server, _) = echo_server();
    let client = duplex_pair(server);
    let mut req = Msg::text("s");
    req.n = 100;
    let mut stream = client
        .server_streaming::<Msg, Msg>(SERVER_STREAM, Request::new(req))
        .await
        .unwrap()
        .into_inner();
    let mut seen = 0;
    while let Some(m) = stream.message().await.unwrap() {
        assert_eq!(m.n, seen);
        seen += 1;
    }
    assert_eq!(seen, 100);
    assert!(stream.trailers().is_some());
}

#[tokio::test]
async fn server_streaming_error_after_messages() {
    let (server, _) = echo_server();
    let client = duplex_pair(server);
    let req = Msg {
        n: 3,
        fail_code: Code::Aborted as i32,
        ..Msg::text("x")
    };
    let mut stream = client
        .server_streaming::<Msg, Msg>(SERVER_STREAM, Request::new(req))
        .await
        .unwrap()
        .into_inner();
    for _ in 0..3 {
        assert!(stream.message().await.unwrap().is_some());
    }
    let err = stream.message().await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(err.message(), "stream failed");
}

#[tokio::test]
async fn client_streaming_sums_all_messages() {
    let (server, _) = echo_server();
    let client = duplex_pair(server);
    let items = (1..=10)
        .map(|n| Msg {
            n,
            ..Msg::text(&n.to_string())
        })
        .collect();
    let resp = client
        .client_streaming::<Msg, Msg>(CLIENT_STREAM, msgs(items))
        .await
        .unwrap();
    assert_eq!(resp.get_ref().n, 55);
    assert_eq!(resp.get_ref().text, "1,2,3,4,5,6,7,8,9,10");
}

#[tokio::test]
async fn client_streaming_with_no_messages() {
    let (server, _) = echo_server();
    let client = duplex_pair(server);
    let resp = client
        .client_streaming::<Msg, Msg>(CLIENT_STREAM, msgs(vec![]))
        .await
        .unwrap();
    assert_eq!(resp.get_ref().n, 0);
}

#[tokio::test]
async fn bidi_streaming_ping_pong() {
    let (server, _) = echo_server();
    let client = duplex_pair(server);
    let (tx, rx) = tokio::sync::mpsc::channel::<Msg>(1);
    let outbound = tokio_stream_from(rx);
    let mut inbound = client
        .streaming::<Msg, Msg>(BIDI, outbound)
        .await
        .unwrap()
        .into_inner();
    for i in 0..20 {
        tx.send(Msg {
            n: i,
            ..Msg::text("ping")
        })
        .await
        .unwrap();
        let reply = inbound.message().await.unwrap().unwrap();
        assert_eq!((reply.text.as_str(), reply.n), ("PING", i));
    }
    drop(tx);
    assert!(inbound.message().await.unwrap().is_none());
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Msg>,
) -> rill::Request<rill::RequestStream<Msg>> {
    use rill::IntoStreamingRequest;
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).into_streaming_request()
}

#[tokio::test]
async fn every_status_code_round_trips() {
    let (server, _) = echo_server();
    let client = duplex_pair(server);
    for code in 1..=16 {
        let req = Msg {
            fail_code: code,
            ..Msg::text("why: ünïcödé % 100\r\n")
        };
        let err = client
            .unary::<Msg, Msg>(UNARY, Request::new(req))
            .await
            .unwrap_err();
        assert_eq!(err.code() as i32, code);
        assert_eq!(err.message(), "why: ünïcödé % 100\r\n");
        assert_eq!(err.metadata().get("x-fail"), Some("yes"));
    }
}

#[tokio::test]
async fn rich_error_details_reach_the_client() {
    let server = rill::server::Server::builder().add_service(Detailed);
    let client = duplex_pair(server);
    let err = client
        .unary::<Msg, Msg>("/test.Detailed/Check", Request::new(Msg::text("bad")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let details = err.error_details().unwrap();
    let violations = &details.bad_request().unwrap().field_violations;
    assert_eq!(violations[0].field, "email");
}

struct Detailed;
impl rill::server::Service for Detailed {
    fn name(&self) -> &'static str {
        "test.Detailed"
    }
    fn methods(&self) -> Vec<rill::server::Method> {
        vec![rill::server::Method::unary(
            "Check",
            |_req: Request<Msg>| async {
                let details = ErrorDetails::new()
                    .with_bad_request(vec![FieldViolation::new("email", "not an email")]);
                Err::<rill::Response<Msg>, _>(Status::with_error_details(
                    Code::InvalidArgument,
                    "invalid user",
                    details,
                ))
            },
        )]
    }
}

#[tokio::test]
async fn metadata_flows_both_ways() {
    let (server, _) = echo_server();
    let client = duplex_pair(server);
    let mut req = Request::new(Msg::text("m"));
    req.metadata_mut()
        .insert("x-echo", "initial value")
        .unwrap();
    req.metadata_mut()
        .insert_bin("x-echo-trailer-bin", [0u8, 1, 2, 255])
        .unwrap();
    let resp = client.unary::<Msg, Msg>(UNARY, req).await.unwrap();
    assert_eq!(resp.metadata().get("x-echo"), Some("initial value"));
    assert_eq!(
        resp.trailers()
            .get_bin("x-echo-trailer-bin")
            .unwrap()
            .unwrap(),
        vec![0u8, 1, 2, 255]
    );
}

#[tokio::test]
async fn deadline_reaches_the_handler() {
    let (server, _) = echo_server();
    let client = duplex_pair(server);
    let mut req = Request::new(Msg::text("d"));
    req.set_timeout(Duration::from_secs(30));
    let resp = client.unary::<Msg, Msg>(UNARY, req).await.unwrap();
    let ms: u64 = resp
        .metadata()
        .get("x-remaining-ms")
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms > 25_000 && ms <= 30_000, "{ms}");
}

#[tokio::test]
async fn deadline_exceeded_cancels_the_server_handler() {
    let (server, probe) = echo_server();
    let client = duplex_pair(server);
    let mut req = Request::new(Msg {
        sleep_ms: 5_000,
        ..Msg::text("slow")
    });
    req.set_timeout(Duration::from_millis(100));
    let started = std::time::Instant::now();
    let err = client.unary::<Msg, Msg>(UNARY, req).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert!(started.elapsed() < Duration::from_secs(2));
    wait_for(|| probe.cancelled.load(Ordering::SeqCst) == 1).await;
    assert_eq!(probe.completed.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn server_enforces_deadline_even_if_client_waits() {
    // A client-side deadline far in the future, but the server sees a short grpc-timeout: the
    // server answers DEADLINE_EXCEEDED on its own.
    let (server, probe) = echo_server();
    let client = duplex_pair(server).interceptor(|req| {
        req.set_timeout(Duration::from_millis(100));
        Ok(())
    });
    let req = Request::new(Msg {
        sleep_ms: 5_000,
        ..Msg::text("slow")
    });
    let err = client.unary::<Msg, Msg>(UNARY, req).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    wait_for(|| probe.cancelled.load(Ordering::SeqCst) == 1).await;
}

#[tokio::test]
async fn dropping_a_call_cancels_the_handler() {
    let (server, probe) = echo_server();
    let client = duplex_pair(server);
    let call = tokio::spawn({
        let client = client.clone();
        async move {
            let req = Request::new(Msg {
                sleep_ms: 10_000,
                ..Msg::text("slow")
            });
            client.unary::<Msg, Msg>(UNARY, req).await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    call.abort();
    wait_for(|| probe.cancelled.load(Ordering::SeqCst) == 1).await;
    // The connection still serves other calls.
    let ok = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::text("after")))
        .await;
    assert_eq!(ok.unwrap().get_ref().text, "after");
}

#[tokio::test]
async fn every_compression_both_ways() {
    for encoding in CompressionEncoding::ALL {
        let (server, _) = echo_server();
        let client = duplex_pair(server.send_compressed(encoding)).send_compressed(encoding);
        let blob = vec![b'z'; 100_000];
        let req = Msg {
            blob: blob.clone(),
            ..Msg::text("c")
        };
        let resp = client
            .unary::<Msg, Msg>(UNARY, Request::new(req))
            .await
            .unwrap();
        assert_eq!(resp.get_ref().blob, blob, "{encoding:?}");

        let items = (0..5)
            .map(|n| Msg {
                n,
                ..Msg::text("p")
            })
            .collect();
        let sum = client
            .client_streaming::<Msg, Msg>(CLIENT_STREAM, msgs(items))
            .await
            .unwrap();
        assert_eq!(sum.get_ref().n, 10, "{encoding:?}");
    }
}

#[tokio::test]
async fn per_call_compression_overrides_client_default() {
    let (server, _) = echo_server();
    let client = duplex_pair(server);
    let mut req = Request::new(Msg::text("x"));
    req.set_compression(CompressionEncoding::Zstd);
    assert!(client.unary::<Msg, Msg>(UNARY, req).await.is_ok());
}

#[tokio::test]
async fn oversized_request_is_resource_exhausted() {
    let (server, _) = echo_server();
    let client = duplex_pair(server.max_decoding_message_size(1024));
    let req = Msg {
        blob: vec![1; 4096],
        ..Msg::default()
    };
    let err = client
        .unary::<Msg, Msg>(UNARY, Request::new(req))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
    let ok = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::text("small")))
        .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn oversized_response_is_resource_exhausted_on_the_client() {
    let (server, _) = echo_server();
    let client = duplex_pair(server).max_decoding_message_size(1024);
    let req = Msg {
        blob: vec![1; 4096],
        ..Msg::default()
    };
    let err = client
        .unary::<Msg, Msg>(UNARY, Request::new(req))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
}

#[tokio::test]
async fn send_limits_apply_on_both_sides() {
    let (server, _) = echo_server();
    let client = duplex_pair(server.max_encoding_message_size(100));
    let req = Msg {
        blob: vec![1; 500],
        ..Msg::default()
    };
    let err = client
        .unary::<Msg, Msg>(UNARY, Request::new(req))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::ResourceExhausted,
        "server send limit: {err}"
    );

    let (server, _) = echo_server();
    let client = duplex_pair(server).max_encoding_message_size(100);
    let req = Msg {
        blob: vec![1; 500],
        ..Msg::default()
    };
    let err = client
        .unary::<Msg, Msg>(UNARY, Request::new(req))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::ResourceExhausted,
        "client send limit: {err}"
    );
    let items = vec![
        Msg::text("ok"),
        Msg {
            blob: vec![1; 500],
            ..Msg::default()
        },
    ];
    let err = client
        .client_streaming::<Msg, Msg>(CLIENT_STREAM, msgs(items))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::ResourceExhausted,
        "streamed send limit: {err}"
    );
}

#[tokio::test]
async fn unknown_method_and_service_are_unimplemented() {
    let (server, _) = echo_server();
    let client = duplex_pair(server);
    for path in ["/test.Echo/Nope", "/test.Nope/Unary"] {
        let err = client
            .unary::<Msg, Msg>(path, Request::new(Msg::default()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented, "{path}");
    }
}

#[tokio::test]
async fn interceptors_on_both_sides() {
    let server = echo_server()
        .0
        .interceptor(|req| match req.metadata().get("authorization") {
            Some("Bearer good") => Ok(()),
            _ => Err(Status::unauthenticated("no token")),
        });
    let client = duplex_pair(server);
    let err = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let client = client.interceptor(|req| {
        req.metadata_mut().insert("authorization", "Bearer good")?;
        Ok(())
    });
    assert!(client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::default()))
        .await
        .is_ok());
}

#[tokio::test]
async fn slow_reader_makes_the_server_wait() {
    let (server, probe) = echo_server();
    let client = duplex_pair(server);
    let req = Msg {
        n: 10_000,
        blob: vec![7; 16 * 1024],
        ..Msg::text("big")
    };
    let mut stream = client
        .server_streaming::<Msg, Msg>(SERVER_STREAM, Request::new(req))
        .await
        .unwrap()
        .into_inner();
    assert!(stream.message().await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let produced = probe.sent.load(Ordering::SeqCst);
    // 160 MB requested; flow-control windows (a few MB) must stop the producer early.
    assert!(
        produced < 1_000,
        "server produced {produced} messages ahead of the reader"
    );
    let mut rest = 1;
    while stream.message().await.unwrap().is_some() {
        rest += 1;
    }
    assert_eq!(rest, 10_000);
}

#[tokio::test]
async fn tcp_unix_and_graceful_shutdown() {
    let (server, _) = echo_server();
    let (addr, stop, handle) = tcp_server(server).await;
    let channel = rill::Channel::connect(&format!("http://{addr}"))
        .await
        .unwrap();
    let client = rill::Client::new(channel);
    // A call in flight when shutdown starts still completes.
    let slow = tokio::spawn({
        let client = client.clone();
        async move {
            let req = Msg {
                sleep_ms: 300,
                ..Msg::text("in-flight")
            };
            client.unary::<Msg, Msg>(UNARY, Request::new(req)).await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    assert_eq!(slow.await.unwrap().unwrap().get_ref().text, "in-flight");
    handle.await.unwrap().unwrap();
    let err = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);

    let dir = std::env::temp_dir().join(format!("rill-uds-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let (server, _) = echo_server();
    let path = dir.clone();
    tokio::spawn(async move { server.serve_unix(path, std::future::pending()).await });
    wait_for(|| dir.exists()).await;
    let client =
        rill::Client::new(rill::Channel::lazy(&format!("unix:{}", dir.display())).unwrap());
    let resp = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::text("uds")))
        .await;
    assert_eq!(resp.unwrap().get_ref().text, "uds");
    let _ = std::fs::remove_file(&dir);
}

#[tokio::test]
async fn channel_reconnects_after_server_restart() {
    let (server, _) = echo_server();
    let (addr, stop, handle) = tcp_server(server).await;
    let client = rill::Client::new(rill::Channel::lazy(&format!("http://{addr}")).unwrap());
    assert!(client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::default()))
        .await
        .is_ok());
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
    let err = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::default()))
        .await;
    assert_eq!(err.unwrap_err().code(), Code::Unavailable);
    // Same port again.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(
        echo_server()
            .0
            .serve_with_listener(listener, std::future::pending()),
    );
    // The failed reconnection put the channel in TRANSIENT_FAILURE, where fail-fast calls
    // fail at once until the backoff (1 s) has passed: wait for ready instead.
    let mut req = Request::new(Msg::text("back"));
    req.set_wait_for_ready(true);
    req.set_timeout(Duration::from_secs(10));
    let resp = client.unary::<Msg, Msg>(UNARY, req).await;
    assert_eq!(resp.unwrap().get_ref().text, "back");
}

#[tokio::test]
async fn connect_to_nothing_is_an_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = rill::Channel::connect(&format!("http://{addr}"))
        .await
        .unwrap_err();
    assert!(matches!(err, rill::Error::Connect { .. }), "{err}");
}

async fn wait_for(mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 2 s");
}

#[tokio::test]
async fn slow_server_reader_makes_the_client_wait() {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    // A handler that reads one message and then stalls: the client's sender must stop at
    // the flow-control window instead of queueing the whole stream in memory.
    struct Stall;
    impl rill::server::Service for Stall {
        fn name(&self) -> &'static str {
            "test.Stall"
        }
        fn methods(&self) -> Vec<rill::server::Method> {
            vec![rill::server::Method::client_streaming(
                "Take",
                |req: Request<rill::Streaming<Msg>>| async move {
                    let mut stream = req.into_inner();
                    let _ = stream.message().await?;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok(rill::Response::new(Msg::default()))
                },
            )]
        }
    }
    let client = duplex_pair(rill::server::Server::builder().add_service(Stall));
    let produced = Arc::new(AtomicUsize::new(0));
    let counter = produced.clone();
    let messages = futures_util::stream::iter(0..10_000).map(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Msg {
            blob: vec![1; 16 * 1024],
            ..Msg::default()
        }
    });
    use futures_util::StreamExt;
    use rill::IntoStreamingRequest;
    let call = tokio::spawn(async move {
        client
            .client_streaming::<Msg, Msg>("/test.Stall/Take", messages.into_streaming_request())
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = produced.load(Ordering::SeqCst);
    assert!(
        n < 1_000,
        "client produced {n} messages ahead of a stalled server"
    );
    call.abort();
}

#[tokio::test]
async fn a_handler_propagates_its_deadline_downstream() {
    // Front forwards to the Echo backend with `request.propagate(..)`.
    let (backend, _) = echo_server();
    let backend_client = duplex_pair(backend);
    struct Front(rill::Client);
    impl rill::server::Service for Front {
        fn name(&self) -> &'static str {
            "test.Front"
        }
        fn methods(&self) -> Vec<rill::server::Method> {
            let client = self.0.clone();
            vec![rill::server::Method::unary(
                "Forward",
                move |req: Request<Msg>| {
                    let client = client.clone();
                    async move {
                        let downstream = req.propagate(req.get_ref().clone());
                        client.unary::<Msg, Msg>(UNARY, downstream).await
                    }
                },
            )]
        }
    }
    let front = duplex_pair(rill::server::Server::builder().add_service(Front(backend_client)));
    let mut req = Request::new(Msg::text("via front"));
    req.set_timeout(Duration::from_secs(20));
    let resp = front
        .unary::<Msg, Msg>("/test.Front/Forward", req)
        .await
        .unwrap();
    let ms: u64 = resp
        .metadata()
        .get("x-remaining-ms")
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms > 15_000 && ms <= 20_000, "backend saw {ms} ms left");
    // And a short deadline expires downstream as DEADLINE_EXCEEDED.
    let mut req = Request::new(Msg {
        sleep_ms: 5_000,
        ..Msg::text("slow")
    });
    req.set_timeout(Duration::from_millis(100));
    let err = front
        .unary::<Msg, Msg>("/test.Front/Forward", req)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
}

#[tokio::test]
async fn several_services_on_one_server() {
    let server = echo_server().0.add_service(Detailed);
    assert_eq!(server.service_names(), vec!["test.Detailed", "test.Echo"]);
    let client = duplex_pair(server);
    assert!(client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::default()))
        .await
        .is_ok());
    let err = client
        .unary::<Msg, Msg>("/test.Detailed/Check", Request::new(Msg::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn calls_in_flight_fail_unavailable_when_the_connection_drops() {
    let (client_io, server_io) = tokio::io::duplex(1 << 16);
    let serving = tokio::spawn(echo_server().0.serve_connection(server_io));
    let client = rill::Client::new(rill::Channel::from_io(client_io));
    let call = tokio::spawn({
        let client = client.clone();
        async move {
            let req = Msg {
                sleep_ms: 10_000,
                ..Msg::default()
            };
            client.unary::<Msg, Msg>(UNARY, Request::new(req)).await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    serving.abort(); // the server's end of the connection goes away
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
}

#[tokio::test]
async fn max_concurrent_streams_queues_extra_calls() {
    let (server, _) = echo_server();
    let client = duplex_pair(server.max_concurrent_streams(2));
    let started = std::time::Instant::now();
    let calls = (0..6).map(|_| {
        let client = client.clone();
        async move {
            let req = Msg {
                sleep_ms: 100,
                ..Msg::default()
            };
            client.unary::<Msg, Msg>(UNARY, Request::new(req)).await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    // Six 100 ms calls, two at a time: at least three rounds.
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn shutdown_grace_period_cuts_off_long_streams() {
    let (server, _) = echo_server();
    let (addr, stop, handle) =
        tcp_server(server.shutdown_grace_period(Duration::from_millis(200))).await;
    let client = rill::Client::new(
        rill::Channel::connect(&format!("http://{addr}"))
            .await
            .unwrap(),
    );
    // A bidi stream the client never closes.
    let (tx, rx) = tokio::sync::mpsc::channel::<Msg>(1);
    let mut inbound = client
        .streaming::<Msg, Msg>(BIDI, tokio_stream_from(rx))
        .await
        .unwrap()
        .into_inner();
    tx.send(Msg::text("hi")).await.unwrap();
    assert!(inbound.message().await.unwrap().is_some());
    let started = std::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("server did not stop after its grace period")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(
        inbound.message().await.is_err(),
        "the cut-off stream ends with an error"
    );
}
