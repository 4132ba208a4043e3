//! JSON → [`Inner`]: every field checked, the first error returned.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{
    CallPolicy, HedgingPolicy, Inner, LbConfig, MethodConfig, RetryPolicy, RetryThrottling,
    ServiceConfigError,
};
use crate::Code;

/// gRFC A6: larger `maxAttempts` values are treated as 5.
const MAX_ATTEMPTS_CAP: u32 = 5;
/// Longer texts are refused outright (serde_json itself limits the nesting depth).
const MAX_JSON_LEN: usize = 1 << 20;

type Result<T> = std::result::Result<T, ServiceConfigError>;

fn invalid(field: &str, reason: impl Into<String>) -> ServiceConfigError {
    ServiceConfigError::InvalidField {
        field: field.to_string(),
        reason: reason.into(),
    }
}

pub(super) fn parse(json: &str) -> Result<Inner> {
    if json.len() > MAX_JSON_LEN {
        return Err(ServiceConfigError::Json(format!(
            "longer than {MAX_JSON_LEN} bytes"
        )));
    }
    let value: Value =
        serde_json::from_str(json).map_err(|e| ServiceConfigError::Json(e.to_string()))?;
    let Value::Object(root) = value else {
        return Err(ServiceConfigError::Json("not an object".to_string()));
    };
    let mut inner = Inner::default();
    if let Some(list) = root.get("loadBalancingConfig") {
        inner.load_balancing = load_balancing(list)?;
    }
    if let Some(list) = root.get("methodConfig") {
        method_configs(list, &mut inner)?;
    }
    if let Some(throttling) = root.get("retryThrottling") {
        inner.retry_throttling = Some(retry_throttling(throttling)?);
    }
    if let Some(health) = root.get("healthCheckConfig") {
        let health = object(health, "healthCheckConfig")?;
        if let Some(name) = health.get("serviceName") {
            inner.health_check_service = Some(string(name, "healthCheckConfig.serviceName")?);
        }
    }
    Ok(inner)
}

fn object<'a>(value: &'a Value, field: &str) -> Result<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| invalid(field, "expected an object"))
}

fn array<'a>(value: &'a Value, field: &str) -> Result<&'a Vec<Value>> {
    value
        .as_array()
        .ok_or_else(|| invalid(field, "expected an array"))
}

fn string(value: &Value, field: &str) -> Result<String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| invalid(field, "expected a string"))
}

fn load_balancing(list: &Value) -> Result<Vec<LbConfig>> {
    let field = "loadBalancingConfig";
    array(list, field)?
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let field = format!("{field}[{i}]");
            let entry = object(entry, &field)?;
            let mut fields = entry.iter();
            match (fields.next(), fields.next()) {
                (Some((name, config)), None) => {
                    object(config, &format!("{field}.{name}"))?;
                    Ok(LbConfig {
                        name: name.clone(),
                        config: config.to_string(),
                    })
                }
                _ => Err(invalid(&field, "expected exactly one policy name")),
            }
        })
        .collect()
}

fn method_configs(list: &Value, inner: &mut Inner) -> Result<()> {
    let mut by_method = HashMap::new();
    let mut by_service = HashMap::new();
    let mut default = None;
    for (i, entry) in array(list, "methodConfig")?.iter().enumerate() {
        let field = format!("methodConfig[{i}]");
        let entry = object(entry, &field)?;
        let names = match entry.get("name") {
            Some(names) => array(names, &format!("{field}.name"))?.as_slice(),
            None => &[],
        };
        for (j, name) in names.iter().enumerate() {
            let field = format!("{field}.name[{j}]");
            let name = object(name, &field)?;
            let get = |key: &str| -> Result<String> {
                match name.get(key) {
                    None | Some(Value::Null) => Ok(String::new()),
                    Some(value) => string(value, &format!("{field}.{key}")),
                }
            };
            let (service, method) = (get("service")?, get("method")?);
            let duplicate = match (service.is_empty(), method.is_empty()) {
                (true, true) => default.replace(i).map(|_| "the default".to_string()),
                (false, true) => by_service
                    .insert(service.clone(), i)
                    .map(|_| format!("service {service}")),
                (false, false) => by_method
                    .insert(format!("{service}/{method}"), i)
                    .map(|_| format!("method {service}/{method}")),
                (true, false) => return Err(invalid(&field, "a method needs its service")),
            };
            if let Some(name) = duplicate {
                return Err(ServiceConfigError::DuplicateName(name));
            }
        }
        inner.methods.push(Arc::new(method_config(entry, &field)?));
    }
    inner.by_method = by_method;
    inner.by_service = by_service;
    inner.default = default;
    Ok(())
}

