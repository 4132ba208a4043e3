//! Failover across real `user-server` processes: `user-failover` starts three replicas behind
//! an `ipv4:` target with round_robin, makes calls at a steady rate from several tasks and
//! SIGKILLs one replica under load. With a retry policy on UNAVAILABLE no call is lost and
//! the survivors take the traffic; without one, what the kill costs is recorded.

mod common;

use std::process::Output;

use common::{describe, run, SERVER_BIN};
use tokio::process::Command;

const FAILOVER_BIN: &str = env!("CARGO_BIN_EXE_user-failover");
const CALLS: usize = 2000;

/// What `user-failover` printed.
#[derive(Debug, Default)]
struct Report {
    /// Per replica: calls served before the kill, and in all (None for the killed one).
    replicas: Vec<(u64, Option<u64>)>,
    in_flight_at_kill: usize,
    sent_after_kill: usize,
    retried: usize,
    succeeded: usize,
    failed: usize,
    /// The status lines of failed calls.
    failures: Vec<String>,
}

fn number<T: std::str::FromStr>(text: &str, line: &str) -> T {
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("no number in {text:?} of {line:?}"))
}

fn parse(output: &Output) -> Report {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut report = Report::default();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("replica ") {
            let Some((_, counts)) = rest.split_once("): ") else {
                continue;
            };
            let (before, total) = counts
                .split_once(" calls before the kill, ")
                .unwrap_or_else(|| panic!("bad replica line {line:?}"));
            let total =
                (total != "killed").then(|| number(total.trim_end_matches(" in all"), line));
            report.replicas.push((number(before, line), total));
        } else if let Some(rest) = line.strip_prefix("killed replica ") {
            let (_, n) = rest.split_once(" with ").expect("in flight count");
            report.in_flight_at_kill = number(n.trim_end_matches(" calls in flight"), line);
        } else if let Some(rest) = line.strip_prefix("calls sent after the kill: ") {
            report.sent_after_kill = number(rest.split(' ').next().unwrap_or(""), line);
        } else if let Some(rest) = line.strip_prefix("calls retried: ") {
            report.retried = number(rest, line);
        } else if line.starts_with("call ") && line.contains(" failed: ") {
            report.failures.push(line.to_string());
        } else if let Some((ok, rest)) = line.split_once(&format!(" of {CALLS} calls succeeded, "))
        {
            report.succeeded = number(ok, line);
            report.failed = number(rest.split(' ').next().unwrap_or(""), line);
        }
    }
    assert_eq!(report.replicas.len(), 3, "{}", describe(output));
    report
}

async fn failover(extra: &[&str]) -> (Output, Report) {
    let calls = CALLS.to_string();
    let output = run(
        "user-failover",
        Command::new(FAILOVER_BIN)
            .args(["--server", SERVER_BIN, "--calls", &calls])
            .args(["--tasks", "16", "--rate", "1000"])
            .args(extra),
    )
    .await;
    let report = parse(&output);
    (output, report)
}

/// The survivors served every call sent after the kill (only they were alive to), and more.
fn check_survivors_took_over(report: &Report, output: &Output) {
    let context = || format!("{report:?}\n{}", describe(output));
    assert!(report.replicas[1].1.is_none(), "{}", context());
    assert!(report.sent_after_kill > 0, "{}", context());
    let mut after_kill = 0;
    for &(before, total) in [&report.replicas[0], &report.replicas[2]] {
        let total = total.unwrap_or_else(|| panic!("a survivor has no total: {}", context()));
        assert!(
            total > before,
            "a survivor got no calls after the kill: {}",
            context()
        );
        after_kill += total - before;
    }
    assert!(
        after_kill >= report.sent_after_kill as u64,
        "the survivors served fewer calls than were sent after the kill: {}",
        context()
    );
}

#[tokio::test]
async fn with_a_retry_policy_killing_a_replica_under_load_loses_no_call() {
    let (output, report) = failover(&[]).await;
    assert!(output.status.success(), "{report:?}\n{}", describe(&output));
    assert_eq!((report.succeeded, report.failed), (CALLS, 0), "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    // Before the kill, round_robin spread the calls over all three replicas.
    assert!(
        report.replicas.iter().all(|&(before, _)| before > 0),
        "{report:?}"
    );
    check_survivors_took_over(&report, &output);
    eprintln!(
        "with retries: {} calls in flight at the kill, {} retried, all {CALLS} succeeded",
        report.in_flight_at_kill, report.retried
    );
}

#[tokio::test]
async fn without_a_retry_policy_the_kill_costs_only_unavailable_calls() {
    let (output, report) = failover(&["--no-retry"]).await;
    // Whether a call was on the victim when it died is timing: only record how many failed.
    assert_eq!(
        report.succeeded + report.failed,
        CALLS,
        "{report:?}\n{}",
        describe(&output)
    );
    assert_eq!(output.status.success(), report.failed == 0, "{report:?}");
    assert_eq!(report.retried, 0, "{report:?}");
    // A replica that dies fails its calls with UNAVAILABLE, never with another code.
    for failure in &report.failures {
        assert!(failure.contains("UNAVAILABLE"), "{failure}\n{report:?}");
    }
    check_survivors_took_over(&report, &output);
    eprintln!(
        "without retries: {} calls in flight at the kill, {} of {CALLS} failed",
        report.in_flight_at_kill, report.failed
    );
}
