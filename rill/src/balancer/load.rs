//! What a subchannel knows about its calls: how many are in flight, how they ended, and the
//! latest ORCA load report a server sent in its trailers.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use http::HeaderMap;
use prost::Message;

use crate::Status;

/// The trailer a server reports its load in (an `xds.data.orca.v3.OrcaLoadReport`), as gRFC
/// A51 / A58 define it.
pub const LOAD_REPORT_TRAILER: &str = "endpoint-load-metrics-bin";

/// A backend's load, as an ORCA `OrcaLoadReport` carries it: what `weighted_round_robin`
/// weighs backends by.
///
/// A server reports it by adding [`LoadReport::to_bytes`] to its trailers under
/// [`LOAD_REPORT_TRAILER`]:
///
/// ```
/// use rill::balancer::{LoadReport, LOAD_REPORT_TRAILER};
/// let mut report = LoadReport::default();
/// report.cpu_utilization = 0.5;
/// report.qps = 100.0;
/// let mut trailers = rill::MetadataMap::new();
/// trailers.insert_bin(LOAD_REPORT_TRAILER, report.to_bytes()).unwrap();
/// # assert_eq!(LoadReport::from_bytes(&report.to_bytes()).unwrap().qps, 100.0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct LoadReport {
    /// CPU utilization, usually 0.0 to 1.0 (ORCA field 1).
    pub cpu_utilization: f64,
    /// Memory utilization, 0.0 to 1.0 (field 2).
    pub mem_utilization: f64,
    /// Queries per second the backend serves (`rps_fractional`, field 6).
    pub qps: f64,
    /// Errors per second (field 7).
    pub eps: f64,
    /// Application-defined utilization; preferred over CPU when set (field 9).
    pub application_utilization: f64,
}

/// The fields of `xds.data.orca.v3.OrcaLoadReport` that rill reads.
#[derive(Clone, PartialEq, prost::Message)]
struct OrcaLoadReport {
    #[prost(double, tag = "1")]
    cpu_utilization: f64,
    #[prost(double, tag = "2")]
    mem_utilization: f64,
    #[prost(double, tag = "6")]
    rps_fractional: f64,
    #[prost(double, tag = "7")]
    eps: f64,
    #[prost(double, tag = "9")]
    application_utilization: f64,
}

impl LoadReport {
    /// The report encoded as an `OrcaLoadReport` protobuf.
    pub fn to_bytes(&self) -> Vec<u8> {
        OrcaLoadReport {
            cpu_utilization: self.cpu_utilization,
            mem_utilization: self.mem_utilization,
            rps_fractional: self.qps,
            eps: self.eps,
            application_utilization: self.application_utilization,
        }
        .encode_to_vec()
    }

    /// Decodes an `OrcaLoadReport`; `None` if it is not valid protobuf.
    pub fn from_bytes(bytes: &[u8]) -> Option<LoadReport> {
        let orca = OrcaLoadReport::decode(bytes).ok()?;
        Some(LoadReport {
            cpu_utilization: orca.cpu_utilization,
            mem_utilization: orca.mem_utilization,
            qps: orca.rps_fractional,
            eps: orca.eps,
            application_utilization: orca.application_utilization,
        })
    }

    fn from_trailers(trailers: &HeaderMap) -> Option<LoadReport> {
        use base64::Engine;
        let value = trailers.get(LOAD_REPORT_TRAILER)?.as_bytes();
        // gRPC binary metadata: base64, padded or not.
        let trimmed: Vec<u8> = value.iter().copied().filter(|b| *b != b'=').collect();
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(trimmed)
            .ok()?;
        LoadReport::from_bytes(&bytes)
    }
}

/// A channel's calls in flight and the time of the last one (for its idle timeout).
#[derive(Debug)]
pub(crate) struct Activity {
    in_flight: AtomicUsize,
    base: Instant,
    /// Milliseconds from `base` to the start of the last call.
    last: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            in_flight: AtomicUsize::new(0),
            base: Instant::now(),
            last: AtomicU64::new(0),
        }
    }
}

impl Activity {
    /// How long the channel has been without calls; `None` while calls are in flight.
    pub(crate) fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let last = self.base + Duration::from_millis(self.last.load(Ordering::Relaxed));
        Some(Instant::now().saturating_duration_since(last))
    }

    fn started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let now = Instant::now()
            .saturating_duration_since(self.base)
            .as_millis() as u64;
        self.last.store(now, Ordering::Relaxed);
    }

    fn ended(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        let now = Instant::now()
            .saturating_duration_since(self.base)
            .as_millis() as u64;
        self.last.store(now, Ordering::Relaxed);
    }
}

/// Counters of one subchannel's calls, updated by the transport as calls start and end.
#[derive(Debug, Default)]
pub(crate) struct CallStats {
    channel: Arc<Activity>,
    in_flight: AtomicUsize,
    successes: AtomicU64,
    failures: AtomicU64,
    /// Failures since the last success (outlier detection's consecutive-failures ejection).
    consecutive_failures: AtomicU32,
    /// Rings `alarm` when `consecutive_failures` reaches it (0: never).
    alarm_after: AtomicU32,
    alarm: Alarm,
    load: Mutex<Option<(LoadReport, Instant)>>,
}

/// What to call when a subchannel's calls failed `alarm_after` times in a row: wakes the
/// channel's balancer, so an ejection does not wait for the next interval.
#[derive(Default)]
pub(crate) struct Alarm(Option<Box<dyn Fn() + Send + Sync>>);

impl Alarm {
    pub(crate) fn new(ring: impl Fn() + Send + Sync + 'static) -> Alarm {
        Alarm(Some(Box::new(ring)))
    }
}

