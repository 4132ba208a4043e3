//! The observability layers end to end: spans with W3C trace context across a client and a
//! server, metrics (feature `metrics`), request ids, the logging line, and a Python grpcio
//! client sending `traceparent` (needs `RILL_PYTHON`, as scripts/test sets it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use rill::observability::{
    LoggingLayer, RequestId, RequestIdLayer, TraceContext, TracingLayer, REQUEST_ID,
};
use rill::server::{Method, Server, Service};
use rill::{BoxStream, Channel, Client, Code, Request, Response, Status};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, PartialEq, prost::Message)]
struct Msg {
    #[prost(string, tag = "1")]
    text: String,
    #[prost(int32, tag = "2")]
    n: i32,
}

const INFO: &str = "/obs.Probe/Info";
const LIST: &str = "/obs.Probe/List";

/// Answers with what the layers gave the handler: `Info` fails with NOT_FOUND for n < 0 and
/// sleeps n ms for n > 0; `List` streams n messages.
struct Probe;

fn seen(req: &Request<Msg>) -> String {
    let ctx = req.extensions().get::<TraceContext>();
    let id = req.extensions().get::<RequestId>();
    format!(
        "trace={} parent={} span={} request_id={} state={}",
        ctx.map(|c| c.trace_id().to_string()).unwrap_or_default(),
        ctx.and_then(|c| c.parent_span_id())
            .map(|s| s.to_string())
            .unwrap_or_default(),
        ctx.map(|c| c.span_id().to_string()).unwrap_or_default(),
        id.map(|i| i.to_string()).unwrap_or_default(),
        ctx.and_then(|c| c.trace_state()).unwrap_or_default(),
    )
}

impl Service for Probe {
    fn name(&self) -> &'static str {
        "obs.Probe"
    }

    fn methods(&self) -> Vec<Method> {
        vec![
            Method::unary("Info", |req: Request<Msg>| async move {
                if req.get_ref().n < 0 {
                    return Err(Status::not_found("no such thing"));
                }
                if req.get_ref().n > 0 {
                    let ms = req.get_ref().n as u64;
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
                Ok(Response::new(Msg {
                    text: seen(&req),
                    n: 0,
                }))
            }),
            Method::server_streaming("List", |req: Request<Msg>| async move {
                let n = req.get_ref().n;
                let items = (0..n).map(|i| {
                    Ok(Msg {
                        text: "x".repeat(10),
                        n: i,
                    })
                });
                Ok(Response::new(
                    Box::pin(futures_util::stream::iter(items)) as BoxStream<Msg>
                ))
            }),
        ]
    }
}

async fn serve(server: Server) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        server
            .add_service(Probe)
            .serve_with_listener(listener, std::future::pending()),
    );
    addr
}

/// One span or event as the capture layer saw it: its name and fields, as strings.
#[derive(Clone, Debug)]
struct Seen {
    name: String,
    span: Option<u64>,
    fields: HashMap<String, String>,
}

impl Seen {
    fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

/// A `tracing` layer that keeps every span (with later-recorded fields) and event.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Seen>>>);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Seen {
            name: attrs.metadata().name().to_owned(),
            span: Some(id.into_u64()),
            fields,
        });
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut all = self.0.lock().unwrap();
        if let Some(seen) = all.iter_mut().rev().find(|s| s.span == Some(id.into_u64())) {
            values.record(&mut Fields(&mut seen.fields));
        }
    }

    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        fields.insert("level".into(), event.metadata().level().to_string());
        self.0.lock().unwrap().push(Seen {
            name: event.metadata().target().to_owned(),
            span: None,
            fields,
        });
    }
}

impl Capture {
    /// Installs the layer for this thread (tests run on a current-thread runtime, so the
    /// server's tasks report here too).
    fn install() -> (Capture, tracing::subscriber::DefaultGuard) {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        (capture, tracing::subscriber::set_default(subscriber))
    }

    fn named(&self, name: &str) -> Vec<Seen> {
        let all = self.0.lock().unwrap();
        all.iter().filter(|s| s.name == name).cloned().collect()
    }
}

