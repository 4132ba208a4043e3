//! End to end, over TCP on 127.0.0.1: `Check` and `Watch` as grpc/grpc's health-checking.md
//! says, driven by the reporter.

use std::future::Future;
use std::time::Duration;

use rill::server::Server;
use rill::{Code, Streaming};
use rill_health::pb::health_client::HealthClient;
use rill_health::pb::{HealthCheckRequest, HealthCheckResponse};
use rill_health::{health_reporter, HealthReporter, HealthServer, HealthService, ServingStatus};

/// Bound on every wait (the machine may be busy compiling).
const WAIT: Duration = Duration::from_secs(20);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {WAIT:?}"))
}

/// A health service on 127.0.0.1:0, and a client of it.
async fn serve() -> (HealthReporter, HealthClient) {
    let (reporter, health) = health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = Server::builder().add_service(health);
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
    let client = within("connect", HealthClient::connect(&format!("http://{addr}")))
        .await
        .expect("connect")
        .timeout(WAIT);
    (reporter, client)
}

fn request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

async fn check(client: &HealthClient, service: &str) -> ServingStatus {
    match client.check(request(service)).await {
        Ok(reply) => reply.into_inner().status(),
        Err(status) => panic!("Check({service:?}): {status:?}"),
    }
}

async fn check_error(client: &HealthClient, service: &str) -> rill::Status {
    match client.check(request(service)).await {
        Ok(reply) => panic!("Check({service:?}) answered {:?}", reply.into_inner()),
        Err(status) => status,
    }
}

async fn watch(client: &HealthClient, service: &str) -> Streaming<HealthCheckResponse> {
    // Watches outlive the client's default deadline: no timeout on these.
    let client = HealthClient::new(client.client().clone().timeout(Duration::from_secs(3600)));
    within("watch", client.watch(request(service)))
        .await
        .expect("watch starts")
        .into_inner()
}

async fn next(stream: &mut Streaming<HealthCheckResponse>) -> ServingStatus {
    within("a watch update", stream.message())
        .await
        .expect("watch goes on")
        .expect("a message, not the end")
        .status()
}

/// Nothing arrives for a moment: the stream is open and quiet.
async fn quiet(stream: &mut Streaming<HealthCheckResponse>) {
    let waited = tokio::time::timeout(Duration::from_millis(200), stream.message()).await;
    assert!(waited.is_err(), "unexpected: {waited:?}");
}

#[tokio::test]
async fn check_answers_registered_services_and_not_found_for_others() {
    let (reporter, client) = serve().await;
    // The whole server is SERVING from the start.
    assert_eq!(check(&client, "").await, ServingStatus::Serving);

    reporter.set_serving::<HealthServer<HealthService>>();
    assert_eq!(
        check(&client, "grpc.health.v1.Health").await,
        ServingStatus::Serving
    );
    reporter.set_service_status("acme.Orders", ServingStatus::NotServing);
    assert_eq!(
        check(&client, "acme.Orders").await,
        ServingStatus::NotServing
    );
    reporter.set_service_status("", ServingStatus::NotServing);
    assert_eq!(check(&client, "").await, ServingStatus::NotServing);

    let unknown = check_error(&client, "acme.Nope").await;
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    assert!(unknown.message().contains("acme.Nope"), "{unknown:?}");

    // Cleared services are unknown again.
    reporter.clear::<HealthServer<HealthService>>();
    let cleared = check_error(&client, "grpc.health.v1.Health").await;
    assert_eq!(cleared.code(), Code::NotFound);
    reporter.clear_service_status("acme.Orders");
    assert_eq!(reporter.status("acme.Orders"), None);
}

