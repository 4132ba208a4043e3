//! The `grpc.health.v1.Health` service: answers `Check` and `Watch` from a reporter's statuses.

use std::sync::Arc;

use rill::{BoxStream, Request, Response, Status};
use tokio::sync::watch;

use crate::pb::health_server::Health;
use crate::pb::{HealthCheckRequest, HealthCheckResponse};
use crate::reporter::State;
use crate::ServingStatus;

/// The health service; created by a [`HealthReporter`](crate::HealthReporter), which sets the
/// statuses it answers.
#[derive(Clone, Debug)]
pub struct HealthService {
    state: Arc<watch::Sender<State>>,
}

impl HealthService {
    pub(crate) fn new(state: Arc<watch::Sender<State>>) -> Self {
        HealthService { state }
    }
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status.into(),
    }
}

impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let service = request.into_inner().service;
        match self.state.borrow().get(&service) {
            Some(status) => Ok(Response::new(response(status))),
            None => Err(Status::not_found(format!("unknown service {service:?}"))),
        }
    }

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<BoxStream<HealthCheckResponse>>, Status> {
        let service = request.into_inner().service;
        let updates = self.state.subscribe();
        let stream = futures_util::stream::unfold(
            (updates, service, None),
            |(mut updates, service, last)| async move {
                loop {
                    let current = updates
                        .borrow_and_update()
                        .get(&service)
                        .unwrap_or(ServingStatus::ServiceUnknown);
                    if last != Some(current) {
                        let next = (updates, service, Some(current));
                        return Some((Ok(response(current)), next));
                    }
                    // Every reporter and service gone: nothing will change any more.
                    updates.changed().await.ok()?;
                }
            },
        );
        Ok(Response::stream(stream))
    }
}
