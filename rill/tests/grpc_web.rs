//! gRPC-Web end to end: raw HTTP/1.1 and HTTP/2 clients against a server on one TCP port that
//! also serves native gRPC (PROTOCOL-WEB: binary and -text bodies, trailers in the body,
//! Trailers-Only in the head, CORS, and bad input).

#[path = "common/certs.rs"]
mod certs;
mod common;

use std::time::Duration;

use base64::Engine as _;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use common::{echo_server, tcp_server, Msg, SERVER_STREAM, UNARY};
use prost::Message as _;
use rill::server::Server;
use rill::web::GrpcWebConfig;
use rill::{Channel, Client, Request, Response, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn frame(msg: &Msg) -> Vec<u8> {
    let body = msg.encode_to_vec();
    let mut out = vec![0];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// A gRPC-Web response body split into messages and the trailer block.
#[derive(Debug, Default)]
struct WebBody {
    messages: Vec<Msg>,
    trailers: Vec<(String, String)>,
    saw_trailer_frame: bool,
}

impl WebBody {
    fn parse(mut body: &[u8]) -> WebBody {
        let mut out = WebBody::default();
        while !body.is_empty() {
            assert!(body.len() >= 5, "truncated frame header");
            let flag = body[0];
            let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
            let payload = &body[5..5 + len];
            if flag & 0x80 != 0 {
                assert!(!out.saw_trailer_frame, "two trailer frames");
                out.saw_trailer_frame = true;
                for line in std::str::from_utf8(payload).unwrap().split("\r\n") {
                    if let Some((k, v)) = line.split_once(':') {
                        out.trailers.push((k.to_string(), v.trim().to_string()));
                    }
                }
            } else {
                assert!(!out.saw_trailer_frame, "message after trailers");
                out.messages.push(Msg::decode(payload).unwrap());
            }
            body = &body[5 + len..];
        }
        out
    }

    fn trailer(&self, key: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes a -text body made of separately padded base64 chunks.
fn decode_text(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let end = rest
            .chunks(4)
            .position(|q| q.contains(&b'='))
            .map_or(rest.len(), |i| (i + 1) * 4);
        out.extend(B64.decode(&rest[..end]).unwrap());
        rest = &rest[end..];
    }
    out
}

/// One HTTP/1.1 response, its body de-chunked.
#[derive(Debug)]
struct H1Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl H1Response {
    fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// A raw HTTP/1.1 client connection.
struct H1 {
    io: Box<dyn rill::transport::Io>,
    buf: BytesMut,
}

impl H1 {
    async fn connect(addr: std::net::SocketAddr) -> H1 {
        H1 {
            io: Box::new(TcpStream::connect(addr).await.unwrap()),
            buf: BytesMut::new(),
        }
    }

    async fn post(
        &mut self,
        path: &str,
        content_type: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> H1Response {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: {content_type}\r\nx-grpc-web: 1\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes).await;
        self.read_response().await
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }

    async fn fill(&mut self) -> bool {
        let n = tokio::time::timeout(Duration::from_secs(10), self.io.read_buf(&mut self.buf))
            .await
            .expect("response timed out")
            .unwrap_or(0);
        n > 0
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(pos);
                self.buf.advance(2);
                return String::from_utf8(line.to_vec()).unwrap();
            }
            assert!(self.fill().await, "connection closed mid-response");
        }
    }

    async fn read_response(&mut self) -> H1Response {
        let status_line = self.line().await;
        let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let line = self.line().await;
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').unwrap();
            headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
        }
        let mut resp = H1Response {
            status,
            headers,
            body: Vec::new(),
        };
        if resp.header("transfer-encoding") == Some("chunked") {
            loop {
                let size = usize::from_str_radix(&self.line().await, 16).unwrap();
                while self.buf.len() < size + 2 {
                    assert!(self.fill().await, "closed mid-chunk");
                }
                resp.body.extend_from_slice(&self.buf.split_to(size));
                self.buf.advance(2);
                if size == 0 {
                    break;
                }
            }
        } else if let Some(len) = resp.header("content-length") {
            let len: usize = len.parse().unwrap();
            while self.buf.len() < len {
                assert!(self.fill().await, "closed mid-body");
            }
            resp.body = self.buf.split_to(len).to_vec();
        }
        resp
    }

    /// Whether the server closed the connection (EOF with nothing more to read).
    async fn closed(&mut self) -> bool {
        self.buf.is_empty() && !self.fill().await
    }
}

async fn web_server(server: Server) -> std::net::SocketAddr {
    let (addr, tx, _handle) = tcp_server(server).await;
    // Keep the server up for the test's lifetime.
    std::mem::forget(tx);
    addr
}

async fn echo_web() -> std::net::SocketAddr {
    web_server(echo_server().0.accept_grpc_web(true)).await
}

#[tokio::test]
async fn http1_unary_binary_with_keep_alive() {
    let addr = echo_web().await;
    let mut conn = H1::connect(addr).await;
    for ct in ["application/grpc-web", "application/grpc-web+proto"] {
        let resp = conn
            .post(
                UNARY,
                ct,
                &[("x-echo", "meta")],
                &frame(&Msg::text("hello")),
            )
            .await;
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.header("content-type"),
            Some("application/grpc-web+proto")
        );
        assert_eq!(resp.header("x-echo"), Some("meta"));
        let body = WebBody::parse(&resp.body);
        assert_eq!(body.messages, vec![Msg::text("hello")]);
        assert_eq!(body.trailer("grpc-status"), Some("0"));
    }
}

