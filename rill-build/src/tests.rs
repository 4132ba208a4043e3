//! End-to-end tests of the builder: compile protos written to a temporary directory and look
//! at the generated text (whitespace-insensitively, since prost-build reformats it).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use prost::Message as _;

use crate::{configure, Error};

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rill-build-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(dir.join("out")).expect("create temp dir");
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create proto dir");
        }
        std::fs::write(&path, text).expect("write proto");
        path
    }

    fn out(&self) -> PathBuf {
        self.0.join("out")
    }

    fn read_out(&self, file: &str) -> String {
        std::fs::read_to_string(self.out().join(file)).expect("generated file")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Compiles `protos` (relative to the temp dir, which is the include dir) into `dir/out`.
fn compile(dir: &TempDir, protos: &[&str]) -> Result<(), Error> {
    let protos: Vec<PathBuf> = protos.iter().map(|p| dir.0.join(p)).collect();
    configure()
        .out_dir(dir.out())
        .emit_rerun_if_changed(false)
        .compile(&protos, &[&dir.0])
}

/// Drops whitespace and trailing commas, which prettyplease adds or removes at will.
fn squash(text: &str) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    for close in [")", ">", "}", "]"] {
        out = out.replace(&format!(",{close}"), close);
    }
    out
}

#[track_caller]
fn assert_has(generated: &str, expected: &[&str]) {
    let squashed = squash(generated);
    for item in expected {
        assert!(
            squashed.contains(&squash(item)),
            "generated code lacks `{item}`:\n{generated}"
        );
    }
}

const USER_PROTO: &str = r#"
syntax = "proto3";
package user;

import "google/protobuf/empty.proto";

message GetUserRequest { string id = 1; }
message User { string id = 1; string name = 2; }
message ListUsersRequest { uint32 limit = 1; }
message CreateUserRequest { string name = 1; }
message CreateUsersResponse { repeated User users = 1; }
message ChatMessage { string text = 1; }

// Manages users.
//
// Example:
//
//     let x = UserService::new();
//
// ```
// assert!(false);
// ```
service UserService {
  // Gets one user by [id].
  rpc GetUser(GetUserRequest) returns (User);
  // Lists users, one message each.
  rpc ListUsers(ListUsersRequest) returns (stream User);
  rpc CreateUsers(stream CreateUserRequest) returns (CreateUsersResponse); // Creates many.
  rpc ChatStream(stream ChatMessage) returns (stream ChatMessage);
  rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty) {
    option deprecated = true;
  }
}
"#;

