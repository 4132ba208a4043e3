//! The gRPC server: services, routing, interceptors, limits and graceful shutdown.
//!
//! ```no_run
//! # async fn run(svc: impl rill::server::Service) -> Result<(), rill::Error> {
//! rill::server::Server::builder()
//!     .add_service(svc)
//!     .serve("127.0.0.1:50051".parse().unwrap())
//!     .await
//! # }
//! ```

mod backend;
mod call;
mod layer;
mod router;
mod service;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use futures_util::StreamExt;
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use backend::Http2Backend;
pub use layer::{Body, ResponseBody, Routes};
pub use router::GrpcMethod;
pub use service::{Method, NamedService, Service};

pub(crate) use call::{is_grpc_content_type, GRPC_CONTENT_TYPE};
use router::Router;
pub(crate) use service::RawBody;

use crate::compression::{accept_encoding_header, accept_encoding_value, CompressionEncoding};
use crate::transport::server::{
    serve_connection, ConnConfig, ConnectionInfo, IncomingStream, StreamHandler,
};
use crate::transport::Io;
use crate::{Error, Request, Status};

pub(crate) use crate::interceptor::Interceptor;

/// Limits and compression that apply to each call.
#[derive(Clone, Debug)]
pub(crate) struct CallConfig {
    pub(crate) max_decoding_message_size: usize,
    pub(crate) max_encoding_message_size: usize,
    pub(crate) accept_encodings: Vec<CompressionEncoding>,
    pub(crate) accept_encoding_header: String,
    /// `accept_encoding_header` as a header value, built once (cloning it is a refcount).
    pub(crate) accept_encoding_value: Option<http::HeaderValue>,
    pub(crate) send_encodings: Vec<CompressionEncoding>,
}

impl Default for CallConfig {
    fn default() -> Self {
        let accept = CompressionEncoding::supported();
        CallConfig {
            max_decoding_message_size: crate::DEFAULT_MAX_RECV_MESSAGE_SIZE,
            max_encoding_message_size: usize::MAX,
            accept_encoding_value: accept_encoding_header(&accept),
            accept_encoding_header: accept_encoding_value(&accept),
            accept_encodings: accept,
            send_encodings: Vec::new(),
        }
    }
}

/// A gRPC server: a set of services on one port, over HTTP/2 cleartext (h2c).
///
/// Built with [`Server::builder`]; every option has a default that matches grpc-go.
pub struct Server {
    router: Router,
    conn: ConnConfig,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::Acceptor>,
    /// How long a graceful shutdown waits for in-flight calls before closing connections.
    shutdown_grace: Option<Duration>,
    /// gRPC-Web (and HTTP/1.1) on the same port, when enabled.
    web: Option<crate::web::GrpcWebConfig>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("router", &self.router)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server with no services and default limits (4 MiB received messages).
    ///
    /// ```
    /// let server = rill::server::Server::builder()
    ///     .max_decoding_message_size(8 << 20)
    ///     .max_concurrent_streams(256);
    /// # drop(server);
    /// ```
    pub fn builder() -> Self {
        Server {
            router: Router::new(CallConfig::default()),
            conn: ConnConfig::default(),
            #[cfg(feature = "tls")]
            tls: None,
            shutdown_grace: None,
            web: None,
        }
    }

    /// Adds a service (a generated `XxxServer`, health, reflection…).
    pub fn add_service<S: Service>(mut self, service: S) -> Self {
        self.router.add(&service);
        self
    }