fn parse_seen(text: &str) -> HashMap<String, String> {
    text.split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[tokio::test]
async fn the_server_span_continues_the_client_trace() {
    let (capture, _guard) = Capture::install();
    let addr = serve(Server::builder().layer(TracingLayer::new())).await;
    let client = Client::new(Channel::connect(&format!("http://{addr}")).await.unwrap())
        .layer(TracingLayer::new());

    let reply = client
        .unary::<Msg, Msg>(INFO, Request::new(Msg::default()))
        .await
        .unwrap();
    let handler = parse_seen(&reply.get_ref().text);
    let err = client
        .unary::<Msg, Msg>(
            INFO,
            Request::new(Msg {
                n: -1,
                ..Msg::default()
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let clients = capture.named("grpc.client");
    let servers = capture.named("grpc.server");
    assert_eq!(
        (clients.len(), servers.len()),
        (2, 2),
        "{clients:?} {servers:?}"
    );
    let (client_span, server_span) = (&clients[0], &servers[0]);
    assert_eq!(server_span.field("trace_id"), client_span.field("trace_id"));
    assert_eq!(
        server_span.field("parent_span_id"),
        client_span.field("span_id")
    );
    assert_ne!(server_span.field("span_id"), client_span.field("span_id"));
    // A new trace is sampled; the server continues the caller's flags.
    assert_eq!(client_span.field("trace_flags"), "1");
    assert_eq!(server_span.field("trace_flags"), "1");
    // The handler saw the server span's context.
    assert_eq!(handler["trace"], server_span.field("trace_id"));
    assert_eq!(handler["parent"], client_span.field("span_id"));
    assert_eq!(handler["span"], server_span.field("span_id"));

    for span in [client_span, server_span] {
        assert_eq!(span.field("rpc.system"), "grpc");
        assert_eq!(span.field("rpc.service"), "obs.Probe");
        assert_eq!(span.field("rpc.method"), "Info");
        assert_eq!(span.field("otel.name"), "obs.Probe/Info");
        assert_eq!(span.field("rpc.grpc.status_code"), "0");
        assert!(span.field("duration_ms").parse::<f64>().unwrap() >= 0.0);
        assert_eq!(span.field("otel.status_code"), "");
    }
    assert_eq!(server_span.field("network.peer.address"), "127.0.0.1");
    assert!(server_span
        .field("network.peer.port")
        .parse::<u16>()
        .is_ok());
    assert_eq!(client_span.field("server.address"), addr.to_string());
    // NOT_FOUND: an error for the client, not for the server (OpenTelemetry's rule).
    assert_eq!(clients[1].field("rpc.grpc.status_code"), "5");
    assert_eq!(clients[1].field("otel.status_code"), "ERROR");
    assert_eq!(servers[1].field("rpc.grpc.status_code"), "5");
    assert_eq!(servers[1].field("otel.status_code"), "");
    // Each client call starts its own trace when nothing is current.
    assert_ne!(clients[1].field("trace_id"), client_span.field("trace_id"));
}

#[tokio::test]
async fn calls_ended_by_deadline_or_cancellation_say_so() {
    let (capture, _guard) = Capture::install();
    let addr = serve(Server::builder().layer(TracingLayer::new())).await;
    let client = Client::new(Channel::connect(&format!("http://{addr}")).await.unwrap())
        .layer(TracingLayer::new());
    let slow = || {
        Request::new(Msg {
            n: 5_000,
            ..Msg::default()
        })
    };

    let mut req = slow();
    req.set_timeout(std::time::Duration::from_millis(50));
    let err = client.unary::<Msg, Msg>(INFO, req).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    // The caller gives up on its own: a call dropped early is CANCELLED on both sides.
    let dropped = tokio::time::timeout(
        std::time::Duration::from_millis(50),
        client.unary::<Msg, Msg>(INFO, slow()),
    )
    .await;
    assert!(dropped.is_err());

    let status_of = |name: &str, i: usize| {
        capture
            .named(name)
            .get(i)
            .map(|s| s.field("rpc.grpc.status_code").to_owned())
            .unwrap_or_default()
    };
    for _ in 0..200 {
        if !status_of("grpc.server", 1).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(status_of("grpc.client", 0), "4");
    assert_eq!(status_of("grpc.server", 0), "4");
    assert_eq!(status_of("grpc.client", 1), "1");
    assert_eq!(status_of("grpc.server", 1), "1");
}

#[tokio::test]
async fn a_handler_calling_downstream_continues_its_trace() {
    let (capture, _guard) = Capture::install();
    let downstream = serve(Server::builder().layer(TracingLayer::new())).await;
    let down = Client::new(
        Channel::connect(&format!("http://{downstream}"))
            .await
            .unwrap(),
    )
    .layer(TracingLayer::new());
    let relay = Method::unary("Relay", move |_req: Request<Msg>| {
        let down = down.clone();
        async move {
            down.unary::<Msg, Msg>(INFO, Request::new(Msg::default()))
                .await
        }
    });
    struct Relay(Mutex<Option<Method>>);
    impl Service for Relay {
        fn name(&self) -> &'static str {
            "obs.Relay"
        }
        fn methods(&self) -> Vec<Method> {
            self.0.lock().unwrap().take().into_iter().collect()
        }
    }
    let upstream = serve(
        Server::builder()
            .add_service(Relay(Mutex::new(Some(relay))))
            .layer(TracingLayer::new()),
    )
    .await;
    let mut req = Request::new(Msg::default());
    req.metadata_mut()
        .insert(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .unwrap();
    let reply = Client::new(
        Channel::connect(&format!("http://{upstream}"))
            .await
            .unwrap(),
    )
    .unary::<Msg, Msg>("/obs.Relay/Relay", req)
    .await
    .unwrap();
    // The downstream handler is in the caller's trace, its parent the relay's client span.
    let seen = parse_seen(&reply.get_ref().text);
    assert_eq!(seen["trace"], "0af7651916cd43dd8448eb211c80319c");
    let relay_client = &capture.named("grpc.client")[0];
    assert_eq!(seen["parent"], relay_client.field("span_id"));
    let relay_server = capture
        .named("grpc.server")
        .into_iter()
        .find(|s| s.field("rpc.service") == "obs.Relay")
        .unwrap();
    assert_eq!(relay_server.field("parent_span_id"), "b7ad6b7169203331");
    assert_eq!(
        relay_client.field("parent_span_id"),
        relay_server.field("span_id")
    );
}

#[tokio::test]
async fn request_ids_are_taken_or_generated_and_echoed() {
    let addr = serve(Server::builder().layer(RequestIdLayer::new())).await;
    let client = Client::new(Channel::connect(&format!("http://{addr}")).await.unwrap());

    let mut req = Request::new(Msg::default());
    req.metadata_mut().insert(REQUEST_ID, "req-42").unwrap();
    let reply = client.unary::<Msg, Msg>(INFO, req).await.unwrap();
    assert_eq!(reply.metadata().get(REQUEST_ID), Some("req-42"));
    assert_eq!(parse_seen(&reply.get_ref().text)["request_id"], "req-42");

    let reply = client
        .unary::<Msg, Msg>(INFO, Request::new(Msg::default()))
        .await
        .unwrap();
    let generated = reply.metadata().get(REQUEST_ID).unwrap();
    assert_eq!(generated.len(), 36);
    assert_eq!(parse_seen(&reply.get_ref().text)["request_id"], generated);

    // A Trailers-Only error carries it too, and an unacceptable id is replaced.
    let mut req = Request::new(Msg {
        n: -1,
        ..Msg::default()
    });
    req.metadata_mut()
        .insert(REQUEST_ID, &"x".repeat(200))
        .unwrap();
    let err = client.unary::<Msg, Msg>(INFO, req).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.metadata().get(REQUEST_ID).map(str::len), Some(36));

    // The client layer sends the request's RequestId (else a new one).
    let addr = serve(Server::builder().layer(RequestIdLayer::new())).await;
    let client = Client::new(Channel::connect(&format!("http://{addr}")).await.unwrap())
        .layer(RequestIdLayer::new());
    let mut req = Request::new(Msg::default());
    req.extensions_mut()
        .insert(RequestId::parse("from-client").unwrap());
    let reply = client.unary::<Msg, Msg>(INFO, req).await.unwrap();
    assert_eq!(reply.metadata().get(REQUEST_ID), Some("from-client"));
    let reply = client
        .unary::<Msg, Msg>(INFO, Request::new(Msg::default()))
        .await
        .unwrap();
    let sent = parse_seen(&reply.get_ref().text)["request_id"].clone();
    assert_eq!(sent.len(), 36);
    assert_eq!(reply.metadata().get(REQUEST_ID), Some(sent.as_str()));
}

#[tokio::test]
async fn the_logging_layer_writes_one_line_per_call() {
    let (capture, _guard) = Capture::install();
    let addr = serve(
        Server::builder()
            .layer(LoggingLayer::new())
            .layer(RequestIdLayer::new()),
    )
    .await;
    let client = Client::new(Channel::connect(&format!("http://{addr}")).await.unwrap())
        .layer(LoggingLayer::new());
    let mut req = Request::new(Msg::default());
    req.metadata_mut().insert(REQUEST_ID, "log-1").unwrap();
    client.unary::<Msg, Msg>(INFO, req).await.unwrap();
    let err = client
        .unary::<Msg, Msg>(
            INFO,
            Request::new(Msg {
                n: -1,
                ..Msg::default()
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let mut list = client
        .server_streaming::<Msg, Msg>(
            LIST,
            Request::new(Msg {
                n: 3,
                ..Msg::default()
            }),
        )
        .await
        .unwrap()
        .into_inner();
    while list.next().await.is_some() {}

    let lines = capture.named("rill::observability::logging");
    let server: Vec<_> = lines
        .iter()
        .filter(|l| l.field("side") == "server")
        .collect();
    let client: Vec<_> = lines
        .iter()
        .filter(|l| l.field("side") == "client")
        .collect();
    assert_eq!((server.len(), client.len()), (3, 3), "{lines:?}");
    assert_eq!(server[0].field("method"), "obs.Probe/Info");
    assert_eq!(server[0].field("status"), "OK");
    assert_eq!(server[0].field("request_id"), "log-1");
    assert_eq!(server[0].field("level"), "INFO");
    assert!(server[0].field("peer").starts_with("127.0.0.1:"));
    assert!(server[0].field("duration_ms").parse::<f64>().is_ok());
    assert_eq!(server[1].field("status"), "NOT_FOUND");
    assert_eq!(server[1].field("message"), "no such thing");
    assert_eq!(server[1].field("request_id").len(), 36);
    assert_eq!(server[1].field("level"), "WARN");
    assert_eq!(server[2].field("method"), "obs.Probe/List");
    assert_eq!(client[0].field("request_id"), "log-1");
    assert_eq!(client[0].field("target"), addr.to_string());
    assert_eq!(client[2].field("status"), "OK");
}

#[cfg(feature = "metrics")]
mod with_metrics {
    use super::*;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
    use metrics_util::MetricKind;
    use prost::Message;
    use rill::observability::MetricsLayer;

    type Metrics = Vec<(MetricKind, String, Vec<(String, String)>, DebugValue)>;

    fn take(snapshotter: &Snapshotter) -> Metrics {
        snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let (kind, key) = key.into_parts();
                let labels = key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                (kind, key.name().to_owned(), labels, value)
            })
            .collect()
    }

    fn find<'a>(all: &'a Metrics, name: &str, labels: &[(&str, &str)]) -> Vec<&'a DebugValue> {
        all.iter()
            .filter(|(_, n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, _, v)| v)
            .collect()
    }

    fn counter(all: &Metrics, name: &str, labels: &[(&str, &str)]) -> u64 {
        find(all, name, labels)
            .into_iter()
            .map(|v| match v {
                DebugValue::Counter(n) => *n,
                other => panic!("{name} is {other:?}"),
            })
            .sum()
    }

    fn histogram(all: &Metrics, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        find(all, name, labels)
            .into_iter()
            .flat_map(|v| match v {
                DebugValue::Histogram(values) => values.iter().map(|v| v.0).collect::<Vec<_>>(),
                other => panic!("{name} is {other:?}"),
            })
            .collect()
    }

    fn gauge(all: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
        find(all, name, labels)
            .into_iter()
            .map(|v| match v {
                DebugValue::Gauge(g) => g.0,
                other => panic!("{name} is {other:?}"),
            })
            .sum()
    }

    #[tokio::test]
    async fn metrics_count_calls_by_method_and_status() {
        // A recorder for this thread only: the test runs on a current-thread runtime, so the
        // server's tasks record here too.
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let _guard = metrics::set_default_local_recorder(&recorder);
        // Another layer inside each metrics layer: every layer sees the messages.
        let addr = serve(
            Server::builder()
                .layer(LoggingLayer::new())
                .layer(MetricsLayer::new()),
        )
        .await;
        let client = Client::new(Channel::connect(&format!("http://{addr}")).await.unwrap())
            .layer(TracingLayer::new())
            .layer(MetricsLayer::new());
        let request = Msg {
            text: "hello".into(),
            n: 0,
        };
        for _ in 0..2 {
            client
                .unary::<Msg, Msg>(INFO, Request::new(request.clone()))
                .await
                .unwrap();
        }
        let err = client
            .unary::<Msg, Msg>(
                INFO,
                Request::new(Msg {
                    n: -1,
                    ..Msg::default()
                }),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        let mut list = client
            .server_streaming::<Msg, Msg>(
                LIST,
                Request::new(Msg {
                    n: 3,
                    ..Msg::default()
                }),
            )
            .await
            .unwrap()
            .into_inner();
        while list.next().await.is_some() {}
        drop(list);
        let all = take(&snapshotter);

        let info = [("grpc.method", "obs.Probe/Info")];
        let ok = [("grpc.method", "obs.Probe/Info"), ("grpc.status", "OK")];
        let not_found = [
            ("grpc.method", "obs.Probe/Info"),
            ("grpc.status", "NOT_FOUND"),
        ];
        let list_ok = [("grpc.method", "obs.Probe/List"), ("grpc.status", "OK")];
        let target = addr.to_string();
        let target = [("grpc.target", target.as_str())];

        assert_eq!(counter(&all, "grpc.server.call.started", &info), 3);
        assert_eq!(counter(&all, "grpc.server.call.completed", &ok), 2);
        assert_eq!(counter(&all, "grpc.server.call.completed", &not_found), 1);
        assert_eq!(histogram(&all, "grpc.server.call.duration", &ok).len(), 2);
        assert_eq!(gauge(&all, "grpc.server.call.in_flight", &info), 0.0);
        let request_len = request.encoded_len() as f64;
        assert_eq!(
            histogram(
                &all,
                "grpc.server.call.rcvd_total_compressed_message_size",
                &ok
            ),
            vec![request_len, request_len]
        );
        assert_eq!(counter(&all, "grpc.server.call.sent_messages", &list_ok), 3);
        let list_reply = Msg {
            text: "x".repeat(10),
            n: 1,
        }
        .encoded_len() as f64;
        let sent = histogram(
            &all,
            "grpc.server.call.sent_total_compressed_message_size",
            &list_ok,
        );
        assert_eq!(sent.len(), 1);
        assert!(
            sent[0] >= 3.0 * list_reply - 2.0 && sent[0] <= 3.0 * list_reply,
            "{sent:?}"
        );

        assert_eq!(counter(&all, "grpc.client.attempt.started", &info), 3);
        assert_eq!(counter(&all, "grpc.client.attempt.started", &target), 4);
        assert_eq!(counter(&all, "grpc.client.call.completed", &ok), 2);
        assert_eq!(counter(&all, "grpc.client.call.completed", &not_found), 1);
        assert_eq!(
            histogram(&all, "grpc.client.attempt.duration", &not_found).len(),
            1
        );
        assert_eq!(
            histogram(&all, "grpc.client.call.duration", &list_ok).len(),
            1
        );
        assert_eq!(
            counter(&all, "grpc.client.attempt.rcvd_messages", &list_ok),
            3
        );
        assert_eq!(counter(&all, "grpc.client.attempt.sent_messages", &ok), 2);
        assert_eq!(
            histogram(
                &all,
                "grpc.client.attempt.sent_total_compressed_message_size",
                &ok
            ),
            vec![request_len, request_len]
        );
        let received = histogram(
            &all,
            "grpc.client.attempt.rcvd_total_compressed_message_size",
            &list_ok,
        );
        assert_eq!(received, sent);
        assert_eq!(gauge(&all, "grpc.client.call.in_flight", &info), 0.0);
    }
}

#[tokio::test]
async fn a_python_grpcio_client_sends_traceparent_and_reads_the_request_id() {
    let Some(python) = std::env::var_os("RILL_PYTHON").filter(|p| !p.is_empty()) else {
        println!("skipped: set RILL_PYTHON (scripts/test does)");
        return;
    };
    let (capture, _guard) = Capture::install();
    let addr = serve(
        Server::builder()
            .layer(TracingLayer::new())
            .layer(RequestIdLayer::new()),
    )
    .await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python/observability_client.py");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(addr.to_string())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("ok: OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: HashMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('=')).collect();
    let handler = parse_seen(lines["handler"]);
    assert_eq!(handler["trace"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(handler["parent"], "00f067aa0ba902b7");
    assert_eq!(handler["state"], "py=1");
    assert_eq!(lines["request_id"].len(), 36);
    assert_eq!(lines["request_id"], handler["request_id"]);
    let span = &capture.named("grpc.server")[0];
    assert_eq!(span.field("trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(span.field("parent_span_id"), "00f067aa0ba902b7");
}
