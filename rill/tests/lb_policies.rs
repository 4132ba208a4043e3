//! Load-balancing policies, client-side health checking, outlier detection, keepalive, idle
//! and pooling, against in-process servers on loopback.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rill::balancer::{
    ConsecutiveFailuresEjection, FailurePercentageEjection, LbPolicyRegistry, LeastRequest,
    LoadReport, OutlierDetection, RoundRobin, SuccessRateEjection, WeightedRoundRobin,
    LOAD_REPORT_TRAILER,
};
use rill::client::{ConnectivityState, Endpoint};
use rill::server::{Method, Server, Service};
use rill::{BoxStream, Client, Code, Request, Response, Status};
use tokio::sync::watch;

#[derive(Clone, PartialEq, prost::Message)]
struct Who {
    #[prost(string, tag = "1")]
    id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}

const WHO: &str = "/test.Lb/Who";
const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

/// How one replica behaves; shared with the test.
#[derive(Default)]
struct Knobs {
    calls: AtomicUsize,
    delay_ms: AtomicU64,
    fail: AtomicBool,
    /// A load report to send in every response's trailers.
    load: Mutex<Option<LoadReport>>,
    /// Client ports seen (one per connection).
    peers: Mutex<HashSet<u16>>,
}

#[derive(Clone)]
struct Lb {
    id: String,
    knobs: Arc<Knobs>,
}

impl Service for Lb {
    fn name(&self) -> &'static str {
        "test.Lb"
    }

    fn methods(&self) -> Vec<Method> {
        let me = self.clone();
        vec![Method::unary("Who", move |req: Request<Who>| {
            let me = me.clone();
            async move {
                let knobs = &me.knobs;
                if let Some(peer) = req.remote_addr() {
                    knobs.peers.lock().unwrap().insert(peer.port());
                }
                knobs.calls.fetch_add(1, Ordering::SeqCst);
                let delay = knobs.delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                if knobs.fail.load(Ordering::SeqCst) {
                    return Err(Status::unavailable("failing on purpose"));
                }
                let mut response = Response::new(Who { id: me.id.clone() });
                if let Some(report) = *knobs.load.lock().unwrap() {
                    response
                        .trailers_mut()
                        .insert_bin(LOAD_REPORT_TRAILER, report.to_bytes())
                        .unwrap();
                }
                Ok(response)
            }
        })]
    }
}

/// A minimal grpc.health.v1.Health with a Watch that follows a watch channel.
#[derive(Clone)]
struct Health(watch::Receiver<i32>);

impl Service for Health {
    fn name(&self) -> &'static str {
        "grpc.health.v1.Health"
    }

    fn methods(&self) -> Vec<Method> {
        let rx = self.0.clone();
        vec![Method::server_streaming(
            "Watch",
            move |_: Request<HealthCheckRequest>| {
                let rx = rx.clone();
                async move {
                    let stream =
                        futures_util::stream::unfold((rx, true), |(mut rx, first)| async move {
                            if !first && rx.changed().await.is_err() {
                                return None;
                            }
                            let status = *rx.borrow_and_update();
                            Some((Ok(HealthCheckResponse { status }), (rx, false)))
                        });
                    let stream: BoxStream<HealthCheckResponse> = Box::pin(stream);
                    Ok(Response::new(stream))
                }
            },
        )]
    }
}

