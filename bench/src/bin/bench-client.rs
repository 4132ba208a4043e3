//! rill's benchmark client: `bench-client MODE --target http://127.0.0.1:50051 [options]`
//! (modes and options: `bench-client --help`; the load code is `bench::load`, shared with
//! the tonic client `examples/tonic-bench-client.rs`). `RILL_CLIENT_TRANSPORT=h2` runs it on
//! the h2 crate instead of rill's own HTTP/2 connection.

use bench::pb::benchmark_service_client::BenchmarkServiceClient;
use bench::pb::{Payload, SimpleRequest, SimpleResponse};

bench::impl_bench_client!(
    RillClient,
    BenchmarkServiceClient,
    rill::Streaming<SimpleResponse>,
    |target| async move {
        let mut endpoint = rill::Channel::builder(target);
        if let Ok(name) = std::env::var("RILL_CLIENT_TRANSPORT") {
            let backend = rill::server::Http2Backend::from_name(&name)
                .ok_or_else(|| format!("RILL_CLIENT_TRANSPORT={name:?} is not native or h2"))?;
            endpoint = endpoint.http2_backend(backend);
        }
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| format!("connect {target}: {e}"))?;
        Ok::<_, String>(BenchmarkServiceClient::new(rill::Client::new(channel)))
    }
);

fn main() {
    bench::load::client_main::<RillClient>("bench-client");
}
