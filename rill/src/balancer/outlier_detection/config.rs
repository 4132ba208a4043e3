//! Outlier detection's settings: the ejection algorithms and the builder.

use std::sync::Arc;
use std::time::Duration;

use super::OutlierDetection;
use crate::balancer::{LbPolicy, RoundRobin};

/// Ejects backends whose success rate is more than `stdev_factor / 1000` standard deviations
/// below the mean of those with at least `request_volume` calls (when there are at least
/// `minimum_hosts` of them).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SuccessRateEjection {
    /// Standard deviations (× 1000) below the mean that make an outlier (1900).
    pub stdev_factor: u32,
    /// The chance (percent) that a detected outlier is really ejected (100).
    pub enforcement_percentage: u32,
    /// Backends with enough calls needed before any is judged (5).
    pub minimum_hosts: u32,
    /// Calls in the interval needed for a backend to be judged (100).
    pub request_volume: u32,
}

impl Default for SuccessRateEjection {
    fn default() -> Self {
        SuccessRateEjection {
            stdev_factor: 1900,
            enforcement_percentage: 100,
            minimum_hosts: 5,
            request_volume: 100,
        }
    }
}

/// Ejects backends whose calls failed more than `threshold` percent of the time.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct FailurePercentageEjection {
    /// The failure percentage above which a backend is an outlier (85).
    pub threshold: u32,
    /// The chance (percent) that a detected outlier is really ejected (100).
    pub enforcement_percentage: u32,
    /// Backends with enough calls needed before any is judged (5).
    pub minimum_hosts: u32,
    /// Calls in the interval needed for a backend to be judged (50).
    pub request_volume: u32,
}

impl Default for FailurePercentageEjection {
    fn default() -> Self {
        FailurePercentageEjection {
            threshold: 85,
            enforcement_percentage: 100,
            minimum_hosts: 5,
            request_volume: 50,
        }
    }
}

/// Ejects a backend as soon as `consecutive_failures` of its calls in a row have failed,
/// without waiting for the next interval (Envoy's `consecutive_5xx`; gRFC A50 has no such
/// detector). This catches a replica that fails everything at once, even on a channel with
/// too few calls or backends for the statistical detectors.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct ConsecutiveFailuresEjection {
    /// Failed calls in a row that eject a backend (5; at least 1).
    pub consecutive_failures: u32,
    /// The chance (percent) that a detected outlier is really ejected (100).
    pub enforcement_percentage: u32,
}

impl Default for ConsecutiveFailuresEjection {
    fn default() -> Self {
        ConsecutiveFailuresEjection {
            consecutive_failures: 5,
            enforcement_percentage: 100,
        }
    }
}

impl OutlierDetection {
    /// Outlier detection around `child`, with gRFC A50's defaults and no ejection algorithm
    /// (add any of [`success_rate`](Self::success_rate),
    /// [`failure_percentage`](Self::failure_percentage) and
    /// [`consecutive_failures`](Self::consecutive_failures)).
    pub fn new(child: impl LbPolicy) -> Self {
        OutlierDetection {
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: 10,
            success_rate: None,
            failure_percentage: None,
            consecutive_failures: None,
            child: Arc::new(child),
        }
    }

    pub(in crate::balancer) fn with_child(child: Arc<dyn LbPolicy>) -> Self {
        OutlierDetection {
            child,
            ..OutlierDetection::new(RoundRobin)
        }
    }

    /// How often backends are judged (10 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The first ejection's length; the n-th lasts n times as long (30 s).
    pub fn base_ejection_time(mut self, time: Duration) -> Self {
        self.base_ejection_time = time;
        self
    }

    /// The longest ejection, unless `base_ejection_time` is longer (300 s).
    pub fn max_ejection_time(mut self, time: Duration) -> Self {
        self.max_ejection_time = time;
        self
    }

    /// The largest share of backends ejected at once, in percent (10; at most 100).
    pub fn max_ejection_percent(mut self, percent: u32) -> Self {
        self.max_ejection_percent = percent.min(100);
        self
    }

    /// Turns on success-rate ejection (checked every interval).
    pub fn success_rate(mut self, config: SuccessRateEjection) -> Self {
        self.success_rate = Some(config);
        self
    }

    /// Turns on failure-percentage ejection (checked every interval).
    pub fn failure_percentage(mut self, config: FailurePercentageEjection) -> Self {
        self.failure_percentage = Some(config);
        self
    }

    /// Turns on consecutive-failures ejection.
    ///
    /// ```
    /// use rill::balancer::{ConsecutiveFailuresEjection, OutlierDetection, RoundRobin};
    /// let mut eject = ConsecutiveFailuresEjection::default();
    /// eject.consecutive_failures = 3;
    /// let policy = OutlierDetection::new(RoundRobin)
    ///     .max_ejection_percent(50)
    ///     .consecutive_failures(eject);
    /// # drop(policy);
    /// ```
    pub fn consecutive_failures(mut self, mut config: ConsecutiveFailuresEjection) -> Self {
        config.consecutive_failures = config.consecutive_failures.max(1);
        config.enforcement_percentage = config.enforcement_percentage.min(100);
        self.consecutive_failures = Some(config);
        self
    }
}
