//! A server reflection session: one bidirectional `ServerReflectionInfo` stream, asked one
//! question at a time. Tries `grpc.reflection.v1` first and falls back to `v1alpha` when the
//! server answers UNIMPLEMENTED (grpcio, grpc-go before 1.45 and gRPC C++ serve only v1alpha).

use std::collections::{HashMap, HashSet};

use prost::Message;
use prost_reflect::DescriptorPool;
use prost_types::FileDescriptorProto;
use rill::{Code, Status, Streaming};
use rill_reflection::pb::v1::server_reflection_request::MessageRequest;
use rill_reflection::pb::v1::server_reflection_response::MessageResponse;
use rill_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};
use rill_reflection::pb::{v1, v1alpha};
use tokio::sync::mpsc;

use crate::error::CliError;

/// Which reflection service the server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V1Alpha,
}

impl Version {
    pub(crate) fn service(self) -> &'static str {
        match self {
            Version::V1 => "grpc.reflection.v1.ServerReflection",
            Version::V1Alpha => "grpc.reflection.v1alpha.ServerReflection",
        }
    }
}

struct Session {
    requests: mpsc::UnboundedSender<ServerReflectionRequest>,
    responses: Streaming<ServerReflectionResponse>,
}

/// Reflection over one channel, with the descriptors fetched so far.
pub(crate) struct Reflection {
    client: rill::Client,
    session: Option<(Version, Session)>,
    pool: DescriptorPool,
    /// Files fetched, by name (added to the pool once their imports are there too).
    files: HashMap<String, FileDescriptorProto>,
    /// Says which version the server speaks (on stderr).
    verbose: bool,
}

impl Reflection {
    pub(crate) fn new(client: rill::Client, verbose: bool) -> Reflection {
        Reflection {
            client,
            verbose,
            session: None,
            pool: DescriptorPool::new(),
            files: HashMap::new(),
        }
    }

    pub(crate) fn pool(&self) -> DescriptorPool {
        self.pool.clone()
    }

