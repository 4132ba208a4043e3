//! Service discovery by hand: a `ManualResolver` feeds a round-robin channel the addresses of
//! three in-process replicas, adding and removing them while calls go on.
//!
//! Run with `cargo run -p rill --example manual_resolver`. In a real application the
//! updates come from the discovery system being watched (etcd, Consul, Kubernetes endpoints).

use std::collections::BTreeMap;
use std::time::Duration;

use rill::balancer::RoundRobin;
use rill::resolver::{Address, ManualResolver};
use rill::server::{Method, Server, Service};
use rill::{Channel, Client, Request, Response, Status};

#[derive(Clone, PartialEq, prost::Message)]
struct Hello {
    #[prost(string, tag = "1")]
    name: String,
}

/// Answers with the name of the replica that served the call.
struct Greeter(&'static str);

impl Service for Greeter {
    fn name(&self) -> &'static str {
        "demo.Greeter"
    }

    fn methods(&self) -> Vec<Method> {
        let replica = self.0;
        vec![Method::unary(
            "SayHello",
            move |_: Request<Hello>| async move {
                Ok::<_, Status>(Response::new(Hello {
                    name: replica.to_string(),
                }))
            },
        )]
    }
}

async fn start(name: &'static str) -> std::io::Result<Address> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = Address::tcp(listener.local_addr()?);
    let server = Server::builder().add_service(Greeter(name));
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
    Ok(address)
}

/// Makes `n` calls and prints which replicas answered them.
async fn calls(client: &Client, n: usize) -> Result<(), Status> {
    let mut answered: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..n {
        let mut request = Request::new(Hello::default());
        // Wait (briefly) for a replica the resolver just announced to be connected.
        request.set_wait_for_ready(true);
        request.set_timeout(Duration::from_secs(5));
        let reply: Response<Hello> = client.unary("/demo.Greeter/SayHello", request).await?;
        *answered.entry(reply.into_inner().name).or_default() += 1;
    }
    println!("  {n} calls answered by {answered:?}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let replicas = [start("a").await?, start("b").await?, start("c").await?];

    let resolver = ManualResolver::new();
    resolver.update([replicas[0].clone()]);
    let channel = Channel::builder("manual:///greeter")
        .resolver(resolver.clone())
        .load_balancer(RoundRobin)
        .connect()
        .await?;
    let client = Client::new(channel.clone());

    println!("one replica ({}):", replicas[0]);
    calls(&client, 6).await?;

    println!("three replicas:");
    resolver.update(replicas.iter().cloned());
    // New subchannels connect in the background; give them a moment to become READY.
    tokio::time::sleep(Duration::from_millis(100)).await;
    calls(&client, 9).await?;

    println!("replica a removed:");
    resolver.update(replicas[1..].iter().cloned());
    calls(&client, 6).await?;

    println!("channel state: {}", channel.state());
    Ok(())
}
