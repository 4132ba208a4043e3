//! The `rill` binary against a third-party server: Python grpcio with grpcio-reflection (which
//! serves only `grpc.reflection.v1alpha`: rill falls back to it) and grpcio-health-checking
//! (tests/python/lab_server.py serving tests/proto/clitest.proto).
//!
//! Needs the interpreter in `RILL_PYTHON` (scripts/test sets it up with grpcio, grpcio-tools,
//! grpcio-status, grpcio-health-checking, grpcio-reflection). Without it these tests fail,
//! unless `RILL_SKIP_PYTHON=1` says to skip them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{rill, Interactive, WAIT};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The Python interpreter, or `None` when the tests are to be skipped.
fn python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("RILL_PYTHON").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(python));
    }
    if std::env::var("RILL_SKIP_PYTHON").as_deref() == Ok("1") {
        println!("skipped: RILL_SKIP_PYTHON=1");
        return None;
    }
    panic!(
        "RILL_PYTHON is not set: point it at a Python with grpcio, grpcio-tools, grpcio-status, \
         grpcio-health-checking and grpcio-reflection (scripts/test makes one in .venv), or set \
         RILL_SKIP_PYTHON=1 to skip the Python tests"
    );
}

/// lab_server.py, running until dropped (its stdin closes, and it is killed).
struct Lab {
    addr: String,
    _child: Child,
}

impl Lab {
    async fn start(python: &Path) -> Lab {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        let mut child = Command::new(python)
            .arg(dir.join("python/lab_server.py"))
            .arg(dir.join("proto"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("run {}: {e}", python.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("lab_server.py starts in time")
            .expect("read lab_server.py's stdout")
            .expect("lab_server.py printed its port (see its stderr above)");
        let port = line
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Lab {
            addr: format!("127.0.0.1:{port}"),
            _child: child,
        }
    }
}

#[tokio::test]
async fn reflection_v1alpha_fallback_list_describe_and_health() {
    let Some(python) = python() else { return };
    let lab = Lab::start(&python).await;
    let addr = lab.addr.as_str();

    let run = rill(&["list", addr, "-v"], None).await;
    run.expect_code(0)
        .expect_stderr(&["Using server reflection: grpc.reflection.v1alpha.ServerReflection"]);
    assert_eq!(
        run.stdout,
        "clitest.Lab\ngrpc.health.v1.Health\ngrpc.reflection.v1alpha.ServerReflection\n"
    );
    let run = rill(&["list", addr, "clitest.Lab"], None).await;
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "clitest.Lab.Echo\nclitest.Lab.Count\nclitest.Lab.Sum\nclitest.Lab.Chat\n\
         clitest.Lab.Sleep\nclitest.Lab.Fail\n"
    );
    let run = rill(&["describe", addr, "clitest.Lab.Chat"], None).await;
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "clitest.Lab.Chat is a method:\n\
         rpc Chat ( stream .clitest.Sample ) returns ( stream .clitest.Sample );\n"
    );
    let run = rill(&["describe", addr, "clitest.Sample"], None).await;
    run.expect_code(0);
    for line in [
        "  int64 big = 1;",
        "  .google.protobuf.Timestamp at = 5;",
        "  map<string, int32> counts = 10;",
        "  oneof pick {\n    string text = 12;\n    int32 number = 13;\n  }",
    ] {
        assert!(run.stdout.contains(line), "{line:?}: {}", run.describe());
    }
    let run = rill(&["describe", addr, "clitest.Color"], None).await;
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "clitest.Color is an enum:\nenum Color {\n  COLOR_UNSPECIFIED = 0;\n  RED = 1;\n  GREEN = 2;\n}\n"
    );

