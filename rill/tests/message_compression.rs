//! Per-call and per-message compression control, and seeing how each message arrived:
//! `Response::set_compression`/`disable_compression`, `Request::disable_compression`,
//! `SendMessage` streams, `MessageInfo` and `Streaming::last_message_compressed` (what the
//! interop tests' `expect_compressed`, `response_compressed` and `compressed` fields need).

mod common;

use bytes::Bytes;
use common::{duplex_pair, Msg};
use futures_util::StreamExt;
use rill::compression::CompressionEncoding;
use rill::server::{Method, Server, Service};
use rill::{MessageInfo, Request, Response, SendMessage, Status, Streaming};

const UNARY: &str = "/test.Compress/Unary";
const SERVER_STREAM: &str = "/test.Compress/ServerStream";
const CLIENT_STREAM: &str = "/test.Compress/ClientStream";
const BIDI: &str = "/test.Compress/Bidi";

/// A compressible blob, so a compressed message is recognisably smaller.
fn blob() -> Vec<u8> {
    vec![0; 10_000]
}

/// The handler's call-level choice, named by a request's `text`.
fn choose<T>(response: &mut Response<T>, choice: &str) {
    match choice {
        "gzip" => response.set_compression(CompressionEncoding::Gzip),
        "zstd" => response.set_compression(CompressionEncoding::Zstd),
        "off" => response.disable_compression(),
        _ => {}
    }
}

fn arrived_compressed<T>(request: &Request<T>) -> bool {
    request
        .extensions()
        .get::<MessageInfo>()
        .expect("single-message requests carry MessageInfo")
        .compressed()
}

/// Reports in `n` whether each request message arrived compressed (1) or not (0), and compresses
/// its responses as each request's `text` and `blob` ask.
struct Compress;

impl Service for Compress {
    fn name(&self) -> &'static str {
        "test.Compress"
    }

    fn methods(&self) -> Vec<Method> {
        vec![
            Method::unary("Unary", |req: Request<Msg>| async move {
                let n = i32::from(arrived_compressed(&req));
                let mut response = Response::new(Msg {
                    n,
                    blob: blob(),
                    ..Msg::default()
                });
                choose(&mut response, &req.get_ref().text);
                Ok::<_, Status>(response)
            }),
            // One response per byte of the request's blob: 0 = as the call, 1 = uncompressed.
            Method::server_streaming("ServerStream", |req: Request<Msg>| async move {
                let n = i32::from(arrived_compressed(&req));
                let request = req.into_inner();
                let items: Vec<_> = request
                    .blob
                    .iter()
                    .map(|&uncompressed| {
                        let message = Msg {
                            n,
                            blob: blob(),
                            ..Msg::default()
                        };
                        Ok(SendMessage::new(message).compressed(uncompressed == 0))
                    })
                    .collect();
                let mut response = Response::stream_with_options(futures_util::stream::iter(items));
                choose(&mut response, &request.text);
                Ok::<_, Status>(response)
            }),
            Method::client_streaming("ClientStream", |req: Request<Streaming<Msg>>| async move {
                let mut requests = req.into_inner();
                let mut flags = String::new();
                while requests.message().await?.is_some() {
                    flags.push(if requests.last_message_compressed() {
                        '1'
                    } else {
                        '0'
                    });
                }
                Ok(Response::new(Msg::text(&flags)))
            }),
            Method::streaming("Bidi", |req: Request<Streaming<Msg>>| async move {
                let requests = req.into_inner();
                let replies = futures_util::stream::unfold(requests, |mut requests| async move {
                    let reply = match requests.message().await {
                        Ok(Some(_)) => Ok(Msg {
                            n: i32::from(requests.last_message_compressed()),
                            ..Msg::default()
                        }),
                        Ok(None) => return None,
                        Err(status) => Err(status),
                    };
                    Some((reply, requests))
                });
                Ok(Response::stream(replies))
            }),
        ]
    }
}

fn server() -> Server {
    Server::builder().add_service(Compress)
}

fn compressed_unary(response: &Response<Msg>) -> bool {
    response
        .extensions()
        .get::<MessageInfo>()
        .expect("unary responses carry MessageInfo")
        .compressed()
}