fn method_config(entry: &Map<String, Value>, field: &str) -> Result<MethodConfig> {
    let sub = |key: &str| format!("{field}.{key}");
    let mut config = MethodConfig::default();
    if let Some(timeout) = entry.get("timeout") {
        config.timeout = Some(duration(timeout, &sub("timeout"))?);
    }
    if let Some(wait) = entry.get("waitForReady") {
        let wait = wait
            .as_bool()
            .ok_or_else(|| invalid(&sub("waitForReady"), "expected true or false"))?;
        config.wait_for_ready = Some(wait);
    }
    if let Some(limit) = entry.get("maxRequestMessageBytes") {
        config.max_request_message_bytes = Some(uint(limit, &sub("maxRequestMessageBytes"))?);
    }
    if let Some(limit) = entry.get("maxResponseMessageBytes") {
        config.max_response_message_bytes = Some(uint(limit, &sub("maxResponseMessageBytes"))?);
    }
    match (entry.get("retryPolicy"), entry.get("hedgingPolicy")) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                field,
                "retryPolicy and hedgingPolicy are mutually exclusive",
            ))
        }
        (Some(retry), None) => {
            config.policy = Some(CallPolicy::Retry(retry_policy(retry, &sub("retryPolicy"))?))
        }
        (None, Some(hedging)) => {
            config.policy = Some(CallPolicy::Hedging(hedging_policy(
                hedging,
                &sub("hedgingPolicy"),
            )?))
        }
        (None, None) => {}
    }
    Ok(config)
}

fn max_attempts(policy: &Map<String, Value>, field: &str) -> Result<u32> {
    let field = format!("{field}.maxAttempts");
    let value = policy
        .get("maxAttempts")
        .ok_or_else(|| invalid(&field, "required"))?;
    let n = uint(value, &field)?;
    if n < 2 {
        return Err(invalid(&field, "must be at least 2"));
    }
    Ok(u32::try_from(n).unwrap_or(u32::MAX).min(MAX_ATTEMPTS_CAP))
}

fn positive_duration(policy: &Map<String, Value>, key: &str, field: &str) -> Result<Duration> {
    let field = format!("{field}.{key}");
    let value = policy.get(key).ok_or_else(|| invalid(&field, "required"))?;
    let d = duration(value, &field)?;
    if d.is_zero() {
        return Err(invalid(&field, "must be greater than zero"));
    }
    Ok(d)
}

fn retry_policy(value: &Value, field: &str) -> Result<RetryPolicy> {
    let policy = object(value, field)?;
    let max_attempts = max_attempts(policy, field)?;
    let initial_backoff = positive_duration(policy, "initialBackoff", field)?;
    let max_backoff = positive_duration(policy, "maxBackoff", field)?;
    let multiplier_field = format!("{field}.backoffMultiplier");
    let backoff_multiplier = policy
        .get("backoffMultiplier")
        .ok_or_else(|| invalid(&multiplier_field, "required"))?
        .as_f64()
        .filter(|m| m.is_finite() && *m > 0.0)
        .ok_or_else(|| invalid(&multiplier_field, "must be a number greater than zero"))?;
    let codes_field = format!("{field}.retryableStatusCodes");
    let codes = policy
        .get("retryableStatusCodes")
        .ok_or_else(|| invalid(&codes_field, "required"))?;
    let retryable_status_codes = status_codes(codes, &codes_field)?;
    if retryable_status_codes.is_empty() {
        return Err(invalid(&codes_field, "must not be empty"));
    }
    Ok(RetryPolicy {
        max_attempts,
        initial_backoff,
        max_backoff,
        backoff_multiplier,
        retryable_status_codes,
    })
}

