//! `user-server`: serves UserService on SQLite.
//!
//! Usage: `user-server [--listen ADDR] [--db PATH]` (defaults `127.0.0.1:50051`, `users.db`;
//! `--db :memory:` keeps nothing). Stops gracefully on Ctrl-C (open calls get 5 s; a second
//! Ctrl-C exits at once).

use std::net::SocketAddr;
use std::time::Duration;

use rill::server::Server;
use user_service::pb::user_service_server::UserServiceServer;
use user_service::{Store, Users};

const USAGE: &str = "usage: user-server [--listen ADDR] [--db PATH]
  --listen ADDR  address to serve on (default 127.0.0.1:50051)
  --db PATH      SQLite database file (default users.db; :memory: for none)";

struct Args {
    listen: SocketAddr,
    db: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: "127.0.0.1:50051".parse().map_err(|e| format!("{e}"))?,
        db: "users.db".to_string(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                args.listen = v.parse().map_err(|e| format!("bad --listen {v:?}: {e}"))?;
            }
            "--db" => args.db = value()?,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let store = match Store::open(&args.db) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("user-server: cannot open {}: {e}", args.db);
            std::process::exit(1);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("user-server: cannot listen on {}: {e}", args.listen);
            std::process::exit(1);
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!("user-server listening on {addr} (db: {})", args.db);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        println!("user-server: shutting down");
        // A second Ctrl-C does not wait for the grace period.
        tokio::spawn(async {
            let _ = tokio::signal::ctrl_c().await;
            std::process::exit(130);
        });
    };
    let result = Server::builder()
        .add_service(UserServiceServer::new(Users::new(store)))
        // Open chat streams never end on their own: give them a moment, then close.
        .shutdown_grace_period(Duration::from_secs(5))
        .serve_with_listener(listener, shutdown)
        .await;
    if let Err(e) = result {
        eprintln!("user-server: {e}");
        std::process::exit(1);
    }
}