#[test]
fn generates_server_and_client_for_every_kind_of_method() {
    let dir = TempDir::new();
    dir.write("user.proto", USER_PROTO);
    compile(&dir, &["user.proto"]).expect("compiles");
    let code = dir.read_out("user.rs");
    assert_has(
        &code,
        &[
            // prost messages are still there.
            "pub struct GetUserRequest",
            // Server.
            "pub mod user_service_server {",
            "pub trait UserService: ::core::marker::Send + ::core::marker::Sync + 'static {",
            "fn get_user(&self, request: ::rill::Request<super::GetUserRequest>) \
             -> impl ::core::future::Future<Output = ::core::result::Result<\
             ::rill::Response<super::User>, ::rill::Status>> + ::core::marker::Send {",
            "::rill::Status::unimplemented(\"user.UserService/GetUser is not implemented\")",
            "fn list_users(&self, request: ::rill::Request<super::ListUsersRequest>) \
             -> impl ::core::future::Future<Output = ::core::result::Result<\
             ::rill::Response<::rill::BoxStream<super::User>>, ::rill::Status>>",
            "fn create_users(&self, request: ::rill::Request<::rill::Streaming<\
             super::CreateUserRequest>>) -> impl ::core::future::Future<Output = \
             ::core::result::Result<::rill::Response<super::CreateUsersResponse>, ::rill::Status>>",
            "fn chat_stream(&self, request: ::rill::Request<::rill::Streaming<super::ChatMessage>>) \
             -> impl ::core::future::Future<Output = ::core::result::Result<\
             ::rill::Response<::rill::BoxStream<super::ChatMessage>>, ::rill::Status>>",
            "fn ping(&self, request: ::rill::Request<()>)",
            "pub struct UserServiceServer<T> {",
            "pub fn new(inner: T) -> Self",
            "pub const fn from_arc(inner: ::std::sync::Arc<T>) -> Self",
            "impl<T> ::core::clone::Clone for UserServiceServer<T>",
            "pub const SERVICE_NAME: &str = \"user.UserService\";",
            "impl<T> ::rill::server::NamedService for UserServiceServer<T> { \
             const NAME: &'static str = SERVICE_NAME; }",
            "impl<T: UserService> ::rill::server::Service for UserServiceServer<T>",
            "::rill::server::Method::unary(\"GetUser\", move |request: \
             ::rill::Request<super::GetUserRequest>|",
            "<T as UserService>::get_user(&svc, request).await",
            "::rill::server::Method::server_streaming(\"ListUsers\"",
            "::rill::server::Method::client_streaming(\"CreateUsers\"",
            "::rill::server::Method::streaming(\"ChatStream\"",
            // Client.
            "pub mod user_service_client {",
            "#[derive(Clone, Debug)] pub struct UserServiceClient { inner: ::rill::Client, }",
            "pub fn new(client: impl ::core::convert::Into<::rill::Client>) -> Self",
            "pub async fn connect(target: &str) -> ::core::result::Result<Self, ::rill::Error>",
            "pub fn send_compressed(self, encoding: ::rill::compression::CompressionEncoding)",
            "pub fn timeout(self, timeout: ::core::time::Duration) -> Self",
            "pub const fn client(&self) -> &::rill::Client",
            "pub async fn get_user(&self, request: impl ::rill::IntoRequest<super::GetUserRequest>) \
             -> ::core::result::Result<::rill::Response<super::User>, ::rill::Status> {\
             self.inner.unary(\"/user.UserService/GetUser\", \
             ::rill::IntoRequest::into_request(request)).await }",
            "pub async fn list_users(&self, request: impl ::rill::IntoRequest<super::ListUsersRequest>) \
             -> ::core::result::Result<::rill::Response<::rill::Streaming<super::User>>, ::rill::Status> {\
             self.inner.server_streaming(\"/user.UserService/ListUsers\"",
            "pub async fn create_users(&self, request: impl ::rill::IntoStreamingRequest<Message = \
             super::CreateUserRequest>) -> ::core::result::Result<\
             ::rill::Response<super::CreateUsersResponse>, ::rill::Status> {\
             self.inner.client_streaming(\"/user.UserService/CreateUsers\", \
             ::rill::IntoStreamingRequest::into_streaming_request(request)).await }",
            "pub async fn chat_stream(&self, request: impl ::rill::IntoStreamingRequest<Message = \
             super::ChatMessage>) -> ::core::result::Result<\
             ::rill::Response<::rill::Streaming<super::ChatMessage>>, ::rill::Status> {\
             self.inner.streaming(\"/user.UserService/ChatStream\"",
            "#[deprecated] pub async fn ping(",
        ],
    );
}

#[test]
fn proto_comments_become_safe_docs() {
    let dir = TempDir::new();
    dir.write("user.proto", USER_PROTO);
    compile(&dir, &["user.proto"]).expect("compiles");
    let code = dir.read_out("user.rs");
    let docs: Vec<&str> = code
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("///") || l.starts_with("#[doc"))
        .collect();
    let text = docs.join("\n");
    for expected in [
        "/// Manages users.",
        "/// Server side of `user.UserService`.",
        "/// Client side of `user.UserService`.",
        "/// Gets one user by \\[id\\].",
        "/// Lists users, one message each.",
        "/// Creates many.",
        "/// Handles unary `GetUser` calls; by default answers `UNIMPLEMENTED`.",
        "/// Calls the server-streaming `ListUsers` method (`/user.UserService/ListUsers`).",
        "/// # Errors",
        // The indented example keeps at most 3 spaces and the fence is a text block.
        "///    let x = UserService::new();",
        "/// ```text",
    ] {
        assert!(text.contains(expected), "docs lack {expected:?}:\n{text}");
    }
    // Outside fences no line is indented enough for a code block, and every fence that opens
    // is a `text` block.
    let mut in_fence = false;
    for line in &docs {
        if line.starts_with("/// ```") {
            assert!(in_fence || *line == "/// ```text", "rust fence: {line}");
            in_fence = !in_fence;
        } else {
            assert!(
                in_fence || !line.starts_with("///     "),
                "indented: {line}"
            );
        }
    }
    assert!(!in_fence, "unclosed fence:\n{text}");
}

