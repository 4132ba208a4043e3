//! Code generation for [rill](https://example.invalid/rill): compiles `.proto` files into
//! prost messages plus rill servers and clients, in pure Rust (no `protoc` needed: parsing and
//! checking is done by [protox](https://docs.rs/protox)).
//!
//! # Build script
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [dependencies]
//! rill = "0.1"
//! prost = "0.14"
//!
//! [build-dependencies]
//! rill-build = "0.1"
//! ```
//!
//! `build.rs`:
//!
//! ```no_run
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // The simple form: servers and clients for every service in `proto/user.proto`;
//!     // imports are looked up in `proto/` (and `google/protobuf/*.proto` are built in).
//!     rill_build::compile_protos(&["proto/user.proto"], &["proto"])?;
//!
//!     // The configurable form.
//!     let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
//!     rill_build::configure()
//!         .build_client(false)
//!         .type_attribute(".admin", "#[derive(serde::Serialize)]")
//!         .file_descriptor_set_path(out_dir.join("admin_descriptor.bin"))
//!         .compile(&["proto/admin/v1/admin.proto"], &["proto"])?;
//!     Ok(())
//! }
//! ```
//!
//! A failing `.proto` file makes the build script fail with a diagnostic such as
//! `cannot compile .proto files: user.proto:7:3: expected ';', but found '}'`.
//! By default the build script also prints `cargo:rerun-if-changed` for every `.proto` file it
//! read (the listed ones and the imports found in the include directories), so it reruns only
//! when one of them changes.
//!
//! # Including the generated code
//!
//! prost-build writes one file per proto *package* into `OUT_DIR`, named after the package:
//! `package user;` gives `user.rs`, `package acme.admin.v1;` gives `acme.admin.v1.rs` (and a
//! file without a package gives `_.rs`). Include each file in a module tree mirroring the
//! package, so that references between packages (`super::super::common::Id`) resolve:
//!
//! ```ignore
//! pub mod user {
//!     rill::include_proto!("user");
//! }
//!
//! pub mod acme {
//!     pub mod admin {
//!         pub mod v1 {
//!             rill::include_proto!("acme.admin.v1");
//!         }
//!     }
//! }
//! ```
//!
//! `rill::include_proto!("a.b")` is `include!(concat!(env!("OUT_DIR"), "/a.b.rs"))`.
//! [`Builder::include_file`] can write that module tree for you.
//!
//! prost only documents messages and fields that have proto comments; if your crate denies
//! `missing_docs` (or `unreachable_pub` in a private module), put `#[allow(missing_docs)]` on the
//! module that includes the file. The service code rill-build adds is fully documented.
//!
//! # Generated code
//!
//! For `package user; service UserService { rpc GetUser(GetUserRequest) returns (User); }`
//! the package file gets, next to the prost messages:
//!
//! - `user_service_server::UserService`, a trait with one method per RPC:
//!   `fn get_user(&self, request: rill::Request<GetUserRequest>) -> impl Future<Output =
//!   Result<rill::Response<User>, rill::Status>> + Send`. Implement the methods with plain
//!   `async fn`; every method has a default body answering `UNIMPLEMENTED`. Client-streaming
//!   methods receive `rill::Request<rill::Streaming<In>>`, server-streaming methods answer
//!   `rill::Response<rill::BoxStream<Out>>`.
//! - `user_service_server::UserServiceServer<T>`, which implements `rill::server::Service`:
//!   `Server::builder().add_service(UserServiceServer::new(MyService))`.
//! - `user_service_server::SERVICE_NAME` (`"user.UserService"`), also available from the type
//!   as `<UserServiceServer<T> as rill::server::NamedService>::NAME` (what
//!   `rill_health::HealthReporter::set_serving::<UserServiceServer<T>>()` reads).
//! - `FILE_DESCRIPTOR_SET: &[u8]` (once per package that declares a service): the encoded
//!   `google.protobuf.FileDescriptorSet` of the package's files and everything they import, for
//!   server reflection with no extra step:
//!   `rill_reflection::ReflectionService::builder().register_encoded_file_descriptor_set(user::FILE_DESCRIPTOR_SET)`.
//!   See [`Builder::file_descriptor_set_const`].
//! - `user_service_client::UserServiceClient` with `new(channel)`, `connect(target)`, the
//!   per-client options (`send_compressed`, `accept_compressed`, `timeout`,
//!   `max_decoding_message_size`, `max_encoding_message_size`) and one `async fn` per RPC, e.g.
//!   `get_user(request) -> Result<rill::Response<User>, rill::Status>`.
//!
//! Method names are the RPC names in `snake_case`; Rust keywords become raw identifiers
//! (`rpc Type` gives `r#type`). On the client, an RPC whose name collides with a client helper
//! (`new`, `connect`, `client`, `timeout`, the other option methods, `clone`, `fmt`, `into`,
//! `to_owned`) gets an `_rpc` suffix (`rpc Connect` gives `connect_rpc`). Leading and trailing
//! proto comments become doc comments; code blocks in them are marked `text` so that they are
//! never run as doctests.