#[tokio::test]
async fn watch_sends_the_current_status_then_each_change_once() {
    let (reporter, client) = serve().await;
    reporter.set_service_status("acme.Orders", ServingStatus::Serving);
    let mut updates = watch(&client, "acme.Orders").await;
    assert_eq!(next(&mut updates).await, ServingStatus::Serving);

    // The same status again sends nothing; the next change does.
    reporter.set_service_status("acme.Orders", ServingStatus::Serving);
    reporter.set_service_status("acme.Other", ServingStatus::NotServing);
    quiet(&mut updates).await;
    reporter.set_service_status("acme.Orders", ServingStatus::NotServing);
    assert_eq!(next(&mut updates).await, ServingStatus::NotServing);
    reporter.set_service_status("acme.Orders", ServingStatus::NotServing);
    reporter.set_service_status("acme.Orders", ServingStatus::Serving);
    assert_eq!(next(&mut updates).await, ServingStatus::Serving);
    quiet(&mut updates).await;

    // The whole server is watched like any service.
    let mut server = watch(&client, "").await;
    assert_eq!(next(&mut server).await, ServingStatus::Serving);
}

#[tokio::test]
async fn watch_of_an_unknown_service_stays_open_until_it_is_registered() {
    let (reporter, client) = serve().await;
    let mut updates = watch(&client, "acme.Later").await;
    assert_eq!(next(&mut updates).await, ServingStatus::ServiceUnknown);
    quiet(&mut updates).await;

    reporter.set_service_status("acme.Later", ServingStatus::Serving);
    assert_eq!(next(&mut updates).await, ServingStatus::Serving);
    reporter.clear_service_status("acme.Later");
    assert_eq!(next(&mut updates).await, ServingStatus::ServiceUnknown);
    reporter.set_service_status("acme.Later", ServingStatus::NotServing);
    assert_eq!(next(&mut updates).await, ServingStatus::NotServing);
}

#[tokio::test]
async fn every_watcher_gets_every_change() {
    let (reporter, client) = serve().await;
    let mut first = watch(&client, "acme.Orders").await;
    let mut second = watch(&client, "acme.Orders").await;
    for stream in [&mut first, &mut second] {
        assert_eq!(next(stream).await, ServingStatus::ServiceUnknown);
    }
    reporter.set_service_status("acme.Orders", ServingStatus::Serving);
    for stream in [&mut first, &mut second] {
        assert_eq!(next(stream).await, ServingStatus::Serving);
    }
}

#[tokio::test]
async fn shutdown_reports_not_serving_and_freezes_until_resumed() {
    let (reporter, client) = serve().await;
    reporter.set_service_status("acme.Orders", ServingStatus::Serving);
    let mut server = watch(&client, "").await;
    let mut orders = watch(&client, "acme.Orders").await;
    assert_eq!(next(&mut server).await, ServingStatus::Serving);
    assert_eq!(next(&mut orders).await, ServingStatus::Serving);

    reporter.shutdown();
    assert_eq!(next(&mut server).await, ServingStatus::NotServing);
    assert_eq!(next(&mut orders).await, ServingStatus::NotServing);
    assert_eq!(check(&client, "").await, ServingStatus::NotServing);

    // Ignored while shutting down.
    reporter.set_service_status("acme.Orders", ServingStatus::Serving);
    assert_eq!(
        check(&client, "acme.Orders").await,
        ServingStatus::NotServing
    );
    quiet(&mut orders).await;

    reporter.resume();
    quiet(&mut orders).await;
    reporter.set_service_status("acme.Orders", ServingStatus::Serving);
    assert_eq!(next(&mut orders).await, ServingStatus::Serving);
}

#[tokio::test]
async fn reporters_share_statuses_and_services() {
    let (reporter, client) = serve().await;
    let clone = reporter.clone();
    clone.set_service_status("acme.Orders", ServingStatus::Serving);
    assert_eq!(reporter.status("acme.Orders"), Some(ServingStatus::Serving));
    assert_eq!(check(&client, "acme.Orders").await, ServingStatus::Serving);
    // A second service of the same reporter answers the same.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = Server::builder().add_service(reporter.service());
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
    let other = HealthClient::connect(&format!("http://{addr}"))
        .await
        .expect("connect")
        .timeout(WAIT);
    assert_eq!(check(&other, "acme.Orders").await, ServingStatus::Serving);
}
