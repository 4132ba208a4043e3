//! Client keepalive against a real grpc-go server (Debian's grpc-go 1.33, the interop peer in
//! `peers/go`) with its default enforcement policy (pings at most every 5 minutes): a rill
//! client pinging every second gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings", doubles its
//! ping interval (gRFC A8) and its calls keep working.
//!
//! A proxy between the two reads the HTTP/2 frames of each connection, so the test sees the
//! pings the client sends and the GOAWAY the server answers. The grpc-go server is
//! `peers/go/build/bin/server` (built by `peers/go/build.sh`, which `interop/run` runs) or
//! `RILL_GO_INTEROP_SERVER`; `RILL_SKIP_GO=1` skips this test where there is no Go.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use interop::grpc::testing::test_service_client::TestServiceClient;
use interop::grpc::testing::{Empty, StreamingOutputCallRequest};
use rill::{Channel, Client, Code, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const ENHANCE_YOUR_CALM: u32 = 0xb;
const PREFACE_LEN: usize = 24;

/// A frame the proxy saw, on connection `conn` (0, 1, ... in accept order).
#[derive(Clone, Debug)]
struct Seen {
    conn: usize,
    at: Instant,
    frame: Frame,
}

#[derive(Clone, Debug, PartialEq)]
enum Frame {
    /// A PING from the client (not an ACK).
    Ping,
    /// A GOAWAY from the server.
    GoAway { code: u32, debug: String },
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Copies `from` to `to`, logging the frames `direction` cares about.
async fn pump(mut from: TcpStream, mut to: TcpStream, log: Log, conn: usize, client_side: bool) {
    let (mut from_r, _from_w) = from.split();
    let (_to_r, mut to_w) = to.split();
    let mut buf = Vec::new();
    let mut skip = if client_side { PREFACE_LEN } else { 0 };
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = match from_r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to_w.write_all(&chunk[..n]).await.is_err() {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let s = skip.min(buf.len());
        buf.drain(..s);
        skip -= s;
        // Frames: 3-byte length, type, flags, 4-byte stream id, payload.
        while buf.len() >= 9 {
            let len = usize::from(buf[0]) << 16 | usize::from(buf[1]) << 8 | usize::from(buf[2]);
            if buf.len() < 9 + len {
                break;
            }
            let (kind, flags, payload) = (buf[3], buf[4], &buf[9..9 + len]);
            let frame = match kind {
                PING if client_side && flags & 0x1 == 0 => Some(Frame::Ping),
                GOAWAY if !client_side && len >= 8 => Some(Frame::GoAway {
                    code: u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]),
                    debug: String::from_utf8_lossy(&payload[8..]).into_owned(),
                }),
                _ => None,
            };
            if let Some(frame) = frame {
                let at = Instant::now();
                log.lock().unwrap().push(Seen { conn, at, frame });
            }
            buf.drain(..9 + len);
        }
    }
    let _ = to_w.shutdown().await;
}

/// A TCP proxy to `upstream` that logs the frames of every connection.
async fn proxy(upstream: SocketAddr) -> (SocketAddr, Log) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Log::default();
    let events = log.clone();
    tokio::spawn(async move {
        for conn in 0.. {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let Ok(server) = TcpStream::connect(upstream).await else {
                continue;
            };
            let (c2, s2) = (client.into_std().unwrap(), server.into_std().unwrap());
            let (c1, s1) = (c2.try_clone().unwrap(), s2.try_clone().unwrap());
            let stream = |s: std::net::TcpStream| TcpStream::from_std(s).unwrap();
            tokio::spawn(pump(stream(c1), stream(s1), events.clone(), conn, true));
            tokio::spawn(pump(stream(s2), stream(c2), events.clone(), conn, false));
        }
    });
    (addr, log)
}

