//! Client side of an HTTP/2 connection: handshake, opening streams, connection liveness.

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::{status_from_h2, BoxIo, RecvBody, SendBody};
use crate::Status;

/// HTTP/2 settings the client announces.
#[derive(Clone, Debug)]
pub(crate) struct ConnConfig {
    pub(crate) initial_stream_window: u32,
    pub(crate) initial_connection_window: u32,
    pub(crate) max_header_list_size: u32,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            initial_stream_window: 1024 * 1024,
            initial_connection_window: 2 * 1024 * 1024,
            max_header_list_size: 16 * 1024,
        }
    }
}

/// Per-connection DATA frame overhead budget (bytes), see `Connection::handshake`.
const DATA_FRAME_BUDGET: usize = 16 * 1024 * 1024;

/// One HTTP/2 connection; cheap to clone, shared by all calls of a channel.
#[derive(Clone, Debug)]
pub(crate) struct Connection {
    send: h2::client::SendRequest<Bytes>,
    /// Cancelled when the connection has ended (or cannot open streams any more).
    closed: CancellationToken,
}

impl Connection {
    /// Performs the HTTP/2 handshake over `io` and drives the connection in a background task.
    pub(crate) async fn handshake(io: BoxIo, config: &ConnConfig) -> Result<Connection, Status> {
        let (send, conn) = h2::client::Builder::new()
            .initial_window_size(config.initial_stream_window)
            .initial_connection_window_size(config.initial_connection_window)
            .max_header_list_size(config.max_header_list_size)
            // h2 charges each small DATA frame against a budget and refunds it only when the
            // frame is read; frames a server sends after we cancel a stream are charged and
            // never refunded, so cancelling fast small-message streams would end the
            // connection (ENHANCE_YOUR_CALM "too_many_data_frames"). A larger budget keeps
            // the guard (bounded per-frame overhead, ~64k tiny frames) without that failure.
            .data_frame_budget(DATA_FRAME_BUDGET)
            .handshake::<_, Bytes>(io)
            .await
            .map_err(|e| Status::unavailable(format!("http/2 handshake failed: {e}")))?;
        let closed = CancellationToken::new();
        let flag = closed.clone();
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                tracing::debug!(error = %err, "client connection ended");
            }
            flag.cancel();
        });
        Ok(Connection { send, closed })
    }

    /// Whether the connection has ended (a new one is needed).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Completes when the connection has ended.
    pub(crate) async fn closed(&self) {
        self.closed.cancelled().await
    }

    /// Opens a stream: sends the request headers and returns the body sender and the response.
    pub(crate) async fn start_call(
        &self,
        head: http::Request<()>,
    ) -> Result<(SendBody, PendingResponse), Status> {
        let mut send = self.send.clone().ready().await.map_err(|e| {
            self.closed.cancel();
            status_from_h2(e)
        })?;
        let (response, stream) = send.send_request(head, false).map_err(status_from_h2)?;
        Ok((SendBody::new(stream), PendingResponse { inner: response }))
    }
}

/// The response head of a stream, not yet received.
#[derive(Debug)]
pub(crate) struct PendingResponse {
    inner: h2::client::ResponseFuture,
}

impl PendingResponse {
    /// Waits for the response headers.
    pub(crate) async fn head(self) -> Result<(http::response::Parts, RecvBody), Status> {
        let response = self.inner.await.map_err(status_from_h2)?;
        let (head, body) = response.into_parts();
        Ok((head, RecvBody::new(body)))
    }
}
