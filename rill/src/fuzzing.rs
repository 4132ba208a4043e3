//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): each feeds arbitrary
//! bytes to one parser and checks it answers with a value or an error, never a panic or hang.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::codec::FrameDecoder;
use crate::compression::CompressionEncoding;
use crate::{MetadataMap, Status};

/// The message deframer: the first byte picks the encoding and split points, the rest is the
/// body, pushed in chunks of varying size.
pub fn deframe(data: &[u8]) {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let encoding = match control % 4 {
        0 => None,
        n => Some(CompressionEncoding::ALL[usize::from(n - 1)]),
    };
    let mut decoder = FrameDecoder::new(64 * 1024, encoding);
    let step = usize::from(control / 4) + 1;
    for chunk in body.chunks(step) {
        decoder.push(Bytes::copy_from_slice(chunk));
        while let Ok(Some(message)) = decoder.next_message() {
            assert!(message.len() <= 64 * 1024);
        }
    }
    let _ = decoder.finish();
}

/// The `grpc-timeout` parser; a parsed value formats back to a header that parses again.
pub fn grpc_timeout(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(timeout) = crate::deadline::parse_grpc_timeout(text) {
        let formatted = crate::deadline::format_grpc_timeout(timeout);
        let again = crate::deadline::parse_grpc_timeout(&formatted);
        assert!(matches!(again, Ok(d) if d >= timeout || d >= Duration::from_secs(99_999_999)));
    }
}

/// Splits `data` into header pairs at NUL bytes: name, value, name, value…
fn headers(data: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    let mut parts = data.split(|&b| b == 0);
    while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            map.append(name, value);
        }
    }
    map
}

/// Received metadata: filtering of reserved headers and `-bin` decoding.
pub fn metadata(data: &[u8]) {
    let map = MetadataMap::from_headers(headers(data));
    for key in map.keys() {
        let _ = map.get_all(key);
        let _ = map.get_all_bin(key);
    }
    let mut out = HeaderMap::new();
    map.extend_headers(&mut out);
}

/// Status from trailers: `grpc-status`, percent-decoding of `grpc-message`,
/// `grpc-status-details-bin`; what is decoded encodes again.
pub fn status_headers(data: &[u8]) {
    let mut map = headers(data);
    if let Some((status, rest)) = data.split_first() {
        if let Ok(message) = HeaderValue::from_bytes(rest) {
            map.insert("grpc-status", HeaderValue::from(u16::from(*status) % 20));
            map.insert("grpc-message", message);
        }
    }
    if let Some(status) = Status::from_headers(&map) {
        let _ = status.error_details();
        let mut out = HeaderMap::new();
        status.add_to_headers(&mut out);
        let back = Status::from_headers(&out).map(|s| s.message().to_string());
        assert_eq!(back.as_deref(), Some(status.message()));
    }
}

/// `google.rpc.Status` details decoding.
pub fn status_details(data: &[u8]) {
    if let Ok(details) = crate::status::details::ErrorDetails::decode(data) {
        let _ = details.encode(crate::Code::Internal, "fuzz");
    }
}

/// W3C trace context: `traceparent` and `tracestate` parsing; what parses formats back to a
/// value that parses to the same thing.
pub fn trace_context(data: &[u8]) {
    use crate::observability::{parse_tracestate, TraceContext, TraceParent};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parent) = TraceParent::parse(text) {
        let formatted = parent.to_string();
        assert_eq!(formatted.len(), 55);
        assert_eq!(TraceParent::parse(&formatted), Ok(parent));
    }
    if let Some(state) = parse_tracestate(text) {
        assert_eq!(parse_tracestate(&state).as_deref(), Some(state.as_str()));
    }
    let (traceparent, tracestate) = text.split_once('\n').unwrap_or((text, text));
    let context = TraceContext::from_headers(Some(traceparent), Some(tracestate));
    assert_eq!(
        TraceParent::parse(&context.traceparent().to_string()).map(|p| p.trace_id),
        Ok(context.trace_id())
    );
}

/// The JSON service config parser; whatever it accepts answers every lookup.
pub fn service_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = crate::service_config::ServiceConfig::from_json(text) {
        let _ = config.method_config("/a.B/C");
        let _ = config.select_load_balancing(|name| name == "round_robin");
        if let Some(throttling) = config.retry_throttling() {
            assert!(throttling.max_tokens > 0 && throttling.token_ratio > 0.0);
        }
    }
}

