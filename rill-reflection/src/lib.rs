//! gRPC server reflection for rill servers: `grpc.reflection.v1.ServerReflection` and its
//! older twin `grpc.reflection.v1alpha.ServerReflection` (which grpcurl before 1.8.8, grpcio's
//! reflection client and older servers speak), from the descriptors rill-build already
//! compiled: every generated package with a service has a `FILE_DESCRIPTOR_SET` constant.
//!
//! `ServerReflectionInfo` answers `list_services`, `file_by_filename`,
//! `file_containing_symbol` and `file_containing_extension` (each with the file's transitive
//! imports, each file once per response, as gRPC C++ does), and
//! `all_extension_numbers_of_type`. A name that is not found gets an `ErrorResponse` with
//! `NOT_FOUND`, and the stream goes on.
//!
//! ```
//! use rill::server::Server;
//! use rill_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
//! use rill_reflection::pb::v1::server_reflection_request::MessageRequest;
//! use rill_reflection::pb::v1::server_reflection_response::MessageResponse;
//! use rill_reflection::pb::v1::ServerReflectionRequest;
//! use rill_reflection::ReflectionService;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In your crate: `.register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)` for each
//! // generated package (here, the health service's).
//! let reflection = ReflectionService::builder()
//!     .register_encoded_file_descriptor_set(rill_health::FILE_DESCRIPTOR_SET)
//!     .build()?;
//! let server = Server::builder()
//!     .add_service(reflection.v1())
//!     .add_service(reflection.v1alpha());
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(server.serve_with_listener(listener, std::future::pending()));
//!
//! let client = ServerReflectionClient::connect(&format!("http://{addr}")).await?;
//! let request = ServerReflectionRequest {
//!     message_request: Some(MessageRequest::ListServices(String::new())),
//!     ..Default::default()
//! };
//! let mut responses = client
//!     .server_reflection_info(futures_util::stream::iter([request]))
//!     .await?
//!     .into_inner();
//! let Some(MessageResponse::ListServicesResponse(list)) =
//!     responses.message().await?.and_then(|r| r.message_response)
//! else {
//!     panic!("not a list");
//! };
//! let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
//! assert_eq!(
//!     names,
//!     [
//!         "grpc.health.v1.Health",
//!         "grpc.reflection.v1.ServerReflection",
//!         "grpc.reflection.v1alpha.ServerReflection",
//!     ]
//! );
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

/// Messages, servers and clients generated from the official reflection protos.
pub mod pb {
    /// `grpc.reflection.v1`.
    #[allow(missing_docs)]
    pub mod v1 {
        rill::include_proto!("grpc.reflection.v1");
    }
    /// `grpc.reflection.v1alpha`: the same messages (the `v1` Rust types), another service
    /// name.
    #[allow(missing_docs)]
    pub mod v1alpha {
        rill::include_proto!("grpc.reflection.v1alpha");
    }
}

mod index;
mod service;

use std::sync::Arc;

use bytes::Bytes;
use prost::Message as _;

use index::Index;
use pb::v1::server_reflection_server::ServerReflectionServer as V1Server;
use pb::v1alpha::server_reflection_server::ServerReflectionServer as V1AlphaServer;

/// Why [`Builder::build`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A registered set, or a file in it, is not a valid encoded descriptor.
    #[error("invalid file descriptor set: {0}")]
    Decode(#[source] prost::DecodeError),
    /// A registered file imports a file that was not registered.
    #[error("{file} imports {dependency}, which is not registered")]
    MissingDependency {
        /// The importing file.
        file: String,
        /// The missing import.
        dependency: String,
    },
    /// Two different files declare the same symbol.
    #[error("{symbol} is declared by both {} and {}", files[0], files[1])]
    DuplicateSymbol {
        /// The fully qualified symbol.
        symbol: String,
        /// The files declaring it.
        files: [String; 2],
    },
}

/// The reflection service; add both versions to a server with [`ReflectionService::v1`] and
/// [`ReflectionService::v1alpha`]. Cheap to clone: clones share the descriptors.
#[derive(Clone, Debug)]
pub struct ReflectionService {
    index: Arc<Index>,
    /// What `list_services` answers.
    services: Arc<[String]>,
}

impl ReflectionService {
    /// Starts a reflection service; register descriptors, then [`Builder::build`].
    ///
    /// ```
    /// let reflection = rill_reflection::ReflectionService::builder()
    ///     .register_encoded_file_descriptor_set(rill_health::FILE_DESCRIPTOR_SET)
    ///     .build()
    ///     .expect("valid descriptors");
    /// assert!(reflection.service_names().contains(&"grpc.health.v1.Health"));
    /// ```
    pub fn builder() -> Builder {
        Builder {
            sets: Vec::new(),
            service_names: Vec::new(),
            include_reflection_service: true,
        }
    }

