//! What the cases share: the spec's sizes, messages built from them, and checks.

use std::fmt::Debug;

use tokio::sync::mpsc;
use tonic::{Code, Status, Streaming};

use crate::pb;

pub(crate) const LARGE_REQUEST: usize = 271_828;
pub(crate) const LARGE_RESPONSE: usize = 314_159;
pub(crate) const REQUEST_SIZES: [usize; 4] = [27_182, 8, 1_828, 45_904];
pub(crate) const RESPONSE_SIZES: [usize; 4] = [31_415, 9, 2_653, 58_979];

/// A case's outcome: `Err` says why it failed.
pub(crate) type CaseResult = Result<(), String>;

pub(crate) fn zeros(size: usize) -> pb::Payload {
    pb::Payload {
        r#type: pb::PayloadType::Compressable.into(),
        body: vec![0; size],
    }
}

pub(crate) fn size_i32(size: usize) -> i32 {
    i32::try_from(size).unwrap_or(i32::MAX)
}

pub(crate) fn simple_request(response: usize, request: usize) -> pb::SimpleRequest {
    pb::SimpleRequest {
        response_type: pb::PayloadType::Compressable.into(),
        response_size: size_i32(response),
        payload: Some(zeros(request)),
        ..Default::default()
    }
}

pub(crate) fn output_request(sizes: &[usize], request: usize) -> pb::StreamingOutputCallRequest {
    pb::StreamingOutputCallRequest {
        response_type: pb::PayloadType::Compressable.into(),
        response_parameters: sizes
            .iter()
            .map(|&size| pb::ResponseParameters {
                size: size_i32(size),
                ..Default::default()
            })
            .collect(),
        payload: (request > 0).then(|| zeros(request)),
        ..Default::default()
    }
}

pub(crate) fn echo_status(code: Code, message: &str) -> Option<pb::EchoStatus> {
    Some(pb::EchoStatus {
        code: code as i32,
        message: message.to_string(),
    })
}

pub(crate) fn check_payload(what: &str, payload: Option<&pb::Payload>, size: usize) -> CaseResult {
    let Some(payload) = payload else {
        return Err(format!("{what}: no payload"));
    };
    ensure!(
        payload.r#type == pb::PayloadType::Compressable as i32,
        "{what}: payload type {} instead of COMPRESSABLE",
        payload.r#type
    );
    ensure!(
        payload.body.len() == size && payload.body.iter().all(|&b| b == 0),
        "{what}: payload of {} bytes instead of {size} zeros",
        payload.body.len()
    );
    Ok(())
}

pub(crate) fn check_sizes(
    what: &str,
    responses: &[pb::StreamingOutputCallResponse],
    sizes: &[usize],
) -> CaseResult {
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

pub(crate) fn describe(status: &Status) -> String {
    format!("{:?}: {:?}", status.code(), status.message())
}

pub(crate) fn ok<T>(what: &str, result: Result<T, Status>) -> Result<T, String> {
    result.map_err(|status| format!("{what} failed: {}", describe(&status)))
}

pub(crate) fn expect_status<T: Debug>(
    what: &str,
    result: Result<T, Status>,
    code: Code,
    message: Option<&str>,
) -> CaseResult {
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

pub(crate) async fn drain(
    stream: &mut Streaming<pb::StreamingOutputCallResponse>,
) -> Result<Vec<pb::StreamingOutputCallResponse>, Status> {
    let mut responses = Vec::new();
    while let Some(response) = stream.message().await? {
        responses.push(response);
    }
    Ok(responses)
}

/// A request stream fed message by message; dropping the sender half-closes it.
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

/// The Compressed-Flag of response message `index`, read at the HTTP level.
pub(crate) fn response_compressed<T>(response: &tonic::Response<T>, index: usize) -> Option<bool> {
    response
        .extensions()
        .get::<crate::reframe::MessageFlags>()
        .and_then(|flags| flags.compressed(index))
}