#[tokio::test]
async fn http1_server_streaming_sends_each_message_then_trailers() {
    let addr = echo_web().await;
    let mut conn = H1::connect(addr).await;
    let req = Msg {
        text: "s".into(),
        n: 3,
        ..Msg::default()
    };
    let resp = conn
        .post(
            SERVER_STREAM,
            "application/grpc-web+proto",
            &[],
            &frame(&req),
        )
        .await;
    assert_eq!(resp.status, 200);
    let body = WebBody::parse(&resp.body);
    let texts: Vec<_> = body.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["s-0", "s-1", "s-2"]);
    assert_eq!(body.trailer("grpc-status"), Some("0"));

    // A stream that fails after its messages: the status is in the trailer frame.
    let req = Msg {
        text: "f".into(),
        n: 2,
        fail_code: rill::Code::Aborted as i32,
        ..Msg::default()
    };
    let resp = conn
        .post(
            SERVER_STREAM,
            "application/grpc-web+proto",
            &[],
            &frame(&req),
        )
        .await;
    let body = WebBody::parse(&resp.body);
    assert_eq!(body.messages.len(), 2);
    assert_eq!(body.trailer("grpc-status"), Some("10"));
    assert_eq!(body.trailer("grpc-message"), Some("stream failed"));
}

#[tokio::test]
async fn http1_errors_carry_status_and_message() {
    let addr = echo_web().await;
    let mut conn = H1::connect(addr).await;
    let req = Msg {
        text: "no such user".into(),
        fail_code: rill::Code::NotFound as i32,
        ..Msg::default()
    };
    // A handler error before any message is Trailers-Only: the status is in the head.
    let resp = conn
        .post(UNARY, "application/grpc-web+proto", &[], &frame(&req))
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("grpc-status"), Some("5"));
    assert_eq!(resp.header("grpc-message"), Some("no such user"));
    assert!(resp.body.is_empty());

    // Unknown method: UNIMPLEMENTED, as natively.
    let resp = conn
        .post(
            "/test.Echo/Nope",
            "application/grpc-web+proto",
            &[],
            &frame(&req),
        )
        .await;
    assert_eq!(resp.header("grpc-status"), Some("12"));

    // The deadline applies: grpc-timeout from the browser bounds the handler.
    let slow = Msg {
        sleep_ms: 2_000,
        ..Msg::default()
    };
    let resp = conn
        .post(
            UNARY,
            "application/grpc-web+proto",
            &[("grpc-timeout", "50m")],
            &frame(&slow),
        )
        .await;
    assert_eq!(resp.header("grpc-status"), Some("4"));
}