struct Replica {
    addr: SocketAddr,
    knobs: Arc<Knobs>,
    health: watch::Sender<i32>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn replica(id: usize, with_health: bool) -> Replica {
    let knobs = Arc::new(Knobs::default());
    let (health, rx) = watch::channel(SERVING);
    let mut server = Server::builder().add_service(Lb {
        id: id.to_string(),
        knobs: knobs.clone(),
    });
    if with_health {
        server = server.add_service(Health(rx));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve_with_listener(listener, async {
        let _ = rx.await;
    }));
    Replica {
        addr,
        knobs,
        health,
        stop: Some(stop),
    }
}

async fn replicas(n: usize, with_health: bool) -> Vec<Replica> {
    let mut all = Vec::new();
    for id in 0..n {
        all.push(replica(id, with_health).await);
    }
    all
}

fn target(replicas: &[Replica]) -> String {
    let list: Vec<String> = replicas.iter().map(|r| r.addr.to_string()).collect();
    format!("ipv4:{}", list.join(","))
}

async fn who(client: &Client, key: Option<&str>) -> Result<String, Status> {
    let mut request = Request::new(Who::default());
    request.set_timeout(Duration::from_secs(5));
    if let Some(key) = key {
        request.metadata_mut().insert("x-key", key).unwrap();
    }
    let response = client.unary::<Who, Who>(WHO, request).await?;
    Ok(response.into_inner().id)
}

/// A client whose channel spreads calls over `replicas` with `policy`.
async fn balanced_client(replicas: &[Replica], policy: impl rill::balancer::LbPolicy) -> Client {
    let channel = Endpoint::new(&target(replicas))
        .load_balancer(policy)
        .connect()
        .await
        .unwrap();
    Client::new(channel)
}

/// Replies per replica id for `n` sequential calls.
async fn spread(client: &Client, n: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for _ in 0..n {
        let id = who(client, None).await.unwrap();
        *counts.entry(id).or_default() += 1;
    }
    counts
}

fn counts(replicas: &[Replica]) -> Vec<usize> {
    replicas
        .iter()
        .map(|r| r.knobs.calls.swap(0, Ordering::SeqCst))
        .collect()
}

#[tokio::test]
async fn round_robin_spreads_evenly() {
    let replicas = replicas(3, false).await;
    let client = balanced_client(&replicas, RoundRobin).await;
    // Let every subchannel get READY.
    while spread(&client, 30).await.len() < 3 {}
    counts(&replicas);
    spread(&client, 300).await;
    let got = counts(&replicas);
    assert!(got.iter().all(|c| c.abs_diff(100) <= 10), "{got:?}");
}

#[tokio::test]
async fn least_request_prefers_the_less_loaded_replica() {
    let replicas = replicas(2, false).await;
    replicas[0].knobs.delay_ms.store(100, Ordering::SeqCst);
    let channel = Endpoint::new(&target(&replicas))
        .load_balancer(LeastRequest::new())
        .connect()
        .await
        .unwrap();
    let client = Client::new(channel);
    while spread(&client, 10).await.len() < 2 {}
    counts(&replicas);
    // 8 callers at a time: calls pile up on the slow replica, so picks avoid it.
    let mut workers = Vec::new();
    for _ in 0..8 {
        let client = client.clone();
        workers.push(tokio::spawn(async move {
            for _ in 0..25 {
                who(&client, None).await.unwrap();
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let got = counts(&replicas);
    assert_eq!(got[0] + got[1], 200);
    // Round robin would give the slow one 100. With two random choices out of two replicas,
    // both are the slow one a quarter of the time, so it gets about 50.
    assert!(got[0] < 70, "slow replica got {got:?}");
}

#[tokio::test]
async fn weighted_round_robin_follows_load_reports() {
    let replicas = replicas(3, false).await;
    for (replica, cpu) in replicas.iter().zip([0.1, 0.2, 0.4]) {
        let mut report = LoadReport::default();
        report.qps = 100.0;
        report.cpu_utilization = cpu;
        *replica.knobs.load.lock().unwrap() = Some(report);
    }
    let policy = WeightedRoundRobin::new()
        .blackout_period(Duration::ZERO)
        .weight_update_period(Duration::from_millis(100));
    let client = balanced_client(&replicas, policy).await;
    // Every replica reports at least once, then the weights are recomputed.
    while spread(&client, 30).await.len() < 3 {}
    tokio::time::sleep(Duration::from_millis(300)).await;
    counts(&replicas);
    spread(&client, 700).await;
    let got = counts(&replicas);
    // Weights qps/cpu: 1000, 500, 250 → 400, 200, 100 of 700.
    for (count, expected) in got.iter().zip([400usize, 200, 100]) {
        assert!(count.abs_diff(expected) <= expected / 5, "{got:?}");
    }
}

#[tokio::test]
async fn ring_hash_keeps_keys_on_one_replica_and_spreads_keys() {
    let replicas = replicas(3, false).await;
    let registry = LbPolicyRegistry::new();
    let policy = registry
        .select(&serde_json::json!([{"ring_hash_experimental": {"requestHashHeader": "x-key"}}]))
        .unwrap();
    assert_eq!(policy.name(), "ring_hash_experimental");
    // Through a service config: the entry's own JSON (the hash header) reaches the policy.
    let config = rill::service_config::ServiceConfig::from_json(
        r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"requestHashHeader": "x-key"}}]}"#,
    )
    .unwrap();
    let channel = Endpoint::new(&target(&replicas))
        .service_config(config)
        .connect_lazy()
        .unwrap();
    let client = Client::new(channel);
    for key in ["alice", "bob", "carol"] {
        let first = who(&client, Some(key)).await.unwrap();
        for _ in 0..20 {
            assert_eq!(who(&client, Some(key)).await.unwrap(), first, "{key}");
        }
    }
    let mut per_replica: HashMap<String, usize> = HashMap::new();
    for i in 0..300 {
        let id = who(&client, Some(&format!("user-{i}"))).await.unwrap();
        *per_replica.entry(id).or_default() += 1;
    }
    assert_eq!(per_replica.len(), 3, "{per_replica:?}");
    assert!(per_replica.values().all(|c| *c >= 50), "{per_replica:?}");
}

#[test]
fn a_service_config_with_a_bad_policy_config_is_refused() {
    let config = rill::service_config::ServiceConfig::from_json(
        r#"{"loadBalancingConfig": [{"least_request_experimental": {"choiceCount": "two"}}]}"#,
    )
    .unwrap();
    let err = Endpoint::new("ipv4:127.0.0.1:1")
        .service_config(config)
        .connect_lazy()
        .unwrap_err();
    assert!(
        matches!(err, rill::Error::ServiceConfig(_)) && err.to_string().contains("least_request"),
        "{err}"
    );
    // An explicit policy is still used when the config names it.
    let config = rill::service_config::ServiceConfig::from_json(
        r#"{"loadBalancingConfig": [{"unknown_policy": {}}, {"round_robin": {}}]}"#,
    )
    .unwrap();
    assert!(Endpoint::new("ipv4:127.0.0.1:1")
        .service_config(config)
        .connect_lazy()
        .is_ok());
}

#[tokio::test]
async fn a_not_serving_replica_is_drained_and_comes_back() {
    let replicas = replicas(2, true).await;
    let channel = Endpoint::new(&target(&replicas))
        .load_balancer(RoundRobin)
        .health_check_service("test.Lb")
        .connect()
        .await
        .unwrap();
    let client = Client::new(channel);
    while spread(&client, 10).await.len() < 2 {}
    replicas[1].health.send(NOT_SERVING).unwrap();
    let start = Instant::now();
    while spread(&client, 10).await.len() > 1 {
        assert!(start.elapsed() < Duration::from_secs(5), "never drained");
    }
    counts(&replicas);
    spread(&client, 50).await;
    assert_eq!(counts(&replicas), vec![50, 0]);
    replicas[1].health.send(SERVING).unwrap();
    while spread(&client, 10).await.len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(10), "never came back");
    }
    counts(&replicas);
    spread(&client, 50).await;
    let got = counts(&replicas);
    assert!(got[1] >= 20, "{got:?}");
}

