//! Client-side health checking (grpc/grpc `doc/health-checking.md`): a READY subchannel
//! watches `grpc.health.v1.Health/Watch` and is usable only while the server says SERVING.
//!
//! The two tiny messages are encoded here with prost, since `rill-health` depends on `rill`.

use std::future::poll_fn;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{header, HeaderValue};
use prost::Message;

use crate::transport::client::Connection;
use crate::transport::RecvBody;
use crate::{Code, Status};

const WATCH_PATH: &str = "/grpc.health.v1.Health/Watch";
const SERVING: i32 = 1;
/// Largest health response accepted (it is one enum).
const MAX_MESSAGE: usize = 4096;

#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    #[prost(enumeration = "i32", tag = "1")]
    status: i32,
}

/// What the health stream says about the subchannel.
#[derive(Clone, Debug)]
pub(super) enum Health {
    /// SERVING (or the server has no health service: checking is off).
    Serving,
    /// Any other status, or the stream broke: not usable until SERVING again.
    NotServing(Status),
}

/// Watches `service` over `connection`, reporting each change through `report`, until the
/// connection ends; a broken stream is retried after a backoff.
pub(super) async fn watch(
    connection: Connection,
    scheme: &str,
    authority: &str,
    service: &str,
    mut report: impl FnMut(Health),
) {
    let mut delay = Duration::from_secs(1);
    loop {
        match watch_once(&connection, scheme, authority, service, &mut report).await {
            Ok(()) => {
                // Health checking is off (UNIMPLEMENTED): usable as long as it is connected.
                report(Health::Serving);
                return;
            }
            Err(status) => {
                if connection.is_closed() {
                    return;
                }
                tracing::debug!(%status, "health watch failed; retrying");
                report(Health::NotServing(status));
            }
        }
        tokio::select! {
            _ = connection.closed() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

async fn watch_once(
    connection: &Connection,
    scheme: &str,
    authority: &str,
    service: &str,
    report: &mut impl FnMut(Health),
) -> Result<(), Status> {
    let uri = http::Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(WATCH_PATH)
        .build()
        .map_err(|e| Status::internal(format!("health check request: {e}")))?;
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(uri)
        .body(())
        .map_err(|e| Status::internal(format!("health check request: {e}")))?;
    let headers = request.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    let message = HealthCheckRequest {
        service: service.to_string(),
    }
    .encode_to_vec();
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(message.len() as u32);
    frame.put_slice(&message);
    let (mut send, pending) = connection.start_internal_call(request).await?;
    send.send_data(frame.freeze(), true).await?;
    let (head, mut body) = pending.head().await?;
    if let Some(status) = Status::from_headers(&head.headers) {
        return ended(status);
    }
    if head.status != http::StatusCode::OK {
        return Err(Status::from_http_status(head.status.as_u16()));
    }
    let mut buffer = BytesMut::new();
    while let Some(chunk) = poll_fn(|cx| body.poll_data(cx)).await {
        buffer.extend_from_slice(&chunk?);
        while let Some(message) = next_message(&mut buffer)? {
            let response = HealthCheckResponse::decode(message)
                .map_err(|e| Status::internal(format!("invalid health response: {e}")))?;
            report(if response.status == SERVING {
                Health::Serving
            } else {
                Health::NotServing(Status::unavailable(format!(
                    "health check: the server is not serving (status {})",
                    response.status
                )))
            });
        }
    }
    ended(trailer_status(&mut body).await)
}

async fn trailer_status(body: &mut RecvBody) -> Status {
    match poll_fn(|cx| body.poll_trailers(cx)).await {
        Ok(Some(trailers)) => Status::from_headers(&trailers)
            .unwrap_or_else(|| Status::internal("health stream ended without grpc-status")),
        Ok(None) => Status::internal("health stream ended without trailers"),
        Err(status) => status,
    }
}

/// The end of the stream: UNIMPLEMENTED turns health checking off; anything else is retried.
fn ended(status: Status) -> Result<(), Status> {
    if status.code() == Code::Unimplemented {
        tracing::warn!("the server does not implement grpc.health.v1.Health: health checking is off for this subchannel");
        return Ok(());
    }
    Err(if status.code() == Code::Ok {
        Status::unavailable("the health stream ended")
    } else {
        status
    })
}

/// One whole gRPC message off the front of `buffer`, if there is one.
fn next_message(buffer: &mut BytesMut) -> Result<Option<Bytes>, Status> {
    if buffer.len() < 5 {
        return Ok(None);
    }
    if buffer[0] != 0 {
        return Err(Status::internal(
            "compressed health response was not asked for",
        ));
    }
    let len = u32::from_be_bytes([buffer[1], buffer[2], buffer[3], buffer[4]]) as usize;
    if len > MAX_MESSAGE {
        return Err(Status::resource_exhausted("health response too large"));
    }
    if buffer.len() < 5 + len {
        return Ok(None);
    }
    buffer.advance(5);
    Ok(Some(buffer.split_to(len).freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_split_and_checked() {
        let mut buffer = BytesMut::new();
        let body = HealthCheckResponse { status: SERVING }.encode_to_vec();
        buffer.put_u8(0);
        buffer.put_u32(body.len() as u32);
        assert_eq!(next_message(&mut buffer).unwrap(), None);
        buffer.put_slice(&body);
        let message = next_message(&mut buffer).unwrap().unwrap();
        assert_eq!(
            HealthCheckResponse::decode(message).unwrap().status,
            SERVING
        );
        assert!(buffer.is_empty());
        buffer.put_slice(&[1, 0, 0, 0, 0]);
        assert!(next_message(&mut buffer).is_err());
        let mut huge = BytesMut::from(&[0u8, 0xff, 0xff, 0xff, 0xff][..]);
        assert!(next_message(&mut huge).is_err());
    }

    #[test]
    fn unimplemented_turns_checking_off() {
        assert!(ended(Status::new(Code::Unimplemented, "")).is_ok());
        assert_eq!(
            ended(Status::new(Code::Ok, "")).unwrap_err().code(),
            Code::Unavailable
        );
    }
}
