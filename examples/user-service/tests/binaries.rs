//! The real `user-server` and `user-client` binaries: a full client run against a server
//! process, graceful shutdown on Ctrl-C (SIGINT), and command-line errors.

mod common;

use std::net::{Ipv4Addr, TcpListener};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{describe, run_client, run_server, ServerProcess};

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// Checks `ChatStream: [MILLIS] Ada: TEXT` with MILLIS in `window`.
fn check_chat_line(line: &str, text: &str, window: std::ops::RangeInclusive<i64>) {
    let rest = line
        .strip_prefix("ChatStream: [")
        .unwrap_or_else(|| panic!("not a chat line: {line:?}"));
    let (millis, said) = rest
        .split_once("] ")
        .unwrap_or_else(|| panic!("not a chat line: {line:?}"));
    let millis: i64 = millis
        .parse()
        .unwrap_or_else(|e| panic!("sent_at in {line:?}: {e}"));
    assert!(
        window.contains(&millis),
        "sent_at of {line:?} not in {window:?}"
    );
    assert_eq!(said, format!("Ada: {text}"));
}

/// The lines of one `user-client` run, given the ids it creates and the users listed before.
fn expected_lines(ids: [i32; 3], listed: &[(i32, &str)]) -> Vec<String> {
    let [first, ..] = ids;
    let mut lines = vec![
        format!("CreateUsers: created 3 users, ids {ids:?}"),
        format!("GetUser({first}): Ada <ada@example.com>"),
        "GetUser(-1): NOT_FOUND: user -1 not found".to_string(),
        "CreateUsers(bad): INVALID_ARGUMENT: email (\"not-an-email\" is not a valid email address)"
            .to_string(),
    ];
    for (id, name) in listed {
        let email = name.to_lowercase();
        lines.push(format!("ListUsers: #{id} {name} <{email}@example.com>"));
    }
    lines
}

async fn run_client_and_check(url: &str, ids: [i32; 3], listed: &[(i32, &str)]) {
    let before = unix_millis();
    let output = run_client(&["--addr", url]).await;
    let after = unix_millis();
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout.clone()).expect("utf-8 stdout");
    let lines: Vec<&str> = stdout.lines().collect();
    let expected = expected_lines(ids, listed);
    let n = expected.len();
    assert_eq!(lines.len(), n + 3, "{}", describe(&output));
    assert_eq!(lines[..n], expected, "{}", describe(&output));
    check_chat_line(lines[n], "hello", before..=after);
    check_chat_line(lines[n + 1], "is anyone there?", before..=after);
    assert_eq!(lines[n + 2], "done");
}

#[tokio::test]
async fn user_client_runs_every_call_against_user_server() {
    let server = ServerProcess::start(":memory:").await;
    let url = server.url();

    let first_run = [(1, "Ada"), (2, "Grace"), (3, "Linus")];
    run_client_and_check(&url, [1, 2, 3], &first_run).await;

    // The server keeps its users between client runs: the second run lists both runs' users.
    let both_runs = [
        (1, "Ada"),
        (2, "Grace"),
        (3, "Linus"),
        (4, "Ada"),
        (5, "Grace"),
        (6, "Linus"),
    ];
    run_client_and_check(&url, [4, 5, 6], &both_runs).await;

    // Ctrl-C: a graceful stop with exit code 0.
    let ended = server.interrupt().await;
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
    assert_eq!(ended.stdout, ["user-server: shutting down"], "{ended:?}");
}

