//! tonic's `grpc.testing.BenchmarkService` server: the peer rill is measured against. Same
//! command line, runtime, allocator and release profile as `bench-server`; `tcp_nodelay` on.
//!
//! `cargo run --release -p bench --example tonic-bench-server -- --listen 127.0.0.1:50052`

use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

#[allow(dead_code, missing_docs, unreachable_pub, clippy::all)]
mod tpb {
    include!(concat!(env!("OUT_DIR"), "/tonic/grpc.testing.rs"));
}

use tpb::benchmark_service_server::{BenchmarkService, BenchmarkServiceServer};
use tpb::{Payload, SimpleRequest, SimpleResponse};

type ReplyStream = Pin<Box<dyn Stream<Item = Result<SimpleResponse, Status>> + Send + 'static>>;

struct Bench;

fn reply(req: &SimpleRequest) -> SimpleResponse {
    SimpleResponse {
        payload: bench::payload_body(req.response_size).map(|body| Payload {
            r#type: req.response_type,
            body,
        }),
        ..Default::default()
    }
}

#[tonic::async_trait]
impl BenchmarkService for Bench {
    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        Ok(Response::new(reply(request.get_ref())))
    }

    type StreamingCallStream = ReplyStream;
    async fn streaming_call(
        &self,
        request: Request<Streaming<SimpleRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let replies = request.into_inner().map(|req| req.map(|r| reply(&r)));
        Ok(Response::new(Box::pin(replies)))
    }

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

    type StreamingFromServerStream = ReplyStream;
    async fn streaming_from_server(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        let response = reply(request.get_ref());
        Ok(Response::new(Box::pin(futures_util::stream::repeat_with(
            move || Ok(response.clone()),
        ))))
    }

    type StreamingBothWaysStream = ReplyStream;
    async fn streaming_both_ways(
        &self,
        request: Request<Streaming<SimpleRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let mut inbound = request.into_inner();
        let first = inbound.message().await?.unwrap_or_default();
        tokio::spawn(async move { while let Some(Ok(_)) = inbound.next().await {} });
        let response = reply(&first);
        Ok(Response::new(Box::pin(futures_util::stream::repeat_with(
            move || Ok(response.clone()),
        ))))
    }
}

fn main() {
    let args = bench::args_or_exit("tonic-bench-server");
    let runtime = args.runtime().expect("tokio runtime");
    runtime.block_on(async move {
        eprintln!(
            "tonic bench-server on {} ({} worker(s))",
            args.listen, args.workers
        );
        if let Err(err) = tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(BenchmarkServiceServer::new(Bench))
            .serve(args.listen)
            .await
        {
            eprintln!("tonic-bench-server: {err}");
            std::process::exit(1);
        }
    });
}