    pub(crate) async fn list_services(&mut self) -> Result<Vec<String>, CliError> {
        match self
            .ask(MessageRequest::ListServices(String::new()))
            .await?
        {
            MessageResponse::ListServicesResponse(list) => {
                Ok(list.service.into_iter().map(|s| s.name).collect())
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Fetches the file that defines `symbol`, with its imports; `false` if the server does
    /// not know the symbol.
    pub(crate) async fn load_symbol(&mut self, symbol: &str) -> Result<bool, CliError> {
        let request = MessageRequest::FileContainingSymbol(symbol.to_string());
        match self.ask(request).await {
            Ok(MessageResponse::FileDescriptorResponse(files)) => {
                self.add_files(files.file_descriptor_proto).await?;
                Ok(true)
            }
            Ok(other) => Err(unexpected(&other)),
            Err(CliError::Status(status)) if status.code() == Code::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Decodes `encoded` files, fetches the imports not known yet, and adds them all.
    async fn add_files(&mut self, encoded: Vec<bytes::Bytes>) -> Result<(), CliError> {
        let mut pending = Vec::new();
        for bytes in encoded {
            let file = FileDescriptorProto::decode(bytes).map_err(|e| {
                CliError::Descriptors(format!("reflection sent an undecodable file: {e}"))
            })?;
            pending.extend(self.remember(file));
        }
        let mut asked = HashSet::new();
        while let Some(name) = pending.pop() {
            if self.files.contains_key(&name)
                || self.pool.get_file_by_name(&name).is_some()
                || !asked.insert(name.clone())
            {
                continue;
            }
            let request = MessageRequest::FileByFilename(name.clone());
            let file = match self.ask(request).await {
                Ok(MessageResponse::FileDescriptorResponse(files)) => files.file_descriptor_proto,
                Ok(other) => return Err(unexpected(&other)),
                Err(CliError::Status(s)) if s.code() == Code::NotFound => Vec::new(),
                Err(e) => return Err(e),
            };
            if file.is_empty() {
                // Servers may leave out the well-known types: use our own copy.
                let known = DescriptorPool::global()
                    .get_file_by_name(&name)
                    .ok_or_else(|| {
                        CliError::Descriptors(format!(
                            "the server's reflection cannot provide {name:?}, an import"
                        ))
                    })?;
                pending.extend(self.remember(known.file_descriptor_proto().clone()));
                continue;
            }
            for bytes in file {
                let file = FileDescriptorProto::decode(bytes).map_err(|e| {
                    CliError::Descriptors(format!("reflection sent an undecodable file: {e}"))
                })?;
                pending.extend(self.remember(file));
            }
        }
        let files: Vec<FileDescriptorProto> = self.files.drain().map(|(_, f)| f).collect();
        self.pool
            .add_file_descriptor_protos(files)
            .map_err(|e| CliError::Descriptors(format!("the server's descriptors: {e}")))
    }

    /// Keeps `file` unless known; returns its imports.
    fn remember(&mut self, file: FileDescriptorProto) -> Vec<String> {
        let name = file.name().to_string();
        if self.pool.get_file_by_name(&name).is_some() || self.files.contains_key(&name) {
            return Vec::new();
        }
        let imports = file.dependency.clone();
        self.files.insert(name, file);
        imports
    }

    /// Asks one question; an error response comes back as its status.
    async fn ask(&mut self, request: MessageRequest) -> Result<MessageResponse, CliError> {
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        };
        let response = match &mut self.session {
            Some((_, session)) => {
                if session.requests.send(request).is_err() {
                    return Err(Status::unavailable("the reflection stream closed").into());
                }
                session.responses.message().await?
            }
            None => self.open(request).await?,
        };
        match response.and_then(|r| r.message_response) {
            Some(MessageResponse::ErrorResponse(e)) => {
                Err(Status::new(Code::from_i32(e.error_code), e.error_message).into())
            }
            Some(answer) => Ok(answer),
            None => Err(Status::internal("the reflection stream ended without an answer").into()),
        }
    }

    /// Opens the stream with `first`: v1, or v1alpha when v1 is UNIMPLEMENTED.
    async fn open(
        &mut self,
        first: ServerReflectionRequest,
    ) -> Result<Option<ServerReflectionResponse>, CliError> {
        let mut last = None;
        for version in [Version::V1, Version::V1Alpha] {
            match self.try_open(version, first.clone()).await {
                Ok((session, response)) => {
                    if self.verbose {
                        eprintln!("Using server reflection: {}", version.service());
                    }
                    self.session = Some((version, session));
                    return Ok(response);
                }
                Err(status) if status.code() == Code::Unimplemented => last = Some(status),
                Err(status) => return Err(status.into()),
            }
        }
        let status = last.map_or_else(String::new, |s| format!(" ({})", s.message()));
        Err(CliError::Descriptors(format!(
            "the server does not support reflection: grpc.reflection.v1 and v1alpha are \
             UNIMPLEMENTED{status}; give its .proto files with --proto"
        )))
    }

    async fn try_open(
        &self,
        version: Version,
        first: ServerReflectionRequest,
    ) -> Result<(Session, Option<ServerReflectionResponse>), Status> {
        let (requests, rx) = mpsc::unbounded_channel();
        // Queued before the call starts: a server may hold its headers until it answers.
        let _ = requests.send(first);
        let stream =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|m| (m, rx)) },
            );
        let response = match version {
            Version::V1 => {
                v1::server_reflection_client::ServerReflectionClient::new(self.client.clone())
                    .server_reflection_info(stream)
                    .await?
            }
            Version::V1Alpha => {
                v1alpha::server_reflection_client::ServerReflectionClient::new(self.client.clone())
                    .server_reflection_info(stream)
                    .await?
            }
        };
        let mut responses = response.into_inner();
        let first = responses.message().await?;
        Ok((
            Session {
                requests,
                responses,
            },
            first,
        ))
    }
}

fn unexpected(response: &MessageResponse) -> CliError {
    let kind = match response {
        MessageResponse::FileDescriptorResponse(_) => "file_descriptor_response",
        MessageResponse::AllExtensionNumbersResponse(_) => "all_extension_numbers_response",
        MessageResponse::ListServicesResponse(_) => "list_services_response",
        MessageResponse::ErrorResponse(_) => "error_response",
    };
    CliError::Descriptors(format!("reflection answered with an unexpected {kind}"))
}