impl std::fmt::Debug for Alarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Alarm" } else { "NoAlarm" })
    }
}

impl CallStats {
    pub(crate) fn new(channel: Arc<Activity>, alarm: Alarm) -> CallStats {
        CallStats {
            channel,
            alarm,
            ..CallStats::default()
        }
    }

    /// Calls that failed since the last one that succeeded.
    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures.load(Ordering::Relaxed)
    }

    /// Starts counting consecutive failures afresh (after an ejection).
    pub(crate) fn clear_consecutive_failures(&self) {
        self.consecutive_failures.store(0, Ordering::Relaxed);
    }

    /// Rings the alarm once `failures` calls in a row have failed (0: never).
    pub(crate) fn alarm_after(&self, failures: u32) {
        self.alarm_after.store(failures, Ordering::Relaxed);
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Successes and failures since the last call, resetting both.
    pub(crate) fn take_results(&self) -> (u64, u64) {
        (
            self.successes.swap(0, Ordering::Relaxed),
            self.failures.swap(0, Ordering::Relaxed),
        )
    }

    /// The latest load report and when it arrived.
    pub(crate) fn load(&self) -> Option<(LoadReport, Instant)> {
        *self.load.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.channel.started();
    }

    fn ended(&self, code: Option<crate::Code>) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.channel.ended();
        match code {
            // Outlier detection counts any non-OK status as a failure, as grpc-go does.
            Some(crate::Code::Ok) => {
                self.successes.fetch_add(1, Ordering::Relaxed);
                self.consecutive_failures.store(0, Ordering::Relaxed);
            }
            Some(_) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                let in_a_row = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
                if in_a_row == self.alarm_after.load(Ordering::Relaxed) {
                    if let Some(ring) = &self.alarm.0 {
                        ring();
                    }
                }
            }
            None => {} // cancelled by the client: says nothing about the server
        }
    }

    fn record_load(&self, trailers: &HeaderMap) {
        if let Some(report) = LoadReport::from_trailers(trailers) {
            *self.load.lock().unwrap_or_else(PoisonError::into_inner) =
                Some((report, Instant::now()));
        }
    }
}

/// One call in flight on a tracked connection; tells the subchannel how it ended. Dropped
/// without an outcome, the call counts as cancelled.
#[derive(Debug)]
pub(crate) struct CallGuard {
    /// `None` for the channel's own streams (health checks): they are not calls.
    stats: Option<Arc<CallStats>>,
    /// The connection's own count of streams in flight (pooling, keepalive).
    connection: Arc<AtomicUsize>,
    ended: bool,
}

impl CallGuard {
    pub(crate) fn new(stats: Option<Arc<CallStats>>, connection: Arc<AtomicUsize>) -> CallGuard {
        if let Some(stats) = &stats {
            stats.started();
        }
        connection.fetch_add(1, Ordering::Relaxed);
        CallGuard {
            stats,
            connection,
            ended: false,
        }
    }

    /// The call ended with these trailers (or the response headers of a Trailers-Only
    /// answer).
    pub(crate) fn trailers(mut self, trailers: &HeaderMap) {
        let code = Status::code_from_headers(trailers).unwrap_or(crate::Code::Internal);
        if let Some(stats) = &self.stats {
            stats.record_load(trailers);
        }
        self.end_with(Some(code));
    }

    /// The call failed on the transport (reset, connection lost).
    pub(crate) fn failed(mut self, status: &Status) {
        let code = Some(status.code()).filter(|c| *c != crate::Code::Cancelled);
        self.end_with(code);
    }

    /// `None`: cancelled by the client, which says nothing about the server.
    fn end_with(&mut self, code: Option<crate::Code>) {
        if !self.ended {
            self.ended = true;
            self.connection.fetch_sub(1, Ordering::Relaxed);
            if let Some(stats) = &self.stats {
                stats.ended(code);
            }
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.end_with(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_reports_round_trip_through_trailers() {
        let report = LoadReport {
            cpu_utilization: 0.25,
            mem_utilization: 0.5,
            qps: 42.0,
            eps: 1.0,
            application_utilization: 0.0,
        };
        let mut trailers = HeaderMap::new();
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(report.to_bytes());
        trailers.insert(LOAD_REPORT_TRAILER, text.parse().unwrap());
        assert_eq!(LoadReport::from_trailers(&trailers), Some(report));
        trailers.insert(LOAD_REPORT_TRAILER, "!!".parse().unwrap());
        assert_eq!(LoadReport::from_trailers(&trailers), None);
    }

    #[test]
    fn guards_count_calls_and_outcomes() {
        let stats = Arc::new(CallStats::default());
        let conn = Arc::new(AtomicUsize::new(0));
        let ok = CallGuard::new(Some(stats.clone()), conn.clone());
        let failed = CallGuard::new(Some(stats.clone()), conn.clone());
        let cancelled = CallGuard::new(Some(stats.clone()), conn.clone());
        let internal = CallGuard::new(None, conn.clone());
        assert_eq!(stats.in_flight(), 3);
        assert_eq!(conn.load(Ordering::Relaxed), 4);
        internal.failed(&Status::unavailable("not a call"));
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        ok.trailers(&trailers);
        failed.failed(&Status::unavailable("gone"));
        drop(cancelled);
        assert_eq!(stats.in_flight(), 0);
        assert_eq!(conn.load(Ordering::Relaxed), 0);
        assert_eq!(stats.take_results(), (1, 1));
        assert_eq!(stats.take_results(), (0, 0));
    }
}