#[tokio::test]
async fn http1_text_mode_is_base64_both_ways() {
    let addr = echo_web().await;
    let mut conn = H1::connect(addr).await;
    let req = Msg {
        text: "t".into(),
        n: 2,
        ..Msg::default()
    };
    let body = B64.encode(frame(&req));
    let resp = conn
        .post(
            SERVER_STREAM,
            "application/grpc-web-text",
            &[],
            body.as_bytes(),
        )
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("application/grpc-web-text+proto")
    );
    assert!(resp
        .body
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b)));
    let body = WebBody::parse(&decode_text(&resp.body));
    let texts: Vec<_> = body.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["t-0", "t-1"]);
    assert_eq!(body.trailer("grpc-status"), Some("0"));

    // A request made of separately padded segments decodes as one stream.
    let bytes = frame(&Msg::text("seg"));
    let (a, b) = bytes.split_at(4);
    let body = format!("{}{}", B64.encode(a), B64.encode(b));
    let resp = conn
        .post(
            UNARY,
            "application/grpc-web-text+proto",
            &[],
            body.as_bytes(),
        )
        .await;
    let body = WebBody::parse(&decode_text(&resp.body));
    assert_eq!(body.messages, vec![Msg::text("seg")]);

    // A binary request asking for a text response with Accept.
    let resp = conn
        .post(
            UNARY,
            "application/grpc-web+proto",
            &[("accept", "application/grpc-web-text")],
            &frame(&Msg::text("acc")),
        )
        .await;
    assert_eq!(
        resp.header("content-type"),
        Some("application/grpc-web-text+proto")
    );
    let body = WebBody::parse(&decode_text(&resp.body));
    assert_eq!(body.messages, vec![Msg::text("acc")]);
}

#[tokio::test]
async fn http1_chunked_request_body() {
    let addr = echo_web().await;
    let mut conn = H1::connect(addr).await;
    let payload = frame(&Msg::text("chunky"));
    let (a, b) = payload.split_at(3);
    let mut req = format!(
        "POST {UNARY} HTTP/1.1\r\nhost: x\r\ncontent-type: application/grpc-web\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n",
        a.len()
    )
    .into_bytes();
    req.extend_from_slice(a);
    req.extend_from_slice(format!("\r\n{:x}\r\n", b.len()).as_bytes());
    req.extend_from_slice(b);
    req.extend_from_slice(b"\r\n0\r\n\r\n");
    conn.send_raw(&req).await;
    let resp = conn.read_response().await;
    assert_eq!(
        WebBody::parse(&resp.body).messages,
        vec![Msg::text("chunky")]
    );
}

#[tokio::test]
async fn cors_preflight_and_origins() {
    let config = GrpcWebConfig::new()
        .allow_origins(["http://app.example"])
        .allow_headers(["x-echo"]);
    let addr = web_server(echo_server().0.grpc_web_config(config)).await;
    let mut conn = H1::connect(addr).await;
    let preflight = format!(
        "OPTIONS {UNARY} HTTP/1.1\r\nhost: x\r\norigin: http://app.example\r\naccess-control-request-method: POST\r\naccess-control-request-headers: content-type,x-grpc-web,x-user-agent,grpc-timeout,x-echo\r\n\r\n"
    );
    conn.send_raw(preflight.as_bytes()).await;
    let resp = conn.read_response().await;
    assert_eq!(resp.status, 204);
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    let allowed = resp.header("access-control-allow-headers").unwrap();
    for h in [
        "content-type",
        "x-grpc-web",
        "x-user-agent",
        "grpc-timeout",
        "authorization",
        "x-echo",
    ] {
        assert!(allowed.split(", ").any(|a| a == h), "{h} not in {allowed}");
    }
    assert!(resp
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));

    // The actual call from the allowed origin: CORS headers expose the gRPC status.
    let resp = conn
        .post(
            UNARY,
            "application/grpc-web",
            &[("origin", "http://app.example")],
            &frame(&Msg::text("x")),
        )
        .await;
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    let exposed = resp.header("access-control-expose-headers").unwrap();
    assert!(exposed.contains("grpc-status") && exposed.contains("grpc-message"));
    assert_eq!(WebBody::parse(&resp.body).messages, vec![Msg::text("x")]);

    // Another origin is refused, preflight and call alike.
    let evil = preflight.replace("http://app.example", "http://evil.example");
    conn.send_raw(evil.as_bytes()).await;
    assert_eq!(conn.read_response().await.status, 403);
    let resp = conn
        .post(
            UNARY,
            "application/grpc-web",
            &[("origin", "http://evil.example")],
            &frame(&Msg::text("x")),
        )
        .await;
    assert_eq!(resp.status, 403);
    assert!(resp.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn default_config_echoes_any_origin() {
    let addr = echo_web().await;
    let mut conn = H1::connect(addr).await;
    let resp = conn
        .post(
            UNARY,
            "application/grpc-web",
            &[("origin", "http://localhost:1234")],
            &frame(&Msg::text("x")),
        )
        .await;
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("http://localhost:1234")
    );
}