mod comments;
mod descriptors;
mod error;
mod generator;
mod naming;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use error::Error;

use generator::RillGenerator;

/// Compiles `protos` (looking up imports in `includes`) with the default configuration:
/// servers, clients, output to `$OUT_DIR`, `cargo:rerun-if-changed` lines.
///
/// Same as `configure().compile(protos, includes)`; see [`Builder::compile`].
///
/// # Errors
///
/// See [`Builder::compile`].
pub fn compile_protos(
    protos: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
) -> Result<(), Error> {
    configure().compile(protos, includes)
}

/// Starts a configurable build; finish it with [`Builder::compile`].
pub fn configure() -> Builder {
    Builder {
        build_server: true,
        build_client: true,
        out_dir: None,
        emit_rerun_if_changed: true,
        file_descriptor_set_path: None,
        file_descriptor_set_const: true,
        include_file: None,
        prost: Vec::new(),
    }
}

/// Configuration of a build, created by [`configure`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    build_server: bool,
    build_client: bool,
    out_dir: Option<PathBuf>,
    emit_rerun_if_changed: bool,
    file_descriptor_set_path: Option<PathBuf>,
    file_descriptor_set_const: bool,
    include_file: Option<PathBuf>,
    /// prost-build options, replayed onto the `prost_build::Config` in order.
    prost: Vec<ProstOption>,
}

/// One prost-build setting passed through by [`Builder`].
#[derive(Debug, Clone)]
enum ProstOption {
    TypeAttribute(String, String),
    MessageAttribute(String, String),
    EnumAttribute(String, String),
    FieldAttribute(String, String),
    ExternPath(String, String),
    Bytes(String),
    BtreeMap(String),
    Boxed(String),
    DisableComments(String),
    CompileWellKnownTypes,
}

impl Builder {
    /// Whether to generate the `<service>_server` modules (default `true`).
    pub fn build_server(mut self, enable: bool) -> Self {
        self.build_server = enable;
        self
    }

    /// Whether to generate the `<service>_client` modules (default `true`).
    pub fn build_client(mut self, enable: bool) -> Self {
        self.build_client = enable;
        self
    }

    /// Where to write the generated files (default: the `OUT_DIR` cargo gives build scripts).
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Whether to print `cargo:rerun-if-changed=<file>` for every `.proto` file read, the
    /// listed ones and their imports from the include directories (default `true`).
    pub fn emit_rerun_if_changed(mut self, enable: bool) -> Self {
        self.emit_rerun_if_changed = enable;
        self
    }

    /// Also writes the compiled descriptors, as an encoded `google.protobuf.FileDescriptorSet`
    /// (with imports and source info), to `path`, e.g. for server reflection. A relative path
    /// is relative to the build script's working directory (the package root), so usually you
    /// want `PathBuf::from(env::var("OUT_DIR")?).join("descriptor.bin")`.
    pub fn file_descriptor_set_path(mut self, path: impl AsRef<Path>) -> Self {
        self.file_descriptor_set_path = Some(path.as_ref().to_owned());
        self
    }

    /// Whether each package that declares a service gets a `FILE_DESCRIPTOR_SET: &[u8]`
    /// constant (default `true`): the encoded `google.protobuf.FileDescriptorSet` of the
    /// package's files and all their imports, for server reflection. The bytes are written
    /// beside the package's `.rs` file (`user_descriptor.bin` for `package user;`) and
    /// included with `include_bytes!`, so they add nothing to a binary that does not use them.
    pub fn file_descriptor_set_const(mut self, enable: bool) -> Self {
        self.file_descriptor_set_const = enable;
        self
    }

