//! One stream as its handler task sees it: a receive queue the connection task fills, and
//! handles that send commands to the connection task. Each stream has its own small lock,
//! shared only between the connection task and that stream's handler.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use tokio::sync::mpsc::UnboundedSender;

use super::frame::Reason;
use super::hpack::{Head, Lead, Pseudo};
use crate::status::GRPC_STATUS;
use crate::transport::server::Fields;
use crate::Status;

/// `send_data` returns once at most this much of the stream's data waits in the connection.
const SEND_LOW_WATER: usize = 64 * 1024;

/// What stream handles ask of the connection task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Any of headers, one DATA payload and trailers, in that order. `end` closes the
    /// stream (implied by trailers). All three at once is the unary fast path.
    Send {
        id: u32,
        headers: Option<Box<Head>>,
        data: Option<Bytes>,
        trailers: Option<Box<Head>>,
        end: bool,
    },
    Reset {
        id: u32,
        reason: Reason,
    },
    /// The reader took `n` bytes: flow-control credit to return to the peer.
    Consumed {
        id: u32,
        n: usize,
    },
    /// A client's new stream: the request head, and the first data if it is already known
    /// (with `end`, a whole unary request in one command).
    Open {
        id: u32,
        shared: Arc<Shared>,
        head: Box<Head>,
        data: Option<Bytes>,
        end: bool,
    },
}

pub(crate) type CommandTx = UnboundedSender<Command>;

#[derive(Default)]
struct State {
    /// A client stream's response head, until the caller takes it.
    head: Option<http::response::Parts>,
    chunks: VecDeque<Bytes>,
    trailers: Option<HeaderMap>,
    recv_end: bool,
    reset: Option<Status>,
    send_queued: usize,
    recv_waker: Option<Waker>,
    send_waker: Option<Waker>,
    reset_waker: Option<Waker>,
}

/// The state one stream's connection side and handler side share.
#[derive(Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

