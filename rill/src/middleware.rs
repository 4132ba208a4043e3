//! Tower glue shared by server and client: a layered `tower::Service` becomes one `dyn`
//! function, so the call path stays a single concrete type whatever layers the user stacks.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tower_service::Service;

use crate::Status;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A type-erased call path: request in, response or status out.
pub(crate) type Dispatch<Req, Resp> =
    Arc<dyn Fn(Req) -> BoxFuture<Result<Resp, Status>> + Send + Sync>;

/// Erases `service`; each call clones it, waits for `poll_ready`, then calls it.
pub(crate) fn erase<S, Req, Resp>(service: S) -> Dispatch<Req, Resp>
where
    S: Service<Req, Response = Resp> + Clone + Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
    Req: Send + 'static,
{
    // A Mutex makes any Send service shareable; it is held only to clone the service.
    let service = Mutex::new(service);
    Arc::new(move |request| {
        let mut service = match service.lock() {
            Ok(service) => service.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        Box::pin(async move {
            poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(into_status)?;
            service.call(request).await.map_err(into_status)
        })
    })
}

/// A middleware error as a status: a `Status` passes through, anything else is UNKNOWN with
/// its message (a timeout layer's error, for example).
fn into_status(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Status {
    let err = err.into();
    match err.downcast::<Status>() {
        Ok(status) => *status,
        Err(other) => Status::unknown(other.to_string()),
    }
}