/// Waits (at most `limit`) until the log satisfies `done`.
async fn wait_for(log: &Log, limit: Duration, what: &str, done: impl Fn(&[Seen]) -> bool) {
    let end = Instant::now() + limit;
    while !done(&log.lock().unwrap()) {
        assert!(
            Instant::now() < end,
            "{what}: not within {limit:?}; seen {:#?}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn pings(log: &[Seen], conn: usize) -> Vec<Instant> {
    let is_ping = |s: &&Seen| s.conn == conn && s.frame == Frame::Ping;
    log.iter().filter(is_ping).map(|s| s.at).collect()
}

fn intervals(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

/// The grpc-go interop server, or None if the test is to be skipped.
fn go_server() -> Option<PathBuf> {
    let path = std::env::var_os("RILL_GO_INTEROP_SERVER").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/go/build/bin/server"),
        PathBuf::from,
    );
    if path.exists() {
        return Some(path);
    }
    if std::env::var("RILL_SKIP_GO").as_deref() == Ok("1") {
        eprintln!("skipped: no grpc-go interop server at {}", path.display());
        return None;
    }
    panic!(
        "no grpc-go interop server at {}: build it with interop/peers/go/build.sh (Debian \
         golang-go golang-google-grpc-dev golang-goprotobuf-dev golang-google-protobuf-dev \
         protoc-gen-go-grpc protobuf-compiler grpc-proto), point RILL_GO_INTEROP_SERVER at \
         one, or set RILL_SKIP_GO=1 to skip this test",
        path.display()
    );
}

/// Starts the grpc-go server on a free port and waits until it accepts connections.
async fn start_go(path: &PathBuf) -> (Child, SocketAddr) {
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let child = Command::new(path)
        .args(["--port", &port.to_string()])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let end = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < end, "the grpc-go server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, addr)
}

/// A FullDuplexCall that sends nothing and stays open, so the client keeps pinging (by
/// default it pings only while calls are in flight); ends with the call's status.
fn hold_call_open(client: &TestServiceClient) -> tokio::task::JoinHandle<Result<(), Status>> {
    let client = client.clone();
    tokio::spawn(async move {
        let never = futures_util::stream::pending::<StreamingOutputCallRequest>();
        let mut responses = client.full_duplex_call(never).await?.into_inner();
        while responses.message().await?.is_some() {}
        Ok(())
    })
}

#[tokio::test]
async fn grpc_go_answers_too_frequent_pings_with_too_many_pings_and_the_client_backs_off() {
    let Some(path) = go_server() else { return };
    let (_go, go_addr) = start_go(&path).await;
    let (addr, log) = proxy(go_addr).await;
    let channel = Channel::builder(&format!("http://{addr}"))
        .keepalive_time(Duration::from_secs(1))
        .connect()
        .await
        .unwrap();
    let client = TestServiceClient::new(Client::new(channel));
    client.empty_call(Empty {}).await.expect("first EmptyCall");

    // Pings every second while a call is open: grpc-go (pings at most every 5 minutes by
    // default, 2 strikes allowed) ends the connection with GOAWAY ENHANCE_YOUR_CALM.
    let first_call = hold_call_open(&client);
    let goaway = |s: &Seen| s.conn == 0 && matches!(s.frame, Frame::GoAway { .. });
    wait_for(
        &log,
        Duration::from_secs(30),
        "GOAWAY on connection 0",
        |l| l.iter().any(goaway),
    )
    .await;
    let seen = log.lock().unwrap().clone();
    let Some(Seen { frame, .. }) = seen.iter().find(|s| goaway(s)) else {
        unreachable!()
    };
    assert_eq!(
        *frame,
        Frame::GoAway {
            code: ENHANCE_YOUR_CALM,
            debug: "too_many_pings".into()
        }
    );
    let first_pings = pings(&seen, 0);
    assert!(first_pings.len() >= 3, "{seen:#?}");
    // grpc-go closes the connection, and with it the open call.
    let ended = tokio::time::timeout(Duration::from_secs(10), first_call)
        .await
        .expect("the open call did not end with the connection")
        .unwrap();
    assert_eq!(
        ended.as_ref().map_err(Status::code).err(),
        Some(Code::Unavailable),
        "{ended:?}"
    );

    // Calls keep working, on a new connection that pings half as often.
    client
        .empty_call(Empty {})
        .await
        .expect("EmptyCall after GOAWAY");
    let second_call = hold_call_open(&client);
    wait_for(
        &log,
        Duration::from_secs(30),
        "3 pings on connection 1",
        |l| pings(l, 1).len() >= 3,
    )
    .await;
    client
        .empty_call(Empty {})
        .await
        .expect("EmptyCall while pinging");
    let seen = log.lock().unwrap().clone();
    let (before, after) = (intervals(&first_pings), intervals(&pings(&seen, 1)));
    eprintln!("ping intervals: before GOAWAY {before:?}, after {after:?}");
    // The proxy sees the pings a little after they are sent: allow it some slack.
    let slack = Duration::from_millis(150);
    assert!(
        before.iter().all(|i| *i + slack >= Duration::from_secs(1)),
        "{before:?}"
    );
    assert!(
        after.iter().all(|i| *i + slack >= Duration::from_secs(2)),
        "not doubled: before {before:?}, after {after:?}"
    );
    assert!(
        !seen.iter().any(|s| s.conn == 1 && s.frame != Frame::Ping),
        "{seen:#?}"
    );
    second_call.abort();
}
