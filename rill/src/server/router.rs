//! Routing by `:path` (`/package.Service/Method`) to method handlers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::layer::Dispatch;
use super::service::{RawHandler, Service};
use super::{CallConfig, Interceptor};
use crate::Status;

/// The server's routing table plus what every call shares (limits, interceptors).
pub(crate) struct Router {
    methods: HashMap<String, (GrpcMethod, RawHandler)>,
    services: HashSet<&'static str>,
    pub(crate) interceptors: Vec<Interceptor>,
    pub(crate) config: CallConfig,
    /// Every call goes through this: the handler, wrapped in the server's tower layers.
    pub(crate) dispatch: Dispatch,
}

impl Router {
    pub(crate) fn new(config: CallConfig) -> Self {
        Router {
            methods: HashMap::new(),
            services: HashSet::new(),
            interceptors: Vec::new(),
            config,
            dispatch: super::layer::direct(),
        }
    }

    /// Adds every method of `service`; a later service with the same name replaces it.
    pub(crate) fn add(&mut self, service: &dyn Service) {
        let name = service.name();
        self.services.insert(name);
        for method in service.methods() {
            let path = format!("/{name}/{}", method.name);
            let id = GrpcMethod {
                path: Arc::from(path.as_str()),
            };
            self.methods.insert(path, (id, method.handler));
        }
    }

    pub(crate) fn lookup(&self, path: &str) -> Option<(GrpcMethod, RawHandler)> {
        self.methods.get(path).cloned()
    }

    /// The UNIMPLEMENTED status for a path no method serves, naming what is missing.
    pub(crate) fn unimplemented(&self, path: &str) -> Status {
        let service = path
            .strip_prefix('/')
            .and_then(|p| p.split_once('/'))
            .map(|(service, _)| service);
        match service {
            Some(service) if self.services.contains(service) => {
                Status::unimplemented(format!("unknown method {path}"))
            }
            Some(service) => Status::unimplemented(format!("unknown service {service}")),
            None => Status::unimplemented(format!("malformed method path {path:?}")),
        }
    }

    pub(crate) fn service_names(&self) -> impl Iterator<Item = &&'static str> {
        self.services.iter()
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}

/// The method a server call is for; every server request carries it in its extensions, so
/// interceptors and layers can log or authorize by method.
///
/// ```
/// # fn f(req: &rill::Request<()>) {
/// if let Some(method) = req.extensions().get::<rill::server::GrpcMethod>() {
///     println!("{} / {}", method.service(), method.method());
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcMethod {
    path: Arc<str>,
}

impl GrpcMethod {
    /// The full path, `/package.Service/Method`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The fully qualified service name, `package.Service`.
    pub fn service(&self) -> &str {
        self.split().0
    }

    /// The method name, `Method`.
    pub fn method(&self) -> &str {
        self.split().1
    }

    fn split(&self) -> (&str, &str) {
        // Router paths are always "/{service}/{method}".
        let trimmed = self.path.strip_prefix('/').unwrap_or(&self.path);
        trimmed.rsplit_once('/').unwrap_or((trimmed, ""))
    }
}
