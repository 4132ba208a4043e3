//! The tonic interop test client, a peer for rill's interop server:
//! `cargo run -p interop --example tonic-interop-client -- --server_port=PORT --test_case=NAME`.
//!
//! Same flags and output as rill's `interop-client`. Cases tonic cannot do print
//! `n/a: reason` and exit with code 3: tonic sends every message of a call compressed or none,
//! so the per-message client compression cases are n/a. tonic does not expose a response
//! message's Compressed-Flag either; [`reframe`] reads it at the HTTP level.

/// Fails the case with a formatted reason unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($reason:tt)+) => {
        if !$cond {
            return Err(format!($($reason)+));
        }
    };
}

#[path = "../tonic-common/pb.rs"]
mod pb;
// The client only reads flags; the server also rewrites messages and trailers.
#[allow(dead_code)]
#[path = "../tonic-common/reframe.rs"]
mod reframe;

mod cases;
mod ctx;
mod support;

use std::process::ExitCode;
use std::time::Duration;

use interop::flags::{ClientFlags, CLIENT_USAGE, EXIT_USAGE};

use cases::{Run, CASES};

/// Exit code of a case tonic cannot run.
const EXIT_NOT_APPLICABLE: i32 = 3;

#[tokio::main]
async fn main() -> ExitCode {
    let mut warnings = Vec::new();
    let flags = match ClientFlags::parse(std::env::args().skip(1), &mut warnings) {
        Ok(flags) => flags,
        Err(error) => {
            eprintln!("tonic-interop-client: {error}\n{CLIENT_USAGE}");
            return exit(EXIT_USAGE);
        }
    };
    for warning in warnings {
        eprintln!("tonic-interop-client: {warning}");
    }
    exit(run(flags).await)
}

async fn run(flags: ClientFlags) -> i32 {
    if flags.use_tls {
        eprintln!("{}", TONIC_NO_TLS);
        return EXIT_USAGE;
    }
    let selected: Vec<_> = CASES
        .iter()
        .filter(|case| flags.test_case == "all" || case.name == flags.test_case)
        .collect();
    if selected.is_empty() {
        let names: Vec<_> = CASES.iter().map(|c| c.name).collect();
        eprintln!(
            "unknown test case {:?}; known: all, {}",
            flags.test_case,
            names.join(", ")
        );
        return EXIT_USAGE;
    }
    let limit = Duration::from_secs(60 + flags.soak_overall_timeout_seconds);
    let ctx = match ctx::Ctx::new(flags) {
        Ok(ctx) => ctx,
        Err(error) => {
            eprintln!("{error}");
            return EXIT_USAGE;
        }
    };
    let (mut failed, mut not_applicable) = (0, 0);
    for case in &selected {
        match case.run {
            Run::NotApplicable(reason) => {
                not_applicable += 1;
                println!("{}: n/a: {reason}", case.name);
            }
            Run::Case(run) => match tokio::time::timeout(limit, run(&ctx)).await {
                Ok(Ok(())) => println!("{}: passed", case.name),
                Ok(Err(reason)) => {
                    failed += 1;
                    eprintln!("{}: FAILED: {reason}", case.name);
                }
                Err(_) => {
                    failed += 1;
                    eprintln!(
                        "{}: FAILED: did not finish within {} s",
                        case.name,
                        limit.as_secs()
                    );
                }
            },
        }
    }
    if selected.len() > 1 {
        let passed = selected.len() - failed - not_applicable;
        println!(
            "{passed} of {} cases passed, {not_applicable} n/a",
            selected.len()
        );
    }
    match (failed, not_applicable == selected.len()) {
        (0, true) => EXIT_NOT_APPLICABLE,
        (0, false) => 0,
        _ => 1,
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The tonic peer is built without tonic's TLS features (a dev-dependency kept small).
const TONIC_NO_TLS: &str = "the tonic peer runs without TLS";
