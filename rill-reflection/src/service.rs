//! `ServerReflectionInfo`: one response per request, errors as `ErrorResponse` messages so the
//! stream goes on.

use futures_util::StreamExt;
use rill::{BoxStream, Code, Request, Response, Status, Streaming};

use crate::pb::v1::server_reflection_request::MessageRequest;
use crate::pb::v1::server_reflection_response::MessageResponse;
use crate::pb::v1::{
    ErrorResponse, ExtensionNumberResponse, ExtensionRequest, FileDescriptorResponse,
    ListServiceResponse, ServerReflectionRequest, ServerReflectionResponse, ServiceResponse,
};
use crate::pb::{v1, v1alpha};
use crate::ReflectionService;

impl ReflectionService {
    /// The answer to one request.
    pub(crate) fn respond(&self, request: ServerReflectionRequest) -> ServerReflectionResponse {
        let answer = match &request.message_request {
            Some(MessageRequest::ListServices(_)) => Ok(self.list_services()),
            Some(MessageRequest::FileByFilename(name)) => self.files(name, "file", Some(name)),
            Some(MessageRequest::FileContainingSymbol(symbol)) => {
                let file = self.index.file_containing_symbol(symbol);
                self.files(symbol, "symbol", file)
            }
            Some(MessageRequest::FileContainingExtension(ExtensionRequest {
                containing_type,
                extension_number,
            })) => {
                let file = self
                    .index
                    .file_containing_extension(containing_type, *extension_number);
                let what = format!("extension {extension_number} of");
                self.files(containing_type, &what, file)
            }
            Some(MessageRequest::AllExtensionNumbersOfType(extendee)) => {
                self.extension_numbers(extendee)
            }
            None => Err(error(
                Code::InvalidArgument,
                "the request sets none of the message_request fields".to_owned(),
            )),
        };
        ServerReflectionResponse {
            valid_host: request.host.clone(),
            original_request: Some(request),
            message_response: Some(answer.unwrap_or_else(MessageResponse::ErrorResponse)),
        }
    }

    fn list_services(&self) -> MessageResponse {
        let service = self
            .services
            .iter()
            .map(|name| ServiceResponse { name: name.clone() })
            .collect();
        MessageResponse::ListServicesResponse(ListServiceResponse { service })
    }

    /// `file` with its transitive imports, or NOT_FOUND naming `what` was looked up.
    fn files(
        &self,
        looked_up: &str,
        what: &str,
        file: Option<&str>,
    ) -> Result<MessageResponse, ErrorResponse> {
        let files = file.and_then(|file| self.index.file_with_dependencies(file));
        match files {
            Some(file_descriptor_proto) => Ok(MessageResponse::FileDescriptorResponse(
                FileDescriptorResponse {
                    file_descriptor_proto,
                },
            )),
            None => Err(error(
                Code::NotFound,
                format!("{what} {looked_up:?} not found"),
            )),
        }
    }

    fn extension_numbers(&self, extendee: &str) -> Result<MessageResponse, ErrorResponse> {
        match self.index.extension_numbers(extendee) {
            Some(extension_number) => Ok(MessageResponse::AllExtensionNumbersResponse(
                ExtensionNumberResponse {
                    base_type_name: extendee.strip_prefix('.').unwrap_or(extendee).to_owned(),
                    extension_number,
                },
            )),
            None => Err(error(
                Code::NotFound,
                format!("type {extendee:?} not found"),
            )),
        }
    }

    /// Answers each request of the stream in turn.
    fn answer(
        &self,
        request: Request<Streaming<ServerReflectionRequest>>,
    ) -> Response<BoxStream<ServerReflectionResponse>> {
        let this = self.clone();
        let responses = request
            .into_inner()
            .map(move |request| request.map(|request| this.respond(request)));
        Response::stream(responses)
    }
}

fn error(code: Code, error_message: String) -> ErrorResponse {
    ErrorResponse {
        error_code: code.as_i32(),
        error_message,
    }
}

impl v1::server_reflection_server::ServerReflection for ReflectionService {
    async fn server_reflection_info(
        &self,
        request: Request<Streaming<ServerReflectionRequest>>,
    ) -> Result<Response<BoxStream<ServerReflectionResponse>>, Status> {
        Ok(self.answer(request))
    }
}

impl v1alpha::server_reflection_server::ServerReflection for ReflectionService {
    async fn server_reflection_info(
        &self,
        request: Request<Streaming<ServerReflectionRequest>>,
    ) -> Result<Response<BoxStream<ServerReflectionResponse>>, Status> {
        Ok(self.answer(request))
    }
}
