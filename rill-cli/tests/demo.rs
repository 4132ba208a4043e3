//! The `rill` binary against the UserService demo (what `user-server` serves: UserService,
//! health, reflection v1 and v1alpha), run in-process on a free port.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::{rill, Interactive};
use rill::server::Server;
use rill_health::{HealthReporter, ServingStatus};
use serde_json::json;
use user_service::pb::user_service_server::UserServiceServer;
use user_service::{Store, Users};

struct Demo {
    addr: SocketAddr,
    health: HealthReporter,
}

impl Demo {
    fn addr(&self) -> String {
        self.addr.to_string()
    }
}

/// The demo as `user-server --db :memory:` builds it, optionally with TLS.
async fn demo_with(tls: Option<rill::tls::ServerTlsConfig>) -> Demo {
    let store = Store::open(":memory:").expect("in-memory store");
    let (health, health_service) = rill_health::health_reporter();
    health.set_serving::<UserServiceServer<Users>>();
    let reflection = user_service::reflection();
    let mut server = Server::builder()
        .add_service(UserServiceServer::new(Users::new(store)))
        .add_service(health_service)
        .add_service(reflection.v1())
        .add_service(reflection.v1alpha());
    if let Some(tls) = tls {
        server = server.tls_config(tls).expect("server tls");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
    Demo { addr, health }
}

async fn demo() -> Demo {
    demo_with(None).await
}

const USERS: &str = "{\"name\": \"Ada\", \"email\": \"ada@example.com\"}\n\
                     {\"name\": \"Grace\", \"email\": \"grace@example.com\"}\n";

#[tokio::test]
async fn list_services_and_methods() {
    let demo = demo().await;
    let run = rill(&["list", &demo.addr()], None).await;
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "grpc.health.v1.Health\ngrpc.reflection.v1.ServerReflection\n\
         grpc.reflection.v1alpha.ServerReflection\nuser.UserService\n"
    );
    let run = rill(
        &["list", &format!("http://{}", demo.addr), "user.UserService"],
        None,
    )
    .await;
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "user.UserService.GetUser\nuser.UserService.ListUsers\n\
         user.UserService.CreateUsers\nuser.UserService.ChatStream\n"
    );
    // -v says which reflection service answered.
    rill(&["list", &demo.addr(), "-v"], None)
        .await
        .expect_code(0)
        .expect_stderr(&["Using server reflection: grpc.reflection.v1.ServerReflection"]);
}

#[tokio::test]
async fn describe_service_method_and_message() {
    let demo = demo().await;
    let addr = demo.addr();
    let cases: &[(&str, &str)] = &[
        (
            "user.UserService",
            "user.UserService is a service:\n\
             // Users, kept in SQLite, and a chat room.\n\
             service UserService {\n\
             \x20 // Returns one user; NOT_FOUND if the id does not exist.\n\
             \x20 rpc GetUser ( .user.GetUserRequest ) returns ( .user.User );\n",
        ),
        (
            "user.UserService.ChatStream",
            "user.UserService.ChatStream is a method:\n\
             // A chat room: every message is broadcast to every connected chat stream.\n\
             rpc ChatStream ( stream .user.ChatMessage ) returns ( stream .user.ChatMessage );\n",
        ),
        (
            "user.User",
            "user.User is a message:\n// A stored user.\nmessage User {\n  int32 id = 1;\n  \
             string name = 2;\n  string email = 3;\n  // Unix seconds.\n  int64 created_at = 4;\n}\n",
        ),
    ];
    for (symbol, expected) in cases {
        let run = rill(&["describe", &addr, symbol], None).await;
        run.expect_code(0);
        assert!(
            run.stdout.starts_with(expected),
            "{symbol}: {}",
            run.describe()
        );
    }
    rill(&["describe", &addr, "user.Nope"], None)
        .await
        .expect_code(1)
        .expect_stderr(&["rill: symbol \"user.Nope\" not found"]);
}

