//! The real `user-server` serves health and reflection (v1 and v1alpha) out of the box: rill's
//! own clients against the binary.

mod common;

use common::{within, ServerProcess};
use futures_util::stream;
use prost::Message as _;
use rill::Code;
use rill_health::pb::health_client::HealthClient;
use rill_health::pb::HealthCheckRequest;
use rill_health::ServingStatus;
use rill_reflection::pb::v1::server_reflection_request::MessageRequest;
use rill_reflection::pb::v1::server_reflection_response::MessageResponse;
use rill_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};
use rill_reflection::pb::{v1, v1alpha};

const SERVICES: [&str; 4] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "user.UserService",
];

fn check_request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

#[tokio::test]
async fn health_checks_and_watch_until_shutdown() {
    let server = ServerProcess::start(":memory:").await;
    let client = within("connect", HealthClient::connect(&server.url()))
        .await
        .expect("connect");
    for service in ["", "user.UserService"] {
        let reply = within("Check", client.check(check_request(service)))
            .await
            .expect("Check answers");
        assert_eq!(
            reply.into_inner().status(),
            ServingStatus::Serving,
            "{service:?}"
        );
    }
    let unknown = within("Check", client.check(check_request("user.Nope")))
        .await
        .expect_err("unknown service");
    assert_eq!(unknown.code(), Code::NotFound);

    let mut watch = within("Watch", client.watch(check_request("")))
        .await
        .expect("Watch starts")
        .into_inner();
    let first = within("first update", watch.message()).await;
    assert_eq!(
        first.ok().flatten().map(|r| r.status()),
        Some(ServingStatus::Serving)
    );

    // Ctrl-C: the watcher hears NOT_SERVING before the server goes away.
    let stopping = tokio::spawn(server.interrupt());
    let update = within("shutdown update", watch.message()).await;
    assert_eq!(
        update.ok().flatten().map(|r| r.status()),
        Some(ServingStatus::NotServing)
    );
    drop(watch);
    let ended = within("shutdown", stopping).await.expect("interrupt");
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
}

/// One request on a reflection stream of the given version; returns the answer.
async fn ask(url: &str, alpha: bool, request: MessageRequest) -> MessageResponse {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let requests = stream::iter([request]);
    let responses = if alpha {
        let client = v1alpha::server_reflection_client::ServerReflectionClient::connect(url).await;
        let client = client.expect("connect").timeout(common::WAIT);
        client.server_reflection_info(requests).await
    } else {
        let client = v1::server_reflection_client::ServerReflectionClient::connect(url).await;
        let client = client.expect("connect").timeout(common::WAIT);
        client.server_reflection_info(requests).await
    };
    let mut responses = responses.expect("stream opens").into_inner();
    let response: ServerReflectionResponse = within("answer", responses.message())
        .await
        .expect("answer")
        .expect("a response");
    response.message_response.expect("an answer")
}

#[tokio::test]
async fn reflection_lists_and_describes_every_service_on_both_versions() {
    let server = ServerProcess::start(":memory:").await;
    let url = server.url();
    for alpha in [false, true] {
        let answer = ask(&url, alpha, MessageRequest::ListServices(String::new())).await;
        let MessageResponse::ListServicesResponse(list) = answer else {
            panic!("not a list: {answer:?}");
        };
        let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
        assert_eq!(names, SERVICES, "alpha {alpha}");

        for (symbol, file) in [
            ("user.UserService", "user.proto"),
            ("user.UserService.GetUser", "user.proto"),
            ("grpc.health.v1.Health", "grpc/health/v1/health.proto"),
        ] {
            let request = MessageRequest::FileContainingSymbol(symbol.to_owned());
            let MessageResponse::FileDescriptorResponse(files) = ask(&url, alpha, request).await
            else {
                panic!("{symbol}: no files");
            };
            let names: Vec<String> = files
                .file_descriptor_proto
                .iter()
                .map(|b| file_name(b))
                .collect();
            assert_eq!(names, [file], "{symbol}");
        }
    }
    let ended = server.interrupt().await;
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
}

/// The name (field 1) of an encoded `FileDescriptorProto`.
fn file_name(bytes: &[u8]) -> String {
    #[derive(Clone, PartialEq, prost::Message)]
    struct Named {
        #[prost(string, tag = "1")]
        name: String,
    }
    Named::decode(bytes).expect("a file descriptor").name
}
