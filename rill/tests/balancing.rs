//! Name resolution, load balancing, connectivity states and wait-for-ready, against several
//! in-process servers on loopback.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rill::balancer::{PickFirst, RoundRobin};
use rill::client::{BackoffConfig, ConnectivityState, Endpoint};
use rill::resolver::{Address, ManualResolver};
use rill::{Code, Request};

struct Replica {
    addr: SocketAddr,
    probe: Arc<Probe>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), rill::Error>>,
}

impl Replica {
    async fn start() -> Replica {
        let (server, probe) = echo_server();
        let (addr, stop, handle) = tcp_server(server).await;
        Replica {
            addr,
            probe,
            stop: Some(stop),
            handle,
        }
    }

    fn calls(&self) -> usize {
        self.probe.completed.load(Ordering::SeqCst)
    }

    fn address(&self) -> Address {
        Address::tcp(self.addr)
    }

    async fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.handle).await.unwrap().unwrap();
    }
}

async fn replicas(n: usize) -> Vec<Replica> {
    let mut all = Vec::new();
    for _ in 0..n {
        all.push(Replica::start().await);
    }
    all
}

fn ipv4_target(replicas: &[Replica]) -> String {
    let list: Vec<String> = replicas.iter().map(|r| r.addr.to_string()).collect();
    format!("ipv4:{}", list.join(","))
}

async fn call(client: &rill::Client) -> Result<(), rill::Status> {
    let mut request = Request::new(Msg::text("hi"));
    request.set_timeout(Duration::from_secs(5));
    client.unary::<Msg, Msg>(UNARY, request).await.map(drop)
}

/// Calls until `done` holds (each call may fail), for at most 5 s.
async fn call_until(client: &rill::Client, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        let _ = call(client).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 5 s");
}

/// A port nothing listens on (until the test binds it again).
fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn round_robin_spreads_calls_across_three_servers() {
    let replicas = replicas(3).await;
    let channel = Endpoint::new(&ipv4_target(&replicas))
        .load_balancer(RoundRobin)
        .connect()
        .await
        .unwrap();
    let client = rill::Client::new(channel);
    // Until all three connections are up.
    call_until(&client, || replicas.iter().all(|r| r.calls() > 0)).await;
    let before: Vec<usize> = replicas.iter().map(Replica::calls).collect();
    for _ in 0..300 {
        call(&client).await.unwrap();
    }
    for (replica, before) in replicas.iter().zip(before) {
        let got = replica.calls() - before;
        assert!(
            (80..=120).contains(&got),
            "a replica got {got} of 300 calls"
        );
    }
}

#[tokio::test]
async fn round_robin_skips_a_dead_server_and_keeps_working() {
    let mut replicas = replicas(3).await;
    let channel = Endpoint::new(&ipv4_target(&replicas))
        .load_balancer(RoundRobin)
        .connect()
        .await
        .unwrap();
    let client = rill::Client::new(channel);
    call_until(&client, || replicas.iter().all(|r| r.calls() > 0)).await;
    replicas[1].kill().await;
    // At most the calls racing the connection's end fail; then the other two share the load.
    let mut failed = 0;
    for _ in 0..100 {
        if call(&client).await.is_err() {
            failed += 1;
        }
    }
    assert!(failed <= 2, "{failed} calls failed");
    let before: Vec<usize> = replicas.iter().map(Replica::calls).collect();
    for _ in 0..100 {
        call(&client).await.unwrap();
    }
    assert_eq!(replicas[1].calls(), before[1]);
    assert!(replicas[0].calls() - before[0] >= 40);
    assert!(replicas[2].calls() - before[2] >= 40);
}

#[tokio::test]
async fn pick_first_sticks_to_the_first_and_fails_over_when_it_dies() {
    let mut replicas = replicas(2).await;
    let client = rill::Client::new(
        Endpoint::new(&ipv4_target(&replicas))
            .load_balancer(PickFirst)
            .connect()
            .await
            .unwrap(),
    );
    for _ in 0..20 {
        call(&client).await.unwrap();
    }
    assert_eq!((replicas[0].calls(), replicas[1].calls()), (20, 0));
    replicas[0].kill().await;
    // A call may race the connection's end; the next ones reconnect to the second address.
    let _ = call(&client).await;
    for _ in 0..20 {
        call(&client).await.unwrap();
    }
    assert_eq!(replicas[0].calls(), 20);
    assert!(replicas[1].calls() >= 20);
}

