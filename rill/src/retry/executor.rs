//! Runs a call's attempts under its retry or hedging policy (gRFC A6).

use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use std::future::Future;
use tokio::time::Instant;

use super::{backoff, Pushback, Replay, Throttle};
use crate::service_config::{CallPolicy, HedgingPolicy, RetryPolicy};
use crate::Status;

/// Which attempt to run: `id` is unique per call (it names the attempt's replay cursor);
/// `previous` is what `grpc-previous-rpc-attempts` says (transparent retries do not count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub(crate) id: u32,
    pub(crate) previous: u32,
}

/// How one attempt ended before it committed.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: Status,
    pub(crate) pushback: Pushback,
    /// The server's application never saw the attempt (REFUSED_STREAM, or a stream above a
    /// GOAWAY's last stream id): it may be retried transparently.
    pub(crate) unprocessed: bool,
    /// The stream was never opened (the picked connection was closing): the attempt never
    /// left the client, and is sent again on another connection.
    pub(crate) never_sent: bool,
    /// A local failure (the request stream failed): never retried.
    pub(crate) local: bool,
}

impl Failure {
    pub(crate) fn new(status: Status) -> Failure {
        Failure {
            unprocessed: crate::transport::is_unprocessed(&status),
            status,
            pushback: Pushback::None,
            never_sent: false,
            local: false,
        }
    }
}

/// How many times an attempt that never left the client is sent again (each time on a
/// fresh pick: the connection that failed is marked closed, so it is not picked again).
const NEVER_SENT_RETRIES: u32 = 3;

/// An attempt's end: committed (response headers arrived), or failed before that.
pub(crate) enum Outcome<T> {
    Committed(T),
    Failed(Failure),
}

/// The call's policy and the state it shares.
pub(crate) struct Plan<'a> {
    pub(crate) policy: Option<&'a CallPolicy>,
    pub(crate) throttle: Option<&'a Throttle>,
    pub(crate) replay: Option<&'a Replay>,
    /// Whether an unprocessed attempt may be sent again (the request can be replayed).
    pub(crate) transparent: bool,
}

