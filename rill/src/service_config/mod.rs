//! The service config: per-channel and per-method call settings in gRPC's JSON form
//! (grpc/grpc `doc/service_config.md`, `grpc/service_config/service_config.proto`).
//!
//! [`ServiceConfig::from_json`] parses and validates the whole document up front: an invalid
//! config is an error, never applied in part. A channel takes it as its default with
//! [`Endpoint::service_config`](crate::client::Endpoint::service_config).
//!
//! ```
//! let config = rill::service_config::ServiceConfig::from_json(r#"{
//!   "loadBalancingConfig": [{"round_robin": {}}],
//!   "methodConfig": [{
//!     "name": [{"service": "user.UserService", "method": "GetUser"}],
//!     "timeout": "2.5s",
//!     "retryPolicy": {
//!       "maxAttempts": 3, "initialBackoff": "0.1s", "maxBackoff": "1s",
//!       "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]
//!     }
//!   }],
//!   "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
//! }"#).unwrap();
//! let method = config.method_config("/user.UserService/GetUser").unwrap();
//! assert_eq!(method.timeout, Some(std::time::Duration::from_millis(2500)));
//! ```

mod parse;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::Code;

/// Why a service config was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceConfigError {
    /// The text is not JSON (or not a JSON object).
    #[error("service config is not a JSON object: {0}")]
    Json(String),
    /// A field has the wrong type or an invalid value.
    #[error("service config field {field}: {reason}")]
    InvalidField {
        /// The JSON path of the field, e.g. `methodConfig[0].retryPolicy.maxAttempts`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two method configs name the same method (or service, or default).
    #[error("service config names {0} in more than one methodConfig")]
    DuplicateName(String),
    /// None of the policies in `loadBalancingConfig` is known to the channel.
    #[error("no load-balancing policy in {0:?} is supported")]
    NoSupportedPolicy(Vec<String>),
}

/// A parsed, validated service config. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct ServiceConfig {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    load_balancing: Vec<LbConfig>,
    methods: Vec<Arc<MethodConfig>>,
    /// `service/method` → index into `methods`.
    by_method: HashMap<String, usize>,
    by_service: HashMap<String, usize>,
    default: Option<usize>,
    retry_throttling: Option<RetryThrottling>,
    health_check_service: Option<String>,
}

/// One entry of `loadBalancingConfig`: a policy name and its config (JSON text).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LbConfig {
    /// The policy's name, e.g. `round_robin`.
    pub name: String,
    /// The policy's own config object as JSON text (`{}` when empty).
    pub config: String,
}

/// The settings of the calls one `methodConfig` entry names.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct MethodConfig {
    /// Upper bound of the call's deadline (the shorter of this and the call's own applies).
    pub timeout: Option<Duration>,
    /// Whether calls wait for a ready connection (unless the call itself says).
    pub wait_for_ready: Option<bool>,
    /// Largest request message sent; larger → RESOURCE_EXHAUSTED.
    pub max_request_message_bytes: Option<usize>,
    /// Largest response message accepted; larger → RESOURCE_EXHAUSTED.
    pub max_response_message_bytes: Option<usize>,
    /// How failed calls are retried (gRFC A6), or hedged.
    pub policy: Option<CallPolicy>,
}

/// A method's retry or hedging policy (at most one of the two).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CallPolicy {
    /// Retry a failed attempt after a backoff.
    Retry(RetryPolicy),
    /// Send several attempts at once, a delay apart; the first good answer wins.
    Hedging(HedgingPolicy),
}

/// `retryPolicy` (gRFC A6).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (2..=5; larger values are capped at 5).
    pub max_attempts: u32,
    /// The backoff before the first retry (its upper bound: the wait is random below it).
    pub initial_backoff: Duration,
    /// The cap of the backoff.
    pub max_backoff: Duration,
    /// The backoff's growth per retry.
    pub backoff_multiplier: f64,
    /// Status codes that make an attempt retryable.
    pub retryable_status_codes: Vec<Code>,
}

