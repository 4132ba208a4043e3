//! Service discovery through etcd: three `Replica` servers register themselves under
//! `services/replica`, a client resolves `etcd:///services/replica` with round robin, and
//! the servers come and go while it calls.
//!
//! Needs a running etcd (`etcd` with its defaults listens on 127.0.0.1:2379):
//!
//! ```text
//! etcd --data-dir /tmp/etcd-demo &
//! cargo run -p rill-etcd --example etcd_discovery -- 127.0.0.1:2379
//! ```
#![allow(unreachable_pub)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use rill::balancer::RoundRobin;
use rill::{Request, Response, Status};
use rill_etcd::{EtcdResolverBuilder, Registration};

#[allow(dead_code)]
mod replica {
    rill::include_proto!("rill_etcd.replica");
}
use replica::replica_client::ReplicaClient;
use replica::replica_server::{Replica, ReplicaServer};
use replica::{WhoamiReply, WhoamiRequest};

struct Named(String);

impl Replica for Named {
    async fn whoami(&self, _: Request<WhoamiRequest>) -> Result<Response<WhoamiReply>, Status> {
        Ok(Response::new(WhoamiReply {
            name: self.0.clone(),
        }))
    }
}

/// Starts a replica on a free loopback port and registers it (5 s lease).
async fn start_replica(
    etcd: &str,
    name: &str,
) -> Result<(SocketAddr, Registration), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server =
        rill::server::Server::builder().add_service(ReplicaServer::new(Named(name.into())));
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
    let registration = Registration::builder(etcd, "services/replica", &addr.to_string())
        .ttl(Duration::from_secs(5))
        .register()
        .await?;
    println!(
        "{name} serves on {addr}, registered as {}",
        registration.key()
    );
    Ok((addr, registration))
}

async fn tally(client: &ReplicaClient, calls: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..calls {
        let name = match client.whoami(WhoamiRequest {}).await {
            Ok(reply) => reply.into_inner().name,
            Err(status) => format!("{:?}", status.code()),
        };
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let etcd = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".into());

    let (_, a) = start_replica(&etcd, "a").await?;
    let (_, b) = start_replica(&etcd, "b").await?;

    let channel = rill::Channel::builder("etcd:///services/replica")
        .resolver(EtcdResolverBuilder::new(&etcd))
        .load_balancer(RoundRobin)
        .connect_lazy()?;
    let client = ReplicaClient::new(channel);
    let settle = || tokio::time::sleep(Duration::from_millis(300));

    settle().await;
    println!("two replicas:   {:?}", tally(&client, 20).await);

    let (_, c) = start_replica(&etcd, "c").await?;
    settle().await;
    println!("c registered:   {:?}", tally(&client, 30).await);

    a.revoke().await?;
    settle().await;
    println!("a revoked:      {:?}", tally(&client, 20).await);

    drop((b, c)); // revokes both leases in the background
    settle().await;
    println!("all gone:       {:?}", tally(&client, 5).await);
    Ok(())
}