#[tokio::test]
async fn unary_handler_sees_whether_the_request_arrived_compressed() {
    let client = duplex_pair(server());
    let plain = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::default()))
        .await
        .unwrap();
    assert_eq!(plain.get_ref().n, 0);

    let mut request = Request::new(Msg {
        blob: blob(),
        ..Msg::default()
    });
    request.set_compression(CompressionEncoding::Gzip);
    let compressed = client.unary::<Msg, Msg>(UNARY, request).await.unwrap();
    assert_eq!(compressed.get_ref().n, 1);
}

#[tokio::test]
async fn request_disable_compression_overrides_the_client_default() {
    let client = duplex_pair(server()).send_compressed(CompressionEncoding::Gzip);
    let mut request = Request::new(Msg {
        blob: blob(),
        ..Msg::default()
    });
    request.disable_compression();
    let response = client.unary::<Msg, Msg>(UNARY, request).await.unwrap();
    assert_eq!(response.get_ref().n, 0);

    let request = Request::new(Msg {
        blob: blob(),
        ..Msg::default()
    });
    let response = client.unary::<Msg, Msg>(UNARY, request).await.unwrap();
    assert_eq!(response.get_ref().n, 1, "the client default still applies");
}

#[tokio::test]
async fn response_set_compression_compresses_one_response() {
    let client = duplex_pair(server());
    for (choice, compressed) in [("", false), ("gzip", true), ("zstd", true), ("off", false)] {
        let response = client
            .unary::<Msg, Msg>(UNARY, Request::new(Msg::text(choice)))
            .await
            .unwrap();
        assert_eq!(compressed_unary(&response), compressed, "{choice:?}");
        assert_eq!(response.get_ref().blob, blob());
    }
}

#[tokio::test]
async fn response_disable_compression_overrides_the_server_default() {
    let client = duplex_pair(server().send_compressed(CompressionEncoding::Gzip));
    let default = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::text("")))
        .await
        .unwrap();
    assert!(compressed_unary(&default));
    let off = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::text("off")))
        .await
        .unwrap();
    assert!(!compressed_unary(&off));
}

#[tokio::test]
async fn client_streaming_handler_sees_each_message_compressed_or_not() {
    let client = duplex_pair(server());
    let messages = [
        SendMessage::new(Msg {
            blob: blob(),
            ..Msg::default()
        }),
        SendMessage::uncompressed(Msg {
            blob: blob(),
            ..Msg::default()
        }),
        SendMessage::new(Msg {
            blob: blob(),
            ..Msg::default()
        }),
    ];
    let mut request = Request::stream_with_options(futures_util::stream::iter(messages.clone()));
    request.set_compression(CompressionEncoding::Deflate);
    let response = client
        .client_streaming::<Msg, Msg>(CLIENT_STREAM, request)
        .await
        .unwrap();
    assert_eq!(response.get_ref().text, "101");

    // Without call-level compression nothing is compressed, whatever each message asks.
    let request = Request::stream_with_options(futures_util::stream::iter(messages));
    let response = client
        .client_streaming::<Msg, Msg>(CLIENT_STREAM, request)
        .await
        .unwrap();
    assert_eq!(response.get_ref().text, "000");
}

#[tokio::test]
async fn bidi_handler_sees_each_message_compressed_or_not() {
    let client = duplex_pair(server()).send_compressed(CompressionEncoding::Gzip);
    let messages = [true, false, false, true].map(|compress| {
        let message = Msg {
            blob: blob(),
            ..Msg::default()
        };
        SendMessage::new(message).compressed(compress)
    });
    let request = Request::stream_with_options(futures_util::stream::iter(messages));
    let mut replies = client
        .streaming::<Msg, Msg>(BIDI, request)
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    while let Some(reply) = replies.message().await.unwrap() {
        seen.push(reply.n);
    }
    assert_eq!(seen, [1, 0, 0, 1]);
}

#[tokio::test]
async fn server_stream_messages_choose_their_compression() {
    let client = duplex_pair(server());
    // Per-message choices: 0 = as the call, 1 = uncompressed.
    let choices = vec![0, 1, 0, 1];
    for (call, expected) in [
        ("gzip", [true, false, true, false]),
        ("", [false; 4]),
        ("off", [false; 4]),
    ] {
        let request = Request::new(Msg {
            blob: choices.clone(),
            ..Msg::text(call)
        });
        let mut replies = client
            .server_streaming::<Msg, Msg>(SERVER_STREAM, request)
            .await
            .unwrap()
            .into_inner();
        let mut seen = Vec::new();
        while let Some(reply) = replies.message().await.unwrap() {
            assert_eq!(reply.blob, blob());
            seen.push(replies.last_message_compressed());
        }
        assert_eq!(seen, expected, "{call:?}");
    }
}

