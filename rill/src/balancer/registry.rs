//! Load-balancing policies by their gRPC names, built from a service config's
//! `loadBalancingConfig` JSON.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::ring_hash::RING_SIZE_CAP;
use super::{
    ConsecutiveFailuresEjection, FailurePercentageEjection, LbPolicy, LeastRequest,
    OutlierDetection, PickFirst, RingHash, RoundRobin, SuccessRateEjection, WeightedRoundRobin,
};

/// Why a `loadBalancingConfig` could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LbConfigError {
    /// No policy of this name is registered.
    #[error("unknown load-balancing policy {0:?}")]
    UnknownPolicy(String),
    /// None of the policies in a `loadBalancingConfig` list is registered.
    #[error("no supported policy in loadBalancingConfig (tried {0:?})")]
    NoSupportedPolicy(Vec<String>),
    /// The policy's config is invalid.
    #[error("invalid {policy} config: {reason}")]
    InvalidConfig {
        /// The policy's name.
        policy: String,
        /// What is wrong.
        reason: String,
    },
}

type Factory =
    Arc<dyn Fn(&Value, &LbPolicyRegistry) -> Result<Arc<dyn LbPolicy>, String> + Send + Sync>;

/// Policies by name: the built-in ones (`pick_first`, `round_robin`,
/// `least_request_experimental`, `weighted_round_robin`, `ring_hash_experimental`,
/// `outlier_detection_experimental`) plus any you register.
///
/// ```
/// use rill::balancer::LbPolicyRegistry;
/// let registry = LbPolicyRegistry::new();
/// let config = serde_json::json!([
///     {"unknown_policy": {}},
///     {"ring_hash_experimental": {"minRingSize": 64, "maxRingSize": 256}}
/// ]);
/// let policy = registry.select(&config).unwrap();
/// assert_eq!(policy.name(), "ring_hash_experimental");
/// assert!(registry.build("least_request_experimental", &serde_json::json!({"choiceCount": "x"})).is_err());
/// ```
#[derive(Clone)]
pub struct LbPolicyRegistry {
    factories: HashMap<String, Factory>,
}

impl std::fmt::Debug for LbPolicyRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.factories.keys().collect();
        names.sort();
        f.debug_tuple("LbPolicyRegistry").field(&names).finish()
    }
}

impl Default for LbPolicyRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl LbPolicyRegistry {
    /// The built-in policies.
    pub fn new() -> Self {
        let mut registry = LbPolicyRegistry {
            factories: HashMap::new(),
        };
        registry.register("pick_first", |_: &Value| Ok(PickFirst));
        registry.register("round_robin", |_: &Value| Ok(RoundRobin));
        registry.register("least_request_experimental", least_request);
        registry.register("weighted_round_robin", weighted_round_robin);
        registry.register("ring_hash_experimental", ring_hash);
        let od: Factory = Arc::new(|config, registry| {
            outlier_detection(config, registry).map(|p| Arc::new(p) as Arc<dyn LbPolicy>)
        });
        registry
            .factories
            .insert("outlier_detection_experimental".into(), od);
        registry
    }

    /// Adds (or replaces) a policy: `parse` turns its JSON config into the policy, or says
    /// why it cannot.
    pub fn register<P, F>(&mut self, name: &str, parse: F)
    where
        P: LbPolicy,
        F: Fn(&Value) -> Result<P, String> + Send + Sync + 'static,
    {
        let factory: Factory =
            Arc::new(move |config, _| parse(config).map(|p| Arc::new(p) as Arc<dyn LbPolicy>));
        self.factories.insert(name.to_string(), factory);
    }

