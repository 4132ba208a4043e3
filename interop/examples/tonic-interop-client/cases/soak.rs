//! rpc_soak and channel_soak, as grpc-go runs them (see rill's interop client).

use std::time::{Duration, Instant};

use crate::ctx::{Client, Ctx};
use crate::support::{check_payload, simple_request, CaseResult};

pub(super) async fn rpc_soak(ctx: &Ctx) -> CaseResult {
    soak(ctx, false).await
}

pub(super) async fn channel_soak(ctx: &Ctx) -> CaseResult {
    soak(ctx, true).await
}

async fn iteration(ctx: &Ctx, mut client: Client) -> Result<Duration, String> {
    let flags = &ctx.flags;
    let started = Instant::now();
    let request = simple_request(flags.soak_response_size, flags.soak_request_size);
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

async fn worker(ctx: &Ctx, fresh: bool, iterations: u32, deadline: Instant) -> (u32, u32) {
    let flags = &ctx.flags;
    let max = Duration::from_millis(flags.soak_per_iteration_max_acceptable_latency_ms);
    let spacing = Duration::from_millis(flags.soak_min_time_ms_between_rpcs);
    let (mut attempted, mut failures) = (0, 0);
    for i in 0..iterations {
        if Instant::now() >= deadline {
            break;
        }
        let next = tokio::time::Instant::now() + spacing;
        attempted += 1;
        let client = if fresh {
            ctx.fresh_client()
        } else {
            ctx.client()
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let outcome = match tokio::time::timeout(remaining, iteration(ctx, client)).await {
            Ok(outcome) => outcome,
            Err(_) => Err("the overall timeout ran out".into()),
        };
        match outcome {
            Ok(latency) if latency <= max => {}
            Ok(latency) => {
                failures += 1;
                eprintln!(
                    "soak iteration {i} took {} ms, over {} ms",
                    latency.as_millis(),
                    max.as_millis()
                );
            }
            Err(reason) => {
                failures += 1;
                eprintln!("soak iteration {i} failed: {reason}");
            }
        }
        tokio::time::sleep_until(next).await;
    }
    (attempted, failures)
}

async fn soak(ctx: &Ctx, fresh: bool) -> CaseResult {
    let flags = &ctx.flags;
    let deadline = Instant::now() + Duration::from_secs(flags.soak_overall_timeout_seconds);
    let workers = flags.soak_num_threads;
    let (each, extra) = (
        flags.soak_iterations / workers,
        flags.soak_iterations % workers,
    );
    let results = futures_util::future::join_all(
        (0..workers).map(|id| worker(ctx, fresh, each + u32::from(id < extra), deadline)),
    )
    .await;
    let attempted: u32 = results.iter().map(|r| r.0).sum();
    let failures: u32 = results.iter().map(|r| r.1).sum();
    ensure!(
        attempted == flags.soak_iterations,
        "the overall timeout ran out after {attempted} of {} iterations",
        flags.soak_iterations
    );
    ensure!(
        failures <= flags.soak_max_failures,
        "{failures} iterations failed, more than --soak_max_failures={}",
        flags.soak_max_failures
    );
    Ok(())
}
