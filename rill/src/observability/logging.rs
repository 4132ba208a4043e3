//! One log line (a `tracing` event) per call.

use std::net::SocketAddr;

use super::call::{observe_layer, CallObserver, CallStart, Observe, Side, Summary};
use super::request_id::{RequestId, REQUEST_ID};
use crate::{Code, Request};

/// A layer that logs one line per call when it ends, as a `tracing` event with target
/// `rill::observability::logging`: `side`, `method`, `peer` (server) or `target` (client),
/// `status`, `duration_ms`, `request_id` (from [`RequestIdLayer`](super::RequestIdLayer)
/// when it runs first, i.e. is added after this one, or the request's `x-request-id`),
/// and the status message of a failed call. INFO for OK, WARN otherwise.
///
/// ```
/// let server = rill::server::Server::builder()
///     .layer(rill::observability::LoggingLayer::new())
///     .layer(rill::observability::RequestIdLayer::new());
/// # drop(server);
/// ```
#[derive(Clone, Debug, Default)]
pub struct LoggingLayer {
    _private: (),
}

impl LoggingLayer {
    /// The layer.
    ///
    /// ```
    /// let client = rill::Client::new(rill::Channel::lazy("localhost:50051").unwrap())
    ///     .layer(rill::observability::LoggingLayer::new());
    /// # drop(client);
    /// ```
    pub fn new() -> Self {
        LoggingLayer::default()
    }
}

observe_layer!(LoggingLayer);

/// What the line reports besides the outcome.
pub(crate) struct LoggedCall {
    side: Side,
    method: String,
    peer: Option<SocketAddr>,
    target: Option<String>,
    request_id: Option<String>,
}

impl Observe for LoggingLayer {
    type Call = LoggedCall;

    fn start(&self, call: &CallStart<'_>, head: &mut Request<()>) -> LoggedCall {
        let request_id = head
            .extensions()
            .get::<RequestId>()
            .map(|id| id.as_str().to_owned())
            .or_else(|| head.metadata().get(REQUEST_ID).map(str::to_owned));
        LoggedCall {
            side: call.side,
            method: super::method_label(call.path).to_owned(),
            peer: call.peer,
            target: call.target.map(str::to_owned),
            request_id,
        }
    }
}

impl CallObserver for LoggedCall {
    fn finish(&self, s: &Summary<'_>) {
        let side = match self.side {
            Side::Server => "server",
            Side::Client => "client",
        };
        let duration_ms = format!("{:.3}", s.elapsed.as_secs_f64() * 1000.0);
        let message = (s.code != Code::Ok).then_some(s.message);
        macro_rules! log {
            ($level:expr) => {
                tracing::event!(
                    $level,
                    side,
                    method = %self.method,
                    peer = self.peer.map(tracing::field::display),
                    target = self.target.as_deref(),
                    status = s.code.as_str(),
                    duration_ms = %duration_ms,
                    request_id = self.request_id.as_deref(),
                    message,
                    "grpc call"
                )
            };
        }
        if s.code == Code::Ok {
            log!(tracing::Level::INFO);
        } else {
            log!(tracing::Level::WARN);
        }
    }
}