/// Runs attempts until one commits or no retry is allowed; returns the committed value and
/// the number of attempts before it, or the last failure (its metadata carries
/// `grpc-previous-rpc-attempts` when there were retries).
pub(crate) async fn run<T, F, Fut>(plan: Plan<'_>, attempt: F) -> Result<(T, u32), Status>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Outcome<T>>,
{
    match plan.policy {
        Some(CallPolicy::Hedging(policy)) => hedge(&plan, policy, attempt).await,
        Some(CallPolicy::Retry(policy)) => retry(&plan, Some(policy), attempt).await,
        None => retry(&plan, None, attempt).await,
    }
}

fn replay_committed(plan: &Plan<'_>) -> bool {
    plan.replay.is_some_and(Replay::is_committed)
}

fn commit(plan: &Plan<'_>, id: u32) {
    if let Some(replay) = plan.replay {
        replay.commit(id);
    }
}

fn with_previous(mut status: Status, previous: u32) -> Status {
    if previous > 0 {
        status
            .metadata_mut()
            .set_reserved(super::PREVIOUS_ATTEMPTS, previous.into());
    }
    status
}

async fn retry<T, F, Fut>(
    plan: &Plan<'_>,
    policy: Option<&RetryPolicy>,
    mut attempt: F,
) -> Result<(T, u32), Status>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Outcome<T>>,
{
    let mut next = Attempt { id: 0, previous: 0 };
    let mut transparent = plan.transparent;
    let mut resend = if plan.transparent {
        NEVER_SENT_RETRIES
    } else {
        0
    };
    loop {
        let failure = match attempt(next).await {
            Outcome::Committed(value) => {
                commit(plan, next.id);
                return Ok((value, next.previous));
            }
            Outcome::Failed(failure) => failure,
        };
        let replayable = !failure.local && !replay_committed(plan);
        if failure.never_sent && resend > 0 && replayable {
            resend -= 1;
            next.id += 1;
            continue;
        }
        if failure.unprocessed && transparent && replayable {
            // Once, without counting as an attempt.
            transparent = false;
            next.id += 1;
            continue;
        }
        let Some(policy) = policy else {
            return Err(failure.status);
        };
        let retryable = policy
            .retryable_status_codes
            .contains(&failure.status.code());
        if let Some(throttle) = plan.throttle {
            if retryable || failure.pushback != Pushback::None {
                throttle.record_failure();
            }
        }
        let allowed = retryable
            && replayable
            && failure.pushback != Pushback::Stop
            && next.previous + 1 < policy.max_attempts
            && plan.throttle.is_none_or(Throttle::allows_retry);
        if !allowed {
            return Err(with_previous(failure.status, next.previous));
        }
        let delay = match failure.pushback {
            Pushback::After(delay) => delay,
            _ => backoff(policy, next.previous + 1),
        };
        tracing::debug!(code = ?failure.status.code(), ?delay, "retrying call");
        tokio::time::sleep(delay).await;
        next = Attempt {
            id: next.id + 1,
            previous: next.previous + 1,
        };
    }
}

async fn hedge<T, F, Fut>(
    plan: &Plan<'_>,
    policy: &HedgingPolicy,
    mut attempt: F,
) -> Result<(T, u32), Status>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Outcome<T>>,
{
    let mut running = FuturesUnordered::new();
    let mut sent = 0u32;
    let mut next_id = 0u32;
    let mut transparent = plan.transparent;
    let mut resend = if plan.transparent {
        NEVER_SENT_RETRIES
    } else {
        0
    };
    // When the next hedge goes out; `None` once no more may be sent.
    let mut next_at = Some(Instant::now());
    let mut last: Option<Status> = None;
    loop {
        tokio::select! {
            () = sleep_until(next_at) => {
                let may_hedge = sent == 0
                    || (!replay_committed(plan) && plan.throttle.is_none_or(Throttle::allows_retry));
                if may_hedge {
                    let this = Attempt { id: next_id, previous: sent };
                    running.push(tagged(this, attempt(this)));
                    next_id += 1;
                    sent += 1;
                }
                next_at = (may_hedge && sent < policy.max_attempts)
                    .then(|| Instant::now() + policy.hedging_delay);
            }
            Some((this, outcome)) = running.next(), if !running.is_empty() => {
                let failure = match outcome {
                    Outcome::Committed(value) => {
                        // Dropping `running` cancels the other attempts (RST_STREAM CANCEL).
                        commit(plan, this.id);
                        return Ok((value, this.previous));
                    }
                    Outcome::Failed(failure) => failure,
                };
                let replayable = !failure.local && !replay_committed(plan);
                let never_sent = failure.never_sent && resend > 0;
                if (never_sent || (failure.unprocessed && transparent)) && replayable {
                    if never_sent {
                        resend -= 1;
                    } else {
                        transparent = false;
                    }
                    let again = Attempt { id: next_id, previous: this.previous };
                    next_id += 1;
                    running.push(tagged(again, attempt(again)));
                    continue;
                }
                let non_fatal = policy.non_fatal_status_codes.contains(&failure.status.code());
                if let Some(throttle) = plan.throttle {
                    if non_fatal || failure.pushback != Pushback::None {
                        throttle.record_failure();
                    }
                }
                if !non_fatal || !replayable {
                    return Err(with_previous(failure.status, this.previous));
                }
                match failure.pushback {
                    Pushback::Stop => next_at = None,
                    Pushback::After(delay) if next_at.is_some() => {
                        next_at = Some(Instant::now() + delay)
                    }
                    _ => {}
                }
                last = Some(with_previous(failure.status, this.previous));
            }
        }
        if running.is_empty() && next_at.is_none() {
            return Err(last.unwrap_or_else(|| Status::internal("hedging sent no attempt")));
        }
    }
}

/// Tags an attempt's future with the attempt (one future type for all attempts).
async fn tagged<T>(this: Attempt, fut: impl Future<Output = Outcome<T>>) -> (Attempt, Outcome<T>) {
    (this, fut.await)
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
