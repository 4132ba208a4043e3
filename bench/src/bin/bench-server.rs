//! rill's `grpc.testing.BenchmarkService` server for the benchmark.
//!
//! `bench-server --listen 127.0.0.1:50051 --workers 1`

use bench::payload_body;
use bench::pb::benchmark_service_server::{BenchmarkService, BenchmarkServiceServer};
use bench::pb::{Payload, SimpleRequest, SimpleResponse};
use futures_util::StreamExt;
use rill::{BoxStream, Request, Response, Status, Streaming};

struct Bench;

fn reply(req: &SimpleRequest) -> SimpleResponse {
    SimpleResponse {
        payload: payload_body(req.response_size).map(|body| Payload {
            r#type: req.response_type,
            body,
        }),
        ..Default::default()
    }
}

impl BenchmarkService for Bench {
    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        Ok(Response::new(reply(request.get_ref())))
    }

    /// Ping-pong: one response per request.
    async fn streaming_call(
        &self,
        request: Request<Streaming<SimpleRequest>>,
    ) -> Result<Response<BoxStream<SimpleResponse>>, Status> {
        let replies = request.into_inner().map(|req| req.map(|r| reply(&r)));
        Ok(Response::stream(replies))
    }

    /// Reads until the client half-closes, then answers for the last request.
    async fn streaming_from_client(
        &self,
        request: Request<Streaming<SimpleRequest>>,
    ) -> Result<Response<SimpleResponse>, Status> {
        let mut stream = request.into_inner();
        let mut last = SimpleRequest::default();
        while let Some(req) = stream.message().await? {
            last = req;
        }
        Ok(Response::new(reply(&last)))
    }

    /// Answers the one request again and again until the client cancels.
    async fn streaming_from_server(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<BoxStream<SimpleResponse>>, Status> {
        let response = reply(request.get_ref());
        Ok(Response::stream(futures_util::stream::repeat_with(
            move || Ok(response.clone()),
        )))
    }

    /// Sends without waiting for the client, while draining what the client sends.
    async fn streaming_both_ways(
        &self,
        request: Request<Streaming<SimpleRequest>>,
    ) -> Result<Response<BoxStream<SimpleResponse>>, Status> {
        let mut inbound = request.into_inner();
        // The first request sets the reply size; later ones are read and dropped.
        let first = inbound.message().await?.unwrap_or_default();
        tokio::spawn(async move { while let Some(Ok(_)) = inbound.next().await {} });
        let response = reply(&first);
        Ok(Response::stream(futures_util::stream::repeat_with(
            move || Ok(response.clone()),
        )))
    }
}

fn main() {
    let args = bench::args_or_exit("bench-server");
    let runtime = args.runtime().expect("tokio runtime");
    runtime.block_on(async move {
        // RILL_SERVER_TRANSPORT=native|h2 picks the HTTP/2 backend (default: the library's).
        let mut server = rill::server::Server::builder();
        let backend = std::env::var("RILL_SERVER_TRANSPORT").ok();
        if let Some(name) = &backend {
            match rill::server::Http2Backend::from_name(name) {
                Some(backend) => server = server.http2_backend(backend),
                None => {
                    eprintln!("bench-server: RILL_SERVER_TRANSPORT must be native or h2");
                    std::process::exit(2);
                }
            }
        }
        eprintln!(
            "rill bench-server on {} ({} worker(s), transport {})",
            args.listen,
            args.workers,
            backend.as_deref().unwrap_or("default")
        );
        if let Err(err) = server
            .add_service(BenchmarkServiceServer::new(Bench))
            .serve(args.listen)
            .await
        {
            eprintln!("bench-server: {err}");
            std::process::exit(1);
        }
    });
}
