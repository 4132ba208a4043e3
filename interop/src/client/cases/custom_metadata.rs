//! custom_metadata: ASCII initial and binary trailing metadata echoed back, on a unary and on
//! a full-duplex call.

use rill::{MetadataMap, Response};

use crate::client::support::{
    drain, ok, output_request, simple_request, LARGE_REQUEST, LARGE_RESPONSE,
};
use crate::client::{CaseResult, Ctx};
use crate::server::{ECHO_INITIAL_KEY, ECHO_TRAILING_KEY};

const INITIAL_VALUE: &str = "test_initial_metadata_value";
const TRAILING_VALUE: [u8; 3] = [0xab, 0xab, 0xab];

fn with_echo<T>(message: T) -> Result<rill::Request<T>, String> {
    let mut request = rill::Request::new(message);
    let metadata = request.metadata_mut();
    metadata
        .insert(ECHO_INITIAL_KEY, INITIAL_VALUE)
        .map_err(|e| e.to_string())?;
    metadata
        .insert_bin(ECHO_TRAILING_KEY, TRAILING_VALUE)
        .map_err(|e| e.to_string())?;
    Ok(request)
}

fn check_echo<T>(what: &str, response: &Response<T>, trailers: &MetadataMap) -> CaseResult {
    let initial = response.metadata().get(ECHO_INITIAL_KEY);
    ensure!(
        initial == Some(INITIAL_VALUE),
        "{what}: initial metadata {ECHO_INITIAL_KEY} is {initial:?}"
    );
    let trailing = trailers.get_bin(ECHO_TRAILING_KEY);
    ensure!(
        matches!(&trailing, Some(Ok(value)) if value[..] == TRAILING_VALUE),
        "{what}: trailing metadata {ECHO_TRAILING_KEY} is {trailing:?}"
    );
    Ok(())
}

pub(super) async fn run(ctx: &Ctx) -> CaseResult {
    let client = ctx.test_service();
    let request = with_echo(simple_request(LARGE_RESPONSE, LARGE_REQUEST))?;
    let response = ok("UnaryCall", client.unary_call(request).await)?;
    check_echo("UnaryCall", &response, response.trailers())?;

    let message = output_request(&[LARGE_RESPONSE], LARGE_REQUEST);
    let request = with_echo(futures_util::stream::iter([message]))?;
    let mut response = ok("FullDuplexCall", client.full_duplex_call(request).await)?;
    let responses = ok("FullDuplexCall", drain(response.get_mut()).await)?;
    ensure!(
        responses.len() == 1,
        "FullDuplexCall: {} responses instead of 1",
        responses.len()
    );
    let trailers = response.get_mut().trailers().cloned().unwrap_or_default();
    check_echo("FullDuplexCall", &response, &trailers)
}
