//! rill behind a real L7 proxy: nginx (Debian's `nginx`, `/usr/sbin/nginx` or `$RILL_NGINX`)
//! with `grpc_pass` to an upstream of three rill `TestService` replicas over h2c.
//!
//! Checked through the proxy: the interop client's cases (unary, server/client streaming,
//! bidi, metadata echo, statuses, deadlines, cancellation), an error with rich details
//! (`grpc-status-details-bin`) plus ASCII and `-bin` metadata in its trailers, the client's
//! deadline reaching the server (`grpc-timeout`) and expiring on a sleeping one, and calls of
//! all four types spreading over the three replicas (each counts what it serves and names
//! itself in `SimpleResponse.hostname`).
//!
//! Without nginx the test fails, saying so, unless `RILL_SKIP_NGINX=1`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream;
use rill::status::details::{ErrorDetails, FieldViolation};
use rill::{BoxStream, Code, MetadataMap, Request, Response, Status, Streaming};

use interop::client::{find, run_case, Ctx};
use interop::flags::ClientFlags;
use interop::grpc::testing::test_service_client::TestServiceClient;
use interop::grpc::testing::test_service_server::{TestService, TestServiceServer};
use interop::grpc::testing::{
    Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse, StreamingInputCallRequest,
    StreamingInputCallResponse, StreamingOutputCallRequest, StreamingOutputCallResponse,
};
use interop::server::{TestServiceImpl, ECHO_INITIAL_KEY, ECHO_TRAILING_KEY};

/// Request metadata that makes a replica's `UnaryCall` fail with rich error details.
const WANT_DETAILS: &str = "x-rill-want-details";
/// Request metadata that makes a replica's `UnaryCall` report the deadline it sees (in ms,
/// in `SimpleResponse.username`).
const REPORT_DEADLINE: &str = "x-rill-report-deadline";

/// The interop service, counting its calls and naming itself; see the module docs.
#[derive(Clone)]
struct Replica {
    name: String,
    calls: Arc<AtomicUsize>,
}

impl Replica {
    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

impl TestService for Replica {
    async fn empty_call(&self, request: Request<Empty>) -> Result<Response<Empty>, Status> {
        self.count();
        TestServiceImpl.empty_call(request).await
    }

    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        self.count();
        if request.metadata().get(WANT_DETAILS).is_some() {
            return Err(rich_error(request.metadata(), &self.name));
        }
        let deadline = request.metadata().get(REPORT_DEADLINE).map(|_| {
            request
                .remaining()
                .map_or_else(|| "none".to_string(), |d| d.as_millis().to_string())
        });
        let mut response = TestServiceImpl.unary_call(request).await?;
        response.get_mut().hostname = self.name.clone();
        if let Some(deadline) = deadline {
            response.get_mut().username = deadline;
        }
        Ok(response)
    }

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        self.count();
        TestServiceImpl.streaming_output_call(request).await
    }

    async fn streaming_input_call(
        &self,
        request: Request<Streaming<StreamingInputCallRequest>>,
    ) -> Result<Response<StreamingInputCallResponse>, Status> {
        self.count();
        TestServiceImpl.streaming_input_call(request).await
    }

    async fn full_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        self.count();
        TestServiceImpl.full_duplex_call(request).await
    }

    async fn half_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        self.count();
        TestServiceImpl.half_duplex_call(request).await
    }
}

/// INVALID_ARGUMENT with a BadRequest detail naming the replica, and the request's echo
/// metadata (ASCII and binary) in the trailers.
fn rich_error(metadata: &MetadataMap, replica: &str) -> Status {
    let details = ErrorDetails::new()
        .with_bad_request(vec![FieldViolation::new("replica", replica)])
        .with_error_info("PROXY_TEST", "rill.test", Default::default());
    let mut trailers = MetadataMap::new();
    if let Some(value) = metadata.get(ECHO_INITIAL_KEY) {
        trailers
            .insert(ECHO_INITIAL_KEY, value)
            .expect("valid ASCII metadata");
    }
    if let Some(Ok(value)) = metadata.get_bin(ECHO_TRAILING_KEY) {
        trailers
            .insert_bin(ECHO_TRAILING_KEY, &value)
            .expect("valid binary metadata");
    }
    Status::with_error_details(Code::InvalidArgument, "rich details ☺", details)
        .with_metadata(trailers)
}

