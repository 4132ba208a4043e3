//! `user-server`: serves UserService on SQLite.
//!
//! Usage: `user-server [--listen ADDR] [--db PATH]` (defaults `127.0.0.1:50051`, `users.db`;
//! `--db :memory:` keeps nothing), plus TLS and auth flags (see `--help`). With `--auth` (or
//! `--auth-tokens FILE`) callers must authenticate, by bearer token or client certificate, and
//! only the admin identity may CreateUsers. Also serves the standard health service
//! (`grpc.health.v1.Health`: UserService and the whole server `SERVING`, `NOT_SERVING` once
//! shutting down) and server reflection (`grpc.reflection.v1` and `v1alpha`), so grpcurl and
//! health probes work out of the box. Every call gets a `tracing` span (W3C trace context
//! from `traceparent`) and a request id (`x-request-id`, echoed); with `--metrics-listen ADDR`
//! (feature `metrics`, on by default) call metrics are served in Prometheus text at
//! `http://ADDR/metrics`. Browsers can call it too: gRPC-Web (binary and text, over HTTP/1.1
//! or HTTP/2, same port) is on, with CORS allowing every origin unless `--grpc-web-origin`
//! names the allowed ones (see `web/` for a browser client). Stops gracefully on Ctrl-C (open
//! calls get 5 s; a second Ctrl-C exits at once).

use std::net::SocketAddr;
use std::time::Duration;

use rill::auth::{BearerAuthLayer, StaticTokens};
use rill::observability::{RequestIdLayer, TracingLayer};
use rill::server::Server;
use rill::tls::{Certificates, Identity, ServerTlsConfig};
use rill::web::GrpcWebConfig;
use user_service::pb::user_service_server::UserServiceServer;
use user_service::{access, reflection, Store, Users};

const USAGE: &str = "usage: user-server [--listen ADDR] [--db PATH] [--tls-cert PEM --tls-key PEM [--client-ca PEM]] [--auth] [--auth-tokens FILE] [--admin NAME] [--metrics-listen ADDR] [--grpc-web-origin ORIGIN]...
  --listen ADDR       address to serve on (default 127.0.0.1:50051)
  --db PATH           SQLite database file (default users.db; :memory: for none)
  --tls-cert PEM      serve TLS with this certificate chain (needs --tls-key)
  --tls-key PEM       the certificate's private key
  --client-ca PEM     require client certificates signed by this CA (mTLS)
  --auth              require an identity (a token, or a client certificate with --client-ca):
                      only the admin may CreateUsers, every authenticated caller may read and chat
  --auth-tokens FILE  accept the bearer tokens in FILE (lines `TOKEN SUBJECT`); implies --auth
  --admin NAME        the admin identity (default admin): a token subject, or a client
                      certificate's subject alternative name or common name
  --metrics-listen ADDR  serve call metrics (Prometheus text) at http://ADDR/metrics
  --grpc-web-origin ORIGIN
                      only pages from ORIGIN (e.g. http://localhost:8080; repeatable) may call
                      with gRPC-Web; default: every origin";

struct Args {
    listen: SocketAddr,
    db: String,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    client_ca: Option<String>,
    auth: bool,
    auth_tokens: Option<String>,
    admin: String,
    metrics_listen: Option<SocketAddr>,
    web_origins: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: "127.0.0.1:50051".parse().map_err(|e| format!("{e}"))?,
        db: "users.db".to_string(),
        tls_cert: None,
        tls_key: None,
        client_ca: None,
        auth: false,
        auth_tokens: None,
        admin: access::DEFAULT_ADMIN.to_string(),
        metrics_listen: None,
        web_origins: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                args.listen = v.parse().map_err(|e| format!("bad --listen {v:?}: {e}"))?;
            }
            "--db" => args.db = value()?,
            "--tls-cert" => args.tls_cert = Some(value()?),
            "--tls-key" => args.tls_key = Some(value()?),
            "--client-ca" => args.client_ca = Some(value()?),
            "--auth" => args.auth = true,
            "--auth-tokens" => {
                args.auth_tokens = Some(value()?);
                args.auth = true;
            }
            "--admin" => args.admin = value()?,
            "--metrics-listen" => {
                let v = value()?;
                let addr = v
                    .parse()
                    .map_err(|e| format!("bad --metrics-listen {v:?}: {e}"))?;
                args.metrics_listen = Some(addr);
            }
            "--grpc-web-origin" => args.web_origins.push(value()?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if args.tls_cert.is_some() != args.tls_key.is_some() {
        return Err(format!("--tls-cert and --tls-key go together\n{USAGE}"));
    }
    if args.client_ca.is_some() && args.tls_cert.is_none() {
        return Err(format!(
            "--client-ca needs --tls-cert and --tls-key\n{USAGE}"
        ));
    }
    if args.auth && args.auth_tokens.is_none() && args.client_ca.is_none() {
        return Err(format!(
            "--auth needs a way to authenticate: --auth-tokens or --client-ca\n{USAGE}"
        ));
    }
    Ok(args)
}

/// Adds authentication (tokens, when given; client certificates count with --client-ca) and
/// the demo's authorization policy, when the flags ask for them.
fn with_auth(server: Server, args: &Args) -> Result<Server, String> {
    if !args.auth {
        return Ok(server);
    }
    let policy = access::policy(&args.admin).map_err(|e| format!("--admin: {e}"))?;
    // A layer added later runs first: tokens are checked before the policy reads them.
    let server = server.layer(policy);
    let Some(path) = &args.auth_tokens else {
        return Ok(server);
    };
    let tokens = StaticTokens::from_file(path).map_err(|e| format!("--auth-tokens {path}: {e}"))?;
    if args.tls_cert.is_none() {
        eprintln!("user-server: warning: bearer tokens over plaintext can be read on the way");
    }
    // Calls without a token reach the policy, which decides: health probes need no identity,
    // a client certificate alone may do (mTLS), anything else is UNAUTHENTICATED.
    let auth = BearerAuthLayer::new(tokens).allow_anonymous(true);
    Ok(server.layer(auth))
}

/// The TLS settings the flags ask for, if any.
fn tls_config(args: &Args) -> Result<Option<ServerTlsConfig>, rill::tls::TlsError> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let mut config = ServerTlsConfig::new(Identity::from_pem_files(cert, key)?);
    if let Some(ca) = &args.client_ca {
        config = config.client_ca(Certificates::from_pem_file(ca)?);
    }
    Ok(Some(config))
}

