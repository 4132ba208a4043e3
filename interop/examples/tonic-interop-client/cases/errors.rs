//! Statuses, deadlines and metadata: timeout_on_sleeping_server, custom_metadata,
//! status_code_and_message, special_status_message, unimplemented_method,
//! unimplemented_service.

use std::time::Duration;

use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Request};

use crate::ctx::Ctx;
use crate::pb;
use crate::support::{
    drain, echo_status, expect_status, ok, output_request, request_channel, simple_request, zeros,
    CaseResult, LARGE_REQUEST, LARGE_RESPONSE,
};

const ECHO_INITIAL_KEY: &str = "x-grpc-test-echo-initial";
const ECHO_TRAILING_KEY: &str = "x-grpc-test-echo-trailing-bin";
const INITIAL_VALUE: &str = "test_initial_metadata_value";
const TRAILING_VALUE: [u8; 3] = [0xab, 0xab, 0xab];
const UNICODE_MESSAGE: &str = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";

/// tonic's own timer ends a call at its deadline with CANCELLED "Timeout expired", which is
/// how tonic reports DEADLINE_EXCEEDED; either is accepted.
pub(super) async fn timeout_on_sleeping_server(ctx: &Ctx) -> CaseResult {
    let (requests, stream) = request_channel();
    let first = pb::StreamingOutputCallRequest {
        payload: Some(zeros(27_182)),
        ..Default::default()
    };
    ensure!(requests.send(first).is_ok(), "could not queue the request");
    let mut request = Request::new(stream);
    request.set_timeout(Duration::from_millis(1));
    let mut client = ctx.client();
    let call = async {
        let mut responses = client.full_duplex_call(request).await?.into_inner();
        drain(&mut responses).await
    };
    // tonic enforces a deadline only until the response headers: a server that sends them
    // and then neither answers nor enforces the deadline would keep the call open.
    let Ok(result) = tokio::time::timeout(Duration::from_secs(10), call).await else {
        return Err("no DEADLINE_EXCEEDED within 10 s of a 1 ms deadline".into());
    };
    drop(requests);
    if let Err(status) = &result {
        let message = status.message().to_ascii_lowercase();
        if status.code() == Code::Cancelled && message.contains("timeout expired") {
            return Ok(());
        }
    }
    expect_status(
        "FullDuplexCall with a 1 ms deadline",
        result,
        Code::DeadlineExceeded,
        None,
    )
}

fn add_echo(metadata: &mut MetadataMap) -> CaseResult {
    let value = INITIAL_VALUE.parse().map_err(|e| format!("{e:?}"))?;
    metadata.insert(ECHO_INITIAL_KEY, value);
    metadata.insert_bin(
        ECHO_TRAILING_KEY,
        MetadataValue::from_bytes(&TRAILING_VALUE),
    );
    Ok(())
}

fn check_echo(what: &str, initial: &MetadataMap, trailing: &MetadataMap) -> CaseResult {
    let value = initial.get(ECHO_INITIAL_KEY).and_then(|v| v.to_str().ok());
    ensure!(
        value == Some(INITIAL_VALUE),
        "{what}: initial metadata {ECHO_INITIAL_KEY} is {value:?}"
    );
    let value = trailing
        .get_bin(ECHO_TRAILING_KEY)
        .and_then(|v| v.to_bytes().ok());
    ensure!(
        value.as_deref() == Some(&TRAILING_VALUE[..]),
        "{what}: trailing metadata {ECHO_TRAILING_KEY} is {value:?}"
    );
    Ok(())
}

pub(super) async fn custom_metadata(ctx: &Ctx) -> CaseResult {
    let mut client = ctx.client();
    let mut request = Request::new(simple_request(LARGE_RESPONSE, LARGE_REQUEST));
    add_echo(request.metadata_mut())?;
    let response = ok("UnaryCall", client.unary_call(request).await)?;
    // tonic merges a unary call's trailers into its metadata.
    check_echo("UnaryCall", response.metadata(), response.metadata())?;

    let message = output_request(&[LARGE_RESPONSE], LARGE_REQUEST);
    let mut request = Request::new(futures_util::stream::iter([message]));
    add_echo(request.metadata_mut())?;
    let response = ok("FullDuplexCall", client.full_duplex_call(request).await)?;
    let initial = response.metadata().clone();
    let mut stream = response.into_inner();
    let responses = ok("FullDuplexCall", drain(&mut stream).await)?;
    ensure!(
        responses.len() == 1,
        "FullDuplexCall: {} responses instead of 1",
        responses.len()
    );
    let trailers = ok("FullDuplexCall trailers", stream.trailers().await)?.unwrap_or_default();
    check_echo("FullDuplexCall", &initial, &trailers)
}

pub(super) async fn status_code_and_message(ctx: &Ctx) -> CaseResult {
    let mut client = ctx.client();
    let message = "test status message";
    let request = pb::SimpleRequest {
        response_status: echo_status(Code::Unknown, message),
        ..Default::default()
    };
    expect_status(
        "UnaryCall",
        client.unary_call(request).await,
        Code::Unknown,
        Some(message),
    )?;
    let request = pb::StreamingOutputCallRequest {
        response_status: echo_status(Code::Unknown, message),
        ..Default::default()
    };
    let result = async {
        let requests = futures_util::stream::iter([request]);
        let mut responses = client.full_duplex_call(requests).await?.into_inner();
        drain(&mut responses).await
    }
    .await;
    expect_status("FullDuplexCall", result, Code::Unknown, Some(message))
}

pub(super) async fn special_status_message(ctx: &Ctx) -> CaseResult {
    let request = pb::SimpleRequest {
        response_status: echo_status(Code::Unknown, UNICODE_MESSAGE),
        ..Default::default()
    };
    let result = ctx.client().unary_call(request).await;
    expect_status("UnaryCall", result, Code::Unknown, Some(UNICODE_MESSAGE))
}

pub(super) async fn unimplemented_method(ctx: &Ctx) -> CaseResult {
    let result = ctx.client().unimplemented_call(pb::Empty {}).await;
    expect_status(
        "TestService/UnimplementedCall",
        result,
        Code::Unimplemented,
        None,
    )
}

pub(super) async fn unimplemented_service(ctx: &Ctx) -> CaseResult {
    let result = ctx.unimplemented().unimplemented_call(pb::Empty {}).await;
    expect_status(
        "UnimplementedService/UnimplementedCall",
        result,
        Code::Unimplemented,
        None,
    )
}
