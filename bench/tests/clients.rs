//! The benchmark clients (rill's `bench-client`, tonic's `tonic-bench-client` example) run
//! every mode `bench/run` uses against rill's `bench-server`, report figures, and fail on a
//! wrong answer.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server() -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_bench-server"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--workers", "1"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "bench-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server(child, port)
}

fn clients() -> Vec<PathBuf> {
    let rill = PathBuf::from(env!("CARGO_BIN_EXE_bench-client"));
    let tonic = rill.with_file_name("examples").join("tonic-bench-client");
    let mut all = vec![rill];
    if tonic.exists() {
        all.push(tonic);
    } else {
        eprintln!("tonic-bench-client not built: rill's client only");
    }
    all
}

/// Runs `client mode args` and returns its `key=value` fields; panics unless it succeeded.
fn run(client: &PathBuf, port: u16, args: &[&str]) -> Vec<(String, f64)> {
    let out = Command::new(client)
        .args(args)
        .args(["--target", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} {args:?}: {}\n{stdout}",
        client.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    fields(stdout.lines().last().unwrap_or(""))
}

fn fields(line: &str) -> Vec<(String, f64)> {
    line.split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn get(fields: &[(String, f64)], key: &str) -> f64 {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key} in {fields:?}"))
        .1
}

#[test]
fn every_client_mode_reports_figures_against_the_rill_server() {
    let s = server();
    for c in clients() {
        let f = run(&c, s.1, &["peak", "--duration", "0.3", "--warmup", "0.1"]);
        assert!(get(&f, "rps") > 0.0 && get(&f, "p99_us") >= get(&f, "p50_us"));
        assert_eq!(get(&f, "errors"), 0.0);

        let f = run(
            &c,
            s.1,
            &[
                "rate",
                "--rate",
                "500",
                "--duration",
                "0.4",
                "--warmup",
                "0.1",
            ],
        );
        assert!(get(&f, "calls") > 100.0, "{f:?}");
        assert_eq!(get(&f, "dropped"), 0.0);

        let f = run(&c, s.1, &["count", "--count", "200", "--concurrency", "8"]);
        assert_eq!(get(&f, "calls"), 200.0);

        let f = run(
            &c,
            s.1,
            &[
                "server-stream",
                "--response-size",
                "1024",
                "--streams",
                "4",
                "--messages",
                "50",
            ],
        );
        assert_eq!(get(&f, "bytes"), 4.0 * 50.0 * 1024.0);

        let f = run(
            &c,
            s.1,
            &["ping-pong", "--duration", "0.2", "--warmup", "0.05"],
        );
        assert!(get(&f, "rounds") > 0.0);

        // A short burst only: see KNOWN_FAILURES in bench/scenarios.sh for long ones.
        let f = run(&c, s.1, &["client-stream", "--duration", "0.0005"]);
        assert!(get(&f, "messages") > 0.0);
    }
}

#[test]
fn a_client_whose_calls_fail_exits_non_zero() {
    // A port nobody listens on (the listener is dropped at once): every call fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for c in clients() {
        let out = Command::new(&c)
            .args(["count", "--count", "1", "--target"])
            .arg(format!("http://127.0.0.1:{port}"))
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{}: succeeded with no server",
            c.display()
        );
    }
}

#[test]
fn hold_keeps_connections_and_streams_open_until_stdin_closes() {
    let s = server();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bench-client"))
        .args(["hold", "--conns", "5", "--streams", "3", "--target"])
        .arg(format!("http://127.0.0.1:{}", s.1))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "connections=5");
    writeln!(stdin, "go").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "streams=15");
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
}

/// Regression: rill's HTTP/2 server stalled 1 MiB server-streaming replies to tonic's client
/// once its write buffer filled up (the buffer went out in one turn, the streams still had
/// window, and nothing woke the connection task again). A stall fails this by its deadline.
#[test]
fn large_server_stream_replies_keep_flowing_to_every_client() {
    let server = server();
    for client in clients() {
        let mut child = Command::new(&client)
            .args([
                "server-stream",
                "--response-size",
                "1048576",
                "--payload",
                "10",
            ])
            .args(["--streams", "1", "--messages", "300"])
            .args(["--target", &format!("http://127.0.0.1:{}", server.1)])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{}: 300 × 1 MiB not read in 60 s", client.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        assert!(status.success(), "{}: {out}", client.display());
        let figures = fields(out.lines().last().unwrap_or(""));
        assert!(get(&figures, "mb_per_s") > 0.0, "{out}");
    }
}
