//! The request messages of a streaming call, kept while the call may still be retried, so
//! that each attempt sends them all from the start.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;

use super::BufferLimits;
use crate::{BoxStream, Status};

/// A shared, replayable view of one request stream. Attempts read through their own cursor;
/// whichever is ahead pulls the next message from the source and buffers it for the others.
#[derive(Clone)]
pub(crate) struct Replay {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    source: tokio::sync::Mutex<BoxStream<Bytes>>,
    per_call: usize,
    per_channel: usize,
    channel_used: Arc<AtomicUsize>,
}

#[derive(Default)]
struct State {
    frames: Vec<Bytes>,
    size: usize,
    /// `Some(None)`: the source ended; `Some(Some(status))`: it failed.
    end: Option<Option<Status>>,
    /// Once set (commit, or buffer overflow), only this attempt may read past the buffer.
    owner: Option<u32>,
}

enum Peek {
    Ready(Option<Result<Bytes, Status>>),
    Pull,
    Park,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let size = self.state.get_mut().map(|s| s.size).unwrap_or(0);
        self.channel_used.fetch_sub(size, Ordering::AcqRel);
    }
}

impl Replay {
    pub(crate) fn new(source: BoxStream<Bytes>, limits: &BufferLimits) -> Replay {
        Replay {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                source: tokio::sync::Mutex::new(source),
                per_call: limits.per_call,
                per_channel: limits.per_channel,
                channel_used: limits.used.clone(),
            }),
        }
    }

    /// The request stream as attempt `id` sends it, from the first message.
    pub(crate) fn cursor(&self, id: u32) -> BoxStream<Bytes> {
        let shared = self.shared.clone();
        Box::pin(futures_util::stream::unfold(
            (shared, 0usize),
            move |(shared, pos)| async move {
                let item = shared.next(id, pos).await?;
                Some((item, (shared, pos + 1)))
            },
        ))
    }

    /// The call is committed to attempt `id`: the others may not read further.
    pub(crate) fn commit(&self, id: u32) {
        if let Ok(mut state) = self.shared.state.lock() {
            state.owner.get_or_insert(id);
        }
    }

    /// Whether the buffer overflowed (or the call committed): no new attempt can replay it.
    pub(crate) fn is_committed(&self) -> bool {
        self.shared.state.lock().map_or(true, |s| s.owner.is_some())
    }
}

impl Shared {
    /// What is at `pos` for attempt `id`: buffered, pulled from the source, or (for an attempt
    /// the call is no longer committed to) never.
    async fn next(&self, id: u32, pos: usize) -> Option<Result<Bytes, Status>> {
        match self.peek(id, pos) {
            Peek::Ready(item) => return item,
            Peek::Park => return std::future::pending().await,
            Peek::Pull => {}
        }
        let mut source = self.source.lock().await;
        // Another cursor may have pulled while this one waited for the source.
        match self.peek(id, pos) {
            Peek::Ready(item) => return item,
            Peek::Park => return std::future::pending().await,
            Peek::Pull => {}
        }
        let item = source.next().await;
        let Ok(mut state) = self.state.lock() else {
            return Some(Err(Status::internal("retry buffer poisoned")));
        };
        match item {
            None => {
                state.end = Some(None);
                None
            }
            Some(Err(status)) => {
                state.end = Some(Some(status.clone()));
                Some(Err(status))
            }
            Some(Ok(frame)) => {
                if state.owner.is_none() {
                    self.buffer(&mut state, id, &frame);
                }
                Some(Ok(frame))
            }
        }
    }

    /// Whether `pos` can be answered without the source.
    fn peek(&self, id: u32, pos: usize) -> Peek {
        let Ok(state) = self.state.lock() else {
            return Peek::Ready(Some(Err(Status::internal("retry buffer poisoned"))));
        };
        if let Some(frame) = state.frames.get(pos) {
            return Peek::Ready(Some(Ok(frame.clone())));
        }
        if let Some(end) = &state.end {
            return Peek::Ready(end.clone().map(Err));
        }
        if state.owner.is_some_and(|owner| owner != id) {
            // This attempt lost the call: it waits until the executor drops it.
            return Peek::Park;
        }
        Peek::Pull
    }

    /// Keeps `frame` for later attempts, or commits the call to `id` when that would pass the
    /// per-call or channel-wide limit.
    fn buffer(&self, state: &mut State, id: u32, frame: &Bytes) {
        let len = frame.len();
        let fits_call = state.size + len <= self.per_call;
        let fits_channel = fits_call
            && self
                .channel_used
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                    (used + len <= self.per_channel).then_some(used + len)
                })
                .is_ok();
        if fits_channel {
            state.size += len;
            state.frames.push(frame.clone());
        } else {
            state.owner = Some(id);
        }
    }
}