    /// Whether a policy named `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.factories.contains_key(name)
    }

    /// The policy `name` with its JSON `config` (`{}` or `null` for the defaults).
    pub fn build(&self, name: &str, config: &Value) -> Result<Arc<dyn LbPolicy>, LbConfigError> {
        let factory = self
            .factories
            .get(name)
            .ok_or_else(|| LbConfigError::UnknownPolicy(name.to_string()))?;
        factory(config, self).map_err(|reason| LbConfigError::InvalidConfig {
            policy: name.to_string(),
            reason,
        })
    }

    /// The first registered policy of a `loadBalancingConfig` list (`[{"name": {config}}, …]`),
    /// as gRPC picks it; an invalid config of that policy is an error (never skipped).
    pub fn select(
        &self,
        load_balancing_config: &Value,
    ) -> Result<Arc<dyn LbPolicy>, LbConfigError> {
        let invalid = |reason: &str| LbConfigError::InvalidConfig {
            policy: "loadBalancingConfig".into(),
            reason: reason.into(),
        };
        let list = load_balancing_config
            .as_array()
            .ok_or_else(|| invalid("expected a list"))?;
        let mut tried = Vec::new();
        for entry in list {
            let object = entry
                .as_object()
                .filter(|o| o.len() == 1)
                .ok_or_else(|| invalid("each entry must be an object with one policy name"))?;
            let Some((name, config)) = object.iter().next() else {
                continue;
            };
            if self.factories.contains_key(name) {
                return self.build(name, config);
            }
            tried.push(name.clone());
        }
        Err(LbConfigError::NoSupportedPolicy(tried))
    }
}

fn fields(config: &Value) -> Result<Map<String, Value>, String> {
    match config {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map.clone()),
        _ => Err("expected a JSON object".into()),
    }
}

/// A proto JSON integer: a number or a decimal string.
fn uint(map: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{key} must be a non-negative integer")),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| format!("{key} must be a non-negative integer")),
        Some(_) => Err(format!("{key} must be a non-negative integer")),
    }
}

fn uint32(map: &Map<String, Value>, key: &str) -> Result<Option<u32>, String> {
    uint(map, key)?
        .map(|v| u32::try_from(v).map_err(|_| format!("{key} is too large")))
        .transpose()
}

fn percent(map: &Map<String, Value>, key: &str) -> Result<Option<u32>, String> {
    match uint32(map, key)? {
        Some(v) if v > 100 => Err(format!("{key} must be at most 100")),
        v => Ok(v),
    }
}

/// A proto JSON `Duration`: `"1.5s"`.
fn duration(map: &Map<String, Value>, key: &str) -> Result<Option<Duration>, String> {
    let Some(value) = map.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let bad = || format!("{key} must be a duration such as \"1.5s\"");
    let text = value.as_str().ok_or_else(bad)?;
    let number = text.strip_suffix('s').ok_or_else(bad)?;
    let (secs, frac) = number.split_once('.').unwrap_or((number, ""));
    if secs.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let secs: u64 = secs.parse().map_err(|_| bad())?;
    // google.protobuf.Duration's range.
    if secs > 315_576_000_000 {
        return Err(format!("{key} is out of range"));
    }
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    Ok(Some(Duration::new(secs, nanos)))
}

fn least_request(config: &Value) -> Result<LeastRequest, String> {
    let map = fields(config)?;
    let mut policy = LeastRequest::new();
    if let Some(n) = uint(&map, "choiceCount")? {
        if n < 2 {
            return Err("choiceCount must be at least 2".into());
        }
        policy = policy.choice_count(n.min(10) as usize);
    }
    Ok(policy)
}

fn weighted_round_robin(config: &Value) -> Result<WeightedRoundRobin, String> {
    let map = fields(config)?;
    let mut policy = WeightedRoundRobin::new();
    if let Some(d) = duration(&map, "blackoutPeriod")? {
        policy = policy.blackout_period(d);
    }
    if let Some(d) = duration(&map, "weightExpirationPeriod")? {
        policy = policy.weight_expiration_period(d);
    }
    if let Some(d) = duration(&map, "weightUpdatePeriod")? {
        policy = policy.weight_update_period(d);
    }
    match map.get("errorUtilizationPenalty") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_f64() {
            Some(p) if p >= 0.0 => policy = policy.error_utilization_penalty(p),
            _ => return Err("errorUtilizationPenalty must be a non-negative number".into()),
        },
    }
    // enableOobLoadReport / oobReportingPeriod: rill uses per-call reports only.
    Ok(policy)
}

