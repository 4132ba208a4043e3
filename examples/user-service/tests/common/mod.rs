//! Runs the real `user-server` and `user-client` binaries (and other programs) with bounded
//! waits. Each test crate uses a part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{ExitStatus, Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;

/// Bound on every wait: a server start, a client run, a shutdown. Generous: the machine may be
/// busy compiling, but a hang still fails instead of blocking the suite.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// How many ports to try when the one picked is taken by someone else before the server binds.
const PORT_ATTEMPTS: usize = 5;

pub(crate) const SERVER_BIN: &str = env!("CARGO_BIN_EXE_user-server");
pub(crate) const CLIENT_BIN: &str = env!("CARGO_BIN_EXE_user-client");

/// `fut`, or a panic naming `what` if it takes longer than [`WAIT`].
pub(crate) async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {WAIT:?}"))
}

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Runs `command` to completion (bounded), capturing its output; killed if it takes too long.
pub(crate) async fn run(what: &str, command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    within(what, command.output())
        .await
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"))
}

/// Runs `user-client` with `args`.
pub(crate) async fn run_client(args: &[&str]) -> Output {
    run("user-client", Command::new(CLIENT_BIN).args(args)).await
}

/// Runs `user-server` with `args`, for runs that end by themselves (bad flags...).
pub(crate) async fn run_server(args: &[&str]) -> Output {
    run("user-server", Command::new(SERVER_BIN).args(args)).await
}

/// Exit status, stdout and stderr, for assertion messages.
pub(crate) fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A running `user-server` process on 127.0.0.1; killed when dropped.
pub(crate) struct ServerProcess {
    pub(crate) addr: SocketAddr,
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: JoinHandle<String>,
}

/// How a server process ended.
#[derive(Debug)]
pub(crate) struct Ended {
    pub(crate) status: ExitStatus,
    /// Lines printed after the "listening" line.
    pub(crate) stdout: Vec<String>,
    pub(crate) stderr: String,
}

impl ServerProcess {
    /// Starts `user-server --db DB --listen 127.0.0.1:PORT` on a free port and waits for its
    /// "listening" line; on a port collision tries another port.
    pub(crate) async fn start(db: &str) -> ServerProcess {
        ServerProcess::start_with(db, &[]).await
    }

    /// [`ServerProcess::start`] with more flags (e.g. TLS).
    pub(crate) async fn start_with(db: &str, extra: &[&str]) -> ServerProcess {
        for _ in 0..PORT_ATTEMPTS {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
            match ServerProcess::try_start(db, addr, extra).await {
                Ok(server) => return server,
                Err(ended) if ended.stderr.contains("Address already in use") => continue,
                Err(ended) => panic!("user-server did not start: {ended:?}"),
            }
        }
        panic!("user-server: no free port after {PORT_ATTEMPTS} attempts");
    }

    async fn try_start(db: &str, addr: SocketAddr, extra: &[&str]) -> Result<ServerProcess, Ended> {
        let mut child = Command::new(SERVER_BIN)
            .args(["--db", db, "--listen", &addr.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn user-server");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        // Drained all along, so the server can never block on a full pipe.
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        let mut server = ServerProcess {
            addr,
            child,
            stdout: BufReader::new(stdout).lines(),
            stderr,
        };
        let first = within("user-server's first line", server.stdout.next_line()).await;
        match first {
            Ok(Some(line)) if line.starts_with("user-server listening on ") => {
                let tls = if extra.contains(&"--tls-cert") {
                    ", tls"
                } else {
                    ""
                };
                let expected = format!("user-server listening on {addr} (db: {db}{tls})");
                assert_eq!(line, expected);
                Ok(server)
            }
            Ok(None) => Err(server.wait().await),
            Ok(Some(line)) => panic!("unexpected first line {line:?}: {:?}", server.kill().await),
            Err(e) => panic!("reading user-server's stdout: {e}"),
        }
    }

    /// `http://ADDR`, for clients.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks the server to stop as Ctrl-C does (SIGINT) and waits for it to exit.
    pub(crate) async fn interrupt(mut self) -> Ended {
        let pid = self.child.id().expect("the server is running");
        let kill = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .await
            .expect("run kill");
        assert!(kill.success(), "kill -INT {pid}: {kill}");
        self.wait().await
    }

    /// Kills the server (SIGKILL) and reports what it printed.
    pub(crate) async fn kill(mut self) -> Ended {
        let _ = self.child.start_kill();
        self.wait().await
    }

    async fn wait(&mut self) -> Ended {
        let status = within("user-server to exit", self.child.wait())
            .await
            .expect("wait for user-server");
        let mut stdout = Vec::new();
        while let Ok(Some(line)) = within("user-server's stdout", self.stdout.next_line()).await {
            stdout.push(line);
        }
        let stderr = within("user-server's stderr", &mut self.stderr)
            .await
            .unwrap_or_default();
        Ended {
            status,
            stdout,
            stderr,
        }
    }
}