    /// Adds an interceptor that runs, in the order added, before every handler.
    ///
    /// ```
    /// use rill::{Request, Status};
    /// let server = rill::server::Server::builder().interceptor(|req: &mut Request<()>| {
    ///     match req.metadata().get("authorization") {
    ///         Some("Bearer secret") => Ok(()),
    ///         _ => Err(Status::unauthenticated("missing or bad token")),
    ///     }
    /// });
    /// # drop(server);
    /// ```
    pub fn interceptor<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut Request<()>) -> Result<(), Status> + Send + Sync + 'static,
    {
        self.router.interceptors.push(Arc::new(f));
        self
    }

    /// Wraps every call in a tower [`Layer`](tower_layer::Layer): timeouts, concurrency
    /// limits, metrics, auth. Its service sees each call as a `Request<Body>` (head readable,
    /// body opaque) and returns `Response<ResponseBody>` or an error; a `Status` error is sent
    /// as is, any other error as UNKNOWN. A layer added later wraps the ones added before.
    ///
    /// ```
    /// let server = rill::server::Server::builder()
    ///     .layer(tower::limit::ConcurrencyLimitLayer::new(64));
    /// # drop(server);
    /// ```
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower_layer::Layer<Routes>,
        L::Service: tower_service::Service<Request<Body>, Response = crate::Response<ResponseBody>>
            + Clone
            + Send
            + 'static,
        <L::Service as tower_service::Service<Request<Body>>>::Error:
            Into<Box<dyn std::error::Error + Send + Sync>>,
        <L::Service as tower_service::Service<Request<Body>>>::Future: Send + 'static,
    {
        let inner = std::mem::replace(&mut self.router.dispatch, layer::direct());
        self.router.dispatch = layer::wrap(inner, &layer);
        self
    }

    /// Largest request message accepted (after decompression); larger → RESOURCE_EXHAUSTED.
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.router.config.max_decoding_message_size = limit;
        self
    }

    /// Largest response message sent; a handler's larger message → RESOURCE_EXHAUSTED.
    pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
        self.router.config.max_encoding_message_size = limit;
        self
    }

    /// Compresses responses with `encoding` when the client accepts it.
    pub fn send_compressed(mut self, encoding: CompressionEncoding) -> Self {
        if !self.router.config.send_encodings.contains(&encoding) {
            self.router.config.send_encodings.push(encoding);
        }
        self
    }

    /// Maximum concurrent streams per connection (HTTP/2 SETTINGS); default 1024.
    pub fn max_concurrent_streams(mut self, limit: u32) -> Self {
        self.conn.max_concurrent_streams = Some(limit);
        self
    }

    /// Maximum size of a request's header list; default 16 KiB.
    pub fn max_header_list_size(mut self, limit: u32) -> Self {
        self.conn.max_header_list_size = limit;
        self
    }

    /// Time a new connection has to complete the HTTP/2 handshake; default 20 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.conn.handshake_timeout = timeout;
        self
    }

    /// Serves TLS (and mTLS, if the config names a client CA) on every connection, with ALPN
    /// `h2`. Handlers of mTLS calls find the client's
    /// [`PeerIdentity`](crate::tls::PeerIdentity) (as `Arc<PeerIdentity>`) in the request
    /// extensions.
    ///
    /// Errors if the certificate, key or CA set is unusable.
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: crate::tls::ServerTlsConfig) -> Result<Self, Error> {
        self.tls = Some(crate::tls::Acceptor::new(&config)?);
        Ok(self)
    }

    /// Bounds graceful shutdown: calls still running `grace` after the shutdown signal (a
    /// long-lived stream, say) are cut off with their connections. Default: wait for them all,
    /// as grpc-go's `GracefulStop` does.
    pub fn shutdown_grace_period(mut self, grace: Duration) -> Self {
        self.shutdown_grace = Some(grace);
        self
    }

    /// Closes connections (with GOAWAY) that have had no open call for `timeout`, like
    /// grpc-go's `MaxConnectionIdle`; default: never.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.conn.idle_timeout = Some(timeout);
        self
    }

    /// Picks the HTTP/2 implementation; see [`Http2Backend`].
    pub fn http2_backend(mut self, backend: Http2Backend) -> Self {
        self.conn.backend = backend.to_transport();
        self
    }

    /// Keepalive enforcement, as grpc-go's `keepalive.EnforcementPolicy`: a client that pings
    /// more often than `min_time` (default 5 min), or pings with no call open while
    /// `permit_without_stream` is false (the default), gets a strike; after two strikes the
    /// connection is closed with GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings"). Native backend.
    pub fn keepalive_enforcement(
        mut self,
        min_time: Duration,
        permit_without_stream: bool,
    ) -> Self {
        self.conn.keepalive_min_time = min_time;
        self.conn.keepalive_permit_without_stream = permit_without_stream;
        self
    }

    /// Drains connections older than `age` (GOAWAY, then close once their calls end), as
    /// grpc-go's `MaxConnectionAge`, so clients reconnect and rebalance; default: never.
    /// Native backend.
    pub fn max_connection_age(mut self, age: Duration) -> Self {
        self.conn.max_connection_age = Some(age);
        self
    }

    /// After [`max_connection_age`](Self::max_connection_age), how long calls still running
    /// may take before the connection is closed anyway (grpc-go's `MaxConnectionAgeGrace`);
    /// default: wait for them. Native backend.
    pub fn max_connection_age_grace(mut self, grace: Duration) -> Self {
        self.conn.max_connection_age_grace = Some(grace);
        self
    }

    /// Initial HTTP/2 flow-control windows (per stream, per connection).
    pub fn initial_window_sizes(mut self, stream: u32, connection: u32) -> Self {
        self.conn.initial_stream_window = stream;
        self.conn.initial_connection_window = connection;
        self
    }

    /// Serves gRPC-Web to browsers on the same port as native gRPC, over HTTP/1.1 and
    /// HTTP/2: `application/grpc-web[+proto]` and `application/grpc-web-text[+proto]`, unary
    /// and server-streaming calls, CORS preflights. Off by default (as in tonic, where it is
    /// opt-in); `true` allows every origin — see [`grpc_web_config`](Self::grpc_web_config)
    /// to restrict origins and headers. Calls go through the same routing, interceptors,
    /// layers, deadlines and limits as native ones. Spec:
    /// [PROTOCOL-WEB](https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md).
    ///
    /// ```
    /// let server = rill::server::Server::builder().accept_grpc_web(true);
    /// # drop(server);
    /// ```
    pub fn accept_grpc_web(mut self, enabled: bool) -> Self {
        self.web = enabled.then(crate::web::GrpcWebConfig::default);
        self
    }

    /// Serves gRPC-Web (see [`accept_grpc_web`](Self::accept_grpc_web)) with these CORS
    /// options.
    ///
    /// ```
    /// use rill::web::GrpcWebConfig;
    /// let server = rill::server::Server::builder()
    ///     .grpc_web_config(GrpcWebConfig::new().allow_origins(["https://app.example.com"]));
    /// # drop(server);
    /// ```
    pub fn grpc_web_config(mut self, config: crate::web::GrpcWebConfig) -> Self {
        self.web = Some(config);
        self
    }

    /// Names of the services this server hosts.
    pub fn service_names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.router.service_names().copied().collect();
        names.sort_unstable();
        names
    }

    /// Binds `addr` and serves until the process ends.
    pub async fn serve(self, addr: SocketAddr) -> Result<(), Error> {
        self.serve_with_shutdown(addr, std::future::pending()).await
    }

    /// Binds `addr` and serves until `signal` completes, then shuts down gracefully: GOAWAY to
    /// every connection, in-flight calls finish, new calls are refused.
    pub async fn serve_with_shutdown(
        self,
        addr: SocketAddr,
        signal: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        let listener = TcpListener::bind(addr).await?;
        self.serve_with_listener(listener, signal).await
    }

    /// Serves on an already bound TCP listener until `signal` completes (graceful shutdown).
    pub async fn serve_with_listener(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        let incoming = futures_util::stream::unfold(listener, |listener| async move {
            let next = listener.accept().await.map(|(stream, addr)| {
                // Small messages must not wait for Nagle: gRPC is latency-sensitive.
                let _ = stream.set_nodelay(true);
                (stream, Some(addr))
            });
            Some((next, listener))
        });
        self.serve_incoming(incoming, signal).await
    }

    /// Serves on a Unix domain socket at `path` until `signal` completes.
    pub async fn serve_unix(
        self,
        path: impl AsRef<Path>,
        signal: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        let listener = UnixListener::bind(path)?;
        let incoming = futures_util::stream::unfold(listener, |listener| async move {
            let next = listener.accept().await.map(|(stream, _)| (stream, None));
            Some((next, listener))
        });
        self.serve_incoming(incoming, signal).await
    }

    /// Serves connections from any stream of byte streams (TLS acceptors, in-memory pipes…)
    /// until `signal` completes. Accept errors are logged and skipped.
    pub async fn serve_incoming<S, I>(
        self,
        incoming: S,
        signal: impl Future<Output = ()> + Send,
    ) -> Result<(), Error>
    where
        S: Stream<Item = std::io::Result<(I, Option<SocketAddr>)>> + Send,
        I: Io,
    {
        let grace = self.shutdown_grace;
        // gRPC-Web clients may speak HTTP/1.1 over TLS too: offer it in ALPN after h2.
        #[cfg(feature = "tls")]
        let tls = match &self.web {
            Some(_) => self.tls.as_ref().map(crate::tls::Acceptor::with_http1),
            None => self.tls.clone(),
        };
        #[cfg(not(feature = "tls"))]
        let tls = None::<Arc<()>>;
        let (handler, conn, web) = self.into_handler();
        let conn = Arc::new(conn);
        let shutdown = CancellationToken::new();
        let mut connections = JoinSet::new();
        let mut incoming = std::pin::pin!(incoming);
        let mut signal = std::pin::pin!(signal);
        loop {
            tokio::select! {
                () = &mut signal => break,
                next = incoming.next() => match next {
                    Some(Ok((io, addr))) => {
                        let (handler, conn, shutdown) = (handler.clone(), conn.clone(), shutdown.clone());
                        let (tls, web) = (tls.clone(), web.clone());
                        connections.spawn(async move {
                            let Some((io, info)) = secure(io, addr, tls, conn.handshake_timeout).await else {
                                return;
                            };
                            match web {
                                Some(web) => web.serve_connection(io, &conn, info, shutdown).await,
                                None => serve_connection(io, &conn, info, handler, shutdown).await,
                            }
                        });
                    }
                    Some(Err(err)) => {
                        tracing::warn!(error = %err, "accept failed");
                        // Out of file descriptors and similar: back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    None => break,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        shutdown.cancel();
        let drain = async { while connections.join_next().await.is_some() {} };
        match grace {
            None => drain.await,
            Some(grace) => {
                if tokio::time::timeout(grace, drain).await.is_err() {
                    tracing::info!(
                        ?grace,
                        "grace period over: closing connections with calls in flight"
                    );
                    connections.shutdown().await;
                }
            }
        }
        Ok(())
    }

    /// Serves a single connection over `io` (for tests and custom transports); returns when
    /// the peer closes it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    /// let server = rill::server::Server::builder();
    /// tokio::spawn(server.serve_connection(server_io));
    /// let channel = rill::Channel::from_io(client_io);
    /// # drop(channel); }
    /// ```
    pub fn serve_connection<I: Io>(self, io: I) -> impl Future<Output = ()> + Send {
        let (handler, conn, web) = self.into_handler();
        async move {
            let info = ConnectionInfo::default();
            let (io, shutdown) = (Box::new(io), CancellationToken::new());
            match web {
                Some(web) => web.serve_connection(io, &conn, info, shutdown).await,
                None => serve_connection(io, &conn, info, handler, shutdown).await,
            }
        }
    }

    /// The stream handler for HTTP/2 connections, and the gRPC-Web state when enabled (which
    /// then serves the connections, with this handler for native calls).
    fn into_handler(self) -> (StreamHandler, ConnConfig, Option<Arc<crate::web::Web>>) {
        let max_message = self.router.config.max_decoding_message_size;
        let router = Arc::new(self.router);
        let handler: StreamHandler =
            Arc::new(move |stream: IncomingStream| Box::pin(call::handle(stream, router.clone())));
        let Some(config) = self.web else {
            return (handler, self.conn, None);
        };
        let web = crate::web::Web::new(config, handler.clone(), &self.conn, max_message);
        (handler, self.conn, Some(web))
    }
}

/// Runs the TLS handshake when the server has TLS; returns the stream and what is known of
/// the peer, or `None` (logged) when the handshake fails.
#[cfg(feature = "tls")]
async fn secure<I: Io>(
    io: I,
    remote_addr: Option<SocketAddr>,
    tls: Option<crate::tls::Acceptor>,
    timeout: Duration,
) -> Option<(crate::transport::BoxIo, ConnectionInfo)> {
    let Some(tls) = tls else {
        let info = ConnectionInfo {
            remote_addr,
            peer_identity: None,
        };
        return Some((Box::new(io), info));
    };
    match tls.accept(io, timeout).await {
        Ok((io, peer_identity)) => Some((
            io,
            ConnectionInfo {
                remote_addr,
                peer_identity,
            },
        )),
        Err(err) => {
            tracing::debug!(?remote_addr, error = %err, "tls handshake failed");
            None
        }
    }
}

#[cfg(not(feature = "tls"))]
async fn secure<I: Io>(
    io: I,
    remote_addr: Option<SocketAddr>,
    _tls: Option<Arc<()>>,
    _timeout: Duration,
) -> Option<(crate::transport::BoxIo, ConnectionInfo)> {
    Some((Box::new(io), ConnectionInfo { remote_addr }))
}