fn hedging_policy(value: &Value, field: &str) -> Result<HedgingPolicy> {
    let policy = object(value, field)?;
    let max_attempts = max_attempts(policy, field)?;
    let hedging_delay = match policy.get("hedgingDelay") {
        Some(delay) => duration(delay, &format!("{field}.hedgingDelay"))?,
        None => Duration::ZERO,
    };
    let non_fatal_status_codes = match policy.get("nonFatalStatusCodes") {
        Some(codes) => status_codes(codes, &format!("{field}.nonFatalStatusCodes"))?,
        None => Vec::new(),
    };
    Ok(HedgingPolicy {
        max_attempts,
        hedging_delay,
        non_fatal_status_codes,
    })
}

fn retry_throttling(value: &Value) -> Result<RetryThrottling> {
    let field = "retryThrottling";
    let throttling = object(value, field)?;
    let tokens_field = "retryThrottling.maxTokens";
    let max_tokens = uint(
        throttling
            .get("maxTokens")
            .ok_or_else(|| invalid(tokens_field, "required"))?,
        tokens_field,
    )?;
    if max_tokens == 0 || max_tokens > 1000 {
        return Err(invalid(tokens_field, "must be in 1..=1000"));
    }
    let ratio_field = "retryThrottling.tokenRatio";
    let ratio = throttling
        .get("tokenRatio")
        .ok_or_else(|| invalid(ratio_field, "required"))?
        .as_f64()
        .filter(|r| r.is_finite())
        .ok_or_else(|| invalid(ratio_field, "expected a number"))?;
    // gRFC A6: the ratio keeps three decimal places.
    let token_ratio = (ratio * 1000.0).round() / 1000.0;
    if token_ratio <= 0.0 || token_ratio > 1000.0 {
        return Err(invalid(
            ratio_field,
            "must be greater than zero (to 3 decimals)",
        ));
    }
    Ok(RetryThrottling {
        max_tokens: max_tokens as u32,
        token_ratio,
    })
}

/// A non-negative integer, as a JSON number or (proto3 JSON for 64-bit values) a string.
fn uint(value: &Value, field: &str) -> Result<usize> {
    let n = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    n.and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| invalid(field, "expected a non-negative integer"))
}

fn status_codes(value: &Value, field: &str) -> Result<Vec<Code>> {
    let mut codes = Vec::new();
    for (i, code) in array(value, field)?.iter().enumerate() {
        let code = status_code(code).ok_or_else(|| {
            invalid(
                &format!("{field}[{i}]"),
                format!("{code} is not a status code"),
            )
        })?;
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    Ok(codes)
}

/// A status code by name (`"UNAVAILABLE"`) or number (`14`).
fn status_code(value: &Value) -> Option<Code> {
    match value {
        Value::Number(n) => {
            let n = n.as_u64().filter(|n| *n <= 16)?;
            Some(Code::from_i32(n as i32))
        }
        Value::String(name) => (0..=16)
            .map(Code::from_i32)
            .find(|code| code.as_str() == name),
        _ => None,
    }
}

/// A proto3 JSON `google.protobuf.Duration`: `"1.5s"`, `"0.000000001s"`, `"10s"`; negative
/// durations are refused (no field here may be negative).
pub(crate) fn duration(value: &Value, field: &str) -> Result<Duration> {
    let text = value
        .as_str()
        .ok_or_else(|| invalid(field, "expected a duration string such as \"1.5s\""))?;
    parse_duration(text).ok_or_else(|| {
        invalid(
            field,
            format!("{text:?} is not a non-negative duration such as \"1.5s\""),
        )
    })
}

fn parse_duration(text: &str) -> Option<Duration> {
    let number = text.strip_suffix('s')?;
    let (seconds, fraction) = match number.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (number, None),
    };
    if seconds.is_empty() || !seconds.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // google.protobuf.Duration's range: about 10,000 years.
    let seconds: u64 = seconds.parse().ok().filter(|s| *s <= 315_576_000_000)?;
    let nanos = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            let digits: u32 = f.parse().ok()?;
            digits * 10u32.pow(9 - f.len() as u32)
        }
        Some(_) => return None,
    };
    Some(Duration::new(seconds, nanos))
}
