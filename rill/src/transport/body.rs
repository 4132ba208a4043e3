//! Message bodies over one HTTP/2 stream, with flow control tied to consumption.

use std::future::poll_fn;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::HeaderMap;

use super::http2::stream::{NativeRecv, NativeSend};
use super::status_from_h2;
use crate::Status;

/// The receiving half of a stream.
///
/// Flow-control capacity is released only when a chunk is handed to the reader, so a slow
/// reader makes the peer's writer wait instead of letting buffers grow.
pub(crate) struct RecvBody {
    inner: RecvInner,
    /// A client call's tracker: told how the stream ended (load balancing's call counts).
    call: Option<crate::balancer::CallGuard>,
}

enum RecvInner {
    H2(h2::RecvStream),
    Native(NativeRecv),
}

impl std::fmt::Debug for RecvBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBody").finish_non_exhaustive()
    }
}

impl RecvBody {
    pub(crate) fn new(inner: h2::RecvStream) -> Self {
        RecvBody {
            inner: RecvInner::H2(inner),
            call: None,
        }
    }

    /// This body as a response whose end (trailers or error) is reported to `call`.
    pub(crate) fn tracked(mut self, call: crate::balancer::CallGuard) -> Self {
        self.call = Some(call);
        self
    }

    pub(crate) fn native(inner: NativeRecv) -> Self {
        RecvBody {
            inner: RecvInner::Native(inner),
            call: None,
        }
    }

    /// The next DATA chunk, `None` at end of stream.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        let polled = match &mut self.inner {
            RecvInner::H2(inner) => match ready!(inner.poll_data(cx)) {
                Some(Ok(chunk)) => {
                    // Releasing can only fail if the stream is gone; the next poll says so.
                    let _ = inner.flow_control().release_capacity(chunk.len());
                    Some(Ok(chunk))
                }
                Some(Err(err)) => Some(Err(status_from_h2(err))),
                None => None,
            },
            RecvInner::Native(inner) => ready!(inner.poll_data(cx)),
        };
        if let Some(Err(status)) = &polled {
            if let Some(call) = self.call.take() {
                call.failed(status);
            }
        }
        Poll::Ready(polled)
    }

    /// The trailers, once `poll_data` has returned `None`.
    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        let result = ready!(match &mut self.inner {
            RecvInner::H2(inner) => inner.poll_trailers(cx).map_err(status_from_h2),
            RecvInner::Native(inner) => inner.poll_trailers(cx),
        });
        if let Some(call) = self.call.take() {
            match &result {
                Ok(Some(trailers)) => call.trailers(trailers),
                Ok(None) => call.trailers(&HeaderMap::new()),
                Err(status) => call.failed(status),
            }
        }
        Poll::Ready(result)
    }
}

/// The sending half of a stream; waits for flow-control capacity before each chunk.
pub(crate) struct SendBody {
    inner: SendInner,
}

enum SendInner {
    H2(h2::SendStream<Bytes>),
    Native(NativeSend),
}

impl std::fmt::Debug for SendBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendBody").finish_non_exhaustive()
    }
}

impl SendBody {
    pub(crate) fn new(inner: h2::SendStream<Bytes>) -> Self {
        SendBody {
            inner: SendInner::H2(inner),
        }
    }

    pub(crate) fn native(inner: NativeSend) -> Self {
        SendBody {
            inner: SendInner::Native(inner),
        }
    }

    /// Sends `data`, in as many DATA frames as the peer's window allows, waiting for capacity.
    pub(crate) async fn send_data(
        &mut self,
        data: Bytes,
        end_of_stream: bool,
    ) -> Result<(), Status> {
        match &mut self.inner {
            SendInner::H2(inner) => h2_send_data(inner, data, end_of_stream).await,
            SendInner::Native(inner) => inner.send_data(data, end_of_stream).await,
        }
    }

    /// Ends the stream without trailers.
    pub(crate) fn finish(&mut self) -> Result<(), Status> {
        match &mut self.inner {
            SendInner::H2(inner) => inner.send_data(Bytes::new(), true).map_err(status_from_h2),
            SendInner::Native(inner) => inner.finish(),
        }
    }

    /// Ends the stream with trailers.
    pub(crate) fn send_trailers(&mut self, trailers: HeaderMap) -> Result<(), Status> {
        match &mut self.inner {
            SendInner::H2(inner) => inner.send_trailers(trailers).map_err(status_from_h2),
            SendInner::Native(inner) => inner.send_trailers(trailers),
        }
    }

    /// Resets the stream with CANCEL (the peer sees the call cancelled).
    pub(crate) fn cancel(&mut self) {
        match &mut self.inner {
            SendInner::H2(inner) => inner.send_reset(h2::Reason::CANCEL),
            SendInner::Native(inner) => inner.cancel(),
        }
    }

    /// Ready when the peer resets the stream.
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<Status> {
        match &mut self.inner {
            SendInner::H2(inner) => match ready!(inner.poll_reset(cx)) {
                Ok(reason) => Poll::Ready(reset_status(reason)),
                Err(err) => Poll::Ready(status_from_h2(err)),
            },
            SendInner::Native(inner) => inner.poll_reset(cx),
        }
    }
}

async fn h2_send_data(
    inner: &mut h2::SendStream<Bytes>,
    mut data: Bytes,
    end_of_stream: bool,
) -> Result<(), Status> {
    if data.is_empty() {
        return inner.send_data(data, end_of_stream).map_err(status_from_h2);
    }
    {
        while !data.is_empty() {
            inner.reserve_capacity(data.len());
            let granted = poll_fn(|cx| inner.poll_capacity(cx)).await;
            match granted {
                Some(Ok(0)) => continue,
                Some(Ok(n)) => {
                    let chunk = data.split_to(n.min(data.len()));
                    let end = end_of_stream && data.is_empty();
                    inner.send_data(chunk, end).map_err(status_from_h2)?;
                }
                Some(Err(err)) => return Err(status_from_h2(err)),
                None => return Err(Status::unavailable("stream closed while sending")),
            }
        }
        Ok(())
    }
}

/// The status a handler's call ends with when the client resets its stream.
pub(crate) fn reset_status(reason: h2::Reason) -> Status {
    if reason == h2::Reason::CANCEL || reason == h2::Reason::NO_ERROR {
        Status::cancelled("call cancelled by the client")
    } else {
        Status::cancelled(format!("stream reset by the client: {reason}"))
    }
}
