//! A hand-written test service (no codegen) exercising the four call types.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rill::server::{Method, Server, Service};
use rill::{BoxStream, Channel, Client, Request, Response, Status, Streaming};

#[derive(Clone, PartialEq, prost::Message)]
pub struct Msg {
    #[prost(string, tag = "1")]
    pub text: String,
    #[prost(int32, tag = "2")]
    pub n: i32,
    #[prost(bytes = "vec", tag = "3")]
    pub blob: Vec<u8>,
    /// When set, the handler fails with this code and `text` as the message.
    #[prost(int32, tag = "4")]
    pub fail_code: i32,
    /// When set, the handler sleeps this many milliseconds first.
    #[prost(int32, tag = "5")]
    pub sleep_ms: i32,
}

impl Msg {
    pub fn text(text: &str) -> Msg {
        Msg {
            text: text.to_string(),
            ..Msg::default()
        }
    }
}

pub const SERVICE: &str = "test.Echo";
pub const UNARY: &str = "/test.Echo/Unary";
pub const SERVER_STREAM: &str = "/test.Echo/ServerStream";
pub const CLIENT_STREAM: &str = "/test.Echo/ClientStream";
pub const BIDI: &str = "/test.Echo/Bidi";

/// Observations the tests make of the server side.
#[derive(Default)]
pub struct Probe {
    pub cancelled: AtomicUsize,
    pub sent: AtomicUsize,
    pub completed: AtomicUsize,
}

/// Marks the probe when a handler future is dropped before finishing (cancellation).
struct DropGuard(Arc<Probe>, bool);
impl Drop for DropGuard {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[derive(Clone, Default)]
pub struct Echo {
    pub probe: Arc<Probe>,
}

fn check(msg: &Msg) -> Result<(), Status> {
    if msg.fail_code != 0 {
        let mut status = Status::new(rill::Code::from_i32(msg.fail_code), msg.text.clone());
        status.metadata_mut().insert("x-fail", "yes").unwrap();
        return Err(status);
    }
    Ok(())
}

impl Service for Echo {
    fn name(&self) -> &'static str {
        SERVICE
    }

    fn methods(&self) -> Vec<Method> {
        let probe = self.probe.clone();
        let p2 = self.probe.clone();
        let p3 = self.probe.clone();
        vec![
            Method::unary("Unary", move |req: Request<Msg>| {
                let probe = probe.clone();
                async move {
                    let mut guard = DropGuard(probe.clone(), false);
                    let msg = req.get_ref().clone();
                    if msg.sleep_ms > 0 {
                        tokio::time::sleep(Duration::from_millis(msg.sleep_ms as u64)).await;
                    }
                    if msg.text == "panic!" {
                        panic!("the Echo handler was asked to panic");
                    }
                    check(&msg)?;
                    let mut resp = Response::new(Msg {
                        text: msg.text.clone(),
                        n: msg.n,
                        blob: msg.blob.clone(),
                        ..Msg::default()
                    });
                    // Echo metadata: initial from x-echo, trailing from x-echo-trailer-bin.
                    if let Some(v) = req.metadata().get("x-echo") {
                        resp.metadata_mut().insert("x-echo", v).unwrap();
                    }
                    if let Some(Ok(v)) = req.metadata().get_bin("x-echo-trailer-bin") {
                        resp.trailers_mut()
                            .insert_bin("x-echo-trailer-bin", v)
                            .unwrap();
                    }
                    if let Some(remaining) = req.remaining() {
                        resp.metadata_mut()
                            .insert("x-remaining-ms", &remaining.as_millis().to_string())
                            .unwrap();
                    }
                    guard.1 = true;
                    probe.completed.fetch_add(1, Ordering::SeqCst);
                    Ok(resp)
                }
            }),
            Method::server_streaming("ServerStream", move |req: Request<Msg>| {
                let probe = p2.clone();
                async move {
                    let msg = req.into_inner();
                    check(&Msg {
                        fail_code: 0,
                        ..msg.clone()
                    })?;
                    let count = msg.n;
                    let fail = msg.fail_code;
                    let stream = futures_util::stream::iter(0..count.max(0))
                        .map(move |i| {
                            probe.sent.fetch_add(1, Ordering::SeqCst);
                            Ok(Msg {
                                text: format!("{}-{i}", msg.text),
                                n: i,
                                blob: msg.blob.clone(),
                                ..Msg::default()
                            })
                        })
                        .chain(futures_util::stream::iter((fail != 0).then(|| {
                            Err(Status::new(rill::Code::from_i32(fail), "stream failed"))
                        })));
                    Ok(Response::stream(stream))
                }
            }),
            Method::client_streaming("ClientStream", |req: Request<Streaming<Msg>>| async move {
                let mut stream = req.into_inner();
                let mut total = 0;
                let mut texts = Vec::new();
                while let Some(msg) = stream.message().await? {
                    check(&msg)?;
                    total += msg.n;
                    texts.push(msg.text);
                }
                Ok(Response::new(Msg {
                    text: texts.join(","),
                    n: total,
                    ..Msg::default()
                }))
            }),
            Method::streaming("Bidi", move |req: Request<Streaming<Msg>>| {
                let probe = p3.clone();
                async move {
                    let stream = req.into_inner();
                    let out: BoxStream<Msg> = Box::pin(stream.map(move |item| {
                        let msg = item?;
                        check(&msg)?;
                        probe.sent.fetch_add(1, Ordering::SeqCst);
                        Ok(Msg {
                            text: msg.text.to_uppercase(),
                            n: msg.n,
                            ..Msg::default()
                        })
                    }));
                    Ok(Response::new(out))
                }
            }),
        ]
    }
}

/// A server with the Echo service over an in-memory pipe, and a client on it.
pub fn duplex_pair(server: Server) -> Client {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(server.serve_connection(server_io));
    Client::new(Channel::from_io(client_io))
}

pub fn echo_server() -> (Server, Arc<Probe>) {
    let echo = Echo::default();
    let probe = echo.probe.clone();
    (server_builder().add_service(echo), probe)
}

/// The server's HTTP/2 backend for this test binary: test files named `*_native.rs` or
/// `*_h2.rs` re-run a suite (by `include!`) against that backend; others use the default.
pub fn backend() -> Option<rill::server::Http2Backend> {
    let exe = std::env::current_exe().ok()?;
    let name = exe.file_stem()?.to_str()?;
    // Cargo names test binaries `<file>-<hash>`.
    let file = name.rsplit_once('-').map_or(name, |(file, _)| file);
    if file.ends_with("_native") {
        Some(rill::server::Http2Backend::Native)
    } else if file.ends_with("_h2") {
        Some(rill::server::Http2Backend::H2)
    } else {
        None
    }
}

/// `Server::builder()` on this test binary's backend.
pub fn server_builder() -> Server {
    match backend() {
        Some(backend) => Server::builder().http2_backend(backend),
        None => Server::builder(),
    }
}

/// Serves `server` on a free loopback port; returns the address and a shutdown trigger.
pub async fn tcp_server(
    server: Server,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), rill::Error>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(server.serve_with_listener(listener, async {
        let _ = rx.await;
    }));
    (addr, tx, handle)
}

pub fn msgs(items: Vec<Msg>) -> rill::Request<rill::RequestStream<Msg>> {
    use rill::IntoStreamingRequest;
    futures_util::stream::iter(items).into_streaming_request()
}
