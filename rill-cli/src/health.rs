//! `rill health`: grpc.health.v1.Health/Check.

use std::time::Instant;

use rill::MetadataMap;
use rill_health::pb::health_client::HealthClient;
use rill_health::pb::HealthCheckRequest;
use rill_health::ServingStatus;

use crate::error::CliError;

/// Checks `service` ("" = the whole server); prints the status and succeeds only for SERVING.
pub(crate) async fn check(
    client: rill::Client,
    service: &str,
    metadata: MetadataMap,
    deadline: Option<Instant>,
) -> Result<(), CliError> {
    let mut request = rill::Request::new(HealthCheckRequest {
        service: service.to_string(),
    });
    *request.metadata_mut() = metadata;
    request.set_deadline(deadline);
    let reply = HealthClient::new(client).check(request).await?.into_inner();
    // An unknown enum number reads as UNKNOWN, as generated code does.
    let status = ServingStatus::try_from(reply.status).unwrap_or(ServingStatus::Unknown);
    let name = status.as_str_name();
    crate::output::stdout(&format!("{name}\n"));
    if status == ServingStatus::Serving {
        Ok(())
    } else {
        let what = if service.is_empty() {
            "the server".to_string()
        } else {
            format!("{service:?}")
        };
        Err(CliError::NotServing(format!(
            "{what} is {name}, not SERVING"
        )))
    }
}
