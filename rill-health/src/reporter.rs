//! The reporter: the statuses every health service of a reporter answers from.

use std::collections::HashMap;
use std::sync::Arc;

use rill::server::NamedService;
use tokio::sync::watch;

use crate::{HealthServer, HealthService, ServingStatus};

/// The statuses, and whether a shutdown froze them.
#[derive(Debug, Default)]
pub(crate) struct State {
    statuses: HashMap<String, ServingStatus>,
    shutting_down: bool,
}

impl State {
    /// The reported status of `service`, if any.
    pub(crate) fn get(&self, service: &str) -> Option<ServingStatus> {
        self.statuses.get(service).copied()
    }
}

/// Sets the status of each service, as its health service answers it; cheap to clone (clones
/// share the statuses).
///
/// Names are full service names (`user.UserService`) or `""`, the whole server. A status set
/// here reaches every open `Watch` of that name; setting the status a name already has sends
/// nothing.
#[derive(Clone, Debug)]
pub struct HealthReporter {
    state: Arc<watch::Sender<State>>,
}

impl Default for HealthReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthReporter {
    /// A reporter whose whole server (`""`) is `SERVING`; serve it with
    /// [`HealthReporter::service`] (or create both with [`health_reporter`](crate::health_reporter)).
    ///
    /// ```
    /// let reporter = rill_health::HealthReporter::new();
    /// let health = reporter.service();
    /// # drop(health);
    /// ```
    pub fn new() -> Self {
        let mut state = State::default();
        state.statuses.insert(String::new(), ServingStatus::Serving);
        HealthReporter {
            state: Arc::new(watch::Sender::new(state)),
        }
    }

    /// A health service answering from this reporter's statuses, to add to a server (as
    /// many as needed: they all answer the same).
    ///
    /// ```
    /// let reporter = rill_health::HealthReporter::new();
    /// let server = rill::server::Server::builder().add_service(reporter.service());
    /// assert_eq!(server.service_names(), ["grpc.health.v1.Health"]);
    /// ```
    pub fn service(&self) -> HealthServer<HealthService> {
        HealthServer::new(HealthService::new(Arc::clone(&self.state)))
    }

    /// Reports the service `S` (a generated `XxxServer<T>`) as `SERVING`.
    ///
    /// ```
    /// # struct UserServiceServer;
    /// # impl rill::server::NamedService for UserServiceServer {
    /// #     const NAME: &'static str = "user.UserService";
    /// # }
    /// let reporter = rill_health::HealthReporter::new();
    /// reporter.set_serving::<UserServiceServer>();
    /// assert_eq!(reporter.status("user.UserService"), Some(rill_health::ServingStatus::Serving));
    /// ```
    pub fn set_serving<S: NamedService>(&self) {
        self.set_service_status(S::NAME, ServingStatus::Serving);
    }

    /// Reports the service `S` (a generated `XxxServer<T>`) as `NOT_SERVING`.
    pub fn set_not_serving<S: NamedService>(&self) {
        self.set_service_status(S::NAME, ServingStatus::NotServing);
    }

    /// Reports `service` (a full service name, or `""` for the whole server) as `status`.
    /// Ignored after [`HealthReporter::shutdown`], until [`HealthReporter::resume`].
    ///
    /// ```
    /// use rill_health::ServingStatus;
    /// let reporter = rill_health::HealthReporter::new();
    /// reporter.set_service_status("user.UserService", ServingStatus::NotServing);
    /// assert_eq!(reporter.status("user.UserService"), Some(ServingStatus::NotServing));
    /// ```
    pub fn set_service_status(&self, service: impl Into<String>, status: ServingStatus) {
        let service = service.into();
        self.state.send_if_modified(|state| {
            if state.shutting_down {
                return false;
            }
            state.statuses.insert(service, status) != Some(status)
        });
    }

    /// Forgets `service`: `Check` answers `NOT_FOUND` again and open `Watch`es of it receive
    /// `SERVICE_UNKNOWN`.
    pub fn clear_service_status(&self, service: &str) {
        self.state
            .send_if_modified(|state| state.statuses.remove(service).is_some());
    }

    /// Forgets the service `S` (a generated `XxxServer<T>`); see
    /// [`HealthReporter::clear_service_status`].
    pub fn clear<S: NamedService>(&self) {
        self.clear_service_status(S::NAME);
    }

    /// The status reported for `service`, if any.
    pub fn status(&self, service: &str) -> Option<ServingStatus> {
        self.state.borrow().get(service)
    }

    /// Reports every known service (and the whole server) as `NOT_SERVING` and ignores later
    /// changes until [`HealthReporter::resume`], as grpc-go's `Shutdown`: call it when the
    /// server starts shutting down, so that load balancers stop sending calls.
    pub fn shutdown(&self) {
        self.state.send_if_modified(|state| {
            state.shutting_down = true;
            let mut changed = false;
            for status in state.statuses.values_mut() {
                changed |= *status != ServingStatus::NotServing;
                *status = ServingStatus::NotServing;
            }
            changed
        });
    }

    /// Takes status changes again after [`HealthReporter::shutdown`]; the statuses stay
    /// `NOT_SERVING` until set.
    pub fn resume(&self) {
        self.state.send_if_modified(|state| {
            state.shutting_down = false;
            false
        });
    }
}