#[tokio::test]
async fn bad_flags_exit_with_code_2_and_usage() {
    const SERVER_USAGE: &str = "usage: user-server [--listen ADDR] [--db PATH]";
    const CLIENT_USAGE: &str = "usage: user-client [--addr URL]";
    // (server?, args, what stderr must say first, whether the usage follows)
    let cases: &[(bool, &[&str], &str, bool)] = &[
        (true, &["--bogus"], "unknown argument \"--bogus\"", true),
        (true, &["extra"], "unknown argument \"extra\"", true),
        (true, &["--listen"], "--listen needs a value", true),
        (true, &["--db"], "--db needs a value", true),
        (
            true,
            &["--db", "x.db", "--listen"],
            "--listen needs a value",
            true,
        ),
        // A malformed address is reported, without the usage.
        (true, &["--listen", "nope"], "bad --listen \"nope\"", false),
        (false, &["--bogus"], "unknown argument \"--bogus\"", true),
        (false, &["--addr"], "--addr needs a value", true),
        (false, &["http://127.0.0.1:1"], "unknown argument", true),
        (
            true,
            &["--auth"],
            "--auth needs a way to authenticate",
            true,
        ),
        (
            true,
            &["--auth-tokens"],
            "--auth-tokens needs a value",
            true,
        ),
        (false, &["--token"], "--token needs a value", true),
        (
            false,
            &["--allow-insecure"],
            "--allow-insecure needs --token",
            true,
        ),
    ];
    for &(server, args, message, usage) in cases {
        let (output, usage_line) = if server {
            (run_server(args).await, SERVER_USAGE)
        } else {
            (run_client(args).await, CLIENT_USAGE)
        };
        let what = format!(
            "{} {args:?}: {}",
            if server { "user-server" } else { "user-client" },
            describe(&output)
        );
        assert_eq!(output.status.code(), Some(2), "{what}");
        assert!(output.stdout.is_empty(), "{what}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with(message), "{what}");
        assert_eq!(stderr.contains(usage_line), usage, "{what}");
    }
}

#[tokio::test]
async fn runtime_failures_exit_with_code_1() {
    // A port that stays taken for the whole test: ours.
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let taken = taken.local_addr().expect("address").to_string();
    let missing_dir = tempfile::tempdir().expect("temp dir");
    let db_in_missing_dir = missing_dir.path().join("no-such-dir").join("users.db");
    let db_in_missing_dir = db_in_missing_dir.to_str().expect("utf-8 path");

    let server_cases: [(&[&str], &str); 2] = [
        (
            &["--db", ":memory:", "--listen", &taken],
            "user-server: cannot listen on ",
        ),
        (
            &["--db", db_in_missing_dir, "--listen", "127.0.0.1:0"],
            "user-server: cannot open ",
        ),
    ];
    for (args, message) in server_cases {
        let output = run_server(args).await;
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            describe(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with(message),
            "{args:?}: {}",
            describe(&output)
        );
    }

    // Connecting to port 0 is refused at once; an unknown scheme never gets that far.
    for url in ["http://127.0.0.1:0", "ftp://127.0.0.1:1"] {
        let output = run_client(&["--addr", url]).await;
        assert_eq!(
            output.status.code(),
            Some(1),
            "{url}: {}",
            describe(&output)
        );
        assert!(output.stdout.is_empty(), "{url}: {}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with("user-client: "),
            "{url}: {}",
            describe(&output)
        );
    }
}

/// Writes a throwaway CA, server and client certificate (PEM) into `dir`.
fn write_pki(dir: &std::path::Path) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
    let leaf = |names: &[&str]| {
        let params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("leaf params");
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &ca).expect("sign");
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(&["localhost", "127.0.0.1"]);
    let (client_cert, client_key) = leaf(&["admin.client.test"]);
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
async fn user_client_and_server_over_mtls() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_pki(dir.path());
    let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_string();
    let (cert, key, ca) = (path("server.pem"), path("server.key"), path("ca.pem"));
    let server = ServerProcess::start_with(
        ":memory:",
        &["--tls-cert", &cert, "--tls-key", &key, "--client-ca", &ca],
    )
    .await;
    let url = format!("https://{}", server.addr);
    let (client_cert, client_key) = (path("client.pem"), path("client.key"));
    let ok = run_client(&[
        "--addr",
        &url,
        "--ca",
        &ca,
        "--cert",
        &client_cert,
        "--key",
        &client_key,
    ])
    .await;
    assert_eq!(ok.status.code(), Some(0), "{}", describe(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("GetUser(1): Ada"));
    // Without a client certificate the server refuses the connection.
    let refused = run_client(&["--addr", &url, "--ca", &ca]).await;
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    // Plaintext against the TLS port fails too.
    let plain = run_client(&["--addr", &format!("http://{}", server.addr)]).await;
    assert_eq!(plain.status.code(), Some(1), "{}", describe(&plain));
    server.kill().await;
}

/// `user-client` with `args` against `url`: (exit code, stdout, stderr).
async fn client_run(args: &[&str]) -> (Option<i32>, String, String) {
    let output = run_client(args).await;
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn with_auth_only_the_admin_may_create_users() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_pki(dir.path());
    let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_string();
    std::fs::write(
        dir.path().join("tokens"),
        "# TOKEN SUBJECT\nadmin-t0ken admin\nreader-t0ken reader\n",
    )
    .expect("write tokens");
    let (cert, key, ca, tokens) = (
        path("server.pem"),
        path("server.key"),
        path("ca.pem"),
        path("tokens"),
    );
    let server = ServerProcess::start_with(
        ":memory:",
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--auth-tokens",
            &tokens,
        ],
    )
    .await;
    let url = format!("https://{}", server.addr);
    let tls = ["--addr", url.as_str(), "--ca", ca.as_str()];
    // (token, exit code, what the output must contain)
    let cases: &[(Option<&str>, i32, &str)] = &[
        (Some("admin-t0ken"), 0, "CreateUsers: created 3 users"),
        (Some("reader-t0ken"), 1, "PERMISSION_DENIED"),
        (
            Some("reader-t0ken"),
            1,
            "subject \\\"reader\\\" may not call /user.UserService/CreateUsers",
        ),
        (Some("forged"), 1, "UNAUTHENTICATED"),
        (None, 1, "UNAUTHENTICATED"),
        (None, 1, "carried no credentials"),
    ];
    for &(token, code, needle) in cases {
        let mut args = tls.to_vec();
        if let Some(token) = token {
            args.extend(["--token", token]);
        }
        let (got, stdout, stderr) = client_run(&args).await;
        assert_eq!(got, Some(code), "{token:?}: {stdout}{stderr}");
        assert!(
            stdout.contains(needle) || stderr.contains(needle),
            "{token:?}: want {needle:?} in\n{stdout}{stderr}"
        );
    }

    // The reader may read what the admin created.
    let channel = rill::Channel::builder(&url)
        .tls_config(
            rill::tls::ClientTlsConfig::new()
                .ca_certificates(rill::tls::Certificates::from_pem_file(&ca).expect("ca")),
        )
        .connect_lazy()
        .expect("channel");
    let reader = user_service::pb::user_service_client::UserServiceClient::new(
        rill::Client::new(channel.clone()).layer(rill::auth::BearerToken::new("reader-t0ken")),
    );
    let user = reader
        .get_user(user_service::pb::GetUserRequest { id: 1 })
        .await
        .expect("reader may GetUser")
        .into_inner();
    assert_eq!(user.name, "Ada");

    // Health probes need no identity, even with --auth.
    let health = rill_health::pb::health_client::HealthClient::new(rill::Client::new(channel));
    let reply = health
        .check(rill_health::pb::HealthCheckRequest::default())
        .await
        .expect("anonymous health check")
        .into_inner();
    assert_eq!(reply.status, rill_health::ServingStatus::Serving as i32);
    server.kill().await;
}