#[tokio::test]
async fn a_server_without_health_service_counts_as_serving() {
    let replicas = replicas(1, false).await;
    let channel = Endpoint::new(&target(&replicas))
        .health_check_service("")
        .connect()
        .await
        .unwrap();
    let client = Client::new(channel);
    assert_eq!(who(&client, None).await.unwrap(), "0");
}

#[tokio::test]
async fn a_failing_replica_is_ejected_and_returns() {
    let replicas = replicas(3, false).await;
    let policy = OutlierDetection::new(RoundRobin)
        .interval(Duration::from_millis(200))
        .base_ejection_time(Duration::from_millis(800))
        .max_ejection_percent(50)
        .failure_percentage({
            let mut fp = FailurePercentageEjection::default();
            fp.threshold = 50;
            fp.minimum_hosts = 3;
            fp.request_volume = 5;
            fp
        });
    let client = balanced_client(&replicas, policy).await;
    replicas[2].knobs.fail.store(true, Ordering::SeqCst);
    // Calls until the failing replica stops getting any (ejected after an interval).
    let start = Instant::now();
    loop {
        counts(&replicas);
        for _ in 0..30 {
            let _ = who(&client, None).await;
        }
        if counts(&replicas)[2] == 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(3), "never ejected");
    }
    for _ in 0..30 {
        who(&client, None).await.expect("only healthy replicas now");
    }
    replicas[2].knobs.fail.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    counts(&replicas);
    spread(&client, 60).await;
    let got = counts(&replicas);
    assert!(got[2] >= 10, "ejected replica did not come back: {got:?}");
}

