use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

use super::*;
use crate::service_config::{CallPolicy, HedgingPolicy, RetryPolicy, RetryThrottling};
use crate::Code;

fn policy(max_attempts: u32, codes: Vec<Code>) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(250),
        backoff_multiplier: 2.0,
        retryable_status_codes: codes,
    }
}

#[test]
fn backoff_is_random_below_the_growing_bound() {
    let policy = policy(5, vec![Code::Unavailable]);
    for (n, bound) in [(1, 100), (2, 200), (3, 250), (10, 250)] {
        for _ in 0..50 {
            let wait = backoff(&policy, n);
            assert!(wait <= Duration::from_millis(bound), "{n}: {wait:?}");
        }
    }
}

#[test]
fn pushback_values() {
    let cases = [
        (Some("0"), Pushback::After(Duration::ZERO)),
        (Some("1500"), Pushback::After(Duration::from_millis(1500))),
        (Some("-1"), Pushback::Stop),
        (Some("abc"), Pushback::Stop),
        (Some(""), Pushback::Stop),
        (None, Pushback::None),
    ];
    for (value, expected) in cases {
        let mut headers = http::HeaderMap::new();
        if let Some(value) = value {
            headers.insert(PUSHBACK, value.parse().unwrap());
        }
        assert_eq!(Pushback::from_headers(&headers), expected, "{value:?}");
    }
}

#[test]
fn throttle_tokens() {
    let throttle = Throttle::new(RetryThrottling {
        max_tokens: 10,
        token_ratio: 0.5,
    });
    assert!(throttle.allows_retry());
    for _ in 0..5 {
        throttle.record_failure();
    }
    // 5 tokens left: not more than half of 10.
    assert_eq!(throttle.tokens(), 5.0);
    assert!(!throttle.allows_retry());
    throttle.record_success();
    assert_eq!(throttle.tokens(), 5.5);
    assert!(throttle.allows_retry());
    for _ in 0..100 {
        throttle.record_success();
    }
    assert_eq!(throttle.tokens(), 10.0);
    for _ in 0..100 {
        throttle.record_failure();
    }
    assert_eq!(throttle.tokens(), 0.0);
}

#[test]
fn in_flight_cap() {
    let cap = InFlight::new(2);
    let a = cap.acquire().unwrap();
    let _b = cap.acquire().unwrap();
    assert_eq!(cap.acquire().unwrap_err().code(), Code::ResourceExhausted);
    drop(a);
    assert!(cap.acquire().is_ok());
}

fn failure(code: Code) -> Failure {
    Failure::new(Status::new(code, "no"))
}

/// Runs `outcomes` in order (one per attempt) under `policy`.
async fn run_script(
    policy: Option<CallPolicy>,
    outcomes: Vec<Result<(), Failure>>,
) -> (Result<u32, Status>, u32) {
    let calls = AtomicU32::new(0);
    let outcomes = std::sync::Mutex::new(outcomes.into_iter());
    let plan = Plan {
        policy: policy.as_ref(),
        throttle: None,
        replay: None,
        transparent: true,
    };
    let result = run(plan, |_attempt| {
        calls.fetch_add(1, Ordering::SeqCst);
        let next = outcomes.lock().unwrap().next();
        async move {
            match next {
                Some(Ok(())) => Outcome::Committed(()),
                Some(Err(failure)) => Outcome::Failed(failure),
                None => Outcome::Failed(failure(Code::Internal)),
            }
        }
    })
    .await;
    (
        result.map(|(_, previous)| previous),
        calls.load(Ordering::SeqCst),
    )
}

#[tokio::test(start_paused = true)]
async fn retries_only_retryable_codes_within_max_attempts() {
    let retry = Some(CallPolicy::Retry(policy(3, vec![Code::Unavailable])));
    let unavailable = || Err(failure(Code::Unavailable));
    let (result, calls) =
        run_script(retry.clone(), vec![unavailable(), unavailable(), Ok(())]).await;
    assert_eq!((result.unwrap(), calls), (2, 3));
    let (result, calls) = run_script(
        retry.clone(),
        vec![unavailable(), unavailable(), unavailable(), Ok(())],
    )
    .await;
    let status = result.unwrap_err();
    assert_eq!((status.code(), calls), (Code::Unavailable, 3));
    assert_eq!(status.metadata().get(PREVIOUS_ATTEMPTS), Some("2"));
    let (result, calls) =
        run_script(retry.clone(), vec![Err(failure(Code::Internal)), Ok(())]).await;
    assert_eq!((result.unwrap_err().code(), calls), (Code::Internal, 1));
    let mut stop = failure(Code::Unavailable);
    stop.pushback = Pushback::Stop;
    let (result, calls) = run_script(retry, vec![Err(stop), Ok(())]).await;
    assert_eq!((result.unwrap_err().code(), calls), (Code::Unavailable, 1));
}

