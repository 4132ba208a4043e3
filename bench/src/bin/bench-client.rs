//! rill's benchmark client: `bench-client MODE --target http://127.0.0.1:50051 [options]`
//! (modes and options: `bench-client --help`; the load code is `bench::load`, shared with
//! the tonic client `examples/tonic-bench-client.rs`).

use bench::pb::benchmark_service_client::BenchmarkServiceClient;
use bench::pb::{Payload, SimpleRequest, SimpleResponse};

bench::impl_bench_client!(
    RillClient,
    BenchmarkServiceClient,
    rill::Streaming<SimpleResponse>,
    |target| async move {
        BenchmarkServiceClient::connect(target)
            .await
            .map_err(|e| format!("connect {target}: {e}"))
    }
);

fn main() {
    bench::load::client_main::<RillClient>("bench-client");
}