/// The native HTTP/2 transport's parsers: frames (with padding and size checks), HPACK
/// decoding under a small list limit, and request-head validation.
pub fn http2_frames(data: &[u8]) {
    use crate::transport::http2::{frame, hpack};
    let mut decoder = hpack::Decoder::new(4096);
    let mut rest = data;
    while rest.len() >= frame::HEADER_LEN {
        let head = frame::Head::parse(rest);
        let len = (head.len as usize).min(rest.len() - frame::HEADER_LEN);
        let payload = Bytes::copy_from_slice(&rest[frame::HEADER_LEN..frame::HEADER_LEN + len]);
        rest = &rest[frame::HEADER_LEN + len..];
        let head = frame::Head {
            len: len as u32,
            ..head
        };
        if let Ok(frame::Frame::Headers { fragment, .. }) = frame::parse(head, payload) {
            if let Ok(block) = decoder.decode(&fragment) {
                let _ = crate::transport::http2::request_head(block.fields);
            }
        }
    }
    let _ = hpack::Decoder::new(1 << 20).decode(data);
}

/// A whole server connection fed raw bytes (preface, frames, garbage): it must end, quickly.
pub fn server_connection(data: &[u8]) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let input = data.to_vec();
    runtime.block_on(async move {
        use tokio::io::AsyncWriteExt;
        let (mut client, server_io) = tokio::io::duplex(1 << 16);
        let server = crate::server::Server::builder()
            .handshake_timeout(Duration::from_millis(100))
            .serve_connection(server_io);
        let serving = tokio::spawn(server);
        let _ = client.write_all(&input).await;
        drop(client);
        let ended = tokio::time::timeout(Duration::from_secs(5), serving).await;
        assert!(
            ended.is_ok(),
            "server connection did not end after the peer closed"
        );
    });
}

/// rill's HTTP/2 client connection against a server that sends SETTINGS and then `data`
/// (and closes): the call in flight ends with a response or a status, never a panic or hang.
pub fn client_connection(data: &[u8]) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let input = data.to_vec();
    runtime.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Only the first connection gets the input; later ones are refused (a call the first
        // one failed before sending would otherwise retry on a new one until its deadline).
        let first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let channel = crate::Channel::with_connector("fuzz.test", move || {
            let input = input.clone();
            let first = first.swap(false, std::sync::atomic::Ordering::Relaxed);
            async move {
                if !first {
                    return Err(std::io::ErrorKind::ConnectionRefused.into());
                }
                let (client_io, mut server) = tokio::io::duplex(1 << 16);
                tokio::spawn(async move {
                    let settings = [0, 0, 0, 4, 0, 0, 0, 0, 0];
                    let _ = server.write_all(&settings).await;
                    let _ = server.write_all(&input).await;
                    // Read what the client sent, then close.
                    let mut sink = [0u8; 4096];
                    let _ = tokio::time::timeout(Duration::from_millis(20), async {
                        while matches!(server.read(&mut sink).await, Ok(n) if n > 0) {}
                    })
                    .await;
                });
                Ok(client_io)
            }
        });
        let client = crate::Client::new(channel);
        let mut request = crate::Request::new(());
        request.set_timeout(Duration::from_secs(1));
        let call = client.unary::<(), ()>("/fuzz.Service/Call", request);
        let ended = tokio::time::timeout(Duration::from_secs(5), call).await;
        assert!(ended.is_ok(), "the call did not end");
    });
}

/// The gRPC-Web `-text` body decoder: the first byte picks the chunk size; decoding chunk by
/// chunk agrees with decoding at once, and what decodes survives a round trip.
pub fn grpc_web_text(data: &[u8]) {
    use crate::web::codec::{decode_text, Mode, TextDecoder};
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let whole = decode_text(body);
    let mut decoder = TextDecoder::default();
    let mut out = bytes::BytesMut::new();
    let chunked = body
        .chunks(usize::from(control) + 1)
        .try_for_each(|chunk| decoder.push(chunk, &mut out))
        .and_then(|()| decoder.finish(&mut out))
        .map(|()| out.freeze());
    assert_eq!(
        whole.is_ok(),
        chunked.is_ok(),
        "chunking changed the outcome"
    );
    if let (Ok(whole), Ok(chunked)) = (whole, chunked) {
        assert_eq!(whole, chunked);
        assert!(whole.len() <= body.len() / 4 * 3 + 3);
        let again = decode_text(&Mode::Text.encode_chunk(whole.clone()));
        assert_eq!(again.as_ref(), Ok(&whole));
    }
}

/// The HTTP/1.1 request head parser and chunked body decoder used for gRPC-Web.
pub fn http1_request(data: &[u8]) {
    let _ = crate::transport::http1::parse_head(data);
    let mut decoder = crate::transport::http1::ChunkedDecoder::new(64 * 1024);
    let mut buf = bytes::BytesMut::new();
    for chunk in data.chunks(7) {
        buf.extend_from_slice(chunk);
        match decoder.decode(&mut buf) {
            Ok(false) => {}
            Ok(true) | Err(_) => break,
        }
    }
    assert!(decoder.body.len() <= 64 * 1024);
}

