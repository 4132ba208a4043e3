//! What tonic does not expose, added at the HTTP layer: each message's Compressed-Flag (seen
//! and, on the server, cleared for chosen messages) and extra trailers.
//!
//! [`Reframe`] wraps an HTTP body of gRPC messages (1-byte flag, 4-byte length, payload),
//! records every message's flag in [`MessageFlags`], lets an edit function rewrite messages,
//! and appends trailers.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::HeaderMap;
use http_body::Frame;

/// The Compressed-Flag of each message a body carried, in order; shared through the request's
/// or response's extensions with the code that reads the messages.
#[derive(Clone, Debug, Default)]
pub(crate) struct MessageFlags(Arc<Mutex<Vec<bool>>>);

impl MessageFlags {
    fn push(&self, compressed: bool) {
        if let Ok(mut flags) = self.0.lock() {
            flags.push(compressed);
        }
    }

    /// Whether message `index` (from 0) arrived compressed; `None` if it has not arrived.
    pub(crate) fn compressed(&self, index: usize) -> Option<bool> {
        self.0
            .lock()
            .ok()
            .and_then(|flags| flags.get(index).copied())
    }
}

/// Rewrites message `index`: gets its flag and payload, returns the ones to send.
pub(crate) type Edit = Box<dyn FnMut(usize, u8, Bytes) -> (u8, Bytes) + Send>;

/// An HTTP body of gRPC messages, passed on message by message.
pub(crate) struct Reframe<B> {
    inner: B,
    buf: BytesMut,
    index: usize,
    flags: MessageFlags,
    edit: Option<Edit>,
    extra_trailers: Option<HeaderMap>,
}

impl<B> Reframe<B> {
    /// Wraps `inner`, recording flags into `flags`.
    pub(crate) fn new(inner: B, flags: MessageFlags) -> Self {
        Reframe {
            inner,
            buf: BytesMut::new(),
            index: 0,
            flags,
            edit: None,
            extra_trailers: None,
        }
    }

    /// Rewrites each message with `edit`.
    pub(crate) fn with_edit(mut self, edit: Edit) -> Self {
        self.edit = Some(edit);
        self
    }

    /// Appends `trailers` to the body's trailers (if it has any).
    pub(crate) fn with_trailers(mut self, trailers: HeaderMap) -> Self {
        self.extra_trailers = Some(trailers);
        self
    }

    /// The next complete message in the buffer, re-framed.
    fn next_message(&mut self) -> Option<Bytes> {
        if self.buf.len() < 5 {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
        let len = usize::try_from(len).ok()?;
        if self.buf.len() < 5 + len {
            return None;
        }
        let flag = self.buf.get_u8();
        self.buf.advance(4);
        let payload = self.buf.split_to(len).freeze();
        self.flags.push(flag == 1);
        let (flag, payload) = match &mut self.edit {
            Some(edit) => edit(self.index, flag, payload),
            None => (flag, payload),
        };
        self.index += 1;
        let mut out = BytesMut::with_capacity(5 + payload.len());
        out.put_u8(flag);
        out.put_u32(u32::try_from(payload.len()).unwrap_or(u32::MAX));
        out.put_slice(&payload);
        Some(out.freeze())
    }
}

impl<B> http_body::Body for Reframe<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(message) = this.next_message() {
                return Poll::Ready(Some(Ok(Frame::data(message))));
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.buf.extend_from_slice(&data),
                    Err(frame) => {
                        let frame = match (frame.into_trailers(), this.extra_trailers.take()) {
                            (Ok(mut trailers), Some(extra)) => {
                                append(&mut trailers, extra);
                                Frame::trailers(trailers)
                            }
                            (Ok(trailers), None) => Frame::trailers(trailers),
                            (Err(frame), _) => frame,
                        };
                        return Poll::Ready(Some(Ok(frame)));
                    }
                },
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                // A truncated last message goes on as it is: the reader reports it.
                None if !this.buf.is_empty() => {
                    return Poll::Ready(Some(Ok(Frame::data(this.buf.split().freeze()))))
                }
                None => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.buf.is_empty() && self.inner.is_end_stream()
    }
}

/// Appends every value of `extra` (iterating an owned `HeaderMap` names only the first value
/// of each key, hence the bookkeeping).
fn append(trailers: &mut HeaderMap, extra: HeaderMap) {
    let mut name = None;
    for (next, value) in extra {
        name = next.or(name);
        if let Some(name) = &name {
            trailers.append(name.clone(), value);
        }
    }
}
