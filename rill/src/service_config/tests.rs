use std::time::Duration;

use super::*;

fn method(json: &str) -> Result<MethodConfig, ServiceConfigError> {
    let config = ServiceConfig::from_json(&format!(
        r#"{{"methodConfig": [{{"name": [{{"service": "s.S"}}], {json}}}]}}"#
    ))?;
    Ok(config.method_config("/s.S/M").cloned().unwrap_or_default())
}

const RETRY: &str = r#""retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.1s",
    "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE", 10]}"#;

#[test]
fn method_fields() {
    let config = method(&format!(
        r#""timeout": "1.5s", "waitForReady": true, "maxRequestMessageBytes": 1024,
           "maxResponseMessageBytes": "2048", {RETRY}"#
    ))
    .unwrap();
    assert_eq!(config.timeout, Some(Duration::from_millis(1500)));
    assert_eq!(config.wait_for_ready, Some(true));
    assert_eq!(config.max_request_message_bytes, Some(1024));
    assert_eq!(config.max_response_message_bytes, Some(2048));
    let Some(CallPolicy::Retry(retry)) = config.policy else {
        panic!("expected a retry policy")
    };
    assert_eq!(retry.max_attempts, 4);
    assert_eq!(retry.initial_backoff, Duration::from_millis(100));
    assert_eq!(retry.max_backoff, Duration::from_secs(1));
    assert_eq!(retry.backoff_multiplier, 2.0);
    assert_eq!(
        retry.retryable_status_codes,
        vec![Code::Unavailable, Code::Aborted]
    );
}

#[test]
fn durations() {
    let cases: &[(&str, Option<Duration>)] = &[
        ("1s", Some(Duration::from_secs(1))),
        ("0s", Some(Duration::ZERO)),
        ("1.5s", Some(Duration::from_millis(1500))),
        ("0.000000001s", Some(Duration::from_nanos(1))),
        ("10.100s", Some(Duration::from_millis(10_100))),
        ("1", None),
        ("s", None),
        (".5s", None),
        ("1.s", None),
        ("-1s", None),
        ("1.0000000001s", None),
        ("1e3s", None),
        ("1ms", None),
        ("99999999999999999999s", None),
    ];
    for (text, expected) in cases {
        assert_eq!(
            parse::duration(&format!("{text:?}").parse().unwrap(), "t").ok(),
            *expected,
            "{text}"
        );
    }
}