    /// The `grpc.reflection.v1.ServerReflection` service, to add to a server.
    ///
    /// ```
    /// let reflection = rill_reflection::ReflectionService::builder().build().unwrap();
    /// let server = rill::server::Server::builder()
    ///     .add_service(reflection.v1())
    ///     .add_service(reflection.v1alpha());
    /// assert_eq!(
    ///     server.service_names(),
    ///     ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]
    /// );
    /// ```
    pub fn v1(&self) -> V1Server<ReflectionService> {
        V1Server::new(self.clone())
    }

    /// The `grpc.reflection.v1alpha.ServerReflection` service, to add to a server beside
    /// [`ReflectionService::v1`] for older clients (see its example).
    pub fn v1alpha(&self) -> V1AlphaServer<ReflectionService> {
        V1AlphaServer::new(self.clone())
    }

    /// The services `list_services` answers, sorted.
    pub fn service_names(&self) -> Vec<&str> {
        self.services.iter().map(String::as_str).collect()
    }
}

/// Collects the descriptors a [`ReflectionService`] serves; created by
/// [`ReflectionService::builder`].
#[derive(Clone)]
#[must_use]
pub struct Builder {
    sets: Vec<Bytes>,
    service_names: Vec<String>,
    include_reflection_service: bool,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("sets", &self.sets.len())
            .field("service_names", &self.service_names)
            .field(
                "include_reflection_service",
                &self.include_reflection_service,
            )
            .finish()
    }
}

impl Builder {
    /// Registers an encoded `google.protobuf.FileDescriptorSet`, such as the
    /// `FILE_DESCRIPTOR_SET` constant rill-build generates in each package with a service,
    /// or a file written by `rill_build::configure().file_descriptor_set_path(..)`. A file
    /// already registered (by name) is skipped.
    pub fn register_encoded_file_descriptor_set(mut self, encoded: impl Into<Bytes>) -> Self {
        self.sets.push(encoded.into());
        self
    }

    /// Registers a decoded `FileDescriptorSet`.
    pub fn register_file_descriptor_set(self, set: prost_types::FileDescriptorSet) -> Self {
        self.register_encoded_file_descriptor_set(set.encode_to_vec())
    }

    /// Lists `name` in `list_services`. Without this, every service the registered files
    /// declare is listed; with it, only the names given (and the reflection services).
    ///
    /// ```
    /// let reflection = rill_reflection::ReflectionService::builder()
    ///     .register_encoded_file_descriptor_set(rill_health::FILE_DESCRIPTOR_SET)
    ///     .with_service_name("grpc.health.v1.Health")
    ///     .include_reflection_service(false)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(reflection.service_names(), ["grpc.health.v1.Health"]);
    /// ```
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_names.push(name.into());
        self
    }

    /// Whether the reflection services describe themselves: their descriptors are registered
    /// and they are listed (default `true`, as in grpc-go and gRPC C++).
    pub fn include_reflection_service(mut self, include: bool) -> Self {
        self.include_reflection_service = include;
        self
    }

    /// Indexes the registered descriptors.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] for bytes that are not a descriptor set, [`Error::MissingDependency`]
    /// when a file's import was not registered (clients could not use the file),
    /// [`Error::DuplicateSymbol`] when two files declare the same name.
    pub fn build(self) -> Result<ReflectionService, Error> {
        let mut index = Index::default();
        for set in &self.sets {
            index.add_encoded_set(set)?;
        }
        let own = [
            pb::v1::FILE_DESCRIPTOR_SET,
            pb::v1alpha::FILE_DESCRIPTOR_SET,
        ];
        if self.include_reflection_service {
            for set in own {
                index.add_encoded_set(&Bytes::from_static(set))?;
            }
        }
        index.check_dependencies()?;
        let mut services: Vec<String> = if self.service_names.is_empty() {
            index.services().map(str::to_owned).collect()
        } else {
            let mut names = self.service_names;
            if self.include_reflection_service {
                names.push(pb::v1::server_reflection_server::SERVICE_NAME.to_owned());
                names.push(pb::v1alpha::server_reflection_server::SERVICE_NAME.to_owned());
            }
            names
        };
        services.sort_unstable();
        services.dedup();
        Ok(ReflectionService {
            index: Arc::new(index),
            services: services.into(),
        })
    }
}