fn ring_hash(config: &Value) -> Result<RingHash, String> {
    let map = fields(config)?;
    let defaults = RingHash::new();
    let min = uint(&map, "minRingSize")?.unwrap_or(defaults.min_ring_size);
    let max = uint(&map, "maxRingSize")?.unwrap_or(defaults.max_ring_size);
    if min == 0 || min > max || max > RING_SIZE_CAP {
        return Err(format!(
            "need 0 < minRingSize <= maxRingSize <= {RING_SIZE_CAP} (got {min} and {max})"
        ));
    }
    let mut policy = RingHash::new().ring_size(min, max);
    match map.get("requestHashHeader") {
        None | Some(Value::Null) => {}
        Some(Value::String(h)) if h.is_empty() => {}
        Some(Value::String(h))
            if !h.ends_with("-bin") && http::HeaderName::try_from(h.as_str()).is_ok() =>
        {
            policy = policy.request_hash_header(h.as_str());
        }
        Some(_) => return Err("requestHashHeader must be a valid non-binary header name".into()),
    }
    Ok(policy)
}

fn outlier_detection(
    config: &Value,
    registry: &LbPolicyRegistry,
) -> Result<OutlierDetection, String> {
    let map = fields(config)?;
    let child = match map.get("childPolicy") {
        Some(list) => registry
            .select(list)
            .map_err(|e| format!("childPolicy: {e}"))?,
        None => return Err("childPolicy is required".into()),
    };
    let mut policy = OutlierDetection::with_child(child);
    if let Some(d) = duration(&map, "interval")? {
        policy = policy.interval(d);
    }
    if let Some(d) = duration(&map, "baseEjectionTime")? {
        policy = policy.base_ejection_time(d);
    }
    if let Some(d) = duration(&map, "maxEjectionTime")? {
        policy = policy.max_ejection_time(d);
    }
    if let Some(p) = percent(&map, "maxEjectionPercent")? {
        policy = policy.max_ejection_percent(p);
    }
    if let Some(sr) = map.get("successRateEjection").filter(|v| !v.is_null()) {
        let sr = fields(sr)?;
        let d = SuccessRateEjection::default();
        policy = policy.success_rate(SuccessRateEjection {
            stdev_factor: uint32(&sr, "stdevFactor")?.unwrap_or(d.stdev_factor),
            enforcement_percentage: percent(&sr, "enforcementPercentage")?
                .unwrap_or(d.enforcement_percentage),
            minimum_hosts: uint32(&sr, "minimumHosts")?.unwrap_or(d.minimum_hosts),
            request_volume: uint32(&sr, "requestVolume")?.unwrap_or(d.request_volume),
        });
    }
    if let Some(fp) = map
        .get("failurePercentageEjection")
        .filter(|v| !v.is_null())
    {
        let fp = fields(fp)?;
        let d = FailurePercentageEjection::default();
        policy = policy.failure_percentage(FailurePercentageEjection {
            threshold: percent(&fp, "threshold")?.unwrap_or(d.threshold),
            enforcement_percentage: percent(&fp, "enforcementPercentage")?
                .unwrap_or(d.enforcement_percentage),
            minimum_hosts: uint32(&fp, "minimumHosts")?.unwrap_or(d.minimum_hosts),
            request_volume: uint32(&fp, "requestVolume")?.unwrap_or(d.request_volume),
        });
    }
    // rill's own field (Envoy's consecutive_5xx); gRFC A50 defines no such detector.
    if let Some(cf) = map
        .get("consecutiveFailuresEjection")
        .filter(|v| !v.is_null())
    {
        let cf = fields(cf)?;
        let d = ConsecutiveFailuresEjection::default();
        policy = policy.consecutive_failures(ConsecutiveFailuresEjection {
            consecutive_failures: uint32(&cf, "consecutiveFailures")?
                .unwrap_or(d.consecutive_failures),
            enforcement_percentage: percent(&cf, "enforcementPercentage")?
                .unwrap_or(d.enforcement_percentage),
        });
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_each_policy_from_json() {
        let registry = LbPolicyRegistry::new();
        let cases = [
            ("pick_first", json!({})),
            ("round_robin", json!(null)),
            ("least_request_experimental", json!({"choiceCount": 3})),
            (
                "weighted_round_robin",
                json!({"blackoutPeriod": "0.5s", "errorUtilizationPenalty": 2}),
            ),
            (
                "ring_hash_experimental",
                json!({"minRingSize": "10", "maxRingSize": 20, "requestHashHeader": "x-key"}),
            ),
            (
                "outlier_detection_experimental",
                json!({
                    "interval": "1s", "baseEjectionTime": "30s", "maxEjectionPercent": 50,
                    "failurePercentageEjection": {"threshold": 50, "minimumHosts": 2},
                    "successRateEjection": {},
                    "consecutiveFailuresEjection": {"consecutiveFailures": 3},
                    "childPolicy": [{"round_robin": {}}]
                }),
            ),
        ];
        for (name, config) in cases {
            let policy = registry
                .build(name, &config)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(policy.name(), name);
        }
    }

    #[test]
    fn rejects_invalid_configs() {
        let registry = LbPolicyRegistry::new();
        let cases = [
            ("least_request_experimental", json!({"choiceCount": 1})),
            ("least_request_experimental", json!([])),
            ("weighted_round_robin", json!({"blackoutPeriod": "10"})),
            (
                "weighted_round_robin",
                json!({"errorUtilizationPenalty": -1}),
            ),
            (
                "ring_hash_experimental",
                json!({"minRingSize": 100, "maxRingSize": 10}),
            ),
            ("ring_hash_experimental", json!({"maxRingSize": 9000000})),
            (
                "ring_hash_experimental",
                json!({"requestHashHeader": "x-key-bin"}),
            ),
            ("outlier_detection_experimental", json!({})),
            (
                "outlier_detection_experimental",
                json!({"maxEjectionPercent": 101, "childPolicy": [{"round_robin": {}}]}),
            ),
            (
                "outlier_detection_experimental",
                json!({"childPolicy": [{"nope": {}}]}),
            ),
            (
                "outlier_detection_experimental",
                json!({
                    "consecutiveFailuresEjection": {"enforcementPercentage": 101},
                    "childPolicy": [{"round_robin": {}}]
                }),
            ),
        ];
        for (name, config) in cases {
            assert!(
                matches!(
                    registry.build(name, &config),
                    Err(LbConfigError::InvalidConfig { .. })
                ),
                "{name} {config}"
            );
        }
        assert_eq!(
            registry.build("nope", &json!({})).err(),
            Some(LbConfigError::UnknownPolicy("nope".into()))
        );
        assert!(matches!(
            registry.select(&json!([{"a": {}}, {"b": {}}])),
            Err(LbConfigError::NoSupportedPolicy(names)) if names == ["a", "b"]
        ));
    }

    #[test]
    fn durations_parse_as_proto_json() {
        let map = |v: &str| json!({ "d": v }).as_object().unwrap().clone();
        assert_eq!(
            duration(&map("1s"), "d").unwrap(),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            duration(&map("0.25s"), "d").unwrap(),
            Some(Duration::from_millis(250))
        );
        for bad in ["1", "s", "-1s", "1.0000000001s", "1.xs", "315576000001s"] {
            assert!(duration(&map(bad), "d").is_err(), "{bad}");
        }
    }
}
