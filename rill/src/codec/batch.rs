//! Gathering encoded messages that are ready into one write.

use bytes::Bytes;
use futures_util::StreamExt;

use crate::{BoxStream, Status};

/// Messages already waiting are sent together, in one DATA frame of up to this many bytes:
/// one frame per small message costs both peers per-frame work, and h2-based servers (tonic's
/// among them) close a connection that sends them faster than they are read (GOAWAY
/// ENHANCE_YOUR_CALM "too_many_data_frames").
pub(crate) const BATCH_BYTES: usize = 16 * 1024;

/// What is left after a batch: more messages, their end, or a failed one (an error status).
pub(crate) enum AfterBatch {
    More,
    End,
    Failed(Status),
}

/// The next batch: `first` and the frames `frames` has ready right now, up to
/// [`BATCH_BYTES`]; never waits for a frame that is not ready.
pub(crate) fn batch(first: Bytes, frames: &mut BoxStream<Bytes>) -> (Bytes, AfterBatch) {
    use futures_util::FutureExt;
    let mut joined: Option<bytes::BytesMut> = None;
    let mut len = first.len();
    let mut after = AfterBatch::More;
    while len < BATCH_BYTES {
        match frames.next().now_or_never() {
            Some(Some(Ok(frame))) => {
                len += frame.len();
                joined
                    .get_or_insert_with(|| bytes::BytesMut::from(&first[..]))
                    .extend_from_slice(&frame);
            }
            Some(Some(Err(status))) => {
                after = AfterBatch::Failed(status);
                break;
            }
            Some(None) => {
                after = AfterBatch::End;
                break;
            }
            None => break,
        }
    }
    (joined.map_or(first, bytes::BytesMut::freeze), after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    fn frames(items: Vec<Result<Bytes, Status>>) -> BoxStream<Bytes> {
        Box::pin(futures_util::stream::iter(items))
    }

    #[test]
    fn ready_frames_are_sent_together_up_to_the_batch_size() {
        let small = || Ok(Bytes::from_static(b"abc"));
        // (what follows the first frame, bytes in the batch, what comes after)
        type Case = (Vec<Result<Bytes, Status>>, usize, &'static str);
        let cases: Vec<Case> = vec![
            (vec![], 3, "end"),
            (vec![small(), small()], 9, "end"),
            (vec![small(), Err(Status::internal("bad"))], 6, "failed"),
            (
                vec![Ok(Bytes::from(vec![0; BATCH_BYTES])), small()],
                3 + BATCH_BYTES,
                "more",
            ),
        ];
        for (rest, len, after) in cases {
            let mut rest = frames(rest);
            let (data, got) = batch(Bytes::from_static(b"abc"), &mut rest);
            let got = match got {
                AfterBatch::More => "more",
                AfterBatch::End => "end",
                AfterBatch::Failed(_) => "failed",
            };
            assert_eq!((data.len(), got), (len, after));
        }
    }

    #[test]
    fn a_frame_that_is_not_ready_is_not_waited_for() {
        let mut pending: BoxStream<Bytes> = Box::pin(futures_util::stream::pending());
        let (data, after) = batch(Bytes::from_static(b"abc"), &mut pending);
        assert_eq!(data.len(), 3);
        assert!(matches!(after, AfterBatch::More));
    }
}
