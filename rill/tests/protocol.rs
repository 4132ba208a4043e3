//! Wire-level tests: a raw HTTP/2 peer (h2) drives the rill server with exact frames, and a
//! raw HTTP/2 server answers the rill client, per grpc/grpc doc/PROTOCOL-HTTP2.md.

mod common;

use bytes::Bytes;
use common::*;
use http::{HeaderMap, Request as HttpRequest, Response as HttpResponse, StatusCode};
use rill::{Code, Request};

/// Raw client over an in-memory pipe to a rill server.
async fn raw_client() -> h2::client::SendRequest<Bytes> {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(
        echo_server()
            .0
            .max_decoding_message_size(1024)
            .serve_connection(server_io),
    );
    let (send, conn) = h2::client::handshake(client_io).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    send
}

struct Answer {
    http_status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    trailers: Option<HeaderMap>,
    /// The response ended with its headers (Trailers-Only, or a plain HTTP error).
    headers_only: bool,
}

impl Answer {
    /// grpc-status from trailers, or from the headers of a Trailers-Only response.
    fn grpc_status(&self) -> Option<i32> {
        let from = |h: &HeaderMap| {
            h.get("grpc-status")
                .map(|v| v.to_str().unwrap().parse().unwrap())
        };
        self.trailers
            .as_ref()
            .and_then(from)
            .or_else(|| from(&self.headers))
    }
}

