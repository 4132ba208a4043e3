//! A scripted HTTP/2 server for the retry tests: it sees the raw headers
//! (`grpc-previous-rpc-attempts`), answers with any status and pushback, refuses streams,
//! sends GOAWAY, and notices cancellations.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::Message;
use rill::client::Endpoint;
use rill::service_config::ServiceConfig;
use rill::{Channel, Client, Code, Request};

use crate::common::Msg;

/// What the scripted server does with the n-th request it receives.
#[derive(Clone)]
pub enum Act {
    /// Reads the request, answers Trailers-Only with this code (and pushback, if any).
    Fail(Code, Option<&'static str>),
    /// Reads the request, answers with these messages and OK.
    Reply(Vec<Msg>),
    /// Resets the stream with REFUSED_STREAM without reading it.
    Refuse,
    /// Never answers; counts the client's cancellation.
    Hang,
}

pub type Script = Arc<dyn Fn(usize) -> Act + Send + Sync>;

#[derive(Default)]
pub struct Seen {
    /// Each request's `grpc-previous-rpc-attempts` and the messages it carried.
    pub requests: Mutex<Vec<(Option<String>, Vec<Msg>)>>,
    pub arrived: AtomicUsize,
    pub cancelled: AtomicUsize,
}

impl Seen {
    pub fn previous(&self) -> Vec<Option<String>> {
        let requests = self.requests.lock().unwrap();
        requests.iter().map(|(p, _)| p.clone()).collect()
    }
}

pub fn frame(msg: &Msg) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u8(0);
    buf.put_u32(msg.encoded_len() as u32);
    msg.encode(&mut buf).unwrap();
    buf.freeze()
}

pub async fn read_messages(body: &mut h2::RecvStream) -> Vec<Msg> {
    let mut data = BytesMut::new();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let mut data = data.freeze();
    let mut messages = Vec::new();
    while data.len() >= 5 {
        data.advance(1);
        let len = data.get_u32() as usize;
        messages.push(Msg::decode(data.split_to(len)).unwrap());
    }
    messages
}

pub async fn handle(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    act: Act,
    seen: Arc<Seen>,
) {
    let previous = request
        .headers()
        .get("grpc-previous-rpc-attempts")
        .map(|v| v.to_str().unwrap().to_string());
    let mut body = request.into_body();
    let record = |messages| {
        seen.requests
            .lock()
            .unwrap()
            .push((previous.clone(), messages))
    };
    let grpc = |status: http::StatusCode| {
        http::Response::builder()
            .status(status)
            .header("content-type", "application/grpc")
    };
    match act {
        Act::Refuse => {
            record(Vec::new());
            respond.send_reset(h2::Reason::REFUSED_STREAM);
        }
        Act::Hang => {
            record(Vec::new());
            let _ = std::future::poll_fn(|cx| respond.poll_reset(cx)).await;
            seen.cancelled.fetch_add(1, Ordering::SeqCst);
        }
        Act::Fail(code, pushback) => {
            record(read_messages(&mut body).await);
            let mut head = grpc(http::StatusCode::OK).header("grpc-status", code.as_i32());
            if let Some(pushback) = pushback {
                head = head.header("grpc-retry-pushback-ms", pushback);
            }
            let _ = respond.send_response(head.body(()).unwrap(), true);
        }
        Act::Reply(messages) => {
            record(read_messages(&mut body).await);
            let head = grpc(http::StatusCode::OK).body(()).unwrap();
            let Ok(mut send) = respond.send_response(head, false) else {
                return;
            };
            for msg in &messages {
                let _ = send.send_data(frame(msg), false);
            }
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", "0".parse().unwrap());
            let _ = send.send_trailers(trailers);
        }
    }
}

pub async fn serve<I>(io: I, script: Script, seen: Arc<Seen>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Ok(mut conn) = h2::server::handshake(io).await else {
        return;
    };
    while let Some(Ok((request, respond))) = conn.accept().await {
        let index = seen.arrived.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(handle(request, respond, script(index), seen.clone()));
    }
}