#[test]
fn nested_packages_and_cross_package_types() {
    let dir = TempDir::new();
    dir.write(
        "acme/common/ids.proto",
        "syntax = \"proto3\";\npackage acme.common;\nmessage Id { string value = 1; }\n",
    );
    dir.write(
        "acme/admin/v1/admin.proto",
        r#"syntax = "proto3";
package acme.admin.v1;
import "acme/common/ids.proto";
message Account { acme.common.Id id = 1; }
service AdminService {
  rpc GetAccount(acme.common.Id) returns (Account);
}
"#,
    );
    compile(&dir, &["acme/admin/v1/admin.proto"]).expect("compiles");
    // One file per package, named after it.
    let common = dir.read_out("acme.common.rs");
    assert_has(&common, &["pub struct Id"]);
    assert!(!common.contains("_server"), "no service in acme.common");
    let admin = dir.read_out("acme.admin.v1.rs");
    assert_has(
        &admin,
        &[
            "pub mod admin_service_server",
            "fn get_account(&self, request: ::rill::Request<super::super::super::common::Id>)",
            "::rill::Response<super::Account>",
            "pub const SERVICE_NAME: &str = \"acme.admin.v1.AdminService\";",
            "self.inner.unary(\"/acme.admin.v1.AdminService/GetAccount\"",
        ],
    );
}

#[test]
fn keyword_and_clashing_method_names() {
    let dir = TempDir::new();
    dir.write(
        "kw.proto",
        r#"syntax = "proto3";
package kw;
message M {}
service Type {
  rpc Type(M) returns (M);
  rpc Connect(M) returns (M);
  rpc Self(M) returns (M);
  rpc getHTTPStatus(M) returns (M);
}
"#,
    );
    compile(&dir, &["kw.proto"]).expect("compiles");
    let code = dir.read_out("kw.rs");
    assert_has(
        &code,
        &[
            "pub mod type_server",
            "pub mod type_client",
            "fn r#type(&self, request: ::rill::Request<super::M>)",
            "<T as Type>::r#type(&svc, request)",
            "::rill::server::Method::unary(\"Type\"",
            "pub async fn r#type(&self",
            "\"/kw.Type/Type\"",
            // The server trait keeps the plain name; the client avoids its `connect` helper.
            "fn connect(&self, request: ::rill::Request<super::M>)",
            "pub async fn connect_rpc(&self",
            "\"/kw.Type/Connect\"",
            "fn self_(&self",
            "fn get_http_status(&self",
            "\"/kw.Type/getHTTPStatus\"",
        ],
    );
}

#[test]
fn service_without_package_and_only_a_server() {
    let dir = TempDir::new();
    dir.write(
        "greeter.proto",
        "syntax = \"proto3\";\nmessage Hi {}\nservice Greeter { rpc SayHi(Hi) returns (Hi); }\n",
    );
    let proto = dir.0.join("greeter.proto");
    configure()
        .out_dir(dir.out())
        .emit_rerun_if_changed(false)
        .build_client(false)
        .type_attribute(".Hi", "#[derive(Eq, Hash)]")
        .compile(&[proto], &[&dir.0])
        .expect("compiles");
    let code = dir.read_out("_.rs");
    assert_has(
        &code,
        &[
            "#[derive(Eq, Hash)]",
            "pub mod greeter_server",
            "pub const SERVICE_NAME: &str = \"Greeter\";",
            "fn say_hi(&self, request: ::rill::Request<super::Hi>)",
        ],
    );
    assert!(!code.contains("greeter_client"), "client disabled:\n{code}");
}