/// `hedgingPolicy` (gRFC A6).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct HedgingPolicy {
    /// Attempts in all, the first included (2..=5; larger values are capped at 5).
    pub max_attempts: u32,
    /// The delay between sending one attempt and the next.
    pub hedging_delay: Duration,
    /// Status codes after which the other attempts continue (any other code ends the call).
    pub non_fatal_status_codes: Vec<Code>,
}

/// `retryThrottling`: a per-channel token bucket that stops retries while most calls fail.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryThrottling {
    /// Tokens at the start and at most (0 < max_tokens ≤ 1000).
    pub max_tokens: u32,
    /// Tokens a successful call gives back, kept to three decimals (> 0).
    pub token_ratio: f64,
}

impl ServiceConfig {
    /// Parses and validates a JSON service config.
    ///
    /// Unknown fields are ignored (as every gRPC does, for forward compatibility); a field of
    /// the wrong type, an invalid value or a duplicate method name is an error.
    ///
    /// ```
    /// use rill::service_config::ServiceConfig;
    /// assert!(ServiceConfig::from_json(r#"{"methodConfig": [{"name": [{}], "timeout": "1s"}]}"#).is_ok());
    /// assert!(ServiceConfig::from_json(r#"{"methodConfig": [{"name": [{}], "timeout": "1"}]}"#).is_err());
    /// ```
    pub fn from_json(json: &str) -> Result<ServiceConfig, ServiceConfigError> {
        parse::parse(json).map(|inner| ServiceConfig {
            inner: Arc::new(inner),
        })
    }

    /// The `loadBalancingConfig` entries, in order of preference.
    pub fn load_balancing_configs(&self) -> &[LbConfig] {
        &self.inner.load_balancing
    }

    /// The first `loadBalancingConfig` entry whose policy `known` accepts; `Ok(None)` when the
    /// config has no `loadBalancingConfig`, an error when it lists only unknown policies.
    ///
    /// ```
    /// let config = rill::service_config::ServiceConfig::from_json(
    ///     r#"{"loadBalancingConfig": [{"fancy": {}}, {"round_robin": {}}]}"#).unwrap();
    /// let chosen = config.select_load_balancing(|name| name == "round_robin").unwrap();
    /// assert_eq!(chosen.unwrap().name, "round_robin");
    /// ```
    pub fn select_load_balancing(
        &self,
        known: impl Fn(&str) -> bool,
    ) -> Result<Option<&LbConfig>, ServiceConfigError> {
        let configs = &self.inner.load_balancing;
        if configs.is_empty() {
            return Ok(None);
        }
        match configs.iter().find(|c| known(&c.name)) {
            Some(config) => Ok(Some(config)),
            None => Err(ServiceConfigError::NoSupportedPolicy(
                configs.iter().map(|c| c.name.clone()).collect(),
            )),
        }
    }

    /// The method config for `path` (`/package.Service/Method`): the entry naming the method,
    /// else the one naming its service, else the default entry (`{}`), else none.
    pub fn method_config(&self, path: &str) -> Option<&MethodConfig> {
        self.method_config_arc(path).map(|m| &**m)
    }

    pub(crate) fn method_config_arc(&self, path: &str) -> Option<&Arc<MethodConfig>> {
        let inner = &*self.inner;
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        let index = inner.by_method.get(trimmed).copied().or_else(|| {
            let service = trimmed.rsplit_once('/').map_or(trimmed, |(s, _)| s);
            inner.by_service.get(service).copied().or(inner.default)
        })?;
        inner.methods.get(index)
    }

    /// `retryThrottling`, if set.
    pub fn retry_throttling(&self) -> Option<RetryThrottling> {
        self.inner.retry_throttling
    }

    /// `healthCheckConfig.serviceName`, if set: the service whose health decides whether a
    /// subchannel may be used (client-side health checking).
    pub fn health_check_service_name(&self) -> Option<&str> {
        self.inner.health_check_service.as_deref()
    }
}
