//! The `prost_build::ServiceGenerator` that writes rill servers and clients.

use std::collections::HashMap;
use std::fmt::Write as _;

use prost_build::{Method, Service, ServiceGenerator};

use crate::comments::doc_lines;
use crate::descriptors;
use crate::naming::{client_method, qualify_type, snake_ident};

/// Lints the generated modules opt out of: proto comments are free text (`doc_markdown`),
/// paths are fully qualified on purpose (`unused_qualifications`), defaults ignore their
/// request (`unused_variables`), and the consumer decides how public the modules are
/// (`unreachable_pub`).
const MODULE_ALLOWS: &str =
    "#![allow(unused_variables, unused_qualifications, unreachable_pub, clippy::doc_markdown)]";

/// Generates the `<service>_server` and `<service>_client` modules of each service, and the
/// `FILE_DESCRIPTOR_SET` constant of each package that has services.
#[derive(Debug, Clone)]
pub(crate) struct RillGenerator {
    pub(crate) server: bool,
    pub(crate) client: bool,
    /// Package → the descriptor set file written beside the package's `.rs` file.
    pub(crate) descriptor_files: HashMap<String, String>,
}

impl ServiceGenerator for RillGenerator {
    fn generate(&mut self, service: Service, buf: &mut String) {
        let svc = ServiceInfo::new(&service);
        if self.server {
            write_server(&svc, buf);
        }
        if self.client {
            write_client(&svc, buf);
        }
    }

    fn finalize_package(&mut self, package: &str, buf: &mut String) {
        if let Some(file) = self.descriptor_files.get(package) {
            buf.push_str(&descriptors::constant(package, file));
        }
    }
}

/// What both halves need to know about a service.
struct ServiceInfo {
    /// Rust trait name (`UserService`).
    name: String,
    /// Module stem (`user_service`).
    module: String,
    /// Fully qualified proto name (`user.UserService`).
    full_name: String,
    docs: Vec<String>,
    methods: Vec<MethodInfo>,
}

struct MethodInfo {
    proto_name: String,
    /// Server trait method name.
    name: String,
    /// Client method name (differs when `name` clashes with a client helper).
    client_name: String,
    /// `/user.UserService/GetUser`.
    path: String,
    input: String,
    output: String,
    client_streaming: bool,
    server_streaming: bool,
    deprecated: bool,
    docs: Vec<String>,
}

impl ServiceInfo {
    fn new(service: &Service) -> Self {
        let full_name = if service.package.is_empty() {
            service.proto_name.clone()
        } else {
            format!("{}.{}", service.package, service.proto_name)
        };
        let methods = service
            .methods
            .iter()
            .map(|m| MethodInfo::new(m, &full_name))
            .collect();
        ServiceInfo {
            name: service.name.clone(),
            module: snake_ident(&service.proto_name)
                .trim_start_matches("r#")
                .trim_end_matches('_')
                .to_owned(),
            full_name,
            docs: doc_lines(&service.comments),
            methods,
        }
    }
}

impl MethodInfo {
    fn new(method: &Method, full_service: &str) -> Self {
        let name = snake_ident(&method.proto_name);
        MethodInfo {
            client_name: client_method(&name),
            path: format!("/{full_service}/{}", method.proto_name),
            proto_name: method.proto_name.clone(),
            name,
            input: qualify_type(&method.input_type),
            output: qualify_type(&method.output_type),
            client_streaming: method.client_streaming,
            server_streaming: method.server_streaming,
            deprecated: method.options.deprecated(),
            docs: doc_lines(&method.comments),
        }
    }

    fn kind(&self) -> &'static str {
        match (self.client_streaming, self.server_streaming) {
            (false, false) => "unary",
            (false, true) => "server-streaming",
            (true, false) => "client-streaming",
            (true, true) => "bidirectional-streaming",
        }
    }

    /// The `rill::server::Method` / `rill::Client` helper for this kind of call.
    fn helper(&self) -> &'static str {
        match (self.client_streaming, self.server_streaming) {
            (false, false) => "unary",
            (false, true) => "server_streaming",
            (true, false) => "client_streaming",
            (true, true) => "streaming",
        }
    }

    /// The request type the server handler receives.
    fn server_request(&self) -> String {
        if self.client_streaming {
            format!("::rill::Request<::rill::Streaming<{}>>", self.input)
        } else {
            format!("::rill::Request<{}>", self.input)
        }
    }

    /// The `Ok` type of the server handler's result.
    fn server_response(&self) -> String {
        if self.server_streaming {
            format!("::rill::Response<::rill::BoxStream<{}>>", self.output)
        } else {
            format!("::rill::Response<{}>", self.output)
        }
    }

    /// The `Ok` type of the client call's result.
    fn client_response(&self) -> String {
        if self.server_streaming {
            format!("::rill::Response<::rill::Streaming<{}>>", self.output)
        } else {
            format!("::rill::Response<{}>", self.output)
        }
    }
}

