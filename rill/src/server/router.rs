//! Routing by `:path` (`/package.Service/Method`) to method handlers.

use std::collections::{HashMap, HashSet};

use super::service::{RawHandler, Service};
use super::{CallConfig, Interceptor};
use crate::Status;

/// The server's routing table plus what every call shares (limits, interceptors).
pub(crate) struct Router {
    methods: HashMap<String, RawHandler>,
    services: HashSet<&'static str>,
    pub(crate) interceptors: Vec<Interceptor>,
    pub(crate) config: CallConfig,
}

impl Router {
    pub(crate) fn new(config: CallConfig) -> Self {
        Router {
            methods: HashMap::new(),
            services: HashSet::new(),
            interceptors: Vec::new(),
            config,
        }
    }

    /// Adds every method of `service`; a later service with the same name replaces it.
    pub(crate) fn add(&mut self, service: &dyn Service) {
        let name = service.name();
        self.services.insert(name);
        for method in service.methods() {
            self.methods
                .insert(format!("/{name}/{}", method.name), method.handler);
        }
    }

    pub(crate) fn lookup(&self, path: &str) -> Option<RawHandler> {
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
