//! Runs the built `rill` binary with bounded waits.
#![allow(dead_code)]

use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Bound on every run: generous (a busy machine), but a hang still fails.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

pub(crate) const RILL: &str = env!("CARGO_BIN_EXE_rill");

/// The outcome of one run.
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Exit code, stdout and stderr, for assertion messages.
    pub(crate) fn describe(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Asserts the exit code.
    pub(crate) fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "{}", self.describe());
        self
    }

    /// Asserts that stderr contains each of `parts`.
    pub(crate) fn expect_stderr(&self, parts: &[&str]) -> &Run {
        for part in parts {
            assert!(
                self.stderr.contains(part),
                "{part:?} not in stderr:\n{}",
                self.describe()
            );
        }
        self
    }

    /// Stdout's lines parsed as JSON.
    pub(crate) fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}\n{}", self.describe()))
            })
            .collect()
    }
}

/// Runs `rill ARGS` with `stdin` as its input (empty when `None`).
pub(crate) async fn rill(args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(RILL)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn rill");
    let mut input = child.stdin.take().expect("piped stdin");
    let text = stdin.unwrap_or_default().to_string();
    tokio::spawn(async move {
        let _ = input.write_all(text.as_bytes()).await;
        // Dropped here: the end of the input.
    });
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("rill {args:?}: not done within {WAIT:?}"))
        .expect("wait for rill");
    Run::from(output)
}

/// A `rill` process talked to line by line (streams).
pub(crate) struct Interactive {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Interactive {
    pub(crate) fn start(args: &[&str]) -> Interactive {
        let mut child = Command::new(RILL)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn rill");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        Interactive {
            child,
            stdin,
            stdout,
        }
    }

    /// Writes one line to rill's stdin.
    pub(crate) async fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write to rill");
        stdin.flush().await.expect("flush rill's stdin");
    }

    /// The next line rill prints, as JSON.
    pub(crate) async fn receive(&mut self) -> serde_json::Value {
        let line = tokio::time::timeout(WAIT, self.stdout.next_line())
            .await
            .expect("rill printed nothing in time")
            .expect("read rill's stdout")
            .expect("rill's stdout ended");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"))
    }

    /// Waits for rill to exit by itself, stdin still open.
    pub(crate) async fn wait_exit(&mut self) -> Run {
        use tokio::io::AsyncReadExt;
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("rill exits in time")
            .expect("wait for rill");
        let mut stdout = String::new();
        while let Ok(Some(line)) = self.stdout.next_line().await {
            stdout.push_str(&line);
            stdout.push('\n');
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr).await;
        }
        Run {
            code: status.code(),
            stdout,
            stderr,
        }
    }

    /// Closes stdin and waits for the exit.
    pub(crate) async fn finish(mut self) -> Run {
        drop(self.stdin.take());
        let mut rest = String::new();
        while let Ok(Some(line)) = self.stdout.next_line().await {
            rest.push_str(&line);
            rest.push('\n');
        }
        let output = tokio::time::timeout(WAIT, self.child.wait_with_output())
            .await
            .expect("rill exits in time")
            .expect("wait for rill");
        let mut run = Run::from(output);
        run.stdout = rest;
        run
    }
}
