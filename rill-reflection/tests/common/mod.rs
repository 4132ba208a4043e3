//! A reflection service on 127.0.0.1 and a session (one `ServerReflectionInfo` stream) with it.
#![allow(dead_code)]

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use prost::Message as _;
use prost_types::FileDescriptorProto;
use rill::server::Server;
use rill::Streaming;
use rill_reflection::pb::v1::server_reflection_request::MessageRequest;
use rill_reflection::pb::v1::server_reflection_response::MessageResponse;
use rill_reflection::pb::v1::{ErrorResponse, ServerReflectionRequest, ServerReflectionResponse};
use rill_reflection::pb::{v1, v1alpha};
use rill_reflection::ReflectionService;
use tokio::sync::mpsc;

/// Bound on every wait (the machine may be busy compiling).
pub(crate) const WAIT: Duration = Duration::from_secs(20);

pub(crate) async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {WAIT:?}"))
}

/// The encoded descriptor set of `tests/protos/<protos>` and everything they import.
pub(crate) fn compile(protos: &[&str]) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/protos");
    let mut compiler = protox::Compiler::new([&root]).expect("compiler");
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(protos).expect("test protos compile");
    compiler.encode_file_descriptor_set()
}

/// The reflection service over the acme test protos.
pub(crate) fn acme() -> ReflectionService {
    ReflectionService::builder()
        .register_encoded_file_descriptor_set(compile(&["acme/api.proto"]))
        .build()
        .expect("builds")
}

/// Serves both versions of `reflection` on 127.0.0.1:0; returns the URL.
pub(crate) async fn serve(reflection: &ReflectionService) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = Server::builder()
        .add_service(reflection.v1())
        .add_service(reflection.v1alpha());
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
    format!("http://{addr}")
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Version {
    V1,
    V1Alpha,
}

/// One open `ServerReflectionInfo` stream.
pub(crate) struct Session {
    requests: mpsc::Sender<ServerReflectionRequest>,
    responses: Streaming<ServerReflectionResponse>,
}

impl Session {
    pub(crate) async fn open(url: &str, version: Version) -> Session {
        let (requests, rx) = mpsc::channel(8);
        let outgoing = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|request| (request, rx))
        });
        let responses = match version {
            Version::V1 => {
                let client = within(
                    "connect",
                    v1::server_reflection_client::ServerReflectionClient::connect(url),
                )
                .await
                .expect("connect");
                within("open", client.server_reflection_info(outgoing)).await
            }
            Version::V1Alpha => {
                let client = within(
                    "connect",
                    v1alpha::server_reflection_client::ServerReflectionClient::connect(url),
                )
                .await
                .expect("connect");
                within("open", client.server_reflection_info(outgoing)).await
            }
        };
        Session {
            requests,
            responses: responses.expect("stream opens").into_inner(),
        }
    }

    /// Sends a request (with `host`) without waiting for its answer.
    pub(crate) async fn send(&self, host: &str, request: MessageRequest) {
        let request = ServerReflectionRequest {
            host: host.to_owned(),
            message_request: Some(request),
        };
        self.requests.send(request).await.expect("stream open");
    }

    pub(crate) async fn send_raw(&self, request: ServerReflectionRequest) {
        self.requests.send(request).await.expect("stream open");
    }

    /// The next response.
    pub(crate) async fn receive(&mut self) -> ServerReflectionResponse {
        within("a reflection response", self.responses.message())
            .await
            .expect("the stream goes on")
            .expect("a response, not the end")
    }

    /// Asks and returns the answer.
    pub(crate) async fn ask(&mut self, request: MessageRequest) -> MessageResponse {
        self.send("", request.clone()).await;
        let response = self.receive().await;
        let original = response.original_request.expect("original request echoed");
        assert_eq!(original.message_request, Some(request));
        response.message_response.expect("an answer")
    }

    /// Asks for files; returns their names, in the order sent.
    pub(crate) async fn files(&mut self, request: MessageRequest) -> Vec<String> {
        match self.ask(request.clone()).await {
            MessageResponse::FileDescriptorResponse(files) => files
                .file_descriptor_proto
                .iter()
                .map(|bytes| {
                    FileDescriptorProto::decode(bytes.clone())
                        .expect("a file descriptor")
                        .name()
                        .to_owned()
                })
                .collect(),
            other => panic!("{request:?}: not files: {other:?}"),
        }
    }

    /// Asks and expects an error answer.
    pub(crate) async fn error(&mut self, request: MessageRequest) -> ErrorResponse {
        match self.ask(request.clone()).await {
            MessageResponse::ErrorResponse(error) => error,
            other => panic!("{request:?}: not an error: {other:?}"),
        }
    }

    /// Ends the request stream; the server then ends the response stream with OK.
    pub(crate) async fn close(mut self) {
        drop(self.requests);
        let end = within("the end of the stream", self.responses.message()).await;
        assert!(matches!(end, Ok(None)), "{end:?}");
    }
}