#[tokio::test]
async fn streaming_from_local_items_reports_uncompressed() {
    let mut local: Streaming<Msg> =
        Streaming::from_stream(futures_util::stream::iter([Ok(Msg::default())]));
    assert!(local.next().await.is_some());
    assert!(!local.last_message_compressed());
}

/// What a raw HTTP/2 client got for one unary call.
struct RawAnswer {
    grpc_encoding: Option<String>,
    compressed_flag: u8,
    grpc_status: String,
}

/// One `Unary` call from a raw HTTP/2 client: `text` as the request, compressed with
/// `encoding` when given, advertising `accept` in `grpc-accept-encoding` when given.
async fn raw_unary(
    send: &h2::client::SendRequest<Bytes>,
    text: &str,
    encoding: Option<CompressionEncoding>,
    accept: Option<&str>,
) -> RawAnswer {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{UNARY}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(accept) = accept {
        request = request.header("grpc-accept-encoding", accept);
    }
    let message = prost::Message::encode_to_vec(&Msg {
        blob: blob(),
        ..Msg::text(text)
    });
    let (flag, payload) = match encoding {
        Some(CompressionEncoding::Gzip) => {
            request = request.header("grpc-encoding", "gzip");
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            std::io::Write::write_all(&mut gz, &message).unwrap();
            (1, gz.finish().unwrap())
        }
        None => (0, message),
        Some(other) => panic!("raw_unary compresses with gzip only, not {other}"),
    };
    let mut frame = vec![flag];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    let mut ready = send.clone().ready().await.unwrap();
    let (response, mut stream) = ready
        .send_request(request.body(()).unwrap(), false)
        .unwrap();
    stream.send_data(Bytes::from(frame), true).unwrap();
    let (parts, mut body) = response.await.unwrap().into_parts();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        data.extend_from_slice(&chunk.unwrap());
    }
    let trailers = body.trailers().await.unwrap().unwrap();
    RawAnswer {
        grpc_encoding: parts
            .headers
            .get("grpc-encoding")
            .map(|v| v.to_str().unwrap().to_owned()),
        compressed_flag: data[0],
        grpc_status: trailers
            .get("grpc-status")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned(),
    }
}

async fn raw_client(server: Server) -> h2::client::SendRequest<Bytes> {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(server.serve_connection(server_io));
    let (send, conn) = h2::client::handshake(client_io).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    send
}

/// A client that accepts no compression: `Response::set_compression` must then fall back to
/// uncompressed messages and announce no `grpc-encoding`.
#[tokio::test]
async fn response_set_compression_respects_what_the_client_accepts() {
    let send = raw_client(server()).await;
    for accept in [None, Some("identity"), Some("zstd")] {
        let answer = raw_unary(&send, "gzip", None, accept).await;
        assert_eq!(answer.grpc_status, "0", "{accept:?}");
        assert_eq!(answer.grpc_encoding, None, "{accept:?}");
        assert_eq!(answer.compressed_flag, 0, "{accept:?}");
    }
    let answer = raw_unary(&send, "gzip", None, Some("deflate, gzip")).await;
    assert_eq!(answer.grpc_encoding.as_deref(), Some("gzip"));
    assert_eq!(answer.compressed_flag, 1);
}

/// Regression (found by the interop matrix with tonic's client, which compresses requests
/// without accepting compressed responses): a compressed request does not make the server
/// compress its response with an encoding the client never said it accepts.
#[tokio::test]
async fn responses_use_only_encodings_the_client_accepts() {
    for server in [
        server(),
        server().send_compressed(CompressionEncoding::Gzip),
    ] {
        let send = raw_client(server).await;
        for accept in [None, Some("identity"), Some("zstd")] {
            let answer = raw_unary(&send, "", Some(CompressionEncoding::Gzip), accept).await;
            assert_eq!(answer.grpc_status, "0", "{accept:?}");
            assert_eq!(answer.grpc_encoding, None, "{accept:?}");
            assert_eq!(answer.compressed_flag, 0, "{accept:?}");
        }
        // Accepted, the request's encoding is still the answer's (as in grpc-go).
        let answer = raw_unary(&send, "", Some(CompressionEncoding::Gzip), Some("gzip")).await;
        assert_eq!(answer.grpc_encoding.as_deref(), Some("gzip"));
        assert_eq!(answer.compressed_flag, 1);
    }
}
