//! `user-client`: exercises all four UserService calls against a running `user-server`.
//!
//! Usage: `user-client [--addr URL]` (default `http://127.0.0.1:50051`), plus TLS flags and
//! `--token TOKEN` for a server started with auth (see `--help`).

use std::time::Duration;

use rill::auth::BearerToken;
use rill::tls::{Certificates, ClientTlsConfig, Identity};
use rill::{Code, Request};
use user_service::pb::user_service_client::UserServiceClient;
use user_service::pb::{ChatMessage, CreateUserRequest, GetUserRequest, ListUsersRequest};
use user_service::service::NEXT_PAGE_TOKEN;

const USAGE: &str = "usage: user-client [--addr URL] [--ca PEM [--cert PEM --key PEM]] [--token TOKEN [--allow-insecure]]
  --addr URL        server address (default http://127.0.0.1:50051)
  --ca PEM          speak TLS, trusting this CA (https:// addresses use the system roots)
  --cert PEM        client certificate for mTLS (needs --key)
  --key PEM         the client certificate's private key
  --token TOKEN     send this bearer token with every call (over TLS only)
  --allow-insecure  send the token over plaintext too (anyone on the path can read it)";

struct Args {
    addr: String,
    ca: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    token: Option<String>,
    allow_insecure: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "http://127.0.0.1:50051".to_string(),
        ca: None,
        cert: None,
        key: None,
        token: None,
        allow_insecure: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--addr" => args.addr = value()?,
            "--ca" => args.ca = Some(value()?),
            "--cert" => args.cert = Some(value()?),
            "--key" => args.key = Some(value()?),
            "--token" => args.token = Some(value()?),
            "--allow-insecure" => args.allow_insecure = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if args.cert.is_some() != args.key.is_some() {
        return Err(format!("--cert and --key go together\n{USAGE}"));
    }
    if args.allow_insecure && args.token.is_none() {
        return Err(format!("--allow-insecure needs --token\n{USAGE}"));
    }
    Ok(args)
}

/// The channel the flags describe: plaintext, TLS with a given CA, or mTLS.
async fn channel(args: &Args) -> Result<rill::Channel, Box<dyn std::error::Error>> {
    let mut endpoint = rill::Channel::builder(&args.addr);
    if let Some(ca) = &args.ca {
        let mut tls = ClientTlsConfig::new().ca_certificates(Certificates::from_pem_file(ca)?);
        if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
            tls = tls.identity(Identity::from_pem_files(cert, key)?);
        }
        endpoint = endpoint.tls_config(tls);
    }
    Ok(endpoint.connect().await?)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(m) => {
            eprintln!("{m}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args).await {
        eprintln!("user-client: {e}");
        std::process::exit(1);
    }
}

async fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut client = rill::Client::new(channel(args).await?);
    if let Some(token) = &args.token {
        client = client.layer(BearerToken::new(token).allow_insecure(args.allow_insecure));
    }
    let client = UserServiceClient::new(client).timeout(Duration::from_secs(10));

    // Client streaming: create three users in one call.
    let people = [
        ("Ada", "ada@example.com"),
        ("Grace", "grace@example.com"),
        ("Linus", "linus@example.com"),
    ];
    let requests = people.map(|(name, email)| CreateUserRequest {
        name: name.into(),
        email: email.into(),
    });
    let created = client
        .create_users(futures_util::stream::iter(requests))
        .await?
        .into_inner();
    println!(
        "CreateUsers: created {} users, ids {:?}",
        created.created_count, created.ids
    );

    // Unary: fetch the first one back, then a missing one.
    let id = created.ids.first().copied().unwrap_or(1);
    let user = client.get_user(GetUserRequest { id }).await?.into_inner();
    println!("GetUser({id}): {} <{}>", user.name, user.email);
    match client.get_user(GetUserRequest { id: -1 }).await {
        Err(status) if status.code() == Code::NotFound => {
            println!("GetUser(-1): NOT_FOUND: {}", status.message())
        }
        other => return Err(format!("GetUser(-1) should be NOT_FOUND, got {other:?}").into()),
    }

    // A bad email is INVALID_ARGUMENT with a field violation.
    let bad = [CreateUserRequest {
        name: "Bob".into(),
        email: "not-an-email".into(),
    }];
    match client.create_users(futures_util::stream::iter(bad)).await {
        Err(status) => {
            let details = status.error_details()?;
            for v in details
                .bad_request()
                .map(|b| b.field_violations.as_slice())
                .unwrap_or(&[])
            {
                println!(
                    "CreateUsers(bad): {}: {} ({})",
                    status.code(),
                    v.field,
                    v.description
                );
            }
        }
        Ok(_) => return Err("CreateUsers with a bad email should fail".into()),
    }

    // Server streaming: list every user, two per page.
    let mut token = String::new();
    loop {
        let request = ListUsersRequest {
            page_size: 2,
            page_token: token.clone(),
        };
        let mut page = client.list_users(request).await?.into_inner();
        while let Some(user) = page.message().await? {
            println!("ListUsers: #{} {} <{}>", user.id, user.name, user.email);
        }
        match page.trailers().and_then(|t| t.get(NEXT_PAGE_TOKEN)) {
            Some(next) => token = next.to_string(),
            None => break,
        }
    }

    // Bidirectional streaming: say hello in the chat room and read our own broadcast back.
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let outbound = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut request = Request::new(outbound);
    request.metadata_mut().insert("x-chat-user", &user.name)?;
    let mut chat = client.chat_stream(request).await?.into_inner();
    for text in ["hello", "is anyone there?"] {
        tx.send(ChatMessage {
            user: user.name.clone(),
            text: text.into(),
            sent_at: 0,
        })
        .await?;
        if let Some(echo) = chat.message().await? {
            println!(
                "ChatStream: [{}] {}: {}",
                echo.sent_at, echo.user, echo.text
            );
        }
    }
    drop(tx);
    while chat.message().await?.is_some() {}
    println!("done");
    Ok(())
}
