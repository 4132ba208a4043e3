//! `user-server --metrics-listen ADDR`: after a `user-client` run, `GET /metrics` answers
//! Prometheus text with the calls counted by method and status (gRFC A66 names).

#![cfg(feature = "metrics")]

mod common;

use common::{describe, free_port, run_client, within, ServerProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get_metrics(addr: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let mut body = String::new();
    within("GET /metrics", stream.read_to_string(&mut body))
        .await
        .expect("read");
    body
}

#[tokio::test]
async fn user_server_serves_call_metrics_in_prometheus_text() {
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let server = ServerProcess::start_with(":memory:", &["--metrics-listen", &metrics_addr]).await;
    let output = run_client(&["--addr", &format!("http://{}", server.addr)]).await;
    assert!(output.status.success(), "{}", describe(&output));

    let text = get_metrics(&metrics_addr).await;
    let ended = server.kill().await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}\n{ended:?}");
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in\n{text}"))
            .to_owned()
    };
    let started = line(r#"grpc_server_call_started{grpc_method="user.UserService/GetUser"}"#);
    assert!(
        started.ends_with(" 1") || started.ends_with(" 2"),
        "{started}"
    );
    line(
        r#"grpc_server_call_completed{grpc_method="user.UserService/CreateUsers",grpc_status="OK"} 1"#,
    );
    line(
        r#"grpc_server_call_duration_bucket{grpc_method="user.UserService/GetUser",grpc_status="OK",le="#,
    );
    line(
        r#"grpc_server_call_sent_messages{grpc_method="user.UserService/ListUsers",grpc_status="OK"}"#,
    );
    line(r#"grpc_server_call_in_flight{grpc_method="user.UserService/GetUser"} 0"#);
    assert!(
        text.contains("# TYPE grpc_server_call_duration histogram"),
        "{text}"
    );
}