#[tokio::test(start_paused = true)]
async fn pushback_sets_the_exact_delay() {
    let retry = Some(CallPolicy::Retry(policy(2, vec![Code::Unavailable])));
    let mut pushed = failure(Code::Unavailable);
    pushed.pushback = Pushback::After(Duration::from_secs(7));
    let start = tokio::time::Instant::now();
    let (result, _) = run_script(retry, vec![Err(pushed), Ok(())]).await;
    assert_eq!(result.unwrap(), 1);
    assert_eq!(start.elapsed(), Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn transparent_retry_once_without_counting() {
    let unprocessed = || {
        let mut f = failure(Code::Unavailable);
        f.unprocessed = true;
        Err(f)
    };
    // No policy: one transparent retry, then the failure.
    let (result, calls) = run_script(None, vec![unprocessed(), Ok(())]).await;
    assert_eq!((result.unwrap(), calls), (0, 2));
    let (result, calls) = run_script(None, vec![unprocessed(), unprocessed(), Ok(())]).await;
    assert_eq!((result.unwrap_err().code(), calls), (Code::Unavailable, 2));
    // A stream that was never opened is sent again on a fresh pick, a bounded number of times.
    let never_sent = || {
        let mut f = failure(Code::Unavailable);
        f.never_sent = true;
        Err(f)
    };
    let (result, calls) = run_script(None, vec![never_sent(), never_sent(), Ok(())]).await;
    assert_eq!((result.unwrap(), calls), (0, 3));
    let script = (0..10).map(|_| never_sent()).collect();
    let (result, calls) = run_script(None, script).await;
    assert_eq!((result.unwrap_err().code(), calls), (Code::Unavailable, 4));
}

#[tokio::test(start_paused = true)]
async fn hedging_sends_attempts_a_delay_apart() {
    let hedging = CallPolicy::Hedging(HedgingPolicy {
        max_attempts: 3,
        hedging_delay: Duration::from_secs(1),
        non_fatal_status_codes: vec![Code::Unavailable],
    });
    let started = std::sync::Mutex::new(Vec::new());
    let begin = tokio::time::Instant::now();
    let plan = Plan {
        policy: Some(&hedging),
        throttle: None,
        replay: None,
        transparent: true,
    };
    let result = run(plan, |attempt| {
        started
            .lock()
            .unwrap()
            .push((attempt.previous, begin.elapsed()));
        async move {
            match attempt.previous {
                // The first hangs, the second fails non-fatally, the third wins after 0.5 s.
                0 => std::future::pending().await,
                1 => Outcome::Failed(failure(Code::Unavailable)),
                _ => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Outcome::Committed(attempt.previous)
                }
            }
        }
    })
    .await;
    assert_eq!(result.unwrap(), (2, 2));
    assert_eq!(
        *started.lock().unwrap(),
        vec![
            (0, Duration::ZERO),
            (1, Duration::from_secs(1)),
            (2, Duration::from_secs(2))
        ]
    );
    // A fatal code ends the call at once.
    let plan = Plan {
        policy: Some(&hedging),
        throttle: None,
        replay: None,
        transparent: true,
    };
    let result: Result<((), u32), Status> = run(plan, |_| async {
        Outcome::Failed(failure(Code::InvalidArgument))
    })
    .await;
    assert_eq!(result.unwrap_err().code(), Code::InvalidArgument);
}

#[tokio::test]
async fn replay_gives_every_cursor_all_messages_until_commit() {
    let source = futures_util::stream::iter((0..4u8).map(|i| Ok(Bytes::from(vec![i; 10]))));
    let limits = BufferLimits::new(25, 1000);
    let replay = Replay::new(Box::pin(source), &limits);
    let mut first = replay.cursor(0);
    assert_eq!(first.next().await.unwrap().unwrap()[0], 0);
    assert_eq!(first.next().await.unwrap().unwrap()[0], 1);
    let second: Vec<_> = replay.cursor(1).take(2).collect().await;
    assert_eq!(second.len(), 2);
    assert!(!replay.is_committed());
    assert_eq!(limits.used.load(std::sync::atomic::Ordering::SeqCst), 20);
    // The third message passes the per-call limit: the call commits to the first cursor.
    assert_eq!(first.next().await.unwrap().unwrap()[0], 2);
    assert!(replay.is_committed());
    assert_eq!(first.next().await.unwrap().unwrap()[0], 3);
    assert!(first.next().await.is_none());
    drop((first, replay));
    assert_eq!(limits.used.load(std::sync::atomic::Ordering::SeqCst), 0);
}
