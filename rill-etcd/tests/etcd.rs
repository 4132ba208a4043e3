//! rill-etcd against a real etcd (Debian's `etcd-server`, `/usr/bin/etcd`, or `$RILL_ETCD`),
//! started here on free loopback ports with a temporary data directory.
//!
//! Without etcd the test fails, saying so, unless `RILL_SKIP_ETCD=1` (so that CI cannot pass
//! by silently testing nothing).

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rill::balancer::RoundRobin;
use rill::{Request, Response, Status};
use rill_etcd::pb::etcdserverpb::kv_client::KvClient;
use rill_etcd::pb::etcdserverpb::{PutRequest, RangeRequest};
use rill_etcd::{EtcdResolverBuilder, Registration};

#[allow(dead_code, unreachable_pub)]
mod replica {
    rill::include_proto!("rill_etcd.replica");
}
use replica::replica_client::ReplicaClient;
use replica::replica_server::{Replica, ReplicaServer};
use replica::{WhoamiReply, WhoamiRequest};

/// An etcd process with its own data directory; killed and cleaned up on drop.
struct Etcd {
    child: Child,
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
}

fn etcd_binary() -> Option<PathBuf> {
    let path = std::env::var_os("RILL_ETCD").map_or_else(|| "/usr/bin/etcd".into(), PathBuf::from);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("RILL_SKIP_ETCD").as_deref() == Ok("1") {
        eprintln!(
            "SKIPPED: no etcd at {} and RILL_SKIP_ETCD=1",
            path.display()
        );
        return None;
    }
    panic!(
        "no etcd at {}: install it (apt-get install -y --no-install-recommends etcd-server), \
         point RILL_ETCD at one, or set RILL_SKIP_ETCD=1 to skip this test",
        path.display()
    );
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

impl Etcd {
    async fn start(binary: &Path) -> Etcd {
        let dir = std::env::temp_dir().join(format!(
            "rill-etcd-test-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("create the etcd data directory");
        let (client_port, peer_port) = (free_port(), free_port());
        let mut etcd = Etcd {
            child: Etcd::spawn(binary, &dir, client_port, peer_port),
            dir,
            client_port,
            peer_port,
        };
        etcd.wait_ready().await;
        etcd
    }

    fn spawn(binary: &Path, dir: &Path, client: u16, peer: u16) -> Child {
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("etcd.log"))
            .expect("open the etcd log");
        Command::new(binary)
            .arg("--name=rill-test")
            .arg(format!("--data-dir={}", dir.join("data").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=rill-test={peer_url}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()))
    }

    fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// Waits until etcd answers a Range.
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let kv =
            KvClient::new(rill::Channel::lazy(&format!("http://{}", self.endpoint())).unwrap());
        loop {
            if kv
                .range(RangeRequest {
                    key: b"x".to_vec(),
                    ..Default::default()
                })
                .await
                .is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("etcd exited ({status}); log: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "etcd not ready in 30 s; log: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills etcd and starts it again on the same ports and data.
    async fn restart(&mut self, binary: &Path, down_for: Duration) {
        self.child.kill().ok();
        self.child.wait().ok();
        tokio::time::sleep(down_for).await;
        self.child = Etcd::spawn(binary, &self.dir, self.client_port, self.peer_port);
        self.wait_ready().await;
    }

    /// The end of etcd's log, for failure messages.
    fn log(&self) -> String {
        let log = std::fs::read(self.dir.join("etcd.log")).unwrap_or_default();
        String::from_utf8_lossy(&log[log.len().saturating_sub(3000)..]).into_owned()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// A replica that answers with its name.
struct Named(String);

impl Replica for Named {
    async fn whoami(&self, _: Request<WhoamiRequest>) -> Result<Response<WhoamiReply>, Status> {
        Ok(Response::new(WhoamiReply {
            name: self.0.clone(),
        }))
    }
}

async fn start_replica(name: &str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server =
        rill::server::Server::builder().add_service(ReplicaServer::new(Named(name.into())));
    tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
    addr
}

/// Who answered `n` calls (failed calls count under their status code).
async fn spread(client: &ReplicaClient, n: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let name = match client.whoami(WhoamiRequest {}).await {
            Ok(reply) => reply.into_inner().name,
            Err(status) => format!("error {:?}", status.code()),
        };
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}

/// Calls in batches of `n` until a batch satisfies `done`; returns that batch, or panics
/// with the last one after `timeout`.
async fn wait_for_spread(
    client: &ReplicaClient,
    n: usize,
    timeout: Duration,
    what: &str,
    done: impl Fn(&BTreeMap<String, usize>) -> bool,
) -> BTreeMap<String, usize> {
    let deadline = Instant::now() + timeout;
    loop {
        let counts = spread(client, n).await;
        if done(&counts) {
            return counts;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {timeout:?}; last batch {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn names(counts: &BTreeMap<String, usize>) -> Vec<&str> {
    counts.keys().map(String::as_str).collect()
}

async fn register(etcd: &Etcd, addr: SocketAddr, ttl: u64) -> Registration {
    Registration::builder(&etcd.endpoint(), "svc", &addr.to_string())
        .ttl(Duration::from_secs(ttl))
        .register()
        .await
        .expect("register in etcd")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolver_follows_registrations_leases_and_etcd_restarts() {
    let Some(binary) = etcd_binary() else { return };
    let mut etcd = Etcd::start(&binary).await;

    let addrs = [
        start_replica("r0").await,
        start_replica("r1").await,
        start_replica("r2").await,
        start_replica("r3").await,
        start_replica("r4").await,
    ];
    let r0 = register(&etcd, addrs[0], 30).await;
    let r1 = register(&etcd, addrs[1], 30).await;
    assert_eq!(r0.key(), format!("svc/{}", addrs[0]));

    let resolver = EtcdResolverBuilder::new(&etcd.endpoint())
        .retry_backoff(Duration::from_millis(100), Duration::from_millis(500));
    let channel = rill::Channel::builder("etcd:///svc")
        .resolver(resolver.clone())
        .load_balancer(RoundRobin)
        .connect_lazy()
        .unwrap();
    let client = ReplicaClient::new(channel);
    // The authority form names its etcd itself.
    let named = rill::Channel::builder(&format!("etcd://{}/svc", etcd.endpoint()))
        .resolver(EtcdResolverBuilder::without_default_endpoint())
        .load_balancer(RoundRobin)
        .connect_lazy()
        .unwrap();
    let named = ReplicaClient::new(named);

    // Two registered replicas share the calls evenly (round robin).
    let ten_s = Duration::from_secs(10);
    let both = |c: &BTreeMap<String, usize>| names(c) == ["r0", "r1"];
    wait_for_spread(&client, 20, ten_s, "r0 and r1 found", both).await;
    let counts = spread(&client, 40).await;
    assert_eq!(names(&counts), ["r0", "r1"], "{counts:?}");
    assert!(counts.values().all(|&n| n == 20), "round robin: {counts:?}");
    wait_for_spread(&named, 20, ten_s, "etcd://host:port/svc", both).await;

    // A third registration starts receiving calls.
    let r2 = register(&etcd, addrs[2], 30).await;
    let three = |c: &BTreeMap<String, usize>| names(c) == ["r0", "r1", "r2"];
    let counts = wait_for_spread(&client, 30, ten_s, "r2 added", three).await;
    assert!(counts.values().all(|&n| n >= 5), "{counts:?}");

    // Garbage under the prefix is skipped; the others keep serving.
    let kv = KvClient::new(rill::Channel::lazy(&format!("http://{}", etcd.endpoint())).unwrap());
    for (key, value) in [
        ("svc/garbage", &b"\xff\x00not an address"[..]),
        ("svc/json", br#"{"Addr": 42}"#),
        ("svc/bare", addrs[3].to_string().as_bytes()),
    ] {
        kv.put(PutRequest {
            key: key.into(),
            value: value.to_vec(),
            lease: 0,
        })
        .await
        .unwrap();
    }
    let four = |c: &BTreeMap<String, usize>| names(c) == ["r0", "r1", "r2", "r3"];
    wait_for_spread(&client, 40, ten_s, "bare value read, garbage skipped", four).await;

    // Dropping a registration revokes its lease: r1 stops receiving well before its 30 s TTL.
    let revoked_at = Instant::now();
    drop(r1);
    let no_r1 = |c: &BTreeMap<String, usize>| names(c) == ["r0", "r2", "r3"];
    wait_for_spread(&client, 30, Duration::from_secs(5), "r1 revoked", no_r1).await;
    assert!(revoked_at.elapsed() < Duration::from_secs(5));

    // A server that dies (no keep-alives, no revoke) goes when its lease expires.
    let r4 = register(&etcd, addrs[4], 2).await;
    let with_r4 = |c: &BTreeMap<String, usize>| c.contains_key("r4");
    wait_for_spread(&client, 40, ten_s, "r4 added", with_r4).await;
    // Keep-alives hold it past its TTL…
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        spread(&client, 40).await.contains_key("r4"),
        "r4 kept alive past its TTL"
    );
    // …until they stop.
    let died_at = Instant::now();
    r4.abandon();
    let gone = |c: &BTreeMap<String, usize>| !c.contains_key("r4") && c.len() == 3;
    wait_for_spread(&client, 30, Duration::from_secs(8), "r4 expired", gone).await;
    let after = died_at.elapsed();
    assert!(
        after >= Duration::from_millis(1500),
        "r4 went after {after:?}, before its TTL"
    );

    // A short lease (2 s) that must survive an etcd restart through its keep-alives.
    let short = Registration::builder(&etcd.endpoint(), "svc", &addrs[1].to_string())
        .ttl(Duration::from_secs(2))
        .max_backoff(Duration::from_millis(300))
        .register()
        .await
        .unwrap();
    let four = |c: &BTreeMap<String, usize>| names(c) == ["r0", "r1", "r2", "r3"];
    wait_for_spread(&client, 40, ten_s, "r1 registered again", four).await;

    // etcd restarts: channels keep their addresses meanwhile, then the resolver lists and
    // watches again, and registrations keep their leases alive.
    etcd.restart(&binary, Duration::from_millis(500)).await;
    let counts = spread(&client, 40).await;
    assert!(four(&counts), "while reconnecting: {counts:?}");
    kv.put(PutRequest {
        key: b"svc/r4-again".to_vec(),
        value: addrs[4].to_string().into_bytes(),
        lease: 0,
    })
    .await
    .unwrap();
    let all = |c: &BTreeMap<String, usize>| names(c) == ["r0", "r1", "r2", "r3", "r4"];
    wait_for_spread(&client, 50, ten_s, "change after the etcd restart", all).await;
    // Twice the short TTL later, the keep-alives (on a new stream) still hold r1.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let counts = spread(&client, 50).await;
    assert!(
        all(&counts),
        "r1's lease lost across the restart: {counts:?}"
    );

    // Revoking explicitly works too.
    r2.revoke().await.unwrap();
    short.revoke().await.unwrap();
    let no_r2 = |c: &BTreeMap<String, usize>| names(c) == ["r0", "r3", "r4"];
    wait_for_spread(
        &client,
        30,
        Duration::from_secs(5),
        "r1 and r2 revoked",
        no_r2,
    )
    .await;
    drop(r0);
}

#[tokio::test]
async fn registration_rejects_bad_settings_and_unreachable_etcd() {
    let port = free_port(); // nothing listens there
    let bad = [
        Registration::builder("127.0.0.1:2379", "", "127.0.0.1:1"),
        Registration::builder("127.0.0.1:2379", "svc", ""),
        Registration::builder("127.0.0.1:2379", "svc", "127.0.0.1:1")
            .ttl(Duration::from_millis(500)),
    ];
    for builder in bad {
        let error = builder.register().await.unwrap_err();
        assert!(matches!(error, rill_etcd::EtcdError::Invalid(_)), "{error}");
    }
    let error = Registration::builder(&format!("127.0.0.1:{port}"), "svc", "127.0.0.1:1")
        .register()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            rill_etcd::EtcdError::Rpc {
                rpc: "LeaseGrant",
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn unreachable_etcd_fails_calls_with_unavailable() {
    let port = free_port(); // nothing listens there
    let channel = rill::Channel::builder("etcd:///svc")
        .resolver(
            EtcdResolverBuilder::new(&format!("127.0.0.1:{port}"))
                .retry_backoff(Duration::from_millis(50), Duration::from_millis(100)),
        )
        .connect_lazy()
        .unwrap();
    let client = ReplicaClient::new(channel);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = client.whoami(WhoamiRequest {}).await.unwrap_err();
        assert_eq!(status.code(), rill::Code::Unavailable, "{status:?}");
        if status.message().contains("etcd") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no etcd error reported: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A target without a prefix, or without an etcd to ask, is refused up front.
    for (target, builder, reason) in [
        (
            "etcd:///",
            EtcdResolverBuilder::new("127.0.0.1:2379"),
            "no key prefix",
        ),
        (
            "etcd:///svc",
            EtcdResolverBuilder::without_default_endpoint(),
            "no etcd endpoint",
        ),
    ] {
        let error = rill::Channel::builder(target)
            .resolver(builder)
            .connect_lazy()
            .unwrap_err();
        assert!(error.to_string().contains(reason), "{target}: {error}");
    }
}
