//! What every observability layer shares: one tower service that follows a call from its
//! head to its final status (through response streams, cancellation and deadlines), counts
//! messages and bytes, and tells the layer's per-call observer.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_core::Stream;
use tower_service::Service;

use super::TraceContext;
use crate::client::{self, Kind, RawResponse, RawStream, Transport};
use crate::codec::HEADER_LEN;
use crate::middleware::BoxFuture;
use crate::server::{self, GrpcMethod, RawBody, Routes};
use crate::streaming::{BothTaps, StreamTap, CLIENT_TAP};
use crate::{BoxStream, Code, MetadataMap, Request, Response, Status};

/// Which end of the call a layer sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

/// What a layer learns when a call starts.
pub(crate) struct CallStart<'a> {
    pub(crate) side: Side,
    /// `/package.Service/Method`.
    pub(crate) path: &'a str,
    /// The client's address (server side, TCP).
    pub(crate) peer: Option<SocketAddr>,
    /// The channel's authority (client side).
    pub(crate) target: Option<&'a str>,
}

/// How a call ended, and what it moved (wire sizes: message payloads before decompression).
// The counts feed the metrics layer only.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct Summary<'a> {
    pub(crate) code: Code,
    pub(crate) message: &'a str,
    pub(crate) elapsed: Duration,
    pub(crate) sent_messages: u64,
    pub(crate) sent_bytes: u64,
    pub(crate) received_messages: u64,
    pub(crate) received_bytes: u64,
}

/// A layer's behaviour: what it does when a call starts (it may edit the head: metadata,
/// extensions) and the observer that follows that call.
pub(crate) trait Observe: Clone + Send + Sync + 'static {
    type Call: CallObserver;
    fn start(&self, call: &CallStart<'_>, head: &mut Request<()>) -> Self::Call;
}

/// Follows one call.
pub(crate) trait CallObserver: Send + Sync + 'static {
    /// Edits the response metadata (headers, or a Trailers-Only error's) on the server.
    fn response_metadata(&self, _metadata: &mut MetadataMap) {}
    /// A span to enter while the call's futures and streams are polled.
    fn span(&self) -> Option<&tracing::Span> {
        None
    }
    /// A trace context to make current while the server's handler runs.
    fn context(&self) -> Option<&TraceContext> {
        None
    }
    /// The call ended; called exactly once.
    fn finish(&self, summary: &Summary<'_>);
}

/// A call's state, shared by the futures and streams that see it.
struct Tracker<C: CallObserver> {
    call: C,
    side: Side,
    started: Instant,
    deadline: Option<Instant>,
    done: AtomicBool,
    sent_messages: AtomicU64,
    sent_bytes: AtomicU64,
    received_messages: AtomicU64,
    received_bytes: AtomicU64,
}

impl<C: CallObserver> Tracker<C> {
    fn new(call: C, side: Side, deadline: Option<Instant>) -> Arc<Self> {
        Arc::new(Tracker {
            call,
            side,
            started: Instant::now(),
            deadline,
            done: AtomicBool::new(false),
            sent_messages: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            received_messages: AtomicU64::new(0),
            received_bytes: AtomicU64::new(0),
        })
    }

    /// One framed message sent (the 5-byte prefix is not counted).
    fn sent(&self, frame: &Bytes) {
        self.sent_messages.fetch_add(1, Ordering::Relaxed);
        let len = frame.len().saturating_sub(HEADER_LEN) as u64;
        self.sent_bytes.fetch_add(len, Ordering::Relaxed);
    }

    fn finish(&self, code: Code, message: &str) {
        if self.done.swap(true, Ordering::AcqRel) {
            return;
        }
        self.call.finish(&Summary {
            code,
            message,
            elapsed: self.started.elapsed(),
            sent_messages: self.sent_messages.load(Ordering::Relaxed),
            sent_bytes: self.sent_bytes.load(Ordering::Relaxed),
            received_messages: self.received_messages.load(Ordering::Relaxed),
            received_bytes: self.received_bytes.load(Ordering::Relaxed),
        });
    }

    fn finish_status(&self, status: &Status) {
        self.finish(status.code(), status.message());
    }

    /// Runs `f` inside the call's span and trace context.
    fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.call.span().map(tracing::Span::enter);
        match self.call.context() {
            Some(context) => context.in_scope(f),
            None => f(),
        }
    }
}

impl<C: CallObserver> Drop for Tracker<C> {
    /// Everything that could report the end is gone without doing so: the call was dropped,
    /// by its deadline or by a cancellation.
    fn drop(&mut self) {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.finish(Code::DeadlineExceeded, "deadline exceeded");
        } else {
            self.finish(Code::Cancelled, "call dropped");
        }
    }
}

impl<C: CallObserver> StreamTap for Tracker<C> {
    fn message(&self, wire_len: usize) {
        self.received_messages.fetch_add(1, Ordering::Relaxed);
        self.received_bytes
            .fetch_add(wire_len as u64, Ordering::Relaxed);
    }

    fn end(&self, error: Option<&Status>) {
        // The end of a server's request stream says nothing about how the call ends.
        if self.side == Side::Client {
            match error {
                None => self.finish(Code::Ok, ""),
                Some(status) => self.finish_status(status),
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A future or stream polled inside its call's span and trace context.
    struct Entered<F, C: CallObserver> {
        #[pin]
        inner: F,
        tracker: Arc<Tracker<C>>,
    }
}

impl<F: Future, C: CallObserver> Future for Entered<F, C> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner;
        this.tracker.enter(|| inner.poll(cx))
    }
}

pin_project_lite::pin_project! {
    /// Outgoing frames, counted; on the server, the response whose end is the call's end.
    struct Counted<C: CallObserver> {
        #[pin]
        inner: BoxStream<Bytes>,
        tracker: Arc<Tracker<C>>,
        ends_call: bool,
    }
}

impl<C: CallObserver> Stream for Counted<C> {
    type Item = Result<Bytes, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let inner = this.inner;
        let tracker = this.tracker;
        let next = tracker.enter(|| inner.poll_next(cx));
        match &next {
            Poll::Ready(Some(Ok(frame))) => tracker.sent(frame),
            Poll::Ready(Some(Err(status))) if *this.ends_call => tracker.finish_status(status),
            Poll::Ready(None) if *this.ends_call => tracker.finish(Code::Ok, ""),
            _ => {}
        }
        next
    }
}