#[tokio::test]
async fn manual_resolver_adds_and_drains_servers() {
    let replicas = replicas(2).await;
    let resolver = ManualResolver::new();
    resolver.update([replicas[0].address()]);
    let client = rill::Client::new(
        Endpoint::new("manual:///echo")
            .resolver(resolver.clone())
            .load_balancer(RoundRobin)
            .connect()
            .await
            .unwrap(),
    );
    for _ in 0..10 {
        call(&client).await.unwrap();
    }
    assert_eq!((replicas[0].calls(), replicas[1].calls()), (10, 0));
    // Added: it starts receiving traffic.
    resolver.update([replicas[0].address(), replicas[1].address()]);
    call_until(&client, || replicas[1].calls() > 0).await;
    let before = (replicas[0].calls(), replicas[1].calls());
    for _ in 0..100 {
        call(&client).await.unwrap();
    }
    let got = (
        replicas[0].calls() - before.0,
        replicas[1].calls() - before.1,
    );
    assert!(got.0 >= 40 && got.1 >= 40, "{got:?}");
    // Removed: no new calls reach it, while a call already on it finishes.
    let slow = tokio::spawn({
        let client = client.clone();
        async move {
            let mut requests = Vec::new();
            for _ in 0..2 {
                let mut request = Request::new(Msg {
                    sleep_ms: 300,
                    ..Msg::text("slow")
                });
                request.set_timeout(Duration::from_secs(5));
                requests.push(client.unary::<Msg, Msg>(UNARY, request));
            }
            futures_util::future::join_all(requests).await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    resolver.update([replicas[1].address()]);
    let drained = replicas[0].calls();
    for _ in 0..50 {
        call(&client).await.unwrap();
    }
    // One of the two slow calls was on the removed replica: it completed there.
    for result in slow.await.unwrap() {
        assert_eq!(result.unwrap().get_ref().text, "slow");
    }
    assert_eq!(replicas[0].calls(), drained + 1);
}

#[tokio::test]
async fn an_empty_address_list_fails_calls_until_servers_come_back() {
    let replicas = replicas(1).await;
    let resolver = ManualResolver::new();
    resolver.update([replicas[0].address()]);
    let client = rill::Client::new(
        Endpoint::new("manual:///echo")
            .resolver(resolver.clone())
            .connect()
            .await
            .unwrap(),
    );
    call(&client).await.unwrap();
    resolver.update([]);
    let err = call(&client).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    assert!(err.message().contains("no addresses"), "{err}");
    resolver.update([replicas[0].address()]);
    call(&client).await.unwrap();
}

#[tokio::test]
async fn connection_failures_ask_the_resolver_again() {
    let resolver = ManualResolver::new();
    resolver.update([Address::tcp(free_port())]);
    let client = rill::Client::new(
        Endpoint::new("manual:///echo")
            .resolver(resolver.clone())
            .connect_lazy()
            .unwrap(),
    );
    let err = call(&client).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(resolver.resolve_now_count() >= 1);
    // The resolver's answer: a live server. The channel stays in TRANSIENT_FAILURE until it
    // is connected (gRFC A62's sticky failure): wait for ready.
    let replica = Replica::start().await;
    resolver.update([replica.address()]);
    let mut request = Request::new(Msg::default());
    request.set_wait_for_ready(true);
    request.set_timeout(Duration::from_secs(5));
    client.unary::<Msg, Msg>(UNARY, request).await.unwrap();
    assert_eq!(replica.calls(), 1);
}

#[tokio::test]
async fn states_go_idle_connecting_ready_and_transient_failure() {
    let mut replica = Replica::start().await;
    let addr = replica.addr;
    // Connection attempts wait until the test opens the gate.
    let (gate, gate_open) = tokio::sync::watch::channel(false);
    let channel = Endpoint::new(&format!("ipv4:{addr}"))
        .connector(move |_: Address| {
            let mut open = gate_open.clone();
            async move {
                let _ = open.wait_for(|open| *open).await;
                tokio::net::TcpStream::connect(addr).await
            }
        })
        .connect_lazy()
        .unwrap();
    assert_eq!(channel.state(), ConnectivityState::Idle);
    let mut states = channel.watch_state();
    channel.request_connection();
    states
        .wait_for(|s| *s == ConnectivityState::Connecting)
        .await
        .unwrap();
    gate.send_replace(true);
    states
        .wait_for(|s| *s == ConnectivityState::Ready)
        .await
        .unwrap();
    // The server goes away: pick_first goes IDLE; connecting again fails.
    replica.kill().await;
    states
        .wait_for(|s| *s == ConnectivityState::Idle)
        .await
        .unwrap();
    channel.request_connection();
    states
        .wait_for(|s| *s == ConnectivityState::TransientFailure)
        .await
        .unwrap();
    // Fail-fast calls fail at once, with the connection error.
    let client = rill::Client::new(channel.clone());
    let started = std::time::Instant::now();
    let err = call(&client).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.message().contains("refused"), "{err}");
    assert!(started.elapsed() < Duration::from_millis(500));
    drop(client);
    drop(channel);
    states
        .wait_for(|s| *s == ConnectivityState::Shutdown)
        .await
        .unwrap();
}

#[tokio::test]
async fn wait_for_ready_waits_for_a_late_server_and_fail_fast_does_not() {
    let addr = free_port();
    let mut backoff = BackoffConfig::default();
    backoff.initial_delay = Duration::from_millis(100);
    let channel = Endpoint::new(&format!("http://{addr}"))
        .connect_backoff(backoff)
        .connect_lazy()
        .unwrap();
    let client = rill::Client::new(channel);
    // Fail fast (the default): UNAVAILABLE after the first attempt.
    let started = std::time::Instant::now();
    let err = call(&client).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
    // Waiting for ready, with nothing to wait for: the deadline.
    let mut request = Request::new(Msg::default());
    request.set_wait_for_ready(true);
    request.set_timeout(Duration::from_millis(300));
    let err = client.unary::<Msg, Msg>(UNARY, request).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err}");
    // Waiting for ready while the server starts.
    let waiting = tokio::spawn({
        let client = client.clone().wait_for_ready(true);
        async move { call(&client).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished());
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let (server, probe) = echo_server();
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
    waiting.await.unwrap().unwrap();
    assert_eq!(probe.completed.load(Ordering::SeqCst), 1);
    // A request can still opt out of the client's default.
    let mut request = Request::new(Msg::default());
    request.set_wait_for_ready(false);
    assert_eq!(request.wait_for_ready(), Some(false));
}

#[tokio::test]
async fn dns_resolver_resolves_localhost() {
    let replica = Replica::start().await;
    let port = replica.addr.port();
    // localhost may resolve to ::1 first, where nothing listens: pick_first moves on.
    for target in [
        format!("dns:///localhost:{port}"),
        format!("localhost:{port}"),
    ] {
        let client = rill::Client::new(rill::Channel::connect(&target).await.unwrap());
        call(&client).await.unwrap();
    }
    let client = rill::Client::new(
        Endpoint::new(&format!("dns:///localhost:{port}"))
            .load_balancer(RoundRobin)
            .connect_lazy()
            .unwrap(),
    );
    let mut request = Request::new(Msg::default());
    request.set_wait_for_ready(true);
    request.set_timeout(Duration::from_secs(5));
    client.unary::<Msg, Msg>(UNARY, request).await.unwrap();
    assert_eq!(replica.calls(), 3);
}

#[tokio::test]
async fn streaming_calls_are_balanced_too() {
    let replicas = replicas(2).await;
    let client = rill::Client::new(
        Endpoint::new(&ipv4_target(&replicas))
            .load_balancer(RoundRobin)
            .connect()
            .await
            .unwrap(),
    );
    call_until(&client, || replicas.iter().all(|r| r.calls() > 0)).await;
    for _ in 0..10 {
        let mut request = Request::new(Msg {
            n: 3,
            ..Msg::text("s")
        });
        request.set_wait_for_ready(true);
        let mut stream = client
            .server_streaming::<Msg, Msg>(SERVER_STREAM, request)
            .await
            .unwrap()
            .into_inner();
        let mut n = 0;
        while stream.message().await.unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 3);
    }
    let sent: Vec<usize> = replicas
        .iter()
        .map(|r| r.probe.sent.load(Ordering::SeqCst))
        .collect();
    assert_eq!(sent.iter().sum::<usize>(), 30);
    assert!(sent.iter().all(|n| *n >= 9), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_resolver_updates_from_a_plain_thread() {
    let replicas = replicas(2).await;
    let resolver = ManualResolver::new();
    let client = rill::Client::new(
        Endpoint::new("manual:///echo")
            .resolver(resolver.clone())
            .load_balancer(RoundRobin)
            .connect_lazy()
            .unwrap(),
    )
    .wait_for_ready(true);
    // The first call starts resolution (in the runtime); the addresses come from elsewhere.
    let first = tokio::spawn({
        let client = client.clone();
        async move { call(&client).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let addresses: Vec<Address> = replicas.iter().map(Replica::address).collect();
    std::thread::spawn(move || resolver.update(addresses))
        .join()
        .unwrap();
    first.await.unwrap().unwrap();
    call_until(&client, || replicas.iter().all(|r| r.calls() > 0)).await;
}
