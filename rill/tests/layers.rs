//! Tower layers on the server: they see every call's head and can answer for the handler.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use common::*;
use rill::server::{Body, ResponseBody};
use rill::{Code, Request, Response, Status};

/// Counts calls by method path and rejects calls that carry `x-deny`.
#[derive(Clone)]
struct Gate<S> {
    inner: S,
    seen: Arc<AtomicUsize>,
}

impl<S> tower::Service<Request<Body>> for Gate<S>
where
    S: tower::Service<Request<Body>, Response = Response<ResponseBody>, Error = Status>,
    S::Future: Send + 'static,
{
    type Response = Response<ResponseBody>;
    type Error = Status;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Status>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        self.seen.fetch_add(1, Ordering::SeqCst);
        let method = req.extensions().get::<rill::server::GrpcMethod>().unwrap();
        assert_eq!((method.service(), method.method()), (SERVICE, "Unary"));
        if req.metadata().contains_key("x-deny") {
            return Box::pin(async { Err(Status::permission_denied("denied by layer")) });
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut resp = fut.await?;
            resp.metadata_mut().insert("x-layer", "gate").unwrap();
            Ok(resp)
        })
    }
}

#[tokio::test]
async fn a_layer_sees_every_call_and_can_answer_for_the_handler() {
    let seen = Arc::new(AtomicUsize::new(0));
    let gate = {
        let seen = seen.clone();
        tower::layer::layer_fn(move |inner| Gate {
            inner,
            seen: seen.clone(),
        })
    };
    let client = duplex_pair(echo_server().0.layer(gate));
    let resp = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::text("a")))
        .await
        .unwrap();
    assert_eq!(resp.metadata().get("x-layer"), Some("gate"));
    let mut req = Request::new(Msg::text("b"));
    req.metadata_mut().insert("x-deny", "1").unwrap();
    let err = client.unary::<Msg, Msg>(UNARY, req).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn stock_tower_layers_work() {
    let server = echo_server()
        .0
        .layer(tower::limit::ConcurrencyLimitLayer::new(2))
        .layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(
            100,
        )));
    let client = duplex_pair(server);
    assert!(client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::text("fast")))
        .await
        .is_ok());
    let slow = Msg {
        sleep_ms: 2_000,
        ..Msg::text("slow")
    };
    let err = client
        .unary::<Msg, Msg>(UNARY, Request::new(slow))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unknown, "{err}");
}

/// Adds a header to every call and counts calls by path; a second layer wraps the first.
#[derive(Clone)]
struct Stamp<S> {
    inner: S,
    value: &'static str,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
}

impl<S> tower::Service<Request<rill::client::Body>> for Stamp<S>
where
    S: tower::Service<
        Request<rill::client::Body>,
        Response = Response<rill::client::ResponseBody>,
        Error = Status,
    >,
{
    type Response = S::Response;
    type Error = Status;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<rill::client::Body>) -> Self::Future {
        self.seen
            .lock()
            .unwrap()
            .push(format!("{} {}", self.value, req.get_ref().path()));
        req.metadata_mut().append("x-echo", self.value).unwrap();
        self.inner.call(req)
    }
}

#[tokio::test]
async fn client_layers_stack_and_see_every_call_type() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stamp = |value: &'static str| {
        let seen = seen.clone();
        tower::layer::layer_fn(move |inner| Stamp {
            inner,
            value,
            seen: seen.clone(),
        })
    };
    let client = duplex_pair(echo_server().0)
        .layer(stamp("inner"))
        .layer(stamp("outer"));
    let resp = client
        .unary::<Msg, Msg>(UNARY, Request::new(Msg::text("a")))
        .await
        .unwrap();
    // The server echoes the first x-echo value: the outer layer ran first.
    assert_eq!(resp.metadata().get("x-echo"), Some("outer"));
    let mut stream = client
        .server_streaming::<Msg, Msg>(
            SERVER_STREAM,
            Request::new(Msg {
                n: 2,
                ..Msg::text("s")
            }),
        )
        .await
        .unwrap()
        .into_inner();
    assert!(stream.message().await.unwrap().is_some());
    let sum = client
        .client_streaming::<Msg, Msg>(
            CLIENT_STREAM,
            msgs(vec![Msg {
                n: 4,
                ..Msg::default()
            }]),
        )
        .await
        .unwrap();
    assert_eq!(sum.get_ref().n, 4);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            format!("outer {UNARY}"),
            format!("inner {UNARY}"),
            format!("outer {SERVER_STREAM}"),
            format!("inner {SERVER_STREAM}"),
            format!("outer {CLIENT_STREAM}"),
            format!("inner {CLIENT_STREAM}"),
        ]
    );
}

#[tokio::test]
async fn client_concurrency_limit_layer() {
    let client = duplex_pair(echo_server().0).layer(tower::limit::ConcurrencyLimitLayer::new(1));
    let calls = (0..4).map(|i| {
        let client = client.clone();
        async move {
            let req = Msg {
                sleep_ms: 20,
                n: i,
                ..Msg::default()
            };
            client.unary::<Msg, Msg>(UNARY, Request::new(req)).await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
}