    let run = rill(&["health", addr], None).await;
    run.expect_code(0);
    assert_eq!(run.stdout, "SERVING\n");
    rill(&["health", addr, "clitest.Lab"], None)
        .await
        .expect_code(0);
    let run = rill(&["health", addr, "clitest.Down"], None).await;
    run.expect_code(3);
    assert_eq!(run.stdout, "NOT_SERVING\n");
    rill(&["health", addr, "clitest.Unknown"], None)
        .await
        .expect_code(69);
}

/// The request with every specially mapped JSON type.
fn sample() -> Value {
    json!({
        "big": "-9007199254740993",
        "ubig": "18446744073709551615",
        "data": "AAECAwQ=",
        "color": "GREEN",
        "at": "2024-02-29T12:34:56.789Z",
        "took": "1.500s",
        "extra": {"list": [1.5, "two", true, null], "nested": {"k": "v"}},
        "maybe": "42",
        "any": {"@type": "type.googleapis.com/clitest.Inner", "note": "packed"},
        "counts": {"a": 1, "b": 2},
        "text": "hi",
        "ratio": 0.25,
        "inner": {"note": "plain"}
    })
}

#[tokio::test]
async fn every_call_type_with_proto3_json_and_metadata() {
    let Some(python) = python() else { return };
    let lab = Lab::start(&python).await;
    let addr = lab.addr.as_str();

    // Unary: grpcio's own JSON of what it received equals what was sent, and the reply
    // prints the same JSON again.
    let request = sample().to_string();
    let run = rill(
        &[
            "call",
            addr,
            "clitest.Lab/Echo",
            &request,
            "-H",
            "x-hello: world",
            "-H",
            "x-blob-bin: AAEC",
            "-v",
        ],
        None,
    )
    .await;
    run.expect_code(0).expect_stderr(&[
        "Using server reflection: grpc.reflection.v1alpha.ServerReflection",
        "Request metadata to send:\nx-hello: world\nx-blob-bin: AAEC\n",
    ]);
    // (in any order within each block)
    let block = |title: &str| -> Vec<String> {
        let start = run
            .stderr
            .find(title)
            .unwrap_or_else(|| panic!("{title}: {}", run.describe()));
        let mut lines: Vec<String> = run.stderr[start + title.len()..]
            .lines()
            .skip(1)
            .take_while(|l| !l.ends_with(':') && !l.starts_with("Received "))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(
        block("Response headers received:"),
        ["x-blob-bin: AAEC", "x-hello: world"]
    );
    assert_eq!(
        block("Response trailers received:"),
        ["x-blob-echo-bin: AAEC", "x-hello-echo: world"]
    );
    let replies = run.json_lines();
    assert_eq!(replies.len(), 1, "{}", run.describe());
    let mut reply = replies[0].clone();
    let seen: Value = serde_json::from_str(reply["seen"].as_str().expect("seen is a string"))
        .expect("the server's JSON");
    assert_eq!(seen, sample(), "grpcio's reading of the request");
    assert_eq!(reply["tags"], json!(["x-hello=world"]));
    let object = reply.as_object_mut().expect("an object");
    object.remove("seen");
    object.remove("tags");
    assert_eq!(reply, sample(), "the reply, printed");

    // Server streaming.
    let run = rill(&["call", addr, "clitest.Lab/Count", r#"{"n": 3}"#], None).await;
    run.expect_code(0);
    assert_eq!(
        run.json_lines(),
        [
            json!({"big": "1"}),
            json!({"big": "2"}),
            json!({"big": "3"})
        ]
    );

    // Client streaming from stdin, several values on a line and one over several lines.
    let run = rill(
        &["call", addr, "clitest.Lab.Sum"],
        Some("{\"big\": \"5\"} {\"big\": 6}\n{\n  \"big\": \"-1\"\n}\n"),
    )
    .await;
    run.expect_code(0);
    assert_eq!(
        run.json_lines(),
        [json!({"big": "10", "tags": ["count=3"]})]
    );

    // Bidi streaming, one line in, one line out.
    let mut chat = Interactive::start(&["call", addr, "clitest.Lab/Chat"]);
    for text in ["one", "two"] {
        chat.send(&json!({"text": text, "big": "1"}).to_string())
            .await;
        assert_eq!(
            chat.receive().await,
            json!({"text": text.to_uppercase(), "big": "1"})
        );
    }
    chat.finish().await.expect_code(0);

    // --emit-defaults prints zero values too.
    let run = rill(
        &[
            "call",
            addr,
            "clitest.Lab/Count",
            r#"{"n": 1}"#,
            "--emit-defaults",
        ],
        None,
    )
    .await;
    run.expect_code(0);
    let first = &run.json_lines()[0];
    assert_eq!(first["big"], "1");
    assert_eq!(first["color"], "COLOR_UNSPECIFIED");
    assert_eq!(first["data"], "");
    assert_eq!(first["tags"], json!([]));
}

#[tokio::test]
async fn any_types_are_fetched_through_reflection() {
    let Some(python) = python() else { return };
    let lab = Lab::start(&python).await;
    let addr = lab.addr.as_str();
    // clitest.extra.Note is not among clitest.proto's imports: rill asks reflection for it,
    // for the request and for the reply.
    let note = json!({"@type": "type.googleapis.com/clitest.extra.Note", "text": "far"});
    let request = json!({ "any": note }).to_string();
    let run = rill(&["call", addr, "clitest.Lab/Echo", &request], None).await;
    run.expect_code(0);
    let reply = &run.json_lines()[0];
    assert_eq!(reply["any"], note, "{}", run.describe());
    let seen: Value = serde_json::from_str(reply["seen"].as_str().expect("seen")).expect("json");
    assert_eq!(seen["any"], note);
    // An Any only the reply holds.
    let run = rill(
        &["call", addr, "clitest.Lab/Echo", r#"{"text": "surprise"}"#],
        None,
    )
    .await;
    run.expect_code(0);
    assert_eq!(
        run.json_lines()[0]["any"],
        json!({"@type": "type.googleapis.com/clitest.extra.Note", "text": "from the server"})
    );
}

#[tokio::test]
async fn errors_deadline_and_details() {
    let Some(python) = python() else { return };
    let lab = Lab::start(&python).await;
    let addr = lab.addr.as_str();

    // grpcio's rich status: both details decoded.
    rill(
        &["call", addr, "clitest.Lab/Fail", r#"{"reason": "why"}"#],
        None,
    )
    .await
    .expect_code(64 + 9)
    .expect_stderr(&[
        "Code: FAILED_PRECONDITION (9)",
        "Message: lab failed",
        "BadRequest:\n      field \"reason\": 'why' is not acceptable",
        "ErrorInfo: reason \"LAB_FAILED\", domain \"clitest.example\"\n      attempt: 1",
    ]);
    let started = std::time::Instant::now();
    rill(
        &[
            "call",
            addr,
            "clitest.Lab/Sleep",
            r#"{"seconds": 20}"#,
            "--max-time",
            "0.3",
        ],
        None,
    )
    .await
    .expect_code(68)
    .expect_stderr(&["DEADLINE_EXCEEDED"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    rill(&["call", addr, "clitest.Lab/Nope", "{}"], None)
        .await
        .expect_code(1)
        .expect_stderr(&["service \"clitest.Lab\" has no method \"Nope\""]);
    rill(
        &["call", addr, "clitest.Lab/Echo", r#"{"color": "PURPLE"}"#],
        None,
    )
    .await
    .expect_code(1)
    .expect_stderr(&["bad request JSON in the JSON argument at line 1, column"]);
    // Any with a type nobody knows.
    rill(
        &[
            "call",
            addr,
            "clitest.Lab/Echo",
            r#"{"any": {"@type": "type.googleapis.com/no.Such"}}"#,
        ],
        None,
    )
    .await
    .expect_code(1)
    .expect_stderr(&["no.Such"]);
}