#[tokio::test]
async fn tokens_stay_off_plaintext_unless_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "admin-t0ken admin\n").expect("write tokens");
    let tokens = tokens.to_str().expect("utf-8");
    let server = ServerProcess::start_with(":memory:", &["--auth-tokens", tokens]).await;
    let url = server.url();
    let (code, stdout, stderr) = client_run(&["--addr", &url, "--token", "admin-t0ken"]).await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.starts_with("user-client: ") && stderr.contains("plaintext"),
        "{stderr}"
    );
    let (code, stdout, stderr) =
        client_run(&["--addr", &url, "--token", "admin-t0ken", "--allow-insecure"]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let ended = server.kill().await;
    assert!(
        ended
            .stderr
            .contains("warning: bearer tokens over plaintext"),
        "{ended:?}"
    );
}

#[tokio::test]
async fn with_auth_client_certificates_are_identities() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_pki(dir.path());
    let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_string();
    let (cert, key, ca) = (path("server.pem"), path("server.key"), path("ca.pem"));
    let (client_cert, client_key) = (path("client.pem"), path("client.key"));
    // The client certificate's SAN is admin.client.test: the admin only when named so.
    let cases = [
        ("admin.client.test", 0, "CreateUsers: created 3 users"),
        ("admin", 1, "PERMISSION_DENIED"),
    ];
    for (admin, code, needle) in cases {
        let server = ServerProcess::start_with(
            ":memory:",
            &[
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
                "--client-ca",
                &ca,
                "--auth",
                "--admin",
                admin,
            ],
        )
        .await;
        let url = format!("https://{}", server.addr);
        let (got, stdout, stderr) = client_run(&[
            "--addr",
            &url,
            "--ca",
            &ca,
            "--cert",
            &client_cert,
            "--key",
            &client_key,
        ])
        .await;
        assert_eq!(got, Some(code), "--admin {admin}: {stdout}{stderr}");
        assert!(
            stdout.contains(needle) || stderr.contains(needle),
            "--admin {admin}: want {needle:?} in\n{stdout}{stderr}"
        );
        server.kill().await;
    }
}