/// A layer's service: the layer (`O`) around the next service (`S`: [`Routes`] on a
/// server, [`Transport`] on a client).
#[derive(Clone, Debug)]
pub struct Observed<O, S> {
    observe: O,
    inner: S,
}

impl<O, S> Observed<O, S> {
    pub(crate) fn new(observe: O, inner: S) -> Self {
        Observed { observe, inner }
    }
}

impl<O: Observe> Service<Request<server::Body>> for Observed<O, Routes> {
    type Response = Response<server::ResponseBody>;
    type Error = Status;
    type Future = BoxFuture<Result<Self::Response, Status>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<server::Body>) -> Self::Future {
        let (mut head, mut body) = request.into_parts();
        let method = head.extensions().get::<GrpcMethod>().cloned();
        let start = CallStart {
            side: Side::Server,
            path: method.as_ref().map_or("", GrpcMethod::path),
            peer: head.remote_addr(),
            target: None,
        };
        let call = self.observe.start(&start, &mut head);
        let tracker = Tracker::new(call, Side::Server, head.deadline());
        body.messages.add_tap(tracker.clone());
        let response = Entered {
            inner: self.inner.call(head.map(|()| body)),
            tracker: tracker.clone(),
        };
        Box::pin(async move {
            match response.await {
                Ok(mut response) => {
                    tracker.call.response_metadata(response.metadata_mut());
                    Ok(response.map(|server::ResponseBody(body)| {
                        server::ResponseBody(match body {
                            RawBody::Once(frame) => {
                                tracker.sent(&frame);
                                tracker.finish(Code::Ok, "");
                                RawBody::Once(frame)
                            }
                            RawBody::Stream(frames) => RawBody::Stream(Box::pin(Counted {
                                inner: frames,
                                tracker,
                                ends_call: true,
                            })),
                        })
                    }))
                }
                Err(mut status) => {
                    tracker.call.response_metadata(status.metadata_mut());
                    tracker.finish_status(&status);
                    Err(status)
                }
            }
        })
    }
}

impl<O: Observe> Service<Request<client::Body>> for Observed<O, Transport> {
    type Response = Response<client::ResponseBody>;
    type Error = Status;
    type Future = BoxFuture<Result<Self::Response, Status>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<client::Body>) -> Self::Future {
        let (mut head, mut body) = request.into_parts();
        let start = CallStart {
            side: Side::Client,
            path: body.path(),
            peer: None,
            target: Some(self.inner.target()),
        };
        let call = self.observe.start(&start, &mut head);
        let tracker = Tracker::new(call, Side::Client, head.deadline());
        let counted = |frames| -> BoxStream<Bytes> {
            Box::pin(Counted {
                inner: frames,
                tracker: tracker.clone(),
                ends_call: false,
            })
        };
        body.kind = match body.kind {
            Kind::Unary(frame) => {
                tracker.sent(&frame);
                Kind::Unary(frame)
            }
            Kind::ServerStreaming(frame) => {
                tracker.sent(&frame);
                Kind::ServerStreaming(frame)
            }
            Kind::ClientStreaming(frames) => Kind::ClientStreaming(counted(frames)),
            Kind::Streaming(frames) => Kind::Streaming(counted(frames)),
        };
        // Response streams are built inside the exchange: they pick up this tap (and an
        // outer layer's, if any: each layer must see the messages).
        let mine: Arc<dyn StreamTap> = tracker.clone();
        let tap = match CLIENT_TAP.try_with(Arc::clone) {
            Ok(outer) => Arc::new(BothTaps(outer, mine)),
            Err(_) => mine,
        };
        let response = Entered {
            inner: CLIENT_TAP.scope(tap, self.inner.call(head.map(|()| body))),
            tracker: tracker.clone(),
        };
        Box::pin(async move {
            let response = response.await;
            match &response {
                Ok(response) => match &response.get_ref().0 {
                    RawResponse::Once(_) | RawResponse::Stream(RawStream::Empty(_)) => {
                        tracker.finish(Code::Ok, "")
                    }
                    // The stream reports the end (it holds the tracker through its tap).
                    RawResponse::Stream(RawStream::Wire(..)) => {}
                },
                Err(status) => tracker.finish_status(status),
            }
            response
        })
    }
}

/// Implements `Layer<Routes>` and `Layer<Transport>` for an [`Observe`] type.
macro_rules! observe_layer {
    ($layer:ty) => {
        impl tower_layer::Layer<$crate::server::Routes> for $layer {
            type Service = $crate::observability::Observed<$layer, $crate::server::Routes>;

            fn layer(&self, inner: $crate::server::Routes) -> Self::Service {
                $crate::observability::Observed::new(self.clone(), inner)
            }
        }

        impl tower_layer::Layer<$crate::client::Transport> for $layer {
            type Service = $crate::observability::Observed<$layer, $crate::client::Transport>;

            fn layer(&self, inner: $crate::client::Transport) -> Self::Service {
                $crate::observability::Observed::new(self.clone(), inner)
            }
        }
    };
}
pub(crate) use observe_layer;