async fn exchange(
    send: &mut h2::client::SendRequest<Bytes>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut req = HttpRequest::builder()
        .method(method)
        .uri(format!("http://localhost{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut ready = send.clone().ready().await.unwrap();
    let (response, mut stream) = ready.send_request(req.body(()).unwrap(), false).unwrap();
    stream
        .send_data(Bytes::copy_from_slice(body), true)
        .unwrap();
    let response = response.await.unwrap();
    let (parts, mut recv) = response.into_parts();
    let headers_only = recv.is_end_stream();
    let mut body = Vec::new();
    while let Some(chunk) = recv.data().await {
        body.extend_from_slice(&chunk.unwrap());
    }
    let trailers = recv.trailers().await.unwrap();
    Answer {
        http_status: parts.status,
        headers: parts.headers,
        body,
        trailers,
        headers_only,
    }
}

const GRPC: (&str, &str) = ("content-type", "application/grpc");
const TE: (&str, &str) = ("te", "trailers");

fn frame(compressed: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![compressed];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn encoded(msg: &Msg) -> Vec<u8> {
    frame(0, &prost::Message::encode_to_vec(msg))
}

#[tokio::test]
async fn non_post_is_405_and_wrong_content_type_is_415() {
    let mut send = raw_client().await;
    let answer = exchange(&mut send, "GET", UNARY, &[GRPC, TE], b"").await;
    assert_eq!(answer.http_status, StatusCode::METHOD_NOT_ALLOWED);
    for ct in [
        None,
        Some("text/plain"),
        Some("application/grpcx"),
        Some("application/json"),
    ] {
        let headers: Vec<_> = ct
            .map(|c| ("content-type", c))
            .into_iter()
            .chain([TE])
            .collect();
        let answer = exchange(&mut send, "POST", UNARY, &headers, b"").await;
        assert_eq!(
            answer.http_status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{ct:?}"
        );
    }
}

#[tokio::test]
async fn grpc_content_type_variants_are_accepted() {
    let mut send = raw_client().await;
    for ct in [
        "application/grpc",
        "application/grpc+proto",
        "application/grpc;charset=utf-8",
    ] {
        let answer = exchange(
            &mut send,
            "POST",
            UNARY,
            &[("content-type", ct), TE],
            &encoded(&Msg::text("hi")),
        )
        .await;
        assert_eq!(answer.grpc_status(), Some(0), "{ct}");
        assert_eq!(answer.headers["content-type"], "application/grpc");
        assert_eq!(
            &answer.body[5..],
            prost::Message::encode_to_vec(&Msg::text("hi")).as_slice()
        );
    }
}

#[tokio::test]
async fn unknown_method_gets_a_trailers_only_unimplemented() {
    let mut send = raw_client().await;
    let answer = exchange(&mut send, "POST", "/test.Echo/Missing", &[GRPC, TE], b"").await;
    assert_eq!(answer.http_status, StatusCode::OK);
    assert!(
        answer.headers_only,
        "Trailers-Only: status in the headers, END_STREAM on them"
    );
    assert_eq!(answer.grpc_status(), Some(Code::Unimplemented as i32));
}

#[tokio::test]
async fn messages_split_across_frames_and_packed_together() {
    let mut send = raw_client().await;
    // Three messages in one DATA frame, then one split byte by byte.
    let mut body = Vec::new();
    for n in 1..=3 {
        body.extend(encoded(&Msg {
            n,
            ..Msg::default()
        }));
    }
    let mut ready = send.clone().ready().await.unwrap();
    let req = HttpRequest::builder()
        .method("POST")
        .uri(format!("http://localhost{CLIENT_STREAM}"))
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let (response, mut stream) = ready.send_request(req, false).unwrap();
    stream.send_data(body.into(), false).unwrap();
    for byte in encoded(&Msg {
        n: 4,
        ..Msg::default()
    }) {
        stream
            .send_data(Bytes::copy_from_slice(&[byte]), false)
            .unwrap();
    }
    stream.send_data(Bytes::new(), true).unwrap();
    let (_, mut recv) = response.await.unwrap().into_parts();
    let mut bytes = Vec::new();
    while let Some(chunk) = recv.data().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    let reply: Msg = prost::Message::decode(&bytes[5..]).unwrap();
    assert_eq!(reply.n, 10);
    let _ = &mut send;
}

#[tokio::test]
async fn bad_input_gets_a_clear_status_and_the_server_keeps_serving() {
    let gzip_garbage = frame(1, b"definitely not gzip");
    let huge_prefix = [0u8, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3];
    let bomb = {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 10 << 20]).unwrap();
        frame(1, &enc.finish().unwrap())
    };
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        Vec<u8>,
        Code,
    );
    let cases: Vec<Case> = vec![
        (
            "truncated frame",
            vec![GRPC, TE],
            vec![0, 0, 0, 0, 10, 1, 2, 3],
            Code::Internal,
        ),
        (
            "truncated header",
            vec![GRPC, TE],
            vec![0, 0, 0],
            Code::Internal,
        ),
        ("no message", vec![GRPC, TE], vec![], Code::Internal),
        (
            "4 GiB length prefix",
            vec![GRPC, TE],
            huge_prefix.to_vec(),
            Code::ResourceExhausted,
        ),
        (
            "message over the limit",
            vec![GRPC, TE],
            frame(0, &[0x0a; 2048]),
            Code::ResourceExhausted,
        ),
        (
            "compressed flag, no encoding",
            vec![GRPC, TE],
            frame(1, b"x"),
            Code::Internal,
        ),
        ("bad flag", vec![GRPC, TE], frame(7, b""), Code::Internal),
        (
            "corrupt gzip",
            vec![GRPC, TE, ("grpc-encoding", "gzip")],
            gzip_garbage,
            Code::Internal,
        ),
        (
            "gzip bomb",
            vec![GRPC, TE, ("grpc-encoding", "gzip")],
            bomb,
            Code::ResourceExhausted,
        ),
        (
            "unknown encoding",
            vec![GRPC, TE, ("grpc-encoding", "br")],
            frame(1, b"x"),
            Code::Unimplemented,
        ),
        (
            "malformed timeout",
            vec![GRPC, TE, ("grpc-timeout", "soon")],
            encoded(&Msg::default()),
            Code::InvalidArgument,
        ),
        (
            "timeout too long",
            vec![GRPC, TE, ("grpc-timeout", "123456789S")],
            encoded(&Msg::default()),
            Code::InvalidArgument,
        ),
        (
            "bad binary metadata",
            vec![GRPC, TE, ("x-data-bin", "!!!not base64!!!")],
            encoded(&Msg::default()),
            Code::Internal,
        ),
        (
            "not protobuf",
            vec![GRPC, TE],
            frame(0, &[0xFF, 0xFF, 0xFF]),
            Code::Internal,
        ),
    ];
    let mut send = raw_client().await;
    for (name, headers, body, code) in cases {
        let answer = exchange(&mut send, "POST", UNARY, &headers, &body).await;
        assert_eq!(answer.http_status, StatusCode::OK, "{name}");
        assert_eq!(answer.grpc_status(), Some(code as i32), "{name}");
        if code == Code::Unimplemented {
            let accept = answer.headers["grpc-accept-encoding"].to_str().unwrap();
            assert!(accept.contains("gzip"), "{name}: {accept}");
        }
        let ok = exchange(
            &mut send,
            "POST",
            UNARY,
            &[GRPC, TE],
            &encoded(&Msg::text("ok")),
        )
        .await;
        assert_eq!(
            ok.grpc_status(),
            Some(0),
            "server still serves after {name}"
        );
    }
}