#[test]
fn writes_the_file_descriptor_set() {
    let dir = TempDir::new();
    dir.write("user.proto", USER_PROTO);
    let fds_path = dir.out().join("descriptor.bin");
    configure()
        .out_dir(dir.out())
        .emit_rerun_if_changed(false)
        .file_descriptor_set_path(&fds_path)
        .compile(&[dir.0.join("user.proto")], &[&dir.0])
        .expect("compiles");
    let bytes = std::fs::read(&fds_path).expect("descriptor set written");
    let fds = prost_types::FileDescriptorSet::decode(bytes.as_slice()).expect("decodes");
    let user = fds
        .file
        .iter()
        .find(|f| f.name() == "user.proto")
        .expect("user.proto in the set");
    assert_eq!(user.service[0].name(), "UserService");
    assert!(
        user.source_code_info.is_some(),
        "keeps comments for reflection"
    );
    // Imports are included so the set is self-contained.
    assert!(fds
        .file
        .iter()
        .any(|f| f.name() == "google/protobuf/empty.proto"));
}

#[test]
fn bad_protos_give_errors() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "syntax",
            "syntax = \"proto3\";\npackage p;\nmessage A { string a = 1 }\n",
            &["cannot compile .proto files", "bad.proto:3:"],
        ),
        (
            "missing import",
            "syntax = \"proto3\";\nimport \"nope/missing.proto\";\n",
            &["nope/missing.proto", "not found"],
        ),
        (
            "unknown type",
            "syntax = \"proto3\";\nservice S { rpc A(Missing) returns (Missing); }\n",
            &["bad.proto", "Missing"],
        ),
    ];
    for (name, proto, expected) in cases {
        let dir = TempDir::new();
        dir.write("bad.proto", proto);
        let err = compile(&dir, &["bad.proto"]).expect_err(name);
        assert!(matches!(err, Error::Proto(_)), "{name}: {err:?}");
        let shown = err.to_string();
        for part in *expected {
            assert!(shown.contains(part), "{name}: {shown:?} lacks {part:?}");
        }
    }
}

#[test]
fn proto_outside_the_includes_is_an_error() {
    let dir = TempDir::new();
    let other = TempDir::new();
    let proto = other.write("a.proto", "syntax = \"proto3\";\n");
    let err = configure()
        .out_dir(dir.out())
        .emit_rerun_if_changed(false)
        .compile(&[proto], &[&dir.0])
        .expect_err("not in includes");
    assert!(matches!(err, Error::Proto(_)), "{err:?}");
}

#[test]
fn io_failures_are_errors() {
    let dir = TempDir::new();
    dir.write(
        "ok.proto",
        "syntax = \"proto3\";\npackage ok;\nmessage A {}\n",
    );
    let proto = [dir.0.join("ok.proto")];
    let missing = dir.0.join("no/such/dir");

    let err = configure()
        .out_dir(&missing)
        .emit_rerun_if_changed(false)
        .compile(&proto, &[&dir.0])
        .expect_err("out dir missing");
    assert!(matches!(err, Error::Codegen(_)), "{err:?}");

    let err = configure()
        .out_dir(dir.out())
        .emit_rerun_if_changed(false)
        .file_descriptor_set_path(missing.join("fds.bin"))
        .compile(&proto, &[&dir.0])
        .expect_err("descriptor dir missing");
    assert!(
        matches!(&err, Error::DescriptorSet { path, .. } if path.ends_with("fds.bin")),
        "{err:?}"
    );
}

#[test]
fn rerun_paths_are_the_files_read() {
    // `compile` prints them; check the list it prints instead of capturing stdout.
    let dir = TempDir::new();
    dir.write(
        "dep.proto",
        "syntax = \"proto3\";\npackage dep;\nmessage D {}\n",
    );
    dir.write(
        "main.proto",
        "syntax = \"proto3\";\npackage m;\nimport \"dep.proto\";\nimport \"google/protobuf/empty.proto\";\n",
    );
    let mut compiler = protox::Compiler::new([&dir.0]).expect("compiler");
    compiler.open_file(dir.0.join("main.proto")).expect("opens");
    let paths: Vec<&Path> = crate::files_read(&compiler).collect();
    assert_eq!(paths, [dir.0.join("dep.proto"), dir.0.join("main.proto")]);
}

