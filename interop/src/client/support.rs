//! What the cases share: the spec's sizes, messages built from them, and checks that turn a
//! mismatch into a readable failure.

use std::fmt::Debug;

use rill::{Code, Status, Streaming};
use tokio::sync::mpsc;

use crate::grpc::testing::{
    BoolValue, EchoStatus, Payload, PayloadType, ResponseParameters, SimpleRequest,
    StreamingOutputCallRequest, StreamingOutputCallResponse,
};

/// large_unary's request and response payload sizes.
pub(crate) const LARGE_REQUEST: usize = 271_828;
pub(crate) const LARGE_RESPONSE: usize = 314_159;
/// client_streaming and ping_pong request payload sizes.
pub(crate) const REQUEST_SIZES: [usize; 4] = [27_182, 8, 1_828, 45_904];
/// server_streaming and ping_pong response payload sizes.
pub(crate) const RESPONSE_SIZES: [usize; 4] = [31_415, 9, 2_653, 58_979];

/// A payload of `size` zeros.
pub(crate) fn zeros(size: usize) -> Payload {
    Payload {
        r#type: PayloadType::Compressable.into(),
        body: vec![0; size],
    }
}

/// A `SimpleRequest` for `response` bytes carrying `request` bytes.
pub(crate) fn simple_request(response: usize, request: usize) -> SimpleRequest {
    SimpleRequest {
        response_type: PayloadType::Compressable.into(),
        response_size: size_i32(response),
        payload: Some(zeros(request)),
        ..SimpleRequest::default()
    }
}

/// A `StreamingOutputCallRequest` for one response per size, carrying `request` bytes.
pub(crate) fn output_request(sizes: &[usize], request: usize) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_type: PayloadType::Compressable.into(),
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size: size_i32(size),
                ..ResponseParameters::default()
            })
            .collect(),
        payload: (request > 0).then(|| zeros(request)),
        ..StreamingOutputCallRequest::default()
    }
}

/// `BoolValue` with `value`.
pub(crate) fn bool_value(value: bool) -> Option<BoolValue> {
    Some(BoolValue { value })
}

/// `EchoStatus` asking for `code` and `message`.
pub(crate) fn echo_status(code: Code, message: &str) -> Option<EchoStatus> {
    Some(EchoStatus {
        code: code as i32,
        message: message.to_string(),
    })
}

/// The spec's sizes all fit in an `int32`; larger ones saturate.
pub(crate) fn size_i32(size: usize) -> i32 {
    i32::try_from(size).unwrap_or(i32::MAX)
}

/// Checks that `payload` is `size` zeros of type COMPRESSABLE.
pub(crate) fn check_payload(
    what: &str,
    payload: Option<&Payload>,
    size: usize,
) -> Result<(), String> {
    let Some(payload) = payload else {
        return Err(format!("{what}: no payload"));
    };
    ensure!(
        payload.r#type == PayloadType::Compressable as i32,
        "{what}: payload type {} instead of COMPRESSABLE",
        payload.r#type
    );
    ensure!(
        payload.body.len() == size,
        "{what}: payload of {} bytes instead of {size}",
        payload.body.len()
    );
    ensure!(
        payload.body.iter().all(|&b| b == 0),
        "{what}: payload is not all zeros"
    );
    Ok(())
}

/// Checks the payload sizes of streamed responses, in order.
pub(crate) fn check_sizes(
    what: &str,
    responses: &[StreamingOutputCallResponse],
    sizes: &[usize],
) -> Result<(), String> {
    ensure!(
        responses.len() == sizes.len(),
        "{what}: {} responses instead of {}",
        responses.len(),
        sizes.len()
    );
    for (i, (response, &size)) in responses.iter().zip(sizes).enumerate() {
        check_payload(
            &format!("{what}: response {i}"),
            response.payload.as_ref(),
            size,
        )?;
    }
    Ok(())
}

/// A call's result, or its status described as a failure of `what`.
pub(crate) fn ok<T>(what: &str, result: Result<T, Status>) -> Result<T, String> {
    result.map_err(|status| format!("{what} failed: {}", describe(&status)))
}

/// Checks that a call failed with `code` (and `message`, when given).
pub(crate) fn expect_status<T: Debug>(
    what: &str,
    result: Result<T, Status>,
    code: Code,
    message: Option<&str>,
) -> Result<(), String> {
    let status = match result {
        Ok(value) => return Err(format!("{what}: succeeded ({value:?}) instead of {code:?}")),
        Err(status) => status,
    };
    ensure!(
        status.code() == code,
        "{what}: {} instead of {code:?}",
        describe(&status)
    );
    if let Some(message) = message {
        ensure!(
            status.message() == message,
            "{what}: status message {:?} instead of {message:?}",
            status.message()
        );
    }
    Ok(())
}

/// A status as `CODE: "message"`.
pub(crate) fn describe(status: &Status) -> String {
    format!("{:?}: {:?}", status.code(), status.message())
}

/// Reads the rest of a response stream.
pub(crate) async fn drain(
    stream: &mut Streaming<StreamingOutputCallResponse>,
) -> Result<Vec<StreamingOutputCallResponse>, Status> {
    let mut responses = Vec::new();
    while let Some(response) = stream.message().await? {
        responses.push(response);
    }
    Ok(responses)
}

/// A request stream the case feeds message by message; dropping the sender half-closes it.
pub(crate) fn request_channel<T: Send + 'static>() -> (
    mpsc::UnboundedSender<T>,
    impl futures_util::Stream<Item = T> + Send + 'static,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    (
        tx,
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)),
    )
}