#[tokio::test]
async fn grpc_message_is_percent_encoded_on_the_wire() {
    let mut send = raw_client().await;
    let req = Msg {
        fail_code: Code::NotFound as i32,
        ..Msg::text("naïve 100%")
    };
    let answer = exchange(&mut send, "POST", UNARY, &[GRPC, TE], &encoded(&req)).await;
    assert_eq!(answer.grpc_status(), Some(5));
    let headers = answer.trailers.as_ref().unwrap_or(&answer.headers);
    assert_eq!(headers["grpc-message"], "na%C3%AFve 100%25");
}

/// A raw HTTP/2 server answering every stream with `head`, and an optional body + trailers.
async fn raw_server(status: u16, headers: &'static [(&'static str, &'static str)]) -> rill::Client {
    let (client_io, server_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let mut conn = h2::server::handshake(server_io).await.unwrap();
        while let Some(Ok((_req, mut respond))) = conn.accept().await {
            let mut resp = HttpResponse::builder().status(status);
            for (k, v) in headers {
                resp = resp.header(*k, *v);
            }
            let _ = respond.send_response(resp.body(()).unwrap(), true);
        }
    });
    rill::Client::new(rill::Channel::from_io(client_io))
}

#[tokio::test]
async fn client_maps_http_status_without_grpc_status() {
    let cases = [
        (400, Code::Internal),
        (401, Code::Unauthenticated),
        (403, Code::PermissionDenied),
        (404, Code::Unimplemented),
        (429, Code::Unavailable),
        (502, Code::Unavailable),
        (503, Code::Unavailable),
        (504, Code::Unavailable),
        (500, Code::Unknown),
    ];
    for (http, code) in cases {
        let client = raw_server(http, &[]).await;
        let err = client
            .unary::<Msg, Msg>(UNARY, Request::new(Msg::default()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "HTTP {http}");
    }
}

#[tokio::test]
async fn client_rejects_non_grpc_responses() {
    let client = raw_server(200, &[("content-type", "text/html")]).await;
    let err = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unknown);
    // Trailers-Only OK for a unary call means no message: a protocol violation.
    let client = raw_server(
        200,
        &[("content-type", "application/grpc"), ("grpc-status", "0")],
    )
    .await;
    let err = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    // Trailers-Only with an error carries that error and its message.
    let client = raw_server(
        200,
        &[
            ("content-type", "application/grpc"),
            ("grpc-status", "7"),
            ("grpc-message", "go%20away"),
        ],
    )
    .await;
    let err = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::default()))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::PermissionDenied, "go away")
    );
}

#[tokio::test]
async fn client_sends_the_protocol_headers() {
    let (client_io, server_io) = tokio::io::duplex(1 << 16);
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut conn = h2::server::handshake(server_io).await.unwrap();
        if let Some(Ok((req, mut respond))) = conn.accept().await {
            let _ = tx.send(req.into_parts().0);
            let resp = HttpResponse::builder()
                .header("content-type", "application/grpc")
                .header("grpc-status", "12")
                .body(())
                .unwrap();
            let _ = respond.send_response(resp, true);
            while conn.accept().await.is_some() {}
        }
    });
    let client = rill::Client::new(rill::Channel::from_io(client_io))
        .send_compressed(rill::compression::CompressionEncoding::Gzip);
    let mut req = Request::new(Msg::default());
    req.set_timeout(std::time::Duration::from_secs(10));
    req.metadata_mut().insert("x-custom", "v").unwrap();
    let _ = client.unary::<Msg, Msg>("/pkg.Svc/Method", req).await;
    let head = rx.await.unwrap();
    assert_eq!(head.method, "POST");
    assert_eq!(head.uri.path(), "/pkg.Svc/Method");
    let h = &head.headers;
    assert_eq!(h["content-type"], "application/grpc");
    assert_eq!(h["te"], "trailers");
    assert_eq!(h["grpc-encoding"], "gzip");
    assert!(h["grpc-accept-encoding"].to_str().unwrap().contains("gzip"));
    assert!(h["user-agent"].to_str().unwrap().starts_with("rill/"));
    assert_eq!(h["x-custom"], "v");
    let timeout = h["grpc-timeout"].to_str().unwrap();
    assert!(
        timeout.len() <= 9 && timeout.ends_with(['H', 'M', 'S', 'm', 'u', 'n']),
        "{timeout}"
    );
}