fn wake(slot: &mut Option<Waker>) {
    if let Some(w) = slot.take() {
        w.wake();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a handler panicked; the data is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push_data(&self, data: Bytes) {
        let mut s = self.lock();
        s.chunks.push_back(data);
        wake(&mut s.recv_waker);
    }

    /// A client stream's response head arrived.
    pub(crate) fn set_head(&self, head: http::response::Parts) {
        let mut s = self.lock();
        s.head = Some(head);
        wake(&mut s.recv_waker);
    }

    pub(crate) fn end_recv(&self, trailers: Option<HeaderMap>) {
        let mut s = self.lock();
        s.recv_end = true;
        s.trailers = trailers;
        wake(&mut s.recv_waker);
    }

    /// The stream is gone (reset by the peer, by us, or the connection ended).
    pub(crate) fn reset(&self, status: Status) {
        let mut s = self.lock();
        if s.reset.is_none() {
            s.reset = Some(status);
        }
        wake(&mut s.recv_waker);
        wake(&mut s.send_waker);
        wake(&mut s.reset_waker);
    }

    /// `n` bytes of queued DATA went to the socket buffer.
    pub(crate) fn sent(&self, n: usize) {
        let mut s = self.lock();
        s.send_queued = s.send_queued.saturating_sub(n);
        if s.send_queued <= SEND_LOW_WATER {
            wake(&mut s.send_waker);
        }
    }

    fn poll_reset(&self, cx: &mut Context<'_>) -> Poll<Status> {
        let mut s = self.lock();
        match &s.reset {
            Some(status) => Poll::Ready(status.clone()),
            None => {
                s.reset_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn reset_status(&self) -> Option<Status> {
        self.lock().reset.clone()
    }
}

/// The status a handler sees when the client resets its stream.
pub(crate) fn reset_status(reason: Reason) -> Status {
    if reason == Reason::CANCEL || reason == Reason::NO_ERROR {
        Status::cancelled("call cancelled by the client")
    } else {
        Status::cancelled(format!("stream reset by the client: {reason}"))
    }
}

fn gone() -> Status {
    Status::unavailable("connection closed")
}

/// The receiving half of a native stream.
pub(crate) struct NativeRecv {
    pub(crate) id: u32,
    pub(crate) shared: Arc<Shared>,
    pub(crate) tx: CommandTx,
    /// A client's response: dropping it before the end cancels the call (the server's
    /// request body, by contrast, may be dropped while the response goes on).
    pub(crate) cancel_on_drop: bool,
}

impl Drop for NativeRecv {
    fn drop(&mut self) {
        if self.cancel_on_drop {
            let s = self.shared.lock();
            if !s.recv_end && s.reset.is_none() {
                drop(s);
                let _ = self.tx.send(Command::Reset {
                    id: self.id,
                    reason: Reason::CANCEL,
                });
            }
        }
    }
}

impl NativeRecv {
    /// A client stream's response head; then the response body is read from `self`.
    pub(crate) fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<http::response::Parts, Status>> {
        let mut s = self.shared.lock();
        if let Some(head) = s.head.take() {
            return Poll::Ready(Ok(head));
        }
        if let Some(status) = &s.reset {
            return Poll::Ready(Err(status.clone()));
        }
        s.recv_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        let mut s = self.shared.lock();
        if let Some(chunk) = s.chunks.pop_front() {
            drop(s);
            if !chunk.is_empty() {
                let _ = self.tx.send(Command::Consumed {
                    id: self.id,
                    n: chunk.len(),
                });
            }
            return Poll::Ready(Some(Ok(chunk)));
        }
        if s.recv_end {
            return Poll::Ready(None);
        }
        if let Some(status) = &s.reset {
            return Poll::Ready(Some(Err(status.clone())));
        }
        s.recv_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        let mut s = self.shared.lock();
        if s.recv_end {
            return Poll::Ready(Ok(s.trailers.take()));
        }
        if let Some(status) = &s.reset {
            return Poll::Ready(Err(status.clone()));
        }
        s.recv_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Sends the response head of a native stream.
pub(crate) struct NativeResponder {
    pub(crate) id: u32,
    pub(crate) shared: Arc<Shared>,
    pub(crate) tx: CommandTx,
    pub(crate) answered: bool,
}

impl NativeResponder {
    /// Sends the response headers now (a streaming client may wait for them before it
    /// sends anything) and returns the body sender.
    pub(crate) fn send_headers(&mut self, head: http::Response<()>) -> Result<NativeSend, Status> {
        let mut send = self.sender(head)?;
        send.command(None, None, false)?;
        Ok(send)
    }

    /// The unary fast path: headers, the one message and the trailers in one command.
    pub(crate) fn send_unary(
        &mut self,
        head: http::Response<()>,
        data: Bytes,
        trailers: HeaderMap,
    ) -> Result<(), Status> {
        self.sender(head)?.send_last(data, trailers)
    }

    /// A unary OK response without custom metadata: a 200 head of `fields`, the message and
    /// `grpc-status: 0`, none of them built as a `HeaderMap`.
    pub(crate) fn send_unary_ok(&mut self, fields: Fields, data: Bytes) -> Result<(), Status> {
        let head = Head::lead(Pseudo::Status(http::StatusCode::OK), Lead::new(fields));
        let trailers = Lead::new([Some((GRPC_STATUS, HeaderValue::from_static("0")))]);
        self.sender_with(head)?
            .command(Some(data), Some(Head::lead(Pseudo::None, trailers)), true)
    }

    fn sender(&mut self, head: http::Response<()>) -> Result<NativeSend, Status> {
        self.sender_with(Head::new(head))
    }

    fn sender_with(&mut self, head: Box<Head>) -> Result<NativeSend, Status> {
        if let Some(status) = self.shared.reset_status() {
            return Err(status);
        }
        self.answered = true;
        Ok(NativeSend {
            id: self.id,
            shared: self.shared.clone(),
            tx: self.tx.clone(),
            headers: Some(head),
            ended: false,
        })
    }

    pub(crate) fn send_final(&mut self, head: http::Response<()>) -> Result<(), Status> {
        self.answered = true;
        let cmd = Command::Send {
            id: self.id,
            headers: Some(Head::new(head)),
            data: None,
            trailers: None,
            end: true,
        };
        self.tx.send(cmd).map_err(|_| gone())
    }

    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<Status> {
        self.shared.poll_reset(cx)
    }
}

impl Drop for NativeResponder {
    fn drop(&mut self) {
        if !self.answered {
            let _ = self.tx.send(Command::Reset {
                id: self.id,
                reason: Reason::CANCEL,
            });
        }
    }
}

/// The sending half of a native stream.
pub(crate) struct NativeSend {
    id: u32,
    shared: Arc<Shared>,
    tx: CommandTx,
    /// Response headers not yet handed to the connection.
    headers: Option<Box<Head>>,
    ended: bool,
}

impl NativeSend {
    /// The request body sender of a client stream whose head was sent with `Command::Open`.
    pub(crate) fn client(id: u32, shared: Arc<Shared>, tx: CommandTx) -> NativeSend {
        NativeSend {
            id,
            shared,
            tx,
            headers: None,
            ended: false,
        }
    }

    /// A client stream that ended with its `Command::Open`: nothing left to send or cancel.
    pub(crate) fn mark_ended(&mut self) {
        self.ended = true;
    }

    fn command(
        &mut self,
        data: Option<Bytes>,
        trailers: Option<Box<Head>>,
        end: bool,
    ) -> Result<(), Status> {
        if let Some(status) = self.shared.reset_status() {
            return Err(status);
        }
        if end {
            self.ended = true;
        }
        let len = data.as_ref().map_or(0, Bytes::len);
        if len > 0 {
            self.shared.lock().send_queued += len;
        }
        let cmd = Command::Send {
            id: self.id,
            headers: self.headers.take(),
            data,
            trailers,
            end,
        };
        self.tx.send(cmd).map_err(|_| gone())
    }

    /// Queues `data`, then waits until the stream's backlog in the connection is small.
    pub(crate) async fn send_data(
        &mut self,
        data: Bytes,
        end_of_stream: bool,
    ) -> Result<(), Status> {
        self.command(Some(data), None, end_of_stream)?;
        std::future::poll_fn(|cx| {
            let mut s = self.shared.lock();
            if let Some(status) = &s.reset {
                return Poll::Ready(Err(status.clone()));
            }
            if s.send_queued <= SEND_LOW_WATER {
                return Poll::Ready(Ok(()));
            }
            s.send_waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    pub(crate) fn finish(&mut self) -> Result<(), Status> {
        self.command(None, None, true)
    }

    pub(crate) fn send_trailers(&mut self, trailers: HeaderMap) -> Result<(), Status> {
        self.command(None, Some(Head::trailers(trailers)), true)
    }

    /// The last message and the trailers (with the headers, if not yet sent) in one command.
    pub(crate) fn send_last(&mut self, data: Bytes, trailers: HeaderMap) -> Result<(), Status> {
        self.command(Some(data), Some(Head::trailers(trailers)), true)
    }

    pub(crate) fn cancel(&mut self) {
        self.ended = true;
        let _ = self.tx.send(Command::Reset {
            id: self.id,
            reason: Reason::CANCEL,
        });
    }

    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<Status> {
        self.shared.poll_reset(cx)
    }
}

impl Drop for NativeSend {
    fn drop(&mut self) {
        if !self.ended {
            self.cancel();
        }
    }
}