/// A TCP proxy that can be frozen: it then stops forwarding, like a peer that vanished.
async fn freezable_proxy(upstream: SocketAddr) -> (SocketAddr, Arc<AtomicBool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let frozen = Arc::new(AtomicBool::new(false));
    let flag = frozen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                continue;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::spawn(pump(cr, sw, flag.clone()));
            tokio::spawn(pump(sr, cw, flag.clone()));
        }
    });
    (addr, frozen)
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let Ok(n) = from.read(&mut buffer).await else {
            return;
        };
        if n == 0 {
            return;
        }
        if frozen.load(Ordering::SeqCst) {
            // Swallow everything, keep the sockets open: silence.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn keepalive_detects_a_silently_dead_peer() {
    let replicas = replicas(1, false).await;
    replicas[0].knobs.delay_ms.store(30_000, Ordering::SeqCst);
    let (proxy, frozen) = freezable_proxy(replicas[0].addr).await;
    let channel = Endpoint::new(&proxy.to_string())
        .keepalive_time(Duration::from_millis(200))
        .keepalive_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let client = Client::new(channel.clone());
    let call = tokio::spawn(async move { who(&client, None).await });
    tokio::time::sleep(Duration::from_millis(300)).await; // pings are answered meanwhile
    assert!(!call.is_finished());
    frozen.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(3), call)
        .await
        .expect("keepalive did not notice the dead peer")
        .unwrap()
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_ne!(channel.state(), ConnectivityState::Ready);
}

