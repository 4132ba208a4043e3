//! A third-party client: grpcio-health-checking (Python) against rill's health service, Check
//! and Watch (SERVICE_UNKNOWN, then the statuses the test reports). Needs the interpreter in
//! `RILL_PYTHON` (scripts/test sets it up); skipped without it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rill::server::Server;
use rill_health::ServingStatus;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

/// Bound on each line of the client and on its exit.
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn grpcio_health_checking_client() {
    let Some(python) = std::env::var_os("RILL_PYTHON").filter(|p| !p.is_empty()) else {
        println!("skipped: set RILL_PYTHON (scripts/test does)");
        return;
    };
    let (reporter, health) = rill_health::health_reporter();
    reporter.set_service_status("rill.test.Ready", ServingStatus::Serving);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(
        Server::builder()
            .add_service(health)
            .serve_with_listener(listener, std::future::pending()),
    );

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/health_client.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", python.to_string_lossy()));
    let mut stderr = child.stderr.take().expect("piped stderr");
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut seen = Vec::new();
    loop {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("health_client.py silent for {WAIT:?} after {seen:?}"))
            .expect("read the client's output");
        let Some(line) = line else { break };
        // The client is watching: report the statuses it waits for.
        match line.as_str() {
            "watch rill.test.Later: SERVICE_UNKNOWN" => {
                reporter.set_service_status("rill.test.Later", ServingStatus::Serving);
            }
            "watch rill.test.Later: SERVING" => {
                reporter.set_service_status("rill.test.Later", ServingStatus::NotServing);
            }
            _ => {}
        }
        seen.push(line);
    }
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("health_client.py exits")
        .expect("wait for health_client.py");
    let stderr = stderr.await.unwrap_or_default();
    assert!(status.success(), "{status}\n{seen:#?}\n{stderr}");
    assert_eq!(
        seen,
        [
            "check '': SERVING",
            "check rill.test.Ready: SERVING",
            "check rill.test.Nope: NOT_FOUND",
            "watch rill.test.Later: SERVICE_UNKNOWN",
            "watch rill.test.Later: SERVING",
            "watch rill.test.Later: NOT_SERVING",
            "ok: 3 watch updates",
        ],
        "{stderr}"
    );
}
