//! Every interop test case, in process, in each direction the interop programs cover:
//! rill's client against rill's and the tonic peer's servers, and the tonic peer's client
//! against rill's server. The tonic peers are the `tonic-interop-*` examples' own modules.
//!
//! Every server listens on 127.0.0.1, port 0.

/// The tonic client's cases use this macro (the example defines it in its `main.rs`).
macro_rules! ensure {
    ($cond:expr, $($reason:tt)+) => {
        if !$cond {
            return Err(format!($($reason)+));
        }
    };
}

#[path = "../examples/tonic-common/pb.rs"]
mod pb;
#[path = "../examples/tonic-common/reframe.rs"]
mod reframe;

#[path = "../examples/tonic-interop-server/layer.rs"]
mod layer;
#[path = "../examples/tonic-interop-server/service.rs"]
mod service;

#[path = "../examples/tonic-interop-client/cases/mod.rs"]
mod cases;
#[path = "../examples/tonic-interop-client/ctx.rs"]
mod ctx;
#[path = "../examples/tonic-interop-client/support.rs"]
mod support;

use std::net::SocketAddr;

use interop::client::{run_case, Ctx, CASES};
use interop::flags::ClientFlags;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;

async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

async fn spawn_rill() -> SocketAddr {
    let (listener, addr) = bind().await;
    let server = interop::server::interop_server();
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
    addr
}

/// The tonic interop server as the example configures it.
async fn spawn_tonic() -> SocketAddr {
    let (listener, addr) = bind().await;
    let service = pb::test_service_server::TestServiceServer::new(service::TonicTestService)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Deflate)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(16 * 1024 * 1024);
    let router = tonic::transport::Server::builder()
        .layer(layer::InteropLayer)
        .add_service(service);
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(router.serve_with_incoming(incoming));
    addr
}

fn flags(addr: SocketAddr) -> ClientFlags {
    let args = [
        "--server_host=127.0.0.1".to_string(),
        format!("--server_port={}", addr.port()),
    ];
    ClientFlags::parse(args, &mut Vec::new()).unwrap()
}

/// Runs every case of rill's client; panics listing the failures.
async fn rill_client_against(addr: SocketAddr) {
    let ctx = Ctx::new(flags(addr));
    let mut failures = Vec::new();
    for case in CASES {
        if let Err(reason) = run_case(&ctx, case).await {
            failures.push(format!("{}: {reason}", case.name));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn rill_client_rill_server_every_case() {
    rill_client_against(spawn_rill().await).await;
}

#[tokio::test]
async fn rill_client_tonic_server_every_case() {
    rill_client_against(spawn_tonic().await).await;
}

/// Every case with a service config that retries (UNKNOWN is what status_code_and_message
/// answers, so that case retries for real) or hedges every TestService method.
#[tokio::test]
async fn rill_client_with_retry_and_hedging_configs_against_tonic() {
    let addr = spawn_tonic().await;
    let retry = r#"{"methodConfig": [{"name": [{"service": "grpc.testing.TestService"}],
        "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.01s", "maxBackoff": "0.05s",
          "backoffMultiplier": 2, "retryableStatusCodes": ["UNKNOWN", "UNAVAILABLE"]}}],
        "retryThrottling": {"maxTokens": 100, "tokenRatio": 0.1}}"#;
    let hedge = r#"{"methodConfig": [{"name": [{"service": "grpc.testing.TestService"}],
        "hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "0.01s",
          "nonFatalStatusCodes": ["UNAVAILABLE"]}}]}"#;
    for config in [retry, hedge] {
        let args = [
            "--server_host=127.0.0.1".to_string(),
            format!("--server_port={}", addr.port()),
            format!("--service_config_json={config}"),
        ];
        let ctx = Ctx::new(ClientFlags::parse(args, &mut Vec::new()).unwrap());
        let mut failures = Vec::new();
        for case in CASES {
            if let Err(reason) = run_case(&ctx, case).await {
                failures.push(format!("{}: {reason}", case.name));
            }
        }
        assert!(failures.is_empty(), "{config}: {failures:#?}");
    }
}

#[tokio::test]
async fn tonic_client_rill_server_every_case() {
    let ctx = ctx::Ctx::new(flags(spawn_rill().await)).unwrap();
    let mut failures = Vec::new();
    let mut not_applicable = Vec::new();
    for case in cases::CASES {
        match case.run {
            cases::Run::Case(run) => {
                if let Err(reason) = run(&ctx).await {
                    failures.push(format!("{}: {reason}", case.name));
                }
            }
            cases::Run::NotApplicable(reason) => {
                assert!(!reason.is_empty());
                not_applicable.push(case.name);
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(
        not_applicable,
        [
            "client_compressed_streaming",
            "client_compressed_streaming_noprobe"
        ]
    );
    // Both clients know the same cases.
    let names: Vec<_> = cases::CASES.iter().map(|c| c.name).collect();
    let rill_names: Vec<_> = CASES.iter().map(|c| c.name).collect();
    assert_eq!(names, rill_names);
}

#[tokio::test]
async fn server_uri_reaches_the_server_through_any_target_form() {
    let addr = spawn_rill().await;
    for uri in [
        format!("dns:///localhost:{}", addr.port()),
        format!("ipv4:127.0.0.1:{}", addr.port()),
        format!("127.0.0.1:{}", addr.port()),
    ] {
        let args = [format!("--server_uri={uri}")];
        let ctx = Ctx::new(ClientFlags::parse(args, &mut Vec::new()).unwrap());
        let case = CASES.iter().find(|c| c.name == "large_unary").unwrap();
        assert_eq!(run_case(&ctx, case).await, Ok(()), "{uri}");
    }
}