/// Serves the metrics of every call at `http://ADDR/metrics` (Prometheus text, A66's
/// histogram buckets) and adds the layer that records them.
#[cfg(feature = "metrics")]
fn with_metrics(server: Server, listen: Option<SocketAddr>) -> Result<Server, String> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    use rill::observability::{describe_metrics, MetricsLayer, LATENCY_BUCKETS, SIZE_BUCKETS};
    let Some(addr) = listen else {
        return Ok(server);
    };
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(Matcher::Suffix("duration".into()), LATENCY_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Suffix("message_size".into()), SIZE_BUCKETS)
        })
        .and_then(|b| b.install())
        .map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
    describe_metrics();
    Ok(server.layer(MetricsLayer::new()))
}

#[cfg(not(feature = "metrics"))]
fn with_metrics(server: Server, listen: Option<SocketAddr>) -> Result<Server, String> {
    match listen {
        None => Ok(server),
        Some(_) => Err("--metrics-listen: built without the `metrics` feature".into()),
    }
}

/// Prints `message` and exits with `code`.
fn exit(code: i32, message: impl std::fmt::Display) -> ! {
    eprintln!("{message}");
    std::process::exit(code)
}

#[tokio::main]
async fn main() {
    let args = parse_args().unwrap_or_else(|message| exit(2, message));
    let store = Store::open(&args.db)
        .unwrap_or_else(|e| exit(1, format!("user-server: cannot open {}: {e}", args.db)));
    let (health, health_service) = rill_health::health_reporter();
    health.set_serving::<UserServiceServer<Users>>();
    let reflection = reflection();
    let web = if args.web_origins.is_empty() {
        GrpcWebConfig::new()
    } else {
        GrpcWebConfig::new().allow_origins(args.web_origins.iter().cloned())
    };
    let mut server = Server::builder()
        .grpc_web_config(web)
        .add_service(UserServiceServer::new(Users::new(store)))
        .add_service(health_service)
        .add_service(reflection.v1())
        .add_service(reflection.v1alpha())
        // Open chat streams never end on their own: give them a moment, then close.
        .shutdown_grace_period(Duration::from_secs(5));
    server = with_auth(server, &args).unwrap_or_else(|e| exit(1, format!("user-server: {e}")));
    // Added last, so they wrap the auth layers and see every call, refused ones included.
    server = with_metrics(server, args.metrics_listen)
        .unwrap_or_else(|e| exit(1, format!("user-server: {e}")))
        .layer(TracingLayer::new())
        .layer(RequestIdLayer::new());
    let tls = tls_config(&args).unwrap_or_else(|e| exit(1, format!("user-server: {e}")));
    let secure = tls.is_some();
    if let Some(tls) = tls {
        server = server
            .tls_config(tls)
            .unwrap_or_else(|e| exit(1, format!("user-server: {e}")));
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .unwrap_or_else(|e| {
            exit(
                1,
                format!("user-server: cannot listen on {}: {e}", args.listen),
            )
        });
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let tls_note = if secure { ", tls" } else { "" };
    println!(
        "user-server listening on {addr} (db: {}{tls_note})",
        args.db
    );
    if let Some(metrics) = args.metrics_listen {
        println!("user-server: metrics on http://{metrics}/metrics");
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        println!("user-server: shutting down");
        // Watchers (load balancers) learn it before the connections close.
        health.shutdown();
        // A second Ctrl-C does not wait for the grace period.
        tokio::spawn(async {
            let _ = tokio::signal::ctrl_c().await;
            std::process::exit(130);
        });
    };
    if let Err(e) = server.serve_with_listener(listener, shutdown).await {
        exit(1, format!("user-server: {e}"));
    }
}
