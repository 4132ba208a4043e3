//! A small traced, metered service: `demo.Greeter/SayHello` answers (NOT_FOUND for an empty
//! name) and `demo.Greeter/Relay` forwards to SayHello on the same server with a traced
//! client, so one call makes a trace of four spans.

use std::net::SocketAddr;

use rill::observability::{MetricsLayer, TraceContext, TracingLayer, TRACEPARENT};
use rill::server::{Method, Server, Service};
use rill::{Channel, Client, Request, Response, Status};

/// The request and the reply.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Hello {
    /// Who to greet (request); the greeting (reply).
    #[prost(string, tag = "1")]
    pub name: String,
    /// The handler's `TraceContext`: `trace_id/span_id/parent_span_id` (reply).
    #[prost(string, tag = "2")]
    pub context: String,
    /// The `traceparent` the handler received (reply).
    #[prost(string, tag = "3")]
    pub traceparent: String,
}

/// `SayHello`'s path.
pub const SAY_HELLO: &str = "/demo.Greeter/SayHello";
/// `Relay`'s path.
pub const RELAY: &str = "/demo.Greeter/Relay";

struct Greeter {
    relay: Client,
}

async fn say_hello(req: Request<Hello>) -> Result<Response<Hello>, Status> {
    let context = req
        .extensions()
        .get::<TraceContext>()
        .map(|c| {
            let parent = c
                .parent_span_id()
                .map(|p| p.to_string())
                .unwrap_or_default();
            format!("{}/{}/{parent}", c.trace_id(), c.span_id())
        })
        .unwrap_or_default();
    let traceparent = req
        .metadata()
        .get(TRACEPARENT)
        .unwrap_or_default()
        .to_owned();
    let name = req.into_inner().name;
    if name.is_empty() {
        return Err(Status::not_found("no name"));
    }
    Ok(Response::new(Hello {
        name: format!("hello, {name}"),
        context,
        traceparent,
    }))
}

impl Service for Greeter {
    fn name(&self) -> &'static str {
        "demo.Greeter"
    }

    fn methods(&self) -> Vec<Method> {
        let relay = self.relay.clone();
        vec![
            Method::unary("SayHello", say_hello),
            Method::unary("Relay", move |req: Request<Hello>| {
                let relay = relay.clone();
                // The traced handler's context is current here: the inner call joins it.
                async move {
                    relay
                        .unary::<Hello, Hello>(SAY_HELLO, Request::new(req.into_inner()))
                        .await
                }
            }),
        ]
    }
}

/// A client with rill's tracing and metrics layers.
pub fn client(channel: Channel) -> Client {
    Client::new(channel)
        .layer(MetricsLayer::new())
        .layer(TracingLayer::new())
}

/// Serves the Greeter with the tracing and metrics layers on a free loopback port, in a
/// task of the current runtime; returns its address.
pub async fn serve() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let channel = Channel::lazy(&format!("http://{addr}")).map_err(std::io::Error::other)?;
    let server = Server::builder()
        .add_service(Greeter {
            relay: client(channel),
        })
        .layer(MetricsLayer::new())
        .layer(TracingLayer::new());
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
    Ok(addr)
}
