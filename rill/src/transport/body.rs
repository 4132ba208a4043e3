//! Message bodies over one HTTP/2 stream, with flow control tied to consumption.

use std::future::poll_fn;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::HeaderMap;

use super::status_from_h2;
use crate::Status;

/// The receiving half of a stream.
///
/// Flow-control capacity is released only when a chunk is handed to the reader, so a slow
/// reader makes the peer's writer wait instead of letting buffers grow.
#[derive(Debug)]
pub(crate) struct RecvBody {
    inner: h2::RecvStream,
    /// A client call's tracker: told how the stream ended (load balancing's call counts).
    call: Option<crate::balancer::CallGuard>,
}

impl RecvBody {
    pub(crate) fn new(inner: h2::RecvStream) -> Self {
        RecvBody { inner, call: None }
    }

    /// A response body whose end (trailers or error) is reported to `call`.
    pub(crate) fn tracked(inner: h2::RecvStream, call: Option<crate::balancer::CallGuard>) -> Self {
        RecvBody { inner, call }
    }

    /// The next DATA chunk, `None` at end of stream.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Status>>> {
        match ready!(self.inner.poll_data(cx)) {
            Some(Ok(chunk)) => {
                // Releasing can only fail if the stream is gone; the next poll reports that.
                let _ = self.inner.flow_control().release_capacity(chunk.len());
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(err)) => {
                let status = status_from_h2(err);
                if let Some(call) = self.call.take() {
                    call.failed(&status);
                }
                Poll::Ready(Some(Err(status)))
            }
            None => Poll::Ready(None),
        }
    }

    /// The trailers, once `poll_data` has returned `None`.
    pub(crate) fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Status>> {
        let result = ready!(self.inner.poll_trailers(cx)).map_err(status_from_h2);
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
#[derive(Debug)]
pub(crate) struct SendBody {
    inner: h2::SendStream<Bytes>,
}

impl SendBody {
    pub(crate) fn new(inner: h2::SendStream<Bytes>) -> Self {
        SendBody { inner }
    }

    /// Sends `data`, in as many DATA frames as the peer's window allows, waiting for capacity.
    pub(crate) async fn send_data(
        &mut self,
        mut data: Bytes,
        end_of_stream: bool,
    ) -> Result<(), Status> {
        if data.is_empty() {
            return self
                .inner
                .send_data(data, end_of_stream)
                .map_err(status_from_h2);
        }
        while !data.is_empty() {
            self.inner.reserve_capacity(data.len());
            let granted = poll_fn(|cx| self.inner.poll_capacity(cx)).await;
            match granted {
                Some(Ok(0)) => continue,
                Some(Ok(n)) => {
                    let chunk = data.split_to(n.min(data.len()));
                    let end = end_of_stream && data.is_empty();
                    self.inner.send_data(chunk, end).map_err(status_from_h2)?;
                }
                Some(Err(err)) => return Err(status_from_h2(err)),
                None => return Err(Status::unavailable("stream closed while sending")),
            }
        }
        Ok(())
    }

    /// Ends the stream without trailers.
    pub(crate) fn finish(&mut self) -> Result<(), Status> {
        self.inner
            .send_data(Bytes::new(), true)
            .map_err(status_from_h2)
    }

    /// Ends the stream with trailers.
    pub(crate) fn send_trailers(&mut self, trailers: HeaderMap) -> Result<(), Status> {
        self.inner.send_trailers(trailers).map_err(status_from_h2)
    }

    /// Resets the stream with CANCEL (the peer sees the call cancelled).
    pub(crate) fn cancel(&mut self) {
        self.inner.send_reset(h2::Reason::CANCEL);
    }

    /// Ready when the peer resets the stream.
    pub(crate) fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<Status> {
        match ready!(self.inner.poll_reset(cx)) {
            Ok(reason) => Poll::Ready(reset_status(reason)),
            Err(err) => Poll::Ready(status_from_h2(err)),
        }
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