/// A client on an in-memory scripted server (usable under paused time), with `config`.
pub fn scripted(
    config: &str,
    script: impl Fn(usize) -> Act + Send + Sync + 'static,
) -> (Client, Arc<Seen>) {
    scripted_endpoint(config, script, |e| e)
}

pub fn scripted_endpoint(
    config: &str,
    script: impl Fn(usize) -> Act + Send + Sync + 'static,
    edit: impl FnOnce(Endpoint) -> Endpoint,
) -> (Client, Arc<Seen>) {
    let script: Script = Arc::new(script);
    let seen = Arc::new(Seen::default());
    let (s, sn) = (script.clone(), seen.clone());
    let endpoint = Channel::builder("127.0.0.1:1")
        .service_config(ServiceConfig::from_json(config).unwrap())
        .connector(move |_| {
            let (client, server) = tokio::io::duplex(1 << 20);
            tokio::spawn(serve(server, s.clone(), sn.clone()));
            async move { Ok(client) }
        });
    let channel = edit(endpoint).connect_lazy().unwrap();
    (Client::new(channel), seen)
}

pub fn retry_config(max_attempts: u32, codes: &str, extra: &str) -> String {
    format!(
        r#"{{"methodConfig": [{{"name": [{{"service": "test.Echo"}}],
            "retryPolicy": {{"maxAttempts": {max_attempts}, "initialBackoff": "0.01s",
              "maxBackoff": "0.05s", "backoffMultiplier": 2, "retryableStatusCodes": [{codes}]}}}}]
            {extra}}}"#
    )
}

pub fn ok(text: &str) -> Act {
    Act::Reply(vec![Msg::text(text)])
}

pub async fn unary(client: &Client, text: &str) -> Result<rill::Response<Msg>, rill::Status> {
    client
        .unary(crate::common::UNARY, Request::new(Msg::text(text)))
        .await
}

/// Speaks just enough HTTP/2 to take a call's HEADERS and answer GOAWAY with last stream id 0:
/// the call was above the last stream the server processed.
pub async fn goaway_server(mut io: tokio::io::DuplexStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Our SETTINGS (empty).
    if io.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.is_err() {
        return;
    }
    let mut preface = [0u8; 24];
    if io.read_exact(&mut preface).await.is_err() {
        return;
    }
    loop {
        let mut header = [0u8; 9];
        if io.read_exact(&mut header).await.is_err() {
            return;
        }
        let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0u8; len];
        if io.read_exact(&mut payload).await.is_err() {
            return;
        }
        match header[3] {
            // SETTINGS without ACK: acknowledge.
            4 if header[4] & 1 == 0 => {
                let _ = io.write_all(&[0, 0, 0, 4, 1, 0, 0, 0, 0]).await;
            }
            // HEADERS of the call: GOAWAY, last stream 0, NO_ERROR.
            1 => {
                let goaway = [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
                let _ = io.write_all(&goaway).await;
            }
            _ => {}
        }
    }
}

/// A channel whose first connection attempt is refused, then served by the scripted server.
pub fn flaky_connection_client(config: &str) -> Client {
    let script: Script = Arc::new(|_| ok("connected"));
    let seen = Arc::new(Seen::default());
    let attempts = Arc::new(AtomicUsize::new(0));
    let mut backoff = rill::client::BackoffConfig::default();
    backoff.initial_delay = Duration::from_millis(20);
    let channel = Channel::builder("127.0.0.1:1")
        .service_config(ServiceConfig::from_json(config).unwrap())
        .connect_backoff(backoff)
        .connector(move |_| {
            let first = attempts.fetch_add(1, Ordering::SeqCst) == 0;
            let (client, server) = tokio::io::duplex(1 << 20);
            if !first {
                tokio::spawn(serve(server, script.clone(), seen.clone()));
            }
            async move {
                if first {
                    return Err(std::io::ErrorKind::ConnectionRefused.into());
                }
                Ok(client)
            }
        })
        .connect_lazy()
        .unwrap();
    Client::new(channel)
}