#[tokio::test]
async fn malformed_bodies_get_a_status_and_the_server_keeps_serving() {
    let addr = echo_web().await;
    let mut conn = H1::connect(addr).await;
    // Not base64.
    let resp = conn
        .post(UNARY, "application/grpc-web-text", &[], b"%%%%")
        .await;
    assert_eq!(resp.header("grpc-status"), Some("13"));
    // A frame header promising more bytes than the body has.
    let resp = conn
        .post(UNARY, "application/grpc-web", &[], &[0, 0, 0, 0, 9, 1, 2])
        .await;
    let status = resp.header("grpc-status").map(str::to_owned).or_else(|| {
        WebBody::parse(&resp.body)
            .trailer("grpc-status")
            .map(str::to_owned)
    });
    assert_eq!(status.as_deref(), Some("13"));
    // A codec the server does not speak, and a method that is not POST.
    let resp = conn
        .post(UNARY, "application/grpc-web+json", &[], b"{}")
        .await;
    assert_eq!(resp.status, 415);
    conn.send_raw(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(conn.read_response().await.status, 405);

    // Garbage instead of HTTP: 400 and the connection is closed.
    let mut bad = H1::connect(addr).await;
    bad.send_raw(b"HELLO THERE\r\n\r\n").await;
    assert_eq!(bad.read_response().await.status, 400);
    assert!(bad.closed().await);
    // A body over the limit: 413 and closed.
    let mut big = H1::connect(addr).await;
    big.send_raw(b"POST /test.Echo/Unary HTTP/1.1\r\ncontent-type: application/grpc-web\r\ncontent-length: 99999999999\r\n\r\n").await;
    assert_eq!(big.read_response().await.status, 413);
    assert!(big.closed().await);
    // Headers over the limit: 431.
    let mut huge = H1::connect(addr).await;
    let head = format!(
        "POST / HTTP/1.1\r\nx-big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    huge.send_raw(head.as_bytes()).await;
    assert_eq!(huge.read_response().await.status, 431);

    // Native gRPC on the same port is unaffected.
    let client = Client::new(Channel::connect(&format!("http://{addr}")).await.unwrap());
    let reply: Response<Msg> = client
        .unary(UNARY, Request::new(Msg::text("native")))
        .await
        .unwrap();
    assert_eq!(reply.get_ref().text, "native");
    let resp = conn
        .post(
            UNARY,
            "application/grpc-web",
            &[],
            &frame(&Msg::text("again")),
        )
        .await;
    assert_eq!(
        WebBody::parse(&resp.body).messages,
        vec![Msg::text("again")]
    );
}

#[tokio::test]
async fn interceptors_apply_to_web_calls() {
    let server =
        echo_server()
            .0
            .accept_grpc_web(true)
            .interceptor(
                |req: &mut Request<()>| match req.metadata().get("authorization") {
                    Some("Bearer ok") => Ok(()),
                    _ => Err(Status::unauthenticated("who are you")),
                },
            );
    let addr = web_server(server).await;
    let mut conn = H1::connect(addr).await;
    let resp = conn
        .post(UNARY, "application/grpc-web", &[], &frame(&Msg::text("x")))
        .await;
    assert_eq!(resp.header("grpc-status"), Some("16"));
    let resp = conn
        .post(
            UNARY,
            "application/grpc-web",
            &[("authorization", "Bearer ok")],
            &frame(&Msg::text("x")),
        )
        .await;
    assert_eq!(WebBody::parse(&resp.body).messages, vec![Msg::text("x")]);
}

#[tokio::test]
async fn disabled_by_default() {
    let (addr, _tx, _h) = tcp_server(echo_server().0).await;
    let mut conn = H1::connect(addr).await;
    conn.send_raw(b"POST /test.Echo/Unary HTTP/1.1\r\ncontent-length: 0\r\n\r\n")
        .await;
    // Without gRPC-Web the port speaks only HTTP/2: the connection is dropped.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), conn.io.read_to_end(&mut rest)).await;
    assert!(!String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 200"));
}

/// A gRPC-Web request over HTTP/2 (as a browser on an h2 connection makes it).
async fn h2_call(
    addr: std::net::SocketAddr,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    origin: Option<&str>,
) -> (http::response::Parts, Vec<u8>) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{path}"))
        .header("content-type", content_type)
        .header("x-grpc-web", "1");
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    let (resp, mut stream) = send.send_request(req.body(()).unwrap(), false).unwrap();
    stream.send_data(Bytes::from(body), true).unwrap();
    let (head, mut body) = resp.await.unwrap().into_parts();
    let mut out = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        out.put_slice(&chunk);
    }
    (head, out.to_vec())
}

#[tokio::test]
async fn h2_binary_text_and_streaming() {
    let addr = echo_web().await;
    let (head, body) = h2_call(
        addr,
        UNARY,
        "application/grpc-web+proto",
        frame(&Msg::text("h2")),
        Some("http://o"),
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.headers["content-type"], "application/grpc-web+proto");
    assert_eq!(head.headers["access-control-allow-origin"], "http://o");
    let body = WebBody::parse(&body);
    assert_eq!(body.messages, vec![Msg::text("h2")]);
    assert_eq!(body.trailer("grpc-status"), Some("0"));

    let req = Msg {
        text: "x".into(),
        n: 3,
        ..Msg::default()
    };
    let (head, body) = h2_call(
        addr,
        SERVER_STREAM,
        "application/grpc-web-text",
        B64.encode(frame(&req)).into_bytes(),
        None,
    )
    .await;
    assert_eq!(
        head.headers["content-type"],
        "application/grpc-web-text+proto"
    );
    let body = WebBody::parse(&decode_text(&body));
    assert_eq!(body.messages.len(), 3);
    assert_eq!(body.trailer("grpc-status"), Some("0"));

    let failing = Msg {
        text: "bad".into(),
        fail_code: rill::Code::InvalidArgument as i32,
        ..Msg::default()
    };
    let (head, _) = h2_call(addr, UNARY, "application/grpc-web", frame(&failing), None).await;
    assert_eq!(head.headers["grpc-status"], "3");

    // Native gRPC over HTTP/2 on the same port.
    let client = Client::new(Channel::connect(&format!("http://{addr}")).await.unwrap());
    let reply: Response<Msg> = client
        .unary(UNARY, Request::new(Msg::text("native")))
        .await
        .unwrap();
    assert_eq!(reply.get_ref().text, "native");
}

#[tokio::test]
async fn tls_with_alpn_http1_serves_grpc_web_and_h2_still_native() {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, ServerName};
    use std::sync::Arc;

    let pki = certs::Pki::new();
    let tls = rill::tls::ServerTlsConfig::new(
        rill::tls::Identity::from_pem(&pki.server_cert, &pki.server_key).unwrap(),
    );
    let server = echo_server()
        .0
        .accept_grpc_web(true)
        .tls_config(tls)
        .unwrap();
    let addr = web_server(server).await;

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(addr).await.unwrap();
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut conn = H1 {
        io: Box::new(stream),
        buf: BytesMut::new(),
    };
    let resp = conn
        .post(
            UNARY,
            "application/grpc-web",
            &[],
            &frame(&Msg::text("over tls")),
        )
        .await;
    assert_eq!(
        WebBody::parse(&resp.body).messages,
        vec![Msg::text("over tls")]
    );

    // Native gRPC clients still negotiate h2 on the same port.
    let client_tls = rill::tls::ClientTlsConfig::new()
        .ca_certificates(rill::tls::Certificates::from_pem(&pki.ca).unwrap());
    let channel = rill::client::Endpoint::new(&format!("https://{addr}"))
        .tls_config(client_tls)
        .connect()
        .await
        .unwrap();
    let reply: Response<Msg> = Client::new(channel)
        .unary(UNARY, Request::new(Msg::text("native tls")))
        .await
        .unwrap();
    assert_eq!(reply.get_ref().text, "native tls");
}