    /// Also writes `name` (in the output directory), a file that includes every generated file
    /// inside `pub mod` blocks mirroring the packages, so one
    /// `include!(concat!(env!("OUT_DIR"), "/<name>"))` brings in everything.
    /// See prost-build's `Config::include_file`.
    pub fn include_file(mut self, name: impl AsRef<Path>) -> Self {
        self.include_file = Some(name.as_ref().to_owned());
        self
    }

    /// Adds an attribute to the generated messages and enums matching `path` (a proto path
    /// such as `.user.User`, or `.` for all). See prost-build's `Config::type_attribute`.
    pub fn type_attribute(mut self, path: impl AsRef<str>, attribute: impl AsRef<str>) -> Self {
        self.prost.push(ProstOption::TypeAttribute(
            path.as_ref().to_owned(),
            attribute.as_ref().to_owned(),
        ));
        self
    }

    /// Adds an attribute to the generated messages matching `path`.
    /// See prost-build's `Config::message_attribute`.
    pub fn message_attribute(mut self, path: impl AsRef<str>, attribute: impl AsRef<str>) -> Self {
        self.prost.push(ProstOption::MessageAttribute(
            path.as_ref().to_owned(),
            attribute.as_ref().to_owned(),
        ));
        self
    }

    /// Adds an attribute to the generated enums (and oneofs) matching `path`.
    /// See prost-build's `Config::enum_attribute`.
    pub fn enum_attribute(mut self, path: impl AsRef<str>, attribute: impl AsRef<str>) -> Self {
        self.prost.push(ProstOption::EnumAttribute(
            path.as_ref().to_owned(),
            attribute.as_ref().to_owned(),
        ));
        self
    }

    /// Adds an attribute to the generated fields matching `path` (e.g. `.user.User.email`).
    /// See prost-build's `Config::field_attribute`.
    pub fn field_attribute(mut self, path: impl AsRef<str>, attribute: impl AsRef<str>) -> Self {
        self.prost.push(ProstOption::FieldAttribute(
            path.as_ref().to_owned(),
            attribute.as_ref().to_owned(),
        ));
        self
    }

    /// Uses existing Rust types for the proto package or type `proto_path` instead of
    /// generating them, e.g. `extern_path(".common", "::common_protos")`.
    /// See prost-build's `Config::extern_path`.
    pub fn extern_path(mut self, proto_path: impl AsRef<str>, rust_path: impl AsRef<str>) -> Self {
        self.prost.push(ProstOption::ExternPath(
            proto_path.as_ref().to_owned(),
            rust_path.as_ref().to_owned(),
        ));
        self
    }

    /// Generates `bytes::Bytes` instead of `Vec<u8>` for the `bytes` fields matching `path`
    /// (`.` for all). See prost-build's `Config::bytes`.
    pub fn bytes(mut self, path: impl AsRef<str>) -> Self {
        self.prost
            .push(ProstOption::Bytes(path.as_ref().to_owned()));
        self
    }

    /// Generates `BTreeMap` instead of `HashMap` for the map fields matching `path`.
    /// See prost-build's `Config::btree_map`.
    pub fn btree_map(mut self, path: impl AsRef<str>) -> Self {
        self.prost
            .push(ProstOption::BtreeMap(path.as_ref().to_owned()));
        self
    }

    /// Boxes the message fields matching `path`. See prost-build's `Config::boxed`.
    pub fn boxed(mut self, path: impl AsRef<str>) -> Self {
        self.prost
            .push(ProstOption::Boxed(path.as_ref().to_owned()));
        self
    }

    /// Leaves out the proto comments of the messages, fields and services matching `path`.
    /// See prost-build's `Config::disable_comments`.
    pub fn disable_comments(mut self, path: impl AsRef<str>) -> Self {
        self.prost
            .push(ProstOption::DisableComments(path.as_ref().to_owned()));
        self
    }

    /// Generates the `google.protobuf` well-known types instead of using `prost-types`.
    /// See prost-build's `Config::compile_well_known_types`.
    pub fn compile_well_known_types(mut self) -> Self {
        self.prost.push(ProstOption::CompileWellKnownTypes);
        self
    }