/// Decodes a descriptor set file written beside the generated code; returns its file names.
fn descriptor_files(dir: &TempDir, name: &str) -> Vec<String> {
    let bytes = std::fs::read(dir.out().join(name)).expect("descriptor set written");
    let fds = prost_types::FileDescriptorSet::decode(bytes.as_slice()).expect("decodes");
    fds.file.iter().map(|f| f.name().to_owned()).collect()
}

#[test]
fn packages_with_services_embed_their_descriptor_set() {
    let dir = TempDir::new();
    dir.write("user.proto", USER_PROTO);
    compile(&dir, &["user.proto"]).expect("compiles");
    let code = dir.read_out("user.rs");
    // Included relative to the generated file, so any out_dir works.
    assert_has(
        &code,
        &["pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(\"user_descriptor.bin\");"],
    );
    assert!(
        code.contains("/// The encoded `google.protobuf.FileDescriptorSet` of package `user`"),
        "documented:\n{code}"
    );
    // The package's file and its imports, imports first.
    assert_eq!(
        descriptor_files(&dir, "user_descriptor.bin"),
        ["google/protobuf/empty.proto", "user.proto"]
    );
}

#[test]
fn descriptor_sets_hold_transitive_imports_of_the_package_only() {
    let dir = TempDir::new();
    dir.write(
        "base.proto",
        "syntax = \"proto3\";\npackage base;\nmessage B {}\n",
    );
    dir.write(
        "common.proto",
        "syntax = \"proto3\";\npackage common;\nimport \"base.proto\";\nmessage C { base.B b = 1; }\n",
    );
    dir.write(
        "other.proto",
        "syntax = \"proto3\";\npackage other;\nmessage O {}\nservice OtherService { rpc Get(O) returns (O); }\n",
    );
    dir.write(
        "api/one.proto",
        "syntax = \"proto3\";\npackage api;\nimport \"common.proto\";\nservice One { rpc Get(common.C) returns (common.C); }\n",
    );
    dir.write(
        "api/two.proto",
        "syntax = \"proto3\";\npackage api;\nimport \"other.proto\";\nmessage Two { other.O o = 1; }\n",
    );
    compile(&dir, &["api/one.proto", "api/two.proto"]).expect("compiles");
    let mut api = descriptor_files(&dir, "api_descriptor.bin");
    api.sort();
    assert_eq!(
        api,
        [
            "api/one.proto",
            "api/two.proto",
            "base.proto",
            "common.proto",
            "other.proto"
        ]
    );
    assert_eq!(
        descriptor_files(&dir, "other_descriptor.bin"),
        ["other.proto"]
    );
    assert_has(
        &dir.read_out("other.rs"),
        &["include_bytes!(\"other_descriptor.bin\")"],
    );
    // Packages without services get no constant.
    for (package, file) in [("common", "common.rs"), ("base", "base.rs")] {
        assert!(
            !dir.read_out(file).contains("FILE_DESCRIPTOR_SET"),
            "{package} has no service"
        );
        assert!(!dir.out().join(format!("{package}_descriptor.bin")).exists());
    }
}

#[test]
fn descriptor_set_constant_can_be_turned_off() {
    let dir = TempDir::new();
    dir.write("user.proto", USER_PROTO);
    configure()
        .out_dir(dir.out())
        .emit_rerun_if_changed(false)
        .file_descriptor_set_const(false)
        .compile(&[dir.0.join("user.proto")], &[&dir.0])
        .expect("compiles");
    assert!(!dir.read_out("user.rs").contains("FILE_DESCRIPTOR_SET"));
    assert!(!dir.out().join("user_descriptor.bin").exists());
}

#[test]
fn descriptor_set_is_rewritten_only_when_it_changes() {
    let dir = TempDir::new();
    dir.write("user.proto", USER_PROTO);
    compile(&dir, &["user.proto"]).expect("compiles");
    let path = dir.out().join("user_descriptor.bin");
    let first = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    std::thread::sleep(std::time::Duration::from_millis(20));
    compile(&dir, &["user.proto"]).expect("compiles again");
    let second = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(first, second, "unchanged set left alone");
}
