//! tonic's benchmark client, the peer of rill's `bench-client`: the same load code
//! (`bench::load`), calls made with tonic's generated client over one tonic `Channel` per
//! connection (`tcp_nodelay`, like the rill channel).
//!
//! `cargo run --release -p bench --example tonic-bench-client -- peak --target http://127.0.0.1:50052`

#[allow(dead_code, missing_docs, unreachable_pub, clippy::all)]
mod tpb {
    include!(concat!(env!("OUT_DIR"), "/tonic/grpc.testing.rs"));
}

use tonic::transport::{Channel, Endpoint};
use tpb::benchmark_service_client::BenchmarkServiceClient;
use tpb::{Payload, SimpleRequest, SimpleResponse};

bench::impl_bench_client!(
    TonicClient,
    BenchmarkServiceClient<Channel>,
    tonic::Streaming<SimpleResponse>,
    |target| async move {
        let endpoint = Endpoint::from_shared(target.to_string())
            .map_err(|e| format!("{target}: {e}"))?
            .tcp_nodelay(true);
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| format!("connect {target}: {e}"))?;
        Ok::<_, String>(BenchmarkServiceClient::new(channel))
    }
);

fn main() {
    bench::load::client_main::<TonicClient>("tonic-bench-client");
}
