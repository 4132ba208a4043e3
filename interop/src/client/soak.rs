//! The soak tests (rpc_soak, channel_soak) as grpc-go runs them: `--soak_num_threads` workers
//! share `--soak_iterations` large unary calls; a call fails when it errs or takes longer than
//! `--soak_per_iteration_max_acceptable_latency_ms`; the test fails when more than
//! `--soak_max_failures` calls failed or `--soak_overall_timeout_seconds` ran out first.

use std::time::{Duration, Instant};

use super::support::{check_payload, simple_request};
use super::{CaseResult, Ctx};

/// Which channel each call goes over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Channels {
    /// The context's channel (rpc_soak).
    Shared,
    /// A new channel per call (channel_soak).
    PerCall,
}

/// What one worker did.
#[derive(Debug, Default)]
struct Tally {
    attempted: u32,
    failures: u32,
    latencies: Vec<Duration>,
}

/// One large unary call; its latency, or why it failed.
async fn iteration(ctx: &Ctx, channels: Channels, deadline: Instant) -> Result<Duration, String> {
    let flags = ctx.flags();
    let client = match channels {
        Channels::Shared => ctx.test_service(),
        Channels::PerCall => ctx.fresh_test_service(),
    };
    let started = Instant::now();
    let mut request = rill::Request::new(simple_request(
        flags.soak_response_size,
        flags.soak_request_size,
    ));
    request.set_deadline(Some(deadline));
    let response = client
        .unary_call(request)
        .await
        .map_err(|status| format!("UnaryCall failed: {status}"))?;
    let latency = started.elapsed();
    check_payload(
        "UnaryCall",
        response.get_ref().payload.as_ref(),
        flags.soak_response_size,
    )?;
    Ok(latency)
}

async fn worker(
    ctx: &Ctx,
    channels: Channels,
    id: u32,
    iterations: u32,
    deadline: Instant,
) -> Tally {
    let flags = ctx.flags();
    let max_latency = Duration::from_millis(flags.soak_per_iteration_max_acceptable_latency_ms);
    let spacing = Duration::from_millis(flags.soak_min_time_ms_between_rpcs);
    let mut tally = Tally::default();
    for i in 0..iterations {
        if Instant::now() >= deadline {
            break;
        }
        let earliest_next = tokio::time::Instant::now() + spacing;
        tally.attempted += 1;
        match iteration(ctx, channels, deadline).await {
            Ok(latency) if latency <= max_latency => tally.latencies.push(latency),
            Ok(latency) => {
                tally.failures += 1;
                eprintln!(
                    "worker {id}: soak iteration {i} took {} ms, over the {} ms limit",
                    latency.as_millis(),
                    max_latency.as_millis()
                );
            }
            Err(reason) => {
                tally.failures += 1;
                eprintln!("worker {id}: soak iteration {i} failed: {reason}");
            }
        }
        tokio::time::sleep_until(earliest_next).await;
    }
    tally
}

/// Runs a soak test over `channels`.
pub(crate) async fn soak(ctx: &Ctx, channels: Channels) -> CaseResult {
    let flags = ctx.flags();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(flags.soak_overall_timeout_seconds);
    let workers = flags.soak_num_threads;
    let (per_worker, extra) = (
        flags.soak_iterations / workers,
        flags.soak_iterations % workers,
    );
    let tallies = futures_util::future::join_all((0..workers).map(|id| {
        let iterations = per_worker + u32::from(id < extra);
        worker(ctx, channels, id, iterations, deadline)
    }))
    .await;
    let attempted: u32 = tallies.iter().map(|t| t.attempted).sum();
    let failures: u32 = tallies.iter().map(|t| t.failures).sum();
    let mut latencies: Vec<Duration> = tallies.into_iter().flat_map(|t| t.latencies).collect();
    latencies.sort_unstable();
    let percentile = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .map_or(0, Duration::as_millis)
    };
    eprintln!(
        "soak: {attempted} of {} iterations in {} ms, {failures} failed; latency ms p50 {} p90 {} max {}",
        flags.soak_iterations,
        started.elapsed().as_millis(),
        percentile(50),
        percentile(90),
        latencies.last().map_or(0, Duration::as_millis),
    );
    ensure!(
        attempted == flags.soak_iterations,
        "the overall timeout of {} s ran out after {attempted} of {} iterations",
        flags.soak_overall_timeout_seconds,
        flags.soak_iterations
    );
    ensure!(
        failures <= flags.soak_max_failures,
        "{failures} iterations failed, more than --soak_max_failures={}",
        flags.soak_max_failures
    );
    Ok(())
}