#[tokio::test]
async fn an_idle_channel_goes_idle_and_reconnects() {
    let replicas = replicas(1, false).await;
    let dials = Arc::new(AtomicUsize::new(0));
    let counter = dials.clone();
    let channel = Endpoint::new(&target(&replicas))
        .idle_timeout(Duration::from_millis(800))
        .connector(move |address: rill::resolver::Address| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { tokio::net::TcpStream::connect(address.socket_addr().unwrap()).await }
        })
        .connect_lazy()
        .unwrap();
    let client = Client::new(channel.clone());
    who(&client, None).await.unwrap();
    assert_eq!(channel.state(), ConnectivityState::Ready);
    tokio::time::sleep(Duration::from_millis(500)).await;
    who(&client, None).await.unwrap(); // activity postpones idleness
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(channel.state(), ConnectivityState::Ready);
    let mut states = channel.watch_state();
    tokio::time::timeout(
        Duration::from_secs(5),
        states.wait_for(|s| *s == ConnectivityState::Idle),
    )
    .await
    .expect("never went idle")
    .unwrap();
    assert_eq!(dials.load(Ordering::SeqCst), 1);
    who(&client, None).await.unwrap();
    assert_eq!(channel.state(), ConnectivityState::Ready);
    assert_eq!(dials.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn pooling_opens_n_connections_and_uses_them() {
    let replicas = replicas(1, false).await;
    replicas[0].knobs.delay_ms.store(50, Ordering::SeqCst);
    let channel = Endpoint::new(&target(&replicas))
        .connections_per_address(3)
        .connect()
        .await
        .unwrap();
    let client = Client::new(channel);
    tokio::time::sleep(Duration::from_millis(200)).await; // the extra connections open
    let calls: Vec<_> = (0..12)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { who(&client, None).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let peers = replicas[0].knobs.peers.lock().unwrap().len();
    assert_eq!(peers, 3, "calls used {peers} connections");
}

#[tokio::test]
async fn health_watches_do_not_keep_a_channel_out_of_idle() {
    let replicas = replicas(1, true).await;
    let channel = Endpoint::new(&target(&replicas))
        .health_check_service("")
        .idle_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let client = Client::new(channel.clone());
    who(&client, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(channel.state(), ConnectivityState::Idle);
    who(&client, None).await.unwrap();
}

#[tokio::test]
async fn a_goaway_moves_new_calls_on_while_calls_in_flight_finish() {
    let mut replicas = replicas(1, false).await;
    replicas[0].knobs.delay_ms.store(3000, Ordering::SeqCst);
    let channel = Endpoint::new(&target(&replicas)).connect().await.unwrap();
    let client = Client::new(channel.clone());
    let in_flight = tokio::spawn(async move { who(&client, None).await });
    while replicas[0].knobs.calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Graceful shutdown: GOAWAY, then the server finishes its calls.
    let _ = replicas[0].stop.take().unwrap().send(());
    let mut states = channel.watch_state();
    tokio::time::timeout(
        Duration::from_secs(2),
        states.wait_for(|s| *s != ConnectivityState::Ready),
    )
    .await
    .expect("GOAWAY not noticed")
    .unwrap();
    assert!(!in_flight.is_finished());
    assert_eq!(in_flight.await.unwrap().unwrap(), "0");
}

#[tokio::test]
async fn success_rate_ejection_ejects_the_outlier() {
    let replicas = replicas(5, false).await;
    let policy = OutlierDetection::new(RoundRobin)
        .interval(Duration::from_millis(200))
        .base_ejection_time(Duration::from_secs(30))
        .max_ejection_percent(20)
        .success_rate({
            let mut sr = SuccessRateEjection::default();
            sr.stdev_factor = 1000;
            sr.request_volume = 5;
            sr
        });
    let client = balanced_client(&replicas, policy).await;
    replicas[4].knobs.fail.store(true, Ordering::SeqCst);
    let start = Instant::now();
    loop {
        counts(&replicas);
        for _ in 0..50 {
            let _ = who(&client, None).await;
        }
        let got = counts(&replicas);
        if got[4] == 0 {
            assert!(got[..4].iter().all(|c| *c > 0), "{got:?}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(3), "never ejected");
    }
}

#[tokio::test]
async fn consecutive_failures_eject_a_replica_at_once_and_it_returns() {
    let replicas = replicas(3, false).await;
    // An interval far longer than the test: only the consecutive-failures alarm can eject.
    let policy = OutlierDetection::new(RoundRobin)
        .interval(Duration::from_secs(3600))
        .base_ejection_time(Duration::from_millis(500))
        .max_ejection_percent(50)
        .consecutive_failures({
            let mut cf = ConsecutiveFailuresEjection::default();
            cf.consecutive_failures = 3;
            cf
        });
    let client = balanced_client(&replicas, policy).await;
    spread(&client, 30).await;
    replicas[1].knobs.fail.store(true, Ordering::SeqCst);
    counts(&replicas);
    // Round robin: the third failure lands within 9 calls, then the replica is out.
    let mut failed = 0;
    for _ in 0..60 {
        if who(&client, None).await.is_err() {
            failed += 1;
        }
    }
    let got = counts(&replicas);
    assert_eq!(failed, 3, "{got:?}");
    assert_eq!(got[1], 3, "{got:?}");
    assert!(got[0] > 20 && got[2] > 20, "{got:?}");
    // The ejection ends on its own timer (the interval is an hour).
    replicas[1].knobs.fail.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(700)).await;
    spread(&client, 60).await;
    let got = counts(&replicas);
    assert!(got[1] >= 10, "ejected replica did not come back: {got:?}");
}

#[tokio::test]
async fn outlier_detection_never_ejects_more_than_the_max_share() {
    let replicas = replicas(4, false).await;
    let policy = OutlierDetection::new(RoundRobin)
        .interval(Duration::from_millis(100))
        .base_ejection_time(Duration::from_secs(30))
        .max_ejection_percent(25)
        .failure_percentage({
            let mut fp = FailurePercentageEjection::default();
            fp.threshold = 50;
            fp.minimum_hosts = 4;
            fp.request_volume = 5;
            fp
        });
    let client = balanced_client(&replicas, policy).await;
    replicas[1].knobs.fail.store(true, Ordering::SeqCst);
    replicas[2].knobs.fail.store(true, Ordering::SeqCst);
    for _ in 0..10 {
        for _ in 0..30 {
            let _ = who(&client, None).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    counts(&replicas);
    for _ in 0..60 {
        let _ = who(&client, None).await;
    }
    let got = counts(&replicas);
    // No ejection may take the ejected share past max_ejection_percent: one of the two
    // failing replicas is out (25%) and the other keeps getting calls.
    let serving = got.iter().filter(|c| **c > 0).count();
    assert_eq!(serving, 3, "{got:?}");
    assert!(got[0] > 0 && got[3] > 0, "{got:?}");
}