async fn start_replica(name: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let replica = Replica {
        name: name.to_string(),
        calls: calls.clone(),
    };
    let server = rill::server::Server::builder()
        .max_decoding_message_size(interop::server::MAX_REQUEST_SIZE)
        .add_service(TestServiceServer::new(replica));
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
    (addr, calls)
}

/// An nginx master process with its config, logs and temp files in its own directory.
struct Nginx {
    child: Child,
    dir: PathBuf,
    port: u16,
}

fn nginx_binary() -> Option<PathBuf> {
    let path =
        std::env::var_os("RILL_NGINX").map_or_else(|| "/usr/sbin/nginx".into(), PathBuf::from);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("RILL_SKIP_NGINX").as_deref() == Ok("1") {
        eprintln!(
            "SKIPPED: no nginx at {} and RILL_SKIP_NGINX=1",
            path.display()
        );
        return None;
    }
    panic!(
        "no nginx at {}: install it (apt-get install -y --no-install-recommends nginx), \
         point RILL_NGINX at one, or set RILL_SKIP_NGINX=1 to skip this test",
        path.display()
    );
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

impl Nginx {
    async fn start(binary: &Path, upstream: &[SocketAddr]) -> Nginx {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir =
            std::env::temp_dir().join(format!("rill-nginx-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the nginx directory");
        let d = dir.display();
        // Workers run as the current user: `user` only matters (and is only allowed without
        // a warning) when nginx starts as root.
        let user = if command_output("id", &["-u"]) == "0" {
            format!(
                "user {} {};",
                command_output("id", &["-un"]),
                command_output("id", &["-gn"])
            )
        } else {
            String::new()
        };
        let servers: String = upstream
            .iter()
            .map(|a| format!("    server {a};\n"))
            .collect();
        let config = format!(
            "daemon off;\n\
             {user}\n\
             worker_processes 1;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n\
               access_log {d}/access.log;\n\
               client_body_temp_path {d}/client_body;\n\
               proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n\
               upstream replicas {{\n{servers}  }}\n\
               server {{\n\
                 listen 127.0.0.1:{port} http2;\n\
                 client_max_body_size 0;\n\
                 location / {{\n\
                   grpc_pass grpc://replicas;\n\
                   grpc_read_timeout 60s;\n\
                   grpc_send_timeout 60s;\n\
                 }}\n\
               }}\n\
             }}\n"
        );
        std::fs::write(dir.join("nginx.conf"), config).expect("write nginx.conf");
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let mut nginx = Nginx { child, dir, port };
        nginx.wait_listening().await;
        nginx
    }

    async fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nginx exited ({status}); error.log:\n{}", self.error_log());
            }
            assert!(
                Instant::now() < deadline,
                "nginx not listening in 20 s:\n{}",
                self.error_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn error_log(&self) -> String {
        let log = std::fs::read(self.dir.join("error.log")).unwrap_or_default();
        String::from_utf8_lossy(&log[log.len().saturating_sub(4000)..]).into_owned()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: the master stops its workers too (SIGKILL would orphan them).
        let pid = self.child.id().to_string();
        let quit = Command::new("kill").args(["-QUIT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while quit.as_ref().is_ok_and(|s| s.success())
            && Instant::now() < deadline
            && matches!(self.child.try_wait(), Ok(None))
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn counts(calls: &[Arc<AtomicUsize>]) -> Vec<usize> {
    calls.iter().map(|c| c.load(Ordering::Relaxed)).collect()
}

fn streaming_request(sizes: &[i32]) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size,
                ..ResponseParameters::default()
            })
            .collect(),
        ..StreamingOutputCallRequest::default()
    }
}

async fn drain(stream: &mut Streaming<StreamingOutputCallResponse>) -> Result<Vec<usize>, Status> {
    let mut sizes = Vec::new();
    while let Some(message) = stream.message().await? {
        sizes.push(message.payload.map_or(0, |p| p.body.len()));
    }
    Ok(sizes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rill_behind_nginx_grpc_pass() {
    let Some(binary) = nginx_binary() else { return };
    let mut addrs = Vec::new();
    let mut calls = Vec::new();
    for name in ["replica-0", "replica-1", "replica-2"] {
        let (addr, counter) = start_replica(name).await;
        addrs.push(addr);
        calls.push(counter);
    }
    let nginx = Nginx::start(&binary, &addrs).await;
    let target = format!("http://127.0.0.1:{}", nginx.port);

    // The interop client's cases, through the proxy.
    let cases = [
        "empty_unary",
        "large_unary",
        "client_streaming",
        "server_streaming",
        "ping_pong",
        "empty_stream",
        "half_duplex",
        "custom_metadata",
        "status_code_and_message",
        "special_status_message",
        "timeout_on_sleeping_server",
        "cancel_after_begin",
        "cancel_after_first_response",
        "unimplemented_method",
        "client_compressed_unary",
        "server_compressed_unary",
        "client_compressed_streaming",
        "server_compressed_streaming",
        "very_large_request",
    ];
    let args = [
        "--server_host=127.0.0.1".to_string(),
        format!("--server_port={}", nginx.port),
    ];
    let ctx = Ctx::new(ClientFlags::parse(args, &mut Vec::new()).expect("valid flags"));
    let mut failures = Vec::new();
    for name in cases {
        let case = find(name).unwrap_or_else(|| panic!("interop case {name}"));
        if let Err(reason) = run_case(&ctx, case).await {
            failures.push(format!("{name}: {reason}"));
        }
    }
    assert!(
        failures.is_empty(),
        "interop cases through nginx failed:\n{}\nnginx error.log:\n{}",
        failures.join("\n"),
        nginx.error_log()
    );

    let client = TestServiceClient::new(rill::Channel::lazy(&target).unwrap());

    // Unary calls spread over the three replicas (nginx round robin: evenly).
    let before = counts(&calls);
    let mut by_host = BTreeMap::new();
    for _ in 0..30 {
        let reply = client.unary_call(SimpleRequest::default()).await.unwrap();
        *by_host.entry(reply.into_inner().hostname).or_insert(0) += 1;
    }
    let hosts: Vec<&str> = by_host.keys().map(String::as_str).collect();
    assert_eq!(
        hosts,
        ["replica-0", "replica-1", "replica-2"],
        "{by_host:?}"
    );
    assert!(
        by_host.values().all(|&n| n >= 5),
        "uneven spread: {by_host:?}"
    );
    let served: Vec<usize> = counts(&calls)
        .iter()
        .zip(&before)
        .map(|(a, b)| a - b)
        .collect();
    assert_eq!(served.iter().sum::<usize>(), 30, "{served:?}");

    // So do server-streaming, client-streaming and bidi calls.
    for kind in ["server streaming", "client streaming", "bidi"] {
        let before = counts(&calls);
        for _ in 0..15 {
            match kind {
                "server streaming" => {
                    let mut stream = client
                        .streaming_output_call(streaming_request(&[10, 20, 30]))
                        .await
                        .unwrap()
                        .into_inner();
                    assert_eq!(drain(&mut stream).await.unwrap(), [10, 20, 30]);
                }
                "client streaming" => {
                    let requests =
                        stream::iter([5usize, 7, 11].map(|size| StreamingInputCallRequest {
                            payload: Some(Payload {
                                body: vec![0; size],
                                ..Payload::default()
                            }),
                            ..StreamingInputCallRequest::default()
                        }));
                    let reply = client.streaming_input_call(requests).await.unwrap();
                    assert_eq!(reply.into_inner().aggregated_payload_size, 23);
                }
                _ => {
                    let requests =
                        stream::iter([streaming_request(&[3]), streaming_request(&[4, 5])]);
                    let mut stream = client
                        .full_duplex_call(requests)
                        .await
                        .unwrap()
                        .into_inner();
                    assert_eq!(drain(&mut stream).await.unwrap(), [3, 4, 5]);
                }
            }
        }
        let served: Vec<usize> = counts(&calls)
            .iter()
            .zip(&before)
            .map(|(a, b)| a - b)
            .collect();
        assert_eq!(served.iter().sum::<usize>(), 15, "{kind}: {served:?}");
        assert!(
            served.iter().all(|&n| n >= 2),
            "{kind} spread unevenly: {served:?}"
        );
    }

    // An error with rich details and echoed ASCII and binary metadata passes through.
    let binary_value = [0u8, 1, 2, 0xfe, 0xff, b'\n'];
    let mut request = Request::new(SimpleRequest::default());
    request.metadata_mut().insert(WANT_DETAILS, "1").unwrap();
    request
        .metadata_mut()
        .insert(ECHO_INITIAL_KEY, "ascii value")
        .unwrap();
    request
        .metadata_mut()
        .insert_bin(ECHO_TRAILING_KEY, binary_value)
        .unwrap();
    let status = client.unary_call(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), "rich details ☺");
    let details = status
        .error_details()
        .expect("grpc-status-details-bin decodes");
    let violation = &details
        .bad_request()
        .expect("BadRequest detail")
        .field_violations[0];
    assert_eq!(violation.field, "replica");
    assert!(
        violation.description.starts_with("replica-"),
        "{violation:?}"
    );
    assert_eq!(
        details.error_info().expect("ErrorInfo detail").reason,
        "PROXY_TEST"
    );
    assert_eq!(status.metadata().get(ECHO_INITIAL_KEY), Some("ascii value"));
    let echoed = status
        .metadata()
        .get_bin(ECHO_TRAILING_KEY)
        .expect("binary echo")
        .unwrap();
    assert_eq!(echoed, binary_value);

    // Metadata on a successful call: the ASCII echo in the headers, the binary one in the
    // trailers (bidi, so trailers come after messages).
    let mut request = Request::new(stream::iter([streaming_request(&[1])]));
    request
        .metadata_mut()
        .insert(ECHO_INITIAL_KEY, "in headers")
        .unwrap();
    request
        .metadata_mut()
        .insert_bin(ECHO_TRAILING_KEY, binary_value)
        .unwrap();
    let response = client.full_duplex_call(request).await.unwrap();
    assert_eq!(
        response.metadata().get(ECHO_INITIAL_KEY),
        Some("in headers")
    );
    let mut stream = response.into_inner();
    assert_eq!(drain(&mut stream).await.unwrap(), [1]);
    let trailers = stream.trailers().expect("trailers");
    assert_eq!(
        trailers
            .get_bin(ECHO_TRAILING_KEY)
            .expect("binary echo")
            .unwrap(),
        binary_value
    );

    // The client's deadline reaches the replica through nginx (grpc-timeout)…
    let mut request = Request::new(SimpleRequest::default());
    request.metadata_mut().insert(REPORT_DEADLINE, "1").unwrap();
    request.set_timeout(Duration::from_secs(5));
    let seen = client
        .unary_call(request)
        .await
        .unwrap()
        .into_inner()
        .username;
    let seen: u64 = seen
        .parse()
        .unwrap_or_else(|_| panic!("replica saw no deadline: {seen:?}"));
    assert!(
        (3_000..=5_000).contains(&seen),
        "replica saw {seen} ms of a 5 s deadline"
    );
    // …and a call outliving it ends with DEADLINE_EXCEEDED, on time.
    let mut slow = streaming_request(&[1, 1]);
    for parameters in &mut slow.response_parameters {
        parameters.interval_us = 2_000_000;
    }
    let mut request = Request::new(slow);
    request.set_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let result = async {
        let mut stream = client.streaming_output_call(request).await?.into_inner();
        drain(&mut stream).await
    }
    .await;
    let status = result.expect_err("the deadline passes before the replies");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}