/// A gRPC-Web enabled server connection fed raw bytes (HTTP/1.1 requests, garbage): it must
/// end once the peer closes.
pub fn grpc_web_connection(data: &[u8]) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let input = data.to_vec();
    runtime.block_on(async move {
        use tokio::io::AsyncWriteExt;
        let (mut client, server_io) = tokio::io::duplex(1 << 16);
        let server = crate::server::Server::builder()
            .accept_grpc_web(true)
            .handshake_timeout(Duration::from_millis(100))
            .serve_connection(server_io);
        let serving = tokio::spawn(server);
        let _ = client.write_all(&input).await;
        drop(client);
        let ended = tokio::time::timeout(Duration::from_secs(5), serving).await;
        assert!(
            ended.is_ok(),
            "web connection did not end after the peer closed"
        );
    });
}

/// Load-balancing parsers: the bytes as a `loadBalancingConfig` JSON (every policy's parser)
/// and as an ORCA load report; each answers with a value or an error.
pub fn lb_config(data: &[u8]) {
    let _ = crate::balancer::LoadReport::from_bytes(data);
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let registry = crate::balancer::LbPolicyRegistry::new();
    let _ = registry.select(&json);
    for name in [
        "pick_first",
        "round_robin",
        "least_request_experimental",
        "weighted_round_robin",
        "ring_hash_experimental",
        "outlier_detection_experimental",
    ] {
        if let Ok(policy) = registry.build(name, &json) {
            drop(policy.build());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator, so the entry points run on every `cargo test`.
    fn inputs() -> impl Iterator<Item = Vec<u8>> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        (0..300).map(move |i| {
            let len = (i * 7) % 97;
            (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect()
        })
    }

    #[test]
    fn parsers_survive_arbitrary_input() {
        let seeds: Vec<Vec<u8>> = vec![
            vec![0, 0, 0, 0, 0, 0],
            vec![4, 1, 0, 0, 0, 3, 1, 2, 3],
            b"\x00grpc-status\x0099\x00x-bin\x00!!".to_vec(),
            b"1H".to_vec(),
            br#"{"methodConfig": [{"name": [{}], "timeout": "1.5s"}]}"#.to_vec(),
            b"99999999n".to_vec(),
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\nk=v,a@b=c".to_vec(),
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00".to_vec(),
            b"\x03AAAAAAE=gAAAAA9ncnBjLXN0YXR1czogMA0K".to_vec(),
            b"POST /a/b HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
            b"5;x\r\nhello\r\n0\r\n\r\n".to_vec(),
        ];
        for input in seeds.into_iter().chain(inputs()) {
            deframe(&input);
            grpc_timeout(&input);
            metadata(&input);
            status_headers(&input);
            status_details(&input);
            trace_context(&input);
            grpc_web_text(&input);
            http1_request(&input);
            service_config(&input);
            lb_config(&input);
            http2_frames(&input);
        }
        for input in inputs().take(20) {
            server_connection(&input);
            grpc_web_connection(&input);
            client_connection(&input);
        }
        // A whole response (head, one empty message, trailers), then the same cut short.
        let response = b"\x00\x00\x14\x01\x04\x00\x00\x00\x01\x88\x0f\x10\x10application/grpc\
            \x00\x00\x05\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\
            \x00\x00\x0f\x01\x05\x00\x00\x00\x01\x00\x0bgrpc-status\x010";
        for cut in [response.len(), 30, 9] {
            client_connection(&response[..cut]);
        }
        grpc_web_connection(
            b"POST /x/y HTTP/1.1\r\ncontent-type: application/grpc-web\r\ncontent-length: 5\r\n\r\n\0\0\0\0\0",
        );
    }
}

#[cfg(test)]
mod lb_tests {
    #[test]
    fn lb_parsers_survive_odd_input() {
        for input in [
            &b"[{\"ring_hash_experimental\": {\"minRingSize\": 1, \"maxRingSize\": 1}}]"[..],
            b"{\"childPolicy\": [{\"outlier_detection_experimental\": {\"childPolicy\": []}}]}",
            b"{\"choiceCount\": 18446744073709551615, \"blackoutPeriod\": \"99999999999999999999s\"}",
            b"\x09\x00\x00\x00\x00\x00\x00\xf0\x7f",
            b"",
        ] {
            super::lb_config(input);
        }
    }
}