#[tokio::test]
async fn browser_going_away_cancels_the_server_stream() {
    let (server, probe) = echo_server();
    let addr = web_server(server.accept_grpc_web(true)).await;
    let mut conn = H1::connect(addr).await;
    let req = Msg {
        text: "endless".into(),
        n: i32::MAX,
        blob: vec![7; 1024],
        ..Msg::default()
    };
    let mut bytes = format!(
        "POST {SERVER_STREAM} HTTP/1.1\r\ncontent-type: application/grpc-web\r\ncontent-length: {}\r\n\r\n",
        frame(&req).len()
    )
    .into_bytes();
    bytes.extend_from_slice(&frame(&req));
    conn.send_raw(&bytes).await;
    assert!(conn.line().await.starts_with("HTTP/1.1 200"));
    drop(conn);
    // Once the socket is gone the stream stops producing: the count settles far below n.
    let mut last = probe.sent.load(std::sync::atomic::Ordering::SeqCst);
    let settled = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = probe.sent.load(std::sync::atomic::Ordering::SeqCst);
            if now == last {
                return now;
            }
            last = now;
        }
    })
    .await
    .expect("the server stream kept running after the browser left");
    assert!(settled < 1_000_000, "sent {settled}");
}

#[tokio::test]
async fn browser_going_away_cancels_a_running_call() {
    let (server, probe) = echo_server();
    let addr = web_server(server.accept_grpc_web(true)).await;
    let mut conn = H1::connect(addr).await;
    let slow = Msg {
        sleep_ms: 5_000,
        ..Msg::default()
    };
    let body = frame(&slow);
    let mut bytes = format!(
        "POST {UNARY} HTTP/1.1\r\ncontent-type: application/grpc-web\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    conn.send_raw(&bytes).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(conn);
    let cancelled = tokio::time::timeout(Duration::from_secs(3), async {
        while probe.cancelled.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(cancelled.is_ok(), "the handler was not cancelled");
    assert_eq!(probe.completed.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn h2_concurrent_web_calls_share_one_connection() {
    let addr = echo_web().await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let calls = (0..8).map(|i| {
        let mut send = send.clone();
        async move {
            send = send.ready().await.unwrap();
            let req = http::Request::builder()
                .method("POST")
                .uri(format!("http://{addr}{UNARY}"))
                .header("content-type", "application/grpc-web")
                .body(())
                .unwrap();
            let msg = Msg {
                text: format!("call {i}"),
                sleep_ms: 50,
                ..Msg::default()
            };
            let (resp, mut stream) = send.send_request(req, false).unwrap();
            stream.send_data(Bytes::from(frame(&msg)), true).unwrap();
            let mut body = resp.await.unwrap().into_body();
            let mut out = Vec::new();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.unwrap();
                let _ = body.flow_control().release_capacity(chunk.len());
                out.extend_from_slice(&chunk);
            }
            let parsed = WebBody::parse(&out);
            assert_eq!(parsed.trailer("grpc-status"), Some("0"));
            parsed.messages[0].text.clone()
        }
    });
    let texts = futures_util::future::join_all(calls).await;
    for (i, text) in texts.iter().enumerate() {
        assert_eq!(text, &format!("call {i}"));
    }
}
