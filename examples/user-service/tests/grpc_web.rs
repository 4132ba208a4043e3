//! `user-server` serves gRPC-Web out of the box: a raw HTTP/1.1 gRPC-Web call (as a browser
//! makes it, with CORS) against the real binary. The browser itself is in `web/test`.

mod common;

use common::{run_client, within, ServerProcess};
use prost::Message as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use user_service::pb::{GetUserRequest, User};

/// POSTs one gRPC-Web call with `connection: close` and returns the whole raw response.
async fn post(addr: std::net::SocketAddr, path: &str, message: &[u8], origin: &str) -> String {
    let mut body = vec![0];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(message);
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\norigin: {origin}\r\ncontent-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    within("the gRPC-Web response", tcp.read_to_end(&mut response))
        .await
        .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn user_server_answers_grpc_web_over_http1() {
    let server = ServerProcess::start(":memory:").await;
    let seeded = run_client(&["--addr", &server.url()]).await;
    assert!(seeded.status.success(), "{seeded:?}");

    let request = GetUserRequest { id: 1 }.encode_to_vec();
    let response = post(
        server.addr,
        "/user.UserService/GetUser",
        &request,
        "http://page.test",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.contains("content-type: application/grpc-web+proto\r\n"),
        "{response}"
    );
    assert!(
        response.contains("access-control-allow-origin: http://page.test\r\n"),
        "{response}"
    );
    // The message (inside the chunked body) and the trailer frame with the status.
    let user = User {
        id: 1,
        name: "Ada".into(),
        email: "ada@example.com".into(),
        ..User::default()
    };
    let name_and_email = &user.encode_to_vec()[2..];
    assert!(
        response.contains(&*String::from_utf8_lossy(name_and_email)),
        "{response}"
    );
    assert!(response.contains("grpc-status: 0\r\n"), "{response}");

    let missing = GetUserRequest { id: 404 }.encode_to_vec();
    let response = post(
        server.addr,
        "/user.UserService/GetUser",
        &missing,
        "http://page.test",
    )
    .await;
    assert!(response.contains("grpc-status: 5\r\n"), "{response}");
    server.kill().await;
}

#[tokio::test]
async fn grpc_web_origin_flag_restricts_callers() {
    let server =
        ServerProcess::start_with(":memory:", &["--grpc-web-origin", "http://ok.test"]).await;
    let request = GetUserRequest { id: 1 }.encode_to_vec();
    let refused = post(
        server.addr,
        "/user.UserService/GetUser",
        &request,
        "http://evil.test",
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    let allowed = post(
        server.addr,
        "/user.UserService/GetUser",
        &request,
        "http://ok.test",
    )
    .await;
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    server.kill().await;
}
