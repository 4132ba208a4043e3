//! `user-failover`: three `user-server` replicas, one killed mid-run, no call lost.
//!
//! Starts three `user-server` processes on 127.0.0.1 sharing one seeded SQLite file (so every
//! replica answers GetUser and ListUsers alike), and a channel to all three through an `ipv4:`
//! target with `round_robin` and a retry policy on UNAVAILABLE for the idempotent GetUser and
//! ListUsers. Several tasks make `--calls` calls at a steady `--rate`; half-way, while calls
//! are in flight, one replica gets SIGKILL. The calls it was serving, and those picked for it
//! before the channel noticed, are retried on the survivors. At the end it prints how many
//! calls each replica served (from each replica's `/metrics`) and exits 0 only if every call
//! succeeded with the right answer. `--no-retry` drops the retry policy, to see what it saves.
//!
//! Run: `cargo build -p user-service --bins && cargo run -p user-service --bin user-failover`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rill::service_config::ServiceConfig;
use rill::{Code, Status};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use user_service::pb::user_service_client::UserServiceClient;
use user_service::pb::{GetUserRequest, ListUsersRequest};
use user_service::Store;

const USAGE: &str =
    "usage: user-failover [--calls N] [--tasks N] [--rate PER_SECOND] [--no-retry] [--server PATH]
  --calls N      calls to make in all (default 2000)
  --tasks N      tasks making them (default 16)
  --rate N       calls per second, all tasks together (default 1000)
  --no-retry     no retry policy: see the calls the kill costs without one
  --server PATH  the user-server binary (default: next to this one)";

/// Users in the shared database; GetUser asks for ids 1..=USERS.
const USERS: i32 = 20;
const REPLICAS: usize = 3;
/// The replica that gets SIGKILL (0-based).
const VICTIM: usize = 1;

struct Args {
    calls: usize,
    tasks: usize,
    rate: f64,
    retry: bool,
    server: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let here = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let mut args = Args {
        calls: 2000,
        tasks: 16,
        rate: 1000.0,
        retry: true,
        server: here.with_file_name("user-server"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        let number = |v: String| {
            v.parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(format!("{flag}: {v:?} is not a positive number"))
        };
        match flag.as_str() {
            "--calls" => args.calls = number(value()?)? as usize,
            "--tasks" => args.tasks = number(value()?)? as usize,
            "--rate" => args.rate = f64::from(number(value()?)?),
            "--no-retry" => args.retry = false,
            "--server" => args.server = PathBuf::from(value()?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// The service config: round_robin, and retries of the idempotent reads on UNAVAILABLE.
fn service_config(retry: bool) -> String {
    let retry_policy = if retry {
        r#", "retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.05s", "maxBackoff": "0.5s",
                             "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}"#
    } else {
        ""
    };
    format!(
        r#"{{
  "loadBalancingConfig": [{{"round_robin": {{}}}}],
  "methodConfig": [{{
    "name": [{{"service": "user.UserService", "method": "GetUser"}},
             {{"service": "user.UserService", "method": "ListUsers"}}],
    "timeout": "5s"{retry_policy}
  }}]
}}"#
    )
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// One `user-server` process.
struct Replica {
    addr: SocketAddr,
    metrics: SocketAddr,
    child: Child,
}

impl Replica {
    /// Starts `user-server --db DB` on a free port, with metrics on another.
    async fn start(server: &PathBuf, db: &str) -> Result<Replica, String> {
        let mut last_error = String::new();
        // The metrics port is picked before the server binds it: another process may take it.
        for _ in 0..5 {
            let metrics = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port().map_err(str)?));
            let mut child = Command::new(server)
                .args(["--db", db, "--listen", "127.0.0.1:0"])
                .args(["--metrics-listen", &metrics.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot run {}: {e}", server.display()))?;
            let stdout = child.stdout.take().ok_or("no stdout")?;
            let mut lines = BufReader::new(stdout).lines();
            let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .map_err(|_| "user-server did not start within 30 s".to_string())?
                .map_err(str)?;
            let addr = first
                .as_deref()
                .and_then(|l| l.strip_prefix("user-server listening on "))
                .and_then(|l| l.split(' ').next())
                .and_then(|a| a.parse().ok());
            if let Some(addr) = addr {
                // Keep reading, so the server never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return Ok(Replica {
                    addr,
                    metrics,
                    child,
                });
            }
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr).await;
            }
            last_error = format!("user-server did not start: {first:?} {stderr}");
        }
        Err(last_error)
    }

