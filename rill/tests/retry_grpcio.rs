//! Retries on the wire against a third-party server: a grpcio (Python, gRPC C-core) server
//! that fails twice with UNAVAILABLE (with a `grpc-retry-pushback-ms` trailer) and reports
//! the `grpc-previous-rpc-attempts` each attempt carried. Needs the interpreter in
//! `RILL_PYTHON` (scripts/test sets it up); skipped without it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rill::service_config::ServiceConfig;
use rill::{Channel, Client, Request};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn grpcio_server_sees_each_retry() {
    let Some(python) = std::env::var_os("RILL_PYTHON").filter(|p| !p.is_empty()) else {
        println!("skipped: set RILL_PYTHON (scripts/test does)");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/flaky_server.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", python.to_string_lossy()));
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut next_line = async || {
        tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("flaky_server.py went silent")
            .expect("read flaky_server.py")
            .expect("flaky_server.py ended early")
    };
    let port = next_line().await;
    let port = port.strip_prefix("port ").expect("port line");

    let config = ServiceConfig::from_json(
        r#"{"methodConfig": [{"name": [{"service": "grpc.testing.TestService"}],
            "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.05s", "maxBackoff": "0.2s",
              "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#,
    )
    .unwrap();
    let channel = Channel::builder(&format!("http://127.0.0.1:{port}"))
        .service_config(config)
        .connect_lazy()
        .unwrap();
    let client = Client::new(channel);
    let response = tokio::time::timeout(
        WAIT,
        client.unary::<(), ()>("/grpc.testing.TestService/EmptyCall", Request::new(())),
    )
    .await
    .expect("the call ended")
    .expect("the third attempt succeeds");
    assert_eq!(
        response.metadata().get("grpc-previous-rpc-attempts"),
        Some("2")
    );
    let mut attempts = Vec::new();
    for _ in 0..3 {
        attempts.push(next_line().await);
    }
    assert_eq!(
        attempts,
        [
            "attempt 1 previous -",
            "attempt 2 previous 1",
            "attempt 3 previous 2"
        ]
    );
}
