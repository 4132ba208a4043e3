//! A third-party client: tests/python/user_client.py (Python grpcio) against the real
//! `user-server` binary. Needs the interpreter in `RILL_PYTHON` (scripts/test sets it up, with
//! grpcio, grpcio-tools and grpcio-status); skipped without it.

mod common;

use std::path::Path;

use common::{describe, run, ServerProcess};
use tokio::process::Command;

#[tokio::test]
async fn python_grpcio_client_calls_every_method() {
    let Some(python) = std::env::var_os("RILL_PYTHON").filter(|p| !p.is_empty()) else {
        println!("skipped: set RILL_PYTHON (scripts/test does)");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/user_client.py");
    let server = ServerProcess::start(":memory:").await;

    let output = run(
        "user_client.py",
        Command::new(&python)
            .arg(&script)
            .arg(server.addr.to_string()),
    )
    .await;
    let ended = server.interrupt().await;

    assert!(
        output.status.success(),
        "{} {}: {}\nuser-server: {ended:?}",
        python.to_string_lossy(),
        script.display(),
        describe(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.lines().last().is_some_and(|l| l.starts_with("ok: ")),
        "{}",
        describe(&output)
    );
    assert_eq!(ended.status.code(), Some(0), "user-server: {ended:?}");
}