#[tokio::test]
async fn unary_server_and_client_streaming_calls() {
    let demo = demo().await;
    let addr = demo.addr();
    // Client streaming: JSON lines on stdin.
    let run = rill(
        &["call", &addr, "user.UserService/CreateUsers"],
        Some(USERS),
    )
    .await;
    run.expect_code(0);
    assert_eq!(
        run.json_lines(),
        [json!({"createdCount": 2, "ids": [1, 2]})]
    );

    // Unary, JSON from the argument; int64 as a string (proto3 JSON).
    let run = rill(
        &["call", &addr, "user.UserService/GetUser", r#"{"id": 2}"#],
        None,
    )
    .await;
    run.expect_code(0);
    let users = run.json_lines();
    assert_eq!(users.len(), 1, "{}", run.describe());
    assert_eq!(users[0]["name"], "Grace");
    assert!(users[0]["createdAt"].is_string(), "{}", run.describe());

    // grpcurl's -d, with a JSON text or @ for stdin.
    let run = rill(
        &[
            "call",
            "-d",
            r#"{"id": 1}"#,
            &addr,
            "user.UserService/GetUser",
        ],
        None,
    )
    .await;
    run.expect_code(0);
    assert_eq!(run.json_lines()[0]["name"], "Ada");
    let run = rill(
        &["call", &addr, "user.UserService/GetUser", "-d", "@"],
        Some(r#"{"id": 2}"#),
    )
    .await;
    run.expect_code(0);
    assert_eq!(run.json_lines()[0]["name"], "Grace");
    let run = rill(
        &[
            "call",
            &addr,
            "user.UserService/GetUser",
            "-d",
            r#"{"id": 1}"#,
            "--pretty",
        ],
        None,
    )
    .await;
    run.expect_code(0);
    assert!(
        run.stdout
            .starts_with("{\n  \"id\": 1,\n  \"name\": \"Ada\",\n"),
        "{}",
        run.describe()
    );
    // Responses larger than --max-msg-sz: RESOURCE_EXHAUSTED (64 + 8).
    rill(
        &[
            "call",
            &addr,
            "user.UserService/GetUser",
            "{\"id\": 1}",
            "--max-msg-sz",
            "8",
        ],
        None,
    )
    .await
    .expect_code(72)
    .expect_stderr(&["RESOURCE_EXHAUSTED"]);

    // Server streaming: one JSON document per line; empty stdin sends `{}`.
    let run = rill(&["call", &addr, "user.UserService.ListUsers"], None).await;
    run.expect_code(0);
    let names: Vec<_> = run.json_lines().iter().map(|u| u["name"].clone()).collect();
    assert_eq!(names, [json!("Ada"), json!("Grace")]);

    // Request JSON from a file with @FILE, defaults printed with --emit-defaults.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("req.json");
    std::fs::write(&file, r#"{"pageSize": 1}"#).expect("write request");
    let arg = format!("@{}", file.display());
    let run = rill(
        &[
            "call",
            &addr,
            "user.UserService/ListUsers",
            &arg,
            "--emit-defaults",
        ],
        None,
    )
    .await;
    run.expect_code(0);
    assert_eq!(run.json_lines().len(), 1, "{}", run.describe());
    // The next-page token arrives in the trailers: -v prints them.
    let run = rill(
        &[
            "call",
            &addr,
            "user.UserService/ListUsers",
            r#"{"page_size": 1}"#,
            "-v",
        ],
        None,
    )
    .await;
    run.expect_code(0)
        .expect_stderr(&["Response trailers received:", "x-next-page-token: 1"]);
}

#[tokio::test]
async fn bidi_streaming_chat_line_by_line() {
    let demo = demo().await;
    let mut chat = Interactive::start(&["call", &demo.addr(), "user.UserService/ChatStream"]);
    // Each message comes back (broadcast to the room) before the next is sent.
    for text in ["hello", "anyone?"] {
        chat.send(&json!({"user": "Ada", "text": text}).to_string())
            .await;
        let message = chat.receive().await;
        assert_eq!(message["user"], "Ada");
        assert_eq!(message["text"], text);
        assert!(message["sentAt"].is_string(), "{message}");
    }
    let run = chat.finish().await;
    run.expect_code(0);
}

#[tokio::test]
async fn error_status_with_details_and_exit_code() {
    let demo = demo().await;
    let run = rill(
        &["call", &demo.addr(), "user.UserService/CreateUsers"],
        Some(r#"{"name": "Bob", "email": "not-an-email"}"#),
    )
    .await;
    // 64 + INVALID_ARGUMENT (3).
    run.expect_code(67).expect_stderr(&[
        "Code: INVALID_ARGUMENT (3)",
        "Message: user #0 is invalid",
        "BadRequest:",
        "field \"email\": \"not-an-email\" is not a valid email address",
    ]);
    let run = rill(
        &[
            "call",
            &demo.addr(),
            "user.UserService/GetUser",
            r#"{"id": 7}"#,
        ],
        None,
    )
    .await;
    run.expect_code(69)
        .expect_stderr(&["Code: NOT_FOUND (5)", "Message: user 7 not found"]);
    // -v shows the trailers that came with the status.
    rill(
        &[
            "call",
            &demo.addr(),
            "user.UserService/GetUser",
            r#"{"id": 7}"#,
            "-v",
        ],
        None,
    )
    .await
    .expect_code(69)
    .expect_stderr(&["Response trailers received:\n(empty)\nERROR:"]);
}

#[tokio::test]
async fn deadline_exceeded_exits_68() {
    let demo = demo().await;
    // A chat stream never ends while its input is open: the deadline ends it.
    let chat = Interactive::start(&[
        "call",
        &demo.addr(),
        "user.UserService/ChatStream",
        "--deadline",
        "300ms",
    ]);
    let started = std::time::Instant::now();
    let run = tokio::time::timeout(common::WAIT, async {
        let mut chat = chat;
        // Keep stdin open until rill gives up by itself.
        let run = chat.wait_exit().await;
        drop(chat);
        run
    })
    .await
    .expect("rill exits");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    run.expect_code(68)
        .expect_stderr(&["Code: DEADLINE_EXCEEDED (4)"]);
}

#[tokio::test]
async fn unknown_service_method_and_bad_json() {
    let demo = demo().await;
    let addr = demo.addr();
    rill(&["call", &addr, "user.UserService/Nope", "{}"], None)
        .await
        .expect_code(1)
        .expect_stderr(&[
            "service \"user.UserService\" has no method \"Nope\"",
            "GetUser, ListUsers, CreateUsers, ChatStream",
        ]);
    rill(&["call", &addr, "user.Missing/GetUser", "{}"], None)
        .await
        .expect_code(1)
        .expect_stderr(&["service \"user.Missing\" not found", "user.UserService"]);
    // Syntax and schema errors both point at the place in the input.
    rill(
        &["call", &addr, "user.UserService/CreateUsers"],
        Some("{\"name\": \"a\", \"email\": \"a@b.co\"}\n{\"name\": \"b\",\n  \"email\": tru}\n"),
    )
    .await
    .expect_code(1)
    .expect_stderr(&["bad request JSON in stdin at line 3, column 15: expected ident"]);
    rill(
        &["call", &addr, "user.UserService/GetUser"],
        Some("\n\n  {\"id\": 1, \"nmae\": 2}"),
    )
    .await
    .expect_code(1)
    .expect_stderr(&["bad request JSON in stdin at line 3, column", "nmae"]);
    rill(
        &["call", &addr, "user.UserService/GetUser", r#"{"id": "x"}"#],
        None,
    )
    .await
    .expect_code(1)
    .expect_stderr(&["bad request JSON in the JSON argument at line 1, column"]);
    rill(&["call", &addr, "user.UserService/GetUser", "{} {}"], None)
        .await
        .expect_code(1)
        .expect_stderr(&["takes one request message"]);
}

#[tokio::test]
async fn unreachable_address_and_usage_errors() {
    // A port that was free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    rill(&["call", &addr, "user.UserService/GetUser", "{}"], None)
        .await
        .expect_code(1)
        .expect_stderr(&[&format!("rill: cannot connect to {addr}")]);
    rill(&["health", &addr], None)
        .await
        .expect_code(1)
        .expect_stderr(&["cannot connect"]);
    rill(&["bogus"], None).await.expect_code(2);
    rill(&["call", &addr, "x.Y/Z", "-H", "no-colon"], None)
        .await
        .expect_code(2)
        .expect_stderr(&["expected 'key: value'"]);
    rill(&["call", &addr, "x.Y/Z", "--deadline", "soon"], None)
        .await
        .expect_code(2);
    rill(&["call", &format!("http://{addr}"), "x.Y/Z", "--tls"], None)
        .await
        .expect_code(2);
    let help = rill(&["--help"], None).await;
    help.expect_code(0);
    assert!(
        help.stdout.contains("64 + the gRPC status code"),
        "{}",
        help.describe()
    );
}

#[tokio::test]
async fn health_check_exit_codes() {
    let demo = demo().await;
    let addr = demo.addr();
    let run = rill(&["health", &addr], None).await;
    run.expect_code(0);
    assert_eq!(run.stdout, "SERVING\n");
    rill(&["health", &addr, "user.UserService"], None)
        .await
        .expect_code(0);
    demo.health
        .set_service_status("user.UserService", ServingStatus::NotServing);
    let run = rill(&["health", &addr, "user.UserService"], None).await;
    run.expect_code(3)
        .expect_stderr(&["\"user.UserService\" is NOT_SERVING, not SERVING"]);
    assert_eq!(run.stdout, "NOT_SERVING\n");
    // Unknown service: NOT_FOUND, exit 64 + 5.
    rill(&["health", &addr, "no.Such"], None)
        .await
        .expect_code(69)
        .expect_stderr(&["NOT_FOUND"]);
}

#[tokio::test]
async fn descriptors_from_proto_files() {
    let demo = demo().await;
    let addr = demo.addr();
    let proto_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/user-service/proto");
    let proto = proto_dir.join("user.proto");
    let (proto, dir) = (
        proto.to_str().expect("utf-8"),
        proto_dir.to_str().expect("utf-8"),
    );
    let run = rill(
        &["list", "unused:1", "--proto", proto, "--import-path", dir],
        None,
    )
    .await;
    run.expect_code(0);
    assert_eq!(run.stdout, "user.UserService\n");
    let run = rill(
        &[
            "describe",
            "unused:1",
            "user.GetUserRequest",
            "--proto",
            proto,
        ],
        None,
    )
    .await;
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "user.GetUserRequest is a message:\nmessage GetUserRequest {\n  int32 id = 1;\n}\n"
    );
    let run = rill(
        &[
            "call",
            &addr,
            "user.UserService/CreateUsers",
            "--proto",
            proto,
        ],
        Some(USERS),
    )
    .await;
    run.expect_code(0);
    assert_eq!(
        run.json_lines(),
        [json!({"createdCount": 2, "ids": [1, 2]})]
    );
}

/// A throwaway CA and a server certificate for `localhost` only, and a client certificate.
fn write_pki(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
    let leaf = |name: &str| {
        let params = CertificateParams::new(vec![name.to_string()]).expect("leaf params");
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &ca).expect("sign");
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf("localhost");
    let (client_cert, client_key) = leaf("cli.client.test");
    for (name, pem) in [
        ("ca.pem", ca.pem()),
        ("server.pem", server_cert),
        ("server.key", server_key),
        ("client.pem", client_cert),
        ("client.key", client_key),
    ] {
        std::fs::write(dir.join(name), pem).expect("write pem");
    }
}

#[tokio::test]
async fn mutual_tls_with_ca_cert_key_and_server_name() {
    use rill::tls::{Certificates, Identity, ServerTlsConfig};
    let dir = tempfile::tempdir().expect("temp dir");
    write_pki(dir.path());
    let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_string();
    let tls = ServerTlsConfig::new(
        Identity::from_pem_files(path("server.pem"), path("server.key")).expect("identity"),
    )
    .client_ca(Certificates::from_pem_file(path("ca.pem")).expect("ca"));
    let demo = demo_with(Some(tls)).await;
    let addr = demo.addr();
    let (ca, cert, key) = (path("ca.pem"), path("client.pem"), path("client.key"));
    // The certificate is for localhost: dialing 127.0.0.1 needs --server-name.
    let tls_args = ["--ca", &ca, "--cert", &cert, "--key", &key];
    let mut args = vec!["health", &addr, "--server-name", "localhost"];
    args.extend(tls_args);
    let run = rill(&args, None).await;
    run.expect_code(0);
    assert_eq!(run.stdout, "SERVING\n");
    // https:// targets are TLS without --tls.
    let url = format!("https://localhost:{}", demo.addr.port());
    let mut args = vec!["list", &url];
    args.extend(tls_args);
    rill(&args, None).await.expect_code(0);
    // Without --server-name the name does not match the certificate.
    let mut args = vec!["health", &addr];
    args.extend(tls_args);
    rill(&args, None)
        .await
        .expect_code(1)
        .expect_stderr(&["cannot connect"]);
}

#[tokio::test]
async fn unix_socket_targets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("demo.sock");
    let (_health, health_service) = rill_health::health_reporter();
    let server = Server::builder()
        .add_service(UserServiceServer::new(Users::new(
            Store::open(":memory:").expect("store"),
        )))
        .add_service(health_service)
        .add_service(user_service::reflection().v1());
    let path = socket.clone();
    tokio::spawn(server.serve_unix(path, std::future::pending()));
    // The socket exists once the server has bound it.
    for _ in 0..500 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let target = format!("unix:{}", socket.display());
    let run = rill(&["health", &target], None).await;
    run.expect_code(0);
    let run = rill(
        &["call", &target, "user.UserService/CreateUsers"],
        Some(USERS),
    )
    .await;
    run.expect_code(0);
    assert_eq!(
        run.json_lines(),
        [json!({"createdCount": 2, "ids": [1, 2]})]
    );
}

#[tokio::test]
async fn a_server_without_reflection_needs_proto_files() {
    let (_health, health_service) = rill_health::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    tokio::spawn(
        Server::builder()
            .add_service(health_service)
            .serve_with_listener(listener, std::future::pending()),
    );
    rill(&["list", &addr], None)
        .await
        .expect_code(1)
        .expect_stderr(&[
            "the server does not support reflection",
            "grpc.reflection.v1 and v1alpha are UNIMPLEMENTED",
            "--proto",
        ]);
    // Health needs no reflection.
    rill(&["health", &addr], None).await.expect_code(0);
}
