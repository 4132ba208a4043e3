//! The tonic interop test server, a peer for rill's interop client:
//! `cargo run -p interop --example tonic-interop-server -- --port=PORT [--use_tls=false]`.
//!
//! tonic's `grpc.testing.TestService` (tonic is the interop crate's dev-dependency, so this is
//! an example). What tonic handlers cannot do is added by [`layer::InteropLayer`] at the HTTP
//! level: request messages' Compressed-Flags, per-message uncompressed responses, echoed
//! trailers.

#[path = "../tonic-common/pb.rs"]
mod pb;
#[path = "../tonic-common/reframe.rs"]
mod reframe;

mod layer;
mod service;

use std::net::SocketAddr;
use std::process::ExitCode;

use interop::flags::{ServerFlags, EXIT_USAGE, SERVER_USAGE};
use tonic::codec::CompressionEncoding;

/// Largest request accepted: 16 MiB, like every interop server here (very_large_request).
const MAX_REQUEST_SIZE: usize = 16 * 1024 * 1024;

#[tokio::main]
async fn main() -> ExitCode {
    let mut warnings = Vec::new();
    let flags = match ServerFlags::parse(std::env::args().skip(1), &mut warnings) {
        Ok(flags) => flags,
        Err(error) => {
            eprintln!("tonic-interop-server: {error}\n{SERVER_USAGE}");
            return exit(EXIT_USAGE);
        }
    };
    for warning in warnings {
        eprintln!("tonic-interop-server: {warning}");
    }
    if flags.use_tls {
        eprintln!("tonic-interop-server: {}", TONIC_NO_TLS);
        return exit(EXIT_USAGE);
    }
    let address = match format!("{}:{}", flags.host, flags.port).parse::<SocketAddr>() {
        Ok(address) => address,
        Err(error) => {
            eprintln!("tonic-interop-server: bad address: {error}");
            return exit(EXIT_USAGE);
        }
    };
    let service = pb::test_service_server::TestServiceServer::new(service::TonicTestService)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Deflate)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_REQUEST_SIZE);
    let router = tonic::transport::Server::builder()
        .layer(layer::InteropLayer)
        .add_service(service);
    eprintln!("tonic-interop-server: listening on {address}");
    match router.serve(address).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tonic-interop-server: {error}");
            ExitCode::FAILURE
        }
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The tonic peer is built without tonic's TLS features (a dev-dependency kept small).
const TONIC_NO_TLS: &str = "the tonic peer runs without TLS";