    /// Calls this replica completed with OK (GetUser and ListUsers), from its `/metrics`.
    async fn served(&self) -> Result<u64, String> {
        let mut stream = tokio::net::TcpStream::connect(self.metrics)
            .await
            .map_err(str)?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .map_err(str)?;
        let mut text = String::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut text))
            .await
            .map_err(|_| "GET /metrics timed out".to_string())?
            .map_err(str)?;
        let mut served = 0;
        for method in ["GetUser", "ListUsers"] {
            let prefix = format!(
                "grpc_server_call_completed{{grpc_method=\"user.UserService/{method}\",grpc_status=\"OK\"}} "
            );
            if let Some(n) = text.lines().find_map(|l| l.strip_prefix(prefix.as_str())) {
                served += n.trim().parse::<f64>().map_err(str)? as u64;
            }
        }
        Ok(served)
    }
}

fn str(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A temporary SQLite file with USERS users, removed (with its WAL files) when dropped.
struct Database(PathBuf);

impl Database {
    fn seed() -> Result<Database, String> {
        let path = std::env::temp_dir().join(format!("user-failover-{}.db", std::process::id()));
        let db = Database(path);
        let store = Store::open(&db.0).map_err(str)?;
        let users: Vec<_> = (1..=USERS)
            .map(|i| (format!("user{i}"), format!("user{i}@example.com")))
            .collect();
        store.create_all(&users, 1_700_000_000).map_err(str)?;
        Ok(db)
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// What the calls came to.
#[derive(Default)]
struct Tally {
    ok: usize,
    retried: usize,
    /// Calls sent after the victim was dead: only the survivors can have served them.
    sent_after_kill: usize,
    failed: Vec<(usize, Status)>,
}

/// Call `i`: three GetUsers for each ListUsers, answers checked. `Ok(true)` if retried.
async fn call(client: &UserServiceClient, i: usize) -> Result<bool, Status> {
    let retried = |m: &rill::MetadataMap| m.get("grpc-previous-rpc-attempts").is_some();
    if i % 4 == 3 {
        let request = ListUsersRequest {
            page_size: 5,
            page_token: String::new(),
        };
        let response = client.list_users(request).await?;
        let was_retried = retried(response.metadata());
        let mut stream = response.into_inner();
        let mut ids = Vec::new();
        while let Some(user) = stream.message().await? {
            ids.push(user.id);
        }
        if ids != [1, 2, 3, 4, 5] {
            return Err(Status::internal(format!("ListUsers answered ids {ids:?}")));
        }
        Ok(was_retried)
    } else {
        let id = (i as i32 % USERS) + 1;
        let response = client.get_user(GetUserRequest { id }).await?;
        let was_retried = retried(response.metadata());
        let user = response.into_inner();
        if user.id != id || user.name != format!("user{id}") {
            return Err(Status::internal(format!("GetUser({id}) answered {user:?}")));
        }
        Ok(was_retried)
    }
}

#[tokio::main]
async fn main() {
    let args = parse_args().unwrap_or_else(|m| {
        eprintln!("{m}");
        std::process::exit(2)
    });
    match run(&args).await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("user-failover: {e}");
            std::process::exit(1)
        }
    }
}

/// Runs the scenario; `Ok(true)` if every call succeeded.
async fn run(args: &Args) -> Result<bool, String> {
    if !args.server.exists() {
        return Err(format!(
            "no user-server at {} (build it: cargo build -p user-service --bins, or pass --server)",
            args.server.display()
        ));
    }
    let db = Database::seed()?;
    let mut replicas = Vec::new();
    for _ in 0..REPLICAS {
        replicas.push(Replica::start(&args.server, &db.path()).await?);
    }
    let addrs: Vec<String> = replicas.iter().map(|r| r.addr.to_string()).collect();
    let target = format!("ipv4:{}", addrs.join(","));
    println!("replicas: {} (db {})", addrs.join(", "), db.path());
    let retry = if args.retry {
        "retry on UNAVAILABLE (5 attempts)"
    } else {
        "no retry policy"
    };
    println!("target: {target} (round_robin, {retry})");

    let config = ServiceConfig::from_json(&service_config(args.retry)).map_err(str)?;
    let channel = rill::Channel::builder(&target)
        .service_config(config)
        .connect()
        .await
        .map_err(str)?;
    let client = UserServiceClient::new(rill::Client::new(channel));

    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let start = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let killed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let tally: Arc<Mutex<Tally>> = Arc::default();
    println!(
        "{} calls from {} tasks at {}/s; SIGKILL to replica {} half-way",
        args.calls,
        args.tasks,
        args.rate,
        VICTIM + 1
    );
    let mut tasks = Vec::new();
    for _ in 0..args.tasks {
        let (client, next, in_flight) = (client.clone(), next.clone(), in_flight.clone());
        let (killed_at, tally, calls) = (killed_at.clone(), tally.clone(), args.calls);
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= calls {
                    break;
                }
                // A steady rate: call i goes out at start + i * interval.
                tokio::time::sleep_until((start + interval * i as u32).into()).await;
                let sent = Instant::now();
                in_flight.fetch_add(1, Ordering::SeqCst);
                let result = call(&client, i).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let after_kill = killed_at
                    .lock()
                    .ok()
                    .and_then(|k| *k)
                    .is_some_and(|k| sent > k);
                let Ok(mut tally) = tally.lock() else { break };
                match result {
                    Ok(retried) => {
                        tally.ok += 1;
                        tally.retried += usize::from(retried);
                        tally.sent_after_kill += usize::from(after_kill);
                    }
                    Err(status) => tally.failed.push((i, status)),
                }
            }
        }));
    }

    // Half-way, with calls in flight (waiting briefly for some), kill the victim.
    tokio::time::sleep_until((start + interval * (args.calls / 2) as u32).into()).await;
    let give_up = Instant::now() + Duration::from_millis(200);
    while in_flight.load(Ordering::SeqCst) < 3 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut before = Vec::new();
    for replica in &replicas {
        before.push(replica.served().await?);
    }
    let flying = in_flight.load(Ordering::SeqCst);
    replicas[VICTIM].child.kill().await.map_err(str)?;
    if let Ok(mut k) = killed_at.lock() {
        *k = Some(Instant::now());
    }
    println!(
        "killed replica {} ({}) with {flying} calls in flight",
        VICTIM + 1,
        replicas[VICTIM].addr
    );

    for task in tasks {
        task.await.map_err(str)?;
    }
    let elapsed = start.elapsed();
    // The servers count a call once its response is out: let the last counts land.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (n, (replica, before)) in replicas.iter().zip(&before).enumerate() {
        let total = if n == VICTIM {
            "killed".to_string()
        } else {
            format!("{} in all", replica.served().await?)
        };
        println!(
            "replica {} ({}): {before} calls before the kill, {total}",
            n + 1,
            replica.addr
        );
    }
    let tally = tally.lock().map_err(str)?;
    println!(
        "calls sent after the kill: {} (served by the survivors)",
        tally.sent_after_kill
    );
    println!("calls retried: {}", tally.retried);
    for (i, status) in &tally.failed {
        println!("call {i} failed: {status}");
    }
    println!(
        "{} of {} calls succeeded, {} failed, in {:.1} s",
        tally.ok,
        args.calls,
        tally.failed.len(),
        elapsed.as_secs_f64()
    );
    let unavailable_only = tally
        .failed
        .iter()
        .all(|(_, s)| s.code() == Code::Unavailable);
    if !unavailable_only {
        println!("(some calls failed with another code than UNAVAILABLE)");
    }
    Ok(tally.failed.is_empty() && tally.ok == args.calls)
}
