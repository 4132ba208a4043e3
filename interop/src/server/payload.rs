//! Payloads: zeros of the requested size and type, and the "CompressedRequest" check.

use rill::Status;

use crate::grpc::testing::{BoolValue, Payload, PayloadType};

/// A compressible payload of `size` zero bytes.
pub(super) fn zeros(size: i32) -> Result<Payload, Status> {
    let size = usize::try_from(size)
        .map_err(|_| Status::invalid_argument(format!("payload size {size} is negative")))?;
    Ok(Payload {
        r#type: PayloadType::Compressable.into(),
        body: vec![0; size],
    })
}

/// The spec's servers answer a `response_type` they do not support with INVALID_ARGUMENT;
/// COMPRESSABLE is the only one there is.
pub(super) fn check_response_type(response_type: i32) -> Result<(), Status> {
    if response_type == PayloadType::Compressable as i32 {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "unsupported response_type {response_type}"
        )))
    }
}

/// The "CompressedRequest" feature: a request that says it was sent compressed
/// (`expect_compressed: true`) but arrived uncompressed fails with INVALID_ARGUMENT.
///
/// As grpc-java's and grpc-go's servers do, `expect_compressed: false` is not enforced: a
/// client whose channel compresses every message still passes.
pub(super) fn check_compressed(
    expect: Option<&BoolValue>,
    arrived_compressed: bool,
) -> Result<(), Status> {
    if expect.is_some_and(|e| e.value) && !arrived_compressed {
        return Err(Status::invalid_argument(
            "expected a compressed request message, but it arrived uncompressed",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rill::Code;

    use super::*;

    #[test]
    fn zeros_has_the_requested_size() {
        for size in [0, 1, 271_828] {
            let body = zeros(size).expect("valid size").body;
            assert_eq!(body.len(), size as usize);
            assert!(body.iter().all(|&b| b == 0));
        }
        assert_eq!(
            zeros(-1).map(|_| ()).unwrap_err().code(),
            Code::InvalidArgument
        );
    }

    #[test]
    fn only_compressable_is_supported() {
        assert!(check_response_type(0).is_ok());
        assert_eq!(
            check_response_type(1).unwrap_err().code(),
            Code::InvalidArgument
        );
    }

    #[test]
    fn expect_compressed_true_needs_a_compressed_message() {
        let yes = BoolValue { value: true };
        let no = BoolValue { value: false };
        assert!(check_compressed(None, false).is_ok());
        assert!(check_compressed(Some(&no), false).is_ok());
        assert!(check_compressed(Some(&no), true).is_ok());
        assert!(check_compressed(Some(&yes), true).is_ok());
        let err = check_compressed(Some(&yes), false).unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
    }
}
