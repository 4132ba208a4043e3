//! The "Echo Metadata" and "Echo Status" server features.

use rill::{Code, MetadataMap, Response, Status};

use super::{ECHO_INITIAL_KEY, ECHO_TRAILING_KEY};
use crate::grpc::testing::EchoStatus;

/// The metadata a call echoes back, read from its request.
pub(super) struct Echo {
    initial: Option<String>,
    trailing: Option<Vec<u8>>,
}

impl Echo {
    pub(super) fn from_request(metadata: &MetadataMap) -> Result<Echo, Status> {
        Ok(Echo {
            initial: metadata.get(ECHO_INITIAL_KEY).map(str::to_owned),
            trailing: metadata.get_bin(ECHO_TRAILING_KEY).transpose()?,
        })
    }

    pub(super) fn apply<T>(&self, response: &mut Response<T>) -> Result<(), Status> {
        if let Some(value) = &self.initial {
            response.metadata_mut().insert(ECHO_INITIAL_KEY, value)?;
        }
        if let Some(value) = &self.trailing {
            response
                .trailers_mut()
                .insert_bin(ECHO_TRAILING_KEY, value)?;
        }
        Ok(())
    }

    /// An error is a Trailers-Only answer: both echoes travel in its one header block.
    pub(super) fn into_status(self, status: Status) -> Status {
        let mut metadata = MetadataMap::new();
        // Both values were valid metadata on the way in, so they are valid on the way out.
        if let Some(value) = &self.initial {
            let _ = metadata.insert(ECHO_INITIAL_KEY, value);
        }
        if let Some(value) = &self.trailing {
            let _ = metadata.insert_bin(ECHO_TRAILING_KEY, value);
        }
        status.with_metadata(metadata)
    }
}

/// The status a request asks for, unless it asks for OK (or nothing).
pub(super) fn requested_status(echo: Option<&EchoStatus>) -> Option<Status> {
    echo.filter(|s| s.code != 0)
        .map(|s| Status::new(Code::from_i32(s.code), s.message.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_status_ignores_ok_and_absent() {
        let cases = [
            (None, None),
            (Some((0, "ignored")), None),
            (Some((2, "boom")), Some(Code::Unknown)),
            (Some((5, "gone")), Some(Code::NotFound)),
            (Some((99, "odd")), Some(Code::Unknown)),
        ];
        for (echo, want) in cases {
            let echo = echo.map(|(code, message): (i32, &str)| EchoStatus {
                code,
                message: message.into(),
            });
            let got = requested_status(echo.as_ref());
            assert_eq!(got.as_ref().map(Status::code), want, "{echo:?}");
            if let (Some(status), Some(echo)) = (got, echo) {
                assert_eq!(status.message(), echo.message);
            }
        }
    }
}