#[test]
fn invalid_configs_are_rejected() {
    let retry = |body: &str| format!(r#""retryPolicy": {{{body}}}"#);
    let ok_retry = r#""initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": [14]"#;
    let cases: Vec<(String, &str)> = vec![
        (
            retry(&format!(r#""maxAttempts": 1, {ok_retry}"#)),
            "maxAttempts",
        ),
        (
            retry(&format!(r#""maxAttempts": -2, {ok_retry}"#)),
            "maxAttempts",
        ),
        (retry(ok_retry), "maxAttempts"),
        (
            retry(
                r#""maxAttempts": 2, "initialBackoff": "0s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": [14]"#,
            ),
            "initialBackoff",
        ),
        (
            retry(
                r#""maxAttempts": 2, "initialBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": [14]"#,
            ),
            "maxBackoff",
        ),
        (
            retry(
                r#""maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 0, "retryableStatusCodes": [14]"#,
            ),
            "backoffMultiplier",
        ),
        (
            retry(
                r#""maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": []"#,
            ),
            "retryableStatusCodes",
        ),
        (
            retry(
                r#""maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": ["unavailable"]"#,
            ),
            "retryableStatusCodes[0]",
        ),
        (
            retry(
                r#""maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": [17]"#,
            ),
            "retryableStatusCodes[0]",
        ),
        (
            format!("{RETRY}, \"hedgingPolicy\": {{\"maxAttempts\": 2}}"),
            "methodConfig[0]",
        ),
        (
            r#""hedgingPolicy": {"maxAttempts": 1}"#.into(),
            "maxAttempts",
        ),
        (
            r#""hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": 5}"#.into(),
            "hedgingDelay",
        ),
        (r#""timeout": "-1s""#.into(), "timeout"),
        (r#""waitForReady": "yes""#.into(), "waitForReady"),
        (
            r#""maxRequestMessageBytes": -1"#.into(),
            "maxRequestMessageBytes",
        ),
    ];
    for (body, field) in cases {
        match method(&body) {
            Err(ServiceConfigError::InvalidField { field: f, .. }) => {
                assert!(f.ends_with(field), "{body}: error on {f}, expected {field}")
            }
            other => panic!("{body}: expected an error on {field}, got {other:?}"),
        }
    }
    for json in [
        "",
        "[]",
        "{",
        r#"{"loadBalancingConfig": {}}"#,
        r#"{"loadBalancingConfig": [{"a": {}, "b": {}}]}"#,
        r#"{"loadBalancingConfig": [{"a": 1}]}"#,
        r#"{"methodConfig": [{"name": [{"method": "M"}]}]}"#,
        r#"{"methodConfig": [{"name": [{"service": 1}]}]}"#,
        r#"{"methodConfig": [{"name": [{}]}, {"name": [{}]}]}"#,
        r#"{"methodConfig": [{"name": [{"service": "a"}, {"service": "a"}]}]}"#,
        r#"{"retryThrottling": {"maxTokens": 0, "tokenRatio": 1}}"#,
        r#"{"retryThrottling": {"maxTokens": 1001, "tokenRatio": 1}}"#,
        r#"{"retryThrottling": {"maxTokens": 10, "tokenRatio": 0}}"#,
        r#"{"retryThrottling": {"maxTokens": 10, "tokenRatio": 0.0004}}"#,
        r#"{"retryThrottling": {"maxTokens": 10}}"#,
        r#"{"healthCheckConfig": {"serviceName": 5}}"#,
    ] {
        assert!(
            ServiceConfig::from_json(json).is_err(),
            "{json} should be rejected"
        );
    }
}

#[test]
fn max_attempts_are_capped_at_five() {
    let config = method(r#""hedgingPolicy": {"maxAttempts": 9, "hedgingDelay": "0.5s", "nonFatalStatusCodes": ["UNAVAILABLE"]}"#).unwrap();
    assert_eq!(
        config.policy,
        Some(CallPolicy::Hedging(HedgingPolicy {
            max_attempts: 5,
            hedging_delay: Duration::from_millis(500),
            non_fatal_status_codes: vec![Code::Unavailable],
        }))
    );
}

#[test]
fn name_matching_method_then_service_then_default() {
    let config = ServiceConfig::from_json(
        r#"{"methodConfig": [
            {"name": [{}], "timeout": "1s"},
            {"name": [{"service": "a.A"}], "timeout": "2s"},
            {"name": [{"service": "a.A", "method": "M"}, {"service": "b.B", "method": "N"}], "timeout": "3s"}
        ]}"#,
    )
    .unwrap();
    let cases = [
        ("/a.A/M", 3),
        ("/b.B/N", 3),
        ("/a.A/Other", 2),
        ("/b.B/Other", 1),
        ("/c.C/M", 1),
    ];
    for (path, seconds) in cases {
        let timeout = config.method_config(path).and_then(|m| m.timeout);
        assert_eq!(timeout, Some(Duration::from_secs(seconds)), "{path}");
    }
    let none =
        ServiceConfig::from_json(r#"{"methodConfig": [{"name": [{"service": "a.A"}]}]}"#).unwrap();
    assert!(none.method_config("/b.B/M").is_none());
}

#[test]
fn load_balancing_and_the_rest() {
    let config = ServiceConfig::from_json(
        r#"{"loadBalancingConfig": [{"grpclb": {"x": 1}}, {"round_robin": {}}, {"pick_first": {}}],
            "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.12345},
            "healthCheckConfig": {"serviceName": "svc"},
            "someFutureField": [1, 2]}"#,
    )
    .unwrap();
    assert_eq!(config.load_balancing_configs().len(), 3);
    assert_eq!(config.load_balancing_configs()[0].config, r#"{"x":1}"#);
    let known = |name: &str| name == "pick_first" || name == "round_robin";
    assert_eq!(
        config.select_load_balancing(known).unwrap().unwrap().name,
        "round_robin"
    );
    assert!(matches!(
        config.select_load_balancing(|_| false),
        Err(ServiceConfigError::NoSupportedPolicy(_))
    ));
    let throttling = config.retry_throttling().unwrap();
    assert_eq!(throttling.max_tokens, 10);
    assert_eq!(throttling.token_ratio, 0.123);
    assert_eq!(config.health_check_service_name(), Some("svc"));
    let empty = ServiceConfig::from_json("{}").unwrap();
    assert!(empty.select_load_balancing(known).unwrap().is_none());
}