/// Appends `#[doc = "..."]` lines: the proto docs, then (after a blank line) `extra`.
fn write_docs(buf: &mut String, proto_docs: &[String], extra: &[&str]) {
    let blank = (!proto_docs.is_empty() && !extra.is_empty()).then_some("");
    let lines = proto_docs
        .iter()
        .map(String::as_str)
        .chain(blank)
        .chain(extra.iter().copied());
    for line in lines {
        if line.is_empty() {
            buf.push_str("#[doc = \"\"]\n");
        } else {
            // `{:?}` yields a valid Rust string literal for any text.
            let _ = writeln!(buf, "#[doc = {:?}]", format!(" {line}"));
        }
    }
}

fn write_server(svc: &ServiceInfo, buf: &mut String) {
    let ServiceInfo {
        name, full_name, ..
    } = svc;
    let server = format!("{name}Server");
    write_docs(buf, &[], &[&format!("Server side of `{full_name}`.")]);
    let _ = writeln!(buf, "pub mod {}_server {{", svc.module);
    buf.push_str(MODULE_ALLOWS);
    buf.push('\n');

    let trait_doc = format!(
        "Implement the methods with `async fn`; methods left out answer `UNIMPLEMENTED`. \
         Serve an implementation with [`{server}`]."
    );
    write_docs(
        buf,
        &svc.docs,
        &[&format!("The `{full_name}` service."), "", &trait_doc],
    );
    let _ = writeln!(
        buf,
        "pub trait {name}: ::core::marker::Send + ::core::marker::Sync + 'static {{"
    );
    for m in &svc.methods {
        let doc = format!(
            "Handles {} `{}` calls; by default answers `UNIMPLEMENTED`.",
            m.kind(),
            m.proto_name
        );
        write_docs(buf, &m.docs, &[&doc]);
        let _ = writeln!(
            buf,
            "fn {}(&self, request: {}) -> impl ::core::future::Future<Output = \
             ::core::result::Result<{}, ::rill::Status>> + ::core::marker::Send {{\n\
             async move {{ ::core::result::Result::Err(::rill::Status::unimplemented({:?})) }}\n}}",
            m.name,
            m.server_request(),
            m.server_response(),
            format!("{full_name}/{} is not implemented", m.proto_name),
        );
    }
    buf.push_str("}\n");

    let _ = write!(
        buf,
        r#"/// Serves a [`{name}`] implementation; add it to a `rill::server::Server`.
pub struct {server}<T> {{
    inner: ::std::sync::Arc<T>,
}}
impl<T: {name}> {server}<T> {{
    /// Wraps `inner` to serve it.
    pub fn new(inner: T) -> Self {{
        Self::from_arc(::std::sync::Arc::new(inner))
    }}
    /// Serves an implementation that is already shared.
    pub const fn from_arc(inner: ::std::sync::Arc<T>) -> Self {{
        Self {{ inner }}
    }}
}}
impl<T> ::core::clone::Clone for {server}<T> {{
    fn clone(&self) -> Self {{
        Self {{ inner: ::std::sync::Arc::clone(&self.inner) }}
    }}
}}
impl<T> ::core::fmt::Debug for {server}<T> {{
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{
        f.debug_struct({server:?}).finish_non_exhaustive()
    }}
}}
/// Full name of the service: `{full_name}`.
pub const SERVICE_NAME: &str = {full_name:?};
impl<T> ::rill::server::NamedService for {server}<T> {{
    const NAME: &'static str = SERVICE_NAME;
}}
impl<T: {name}> ::rill::server::Service for {server}<T> {{
    fn name(&self) -> &'static str {{
        SERVICE_NAME
    }}
    fn methods(&self) -> ::std::vec::Vec<::rill::server::Method> {{
        ::std::vec::Vec::from(["#
    );
    for m in &svc.methods {
        let _ = write!(
            buf,
            r#"
            {{
                let svc = ::std::sync::Arc::clone(&self.inner);
                ::rill::server::Method::{helper}({proto:?}, move |request: {req}| {{
                    let svc = ::std::sync::Arc::clone(&svc);
                    async move {{ <T as {name}>::{method}(&svc, request).await }}
                }})
            }},"#,
            helper = m.helper(),
            proto = m.proto_name,
            req = m.server_request(),
            method = m.name,
        );
    }
    buf.push_str("\n        ])\n    }\n}\n}\n");
}

fn write_client(svc: &ServiceInfo, buf: &mut String) {
    let ServiceInfo {
        name, full_name, ..
    } = svc;
    let client = format!("{name}Client");
    write_docs(buf, &[], &[&format!("Client side of `{full_name}`.")]);
    let _ = writeln!(buf, "pub mod {}_client {{", svc.module);
    buf.push_str(MODULE_ALLOWS);
    buf.push('\n');
    write_docs(
        buf,
        &svc.docs,
        &[
            &format!("A client for `{full_name}`."),
            "",
            "Cheap to clone: clones share the underlying channel.",
        ],
    );
    let _ = write!(
        buf,
        r#"#[derive(Clone, Debug)]
pub struct {client} {{
    inner: ::rill::Client,
}}
impl {client} {{
    /// Creates a client on a channel (or on a configured `rill::Client`).
    #[must_use]
    pub fn new(client: impl ::core::convert::Into<::rill::Client>) -> Self {{
        Self {{ inner: client.into() }}
    }}
    /// Connects to `target` (e.g. `"http://127.0.0.1:50051"`).
    ///
    /// # Errors
    ///
    /// Fails when `target` is invalid or the connection cannot be established.
    pub async fn connect(target: &str) -> ::core::result::Result<Self, ::rill::Error> {{
        ::core::result::Result::Ok(Self::new(::rill::Channel::connect(target).await?))
    }}
    /// Compresses request messages with `encoding`.
    #[must_use]
    pub fn send_compressed(self, encoding: ::rill::compression::CompressionEncoding) -> Self {{
        Self {{ inner: self.inner.send_compressed(encoding) }}
    }}
    /// Tells the server it may compress responses with `encoding`.
    #[must_use]
    pub fn accept_compressed(self, encoding: ::rill::compression::CompressionEncoding) -> Self {{
        Self {{ inner: self.inner.accept_compressed(encoding) }}
    }}
    /// Sets a deadline for every call made with this client.
    #[must_use]
    pub fn timeout(self, timeout: ::core::time::Duration) -> Self {{
        Self {{ inner: self.inner.timeout(timeout) }}
    }}
    /// Limits the size of a received (decompressed) message.
    #[must_use]
    pub fn max_decoding_message_size(self, limit: usize) -> Self {{
        Self {{ inner: self.inner.max_decoding_message_size(limit) }}
    }}
    /// Limits the size of a sent message.
    #[must_use]
    pub fn max_encoding_message_size(self, limit: usize) -> Self {{
        Self {{ inner: self.inner.max_encoding_message_size(limit) }}
    }}
    /// The underlying `rill::Client`.
    #[must_use]
    pub const fn client(&self) -> &::rill::Client {{
        &self.inner
    }}
"#
    );
    for m in &svc.methods {
        let call = format!(
            "Calls the {} `{}` method (`{}`).",
            m.kind(),
            m.proto_name,
            m.path
        );
        let errors = "Returns the status the server answered, or a local status when the call \
                      could not complete (connection, deadline, message limits).";
        write_docs(buf, &m.docs, &[&call, "", "# Errors", "", errors]);
        if m.deprecated {
            buf.push_str("#[deprecated]\n");
        }
        let (arg, into) = if m.client_streaming {
            (
                format!("impl ::rill::IntoStreamingRequest<Message = {}>", m.input),
                "::rill::IntoStreamingRequest::into_streaming_request(request)",
            )
        } else {
            (
                format!("impl ::rill::IntoRequest<{}>", m.input),
                "::rill::IntoRequest::into_request(request)",
            )
        };
        let _ = writeln!(
            buf,
            "pub async fn {}(&self, request: {arg}) -> ::core::result::Result<{}, ::rill::Status> {{\n\
             self.inner.{}({:?}, {into}).await\n}}",
            m.client_name,
            m.client_response(),
            m.helper(),
            m.path,
        );
    }
    buf.push_str("}\n}\n");
}