    /// Compiles `protos` into Rust, looking up imports in `includes`.
    ///
    /// Every file in `protos` must be inside one of `includes` (or be given relative to one).
    /// The standard `google/protobuf/*.proto` imports are always available.
    ///
    /// # Errors
    ///
    /// [`Error::Proto`] when a file cannot be found, parsed or checked, [`Error::Codegen`] when
    /// the Rust code cannot be generated or written, [`Error::DescriptorSet`] when a
    /// descriptor set cannot be written.
    pub fn compile(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(), Error> {
        self.compile_with_config(prost_build::Config::new(), protos, includes)
    }

    /// Same as [`Builder::compile`] (the name `tonic-build` users know).
    ///
    /// # Errors
    ///
    /// See [`Builder::compile`].
    pub fn compile_protos(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(), Error> {
        self.compile(protos, includes)
    }

    /// Like [`Builder::compile`], starting from a `prost_build::Config` for settings this
    /// builder does not pass through. Its service generator is replaced by rill's.
    ///
    /// # Errors
    ///
    /// See [`Builder::compile`].
    pub fn compile_with_config(
        &self,
        mut config: prost_build::Config,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(), Error> {
        let mut compiler = protox::Compiler::new(includes.iter().map(AsRef::as_ref))?;
        compiler.include_imports(true).include_source_info(true);
        compiler.open_files(protos.iter().map(AsRef::as_ref))?;

        if self.emit_rerun_if_changed {
            for path in files_read(&compiler) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        if let Some(path) = &self.file_descriptor_set_path {
            std::fs::write(path, compiler.encode_file_descriptor_set()).map_err(|error| {
                Error::DescriptorSet {
                    path: path.clone(),
                    error,
                }
            })?;
        }

        let fds = compiler.file_descriptor_set();
        let descriptor_files = self.write_package_sets(&fds)?;
        self.apply(&mut config, descriptor_files);
        config.compile_fds(fds).map_err(Error::Codegen)
    }

    /// Writes each package's descriptor set beside its generated file, for the
    /// `FILE_DESCRIPTOR_SET` constants; returns package → file name.
    fn write_package_sets(
        &self,
        fds: &prost_types::FileDescriptorSet,
    ) -> Result<HashMap<String, String>, Error> {
        let out_dir = self
            .out_dir
            .clone()
            .or_else(|| std::env::var_os("OUT_DIR").map(PathBuf::from));
        let Some(out_dir) = out_dir.filter(|_| self.file_descriptor_set_const) else {
            return Ok(HashMap::new());
        };
        let mut files = HashMap::new();
        for (package, set) in descriptors::package_sets(fds) {
            let name = descriptors::file_name(&package);
            let path = out_dir.join(&name);
            descriptors::write_if_changed(&path, &set)
                .map_err(|error| Error::DescriptorSet { path, error })?;
            files.insert(package, name);
        }
        Ok(files)
    }

    fn apply(&self, config: &mut prost_build::Config, descriptor_files: HashMap<String, String>) {
        // Installed even without servers and clients: it also writes the descriptor constants.
        config.service_generator(Box::new(RillGenerator {
            server: self.build_server,
            client: self.build_client,
            descriptor_files,
        }));
        if let Some(dir) = &self.out_dir {
            config.out_dir(dir);
        }
        if let Some(name) = &self.include_file {
            config.include_file(name);
        }
        for option in &self.prost {
            match option {
                ProstOption::TypeAttribute(path, attr) => config.type_attribute(path, attr),
                ProstOption::MessageAttribute(path, attr) => config.message_attribute(path, attr),
                ProstOption::EnumAttribute(path, attr) => config.enum_attribute(path, attr),
                ProstOption::FieldAttribute(path, attr) => config.field_attribute(path, attr),
                ProstOption::ExternPath(proto, rust) => config.extern_path(proto, rust),
                ProstOption::Bytes(path) => config.bytes([path]),
                ProstOption::BtreeMap(path) => config.btree_map([path]),
                ProstOption::Boxed(path) => config.boxed(path),
                ProstOption::DisableComments(path) => config.disable_comments([path]),
                ProstOption::CompileWellKnownTypes => config.compile_well_known_types(),
            };
        }
    }
}

/// The `.proto` files `compiler` read from disk: the listed ones and their imports. Built-in
/// `google/protobuf` files have no path (and never change).
fn files_read(compiler: &protox::Compiler) -> impl Iterator<Item = &Path> {
    compiler.files().filter_map(|file| file.path())
}

#[cfg(test)]
mod tests;
