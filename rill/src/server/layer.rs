//! Tower middleware around every call: `Server::layer` wraps the method dispatch in any
//! `tower::Layer` (timeouts, concurrency limits, metrics, auth…).

use std::sync::Arc;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service as TowerService;

use super::service::{BoxFuture, RawBody, RawHandler, ResponseEncoder, ServerCall};
use crate::streaming::MessageStream;
use crate::{Request, Response, Status};

/// The request body of a call as middleware sees it: the not-yet-decoded messages. Opaque;
/// middleware reads the head (metadata, deadline, extensions) and passes the body on.
pub struct Body {
    pub(crate) messages: MessageStream,
    encode: ResponseEncoder,
    handler: RawHandler,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body").finish_non_exhaustive()
    }
}

/// The response body of a call as middleware sees it: encoded messages. Opaque.
pub struct ResponseBody(pub(crate) RawBody);

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}

/// A type-erased, layered dispatch: what each call goes through.
pub(crate) type Dispatch = crate::middleware::Dispatch<Request<Body>, Response<ResponseBody>>;

/// The innermost service: runs the method handler the router chose.
///
/// Layers passed to [`Server::layer`](super::Server::layer) wrap this service.
#[derive(Clone)]
pub struct Routes {
    inner: Dispatch,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes").finish_non_exhaustive()
    }
}

impl TowerService<Request<Body>> for Routes {
    type Response = Response<ResponseBody>;
    type Error = Status;
    type Future = BoxFuture<Result<Response<ResponseBody>, Status>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        (self.inner)(request)
    }
}

/// The dispatch with no middleware: straight to the handler.
pub(crate) fn direct() -> Dispatch {
    Arc::new(|request: Request<Body>| {
        let (head, body) = request.into_parts();
        let call = ServerCall {
            head,
            messages: body.messages,
            encode: body.encode,
        };
        let handler = body.handler;
        Box::pin(async move { handler(call).await.map(|r| r.map(ResponseBody)) })
    })
}

/// Wraps `dispatch` in `layer`, erasing the resulting service's type.
pub(crate) fn wrap<L>(dispatch: Dispatch, layer: &L) -> Dispatch
where
    L: Layer<Routes>,
    L::Service:
        TowerService<Request<Body>, Response = Response<ResponseBody>> + Clone + Send + 'static,
    <L::Service as TowerService<Request<Body>>>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>>,
    <L::Service as TowerService<Request<Body>>>::Future: Send + 'static,
{
    crate::middleware::erase(layer.layer(Routes { inner: dispatch }))
}

/// Bundles a call for the dispatch.
pub(crate) fn request(call: ServerCall, handler: RawHandler) -> Request<Body> {
    let ServerCall {
        head,
        messages,
        encode,
    } = call;
    head.map(|()| Body {
        messages,
        encode,
        handler,
    })
}
