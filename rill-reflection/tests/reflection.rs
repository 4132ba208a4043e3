//! Every request of `ServerReflectionInfo`, on v1 and v1alpha, over TCP on 127.0.0.1.

mod common;

use common::{acme, serve, Session, Version};
use prost::Message as _;
use rill::Code;
use rill_reflection::pb::v1::server_reflection_request::MessageRequest;
use rill_reflection::pb::v1::server_reflection_response::MessageResponse;
use rill_reflection::pb::v1::{ExtensionRequest, ServerReflectionRequest};
use rill_reflection::ReflectionService;

const API: &str = "acme/api.proto";
const BASE: &str = "acme/base.proto";
const COMMON: &str = "acme/common.proto";
const EXT: &str = "acme/ext.proto";
const EMPTY: &str = "google/protobuf/empty.proto";
const TIMESTAMP: &str = "google/protobuf/timestamp.proto";

/// api.proto, then its imports depth first, each once (base.proto is imported twice).
const API_AND_IMPORTS: [&str; 6] = [API, COMMON, BASE, TIMESTAMP, EXT, EMPTY];

fn symbol(name: &str) -> MessageRequest {
    MessageRequest::FileContainingSymbol(name.to_owned())
}

fn extension(containing_type: &str, extension_number: i32) -> MessageRequest {
    MessageRequest::FileContainingExtension(ExtensionRequest {
        containing_type: containing_type.to_owned(),
        extension_number,
    })
}

async fn list(session: &mut Session) -> Vec<String> {
    match session
        .ask(MessageRequest::ListServices(String::new()))
        .await
    {
        MessageResponse::ListServicesResponse(list) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("not a list: {other:?}"),
    }
}

async fn extension_numbers(session: &mut Session, extendee: &str) -> (String, Vec<i32>) {
    let request = MessageRequest::AllExtensionNumbersOfType(extendee.to_owned());
    match session.ask(request).await {
        MessageResponse::AllExtensionNumbersResponse(numbers) => {
            (numbers.base_type_name, numbers.extension_number)
        }
        other => panic!("not extension numbers: {other:?}"),
    }
}

async fn session(version: Version) -> Session {
    let url = serve(&acme()).await;
    Session::open(&url, version).await
}

#[tokio::test]
async fn list_services_on_both_versions() {
    for version in [Version::V1, Version::V1Alpha] {
        let mut session = session(version).await;
        assert_eq!(
            list(&mut session).await,
            [
                "acme.api.Catalog",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            ],
            "{version:?}"
        );
        session.close().await;
    }
}

#[tokio::test]
async fn file_by_filename_sends_the_file_and_its_imports_once() {
    for version in [Version::V1, Version::V1Alpha] {
        let mut session = session(version).await;
        let request = MessageRequest::FileByFilename(API.to_owned());
        assert_eq!(session.files(request.clone()).await, API_AND_IMPORTS);
        // Asked again on the same stream: the same full answer.
        assert_eq!(session.files(request).await, API_AND_IMPORTS);
        let request = MessageRequest::FileByFilename(EXT.to_owned());
        assert_eq!(session.files(request).await, [EXT, BASE]);
        let request = MessageRequest::FileByFilename(EMPTY.to_owned());
        assert_eq!(session.files(request).await, [EMPTY]);
    }
}

#[tokio::test]
async fn files_are_sent_exactly_as_registered() {
    let registered =
        prost_types::FileDescriptorSet::decode(common::compile(&["acme/api.proto"]).as_slice())
            .expect("decodes");
    let mut session = session(Version::V1).await;
    let request = MessageRequest::FileByFilename(API.to_owned());
    let MessageResponse::FileDescriptorResponse(files) = session.ask(request).await else {
        panic!("not files");
    };
    for bytes in &files.file_descriptor_proto {
        let file = prost_types::FileDescriptorProto::decode(bytes.clone()).expect("decodes");
        let original = registered
            .file
            .iter()
            .find(|f| f.name() == file.name())
            .expect("a registered file");
        assert_eq!(&file, original);
        // Comments (source info) are kept for clients that show them.
        if file.name().starts_with("acme/") {
            assert!(file.source_code_info.is_some(), "{}", file.name());
        }
    }
}

#[tokio::test]
async fn file_containing_symbol_finds_every_kind_of_symbol() {
    let cases: &[(&str, &[&str])] = &[
        ("acme.api.Catalog", &API_AND_IMPORTS),
        ("acme.api.Catalog.GetItem", &API_AND_IMPORTS),
        ("acme.api.Item", &API_AND_IMPORTS),
        ("acme.api.Item.Part", &API_AND_IMPORTS),
        ("acme.api.Item.parts", &API_AND_IMPORTS),
        ("acme.api.Item.Kind", &API_AND_IMPORTS),
        // Enum values are siblings of their enum.
        ("acme.api.Item.TOOL", &API_AND_IMPORTS),
        ("acme.api.GetItemRequest.key", &API_AND_IMPORTS),
        (".acme.api.Item", &API_AND_IMPORTS),
        ("acme.base.Extendable", &[BASE]),
        ("acme.base.Color", &[BASE]),
        ("acme.base.RED", &[BASE]),
        ("acme.common.Stamp", &[COMMON, BASE, TIMESTAMP]),
        ("acme.ext.weight", &[EXT, BASE]),
        ("acme.ext.Holder.holder", &[EXT, BASE]),
        ("google.protobuf.Timestamp", &[TIMESTAMP]),
        (
            "grpc.reflection.v1.ServerReflection",
            &["grpc/reflection/v1/reflection.proto"],
        ),
        (
            "grpc.reflection.v1alpha.ServerReflection.ServerReflectionInfo",
            &["grpc/reflection/v1alpha/reflection.proto"],
        ),
    ];
    for version in [Version::V1, Version::V1Alpha] {
        let mut session = session(version).await;
        for (name, files) in cases {
            assert_eq!(
                &session.files(symbol(name)).await,
                files,
                "{name} {version:?}"
            );
        }
    }
}

#[tokio::test]
async fn extensions_by_number_and_all_numbers_of_a_type() {
    for version in [Version::V1, Version::V1Alpha] {
        let mut session = session(version).await;
        for (number, files) in [(100, [EXT, BASE]), (101, [EXT, BASE]), (150, [EXT, BASE])] {
            let files_found = session
                .files(extension("acme.base.Extendable", number))
                .await;
            assert_eq!(files_found, files, "extension {number}");
        }
        let (base, numbers) = extension_numbers(&mut session, "acme.base.Extendable").await;
        assert_eq!(
            (base.as_str(), numbers),
            ("acme.base.Extendable", vec![100, 101, 150])
        );
        let (base, numbers) = extension_numbers(&mut session, ".acme.base.Plain").await;
        assert_eq!((base.as_str(), numbers), ("acme.base.Plain", vec![]));
    }
}

#[tokio::test]
async fn unknown_names_get_not_found_and_the_stream_goes_on() {
    for version in [Version::V1, Version::V1Alpha] {
        let mut session = session(version).await;
        let requests = [
            MessageRequest::FileByFilename("acme/nope.proto".to_owned()),
            symbol("acme.api.Nope"),
            symbol("acme.api"),
            extension("acme.base.Extendable", 199),
            extension("acme.base.Nope", 100),
            MessageRequest::AllExtensionNumbersOfType("acme.base.Nope".to_owned()),
            // An enum is not a message: it has no extensions.
            MessageRequest::AllExtensionNumbersOfType("acme.base.Color".to_owned()),
        ];
        for request in requests {
            let error = session.error(request.clone()).await;
            assert_eq!(error.error_code, Code::NotFound.as_i32(), "{request:?}");
            assert!(!error.error_message.is_empty(), "{request:?}");
            // The stream still answers.
            assert_eq!(
                session.files(symbol("acme.base.Plain")).await,
                [BASE],
                "after {request:?}"
            );
        }
        let error = session.error(symbol("acme.api.Nope")).await;
        assert_eq!(error.error_message, "symbol \"acme.api.Nope\" not found");
        session.close().await;
    }
}

#[tokio::test]
async fn a_request_without_a_question_is_invalid_and_the_stream_goes_on() {
    let mut session = session(Version::V1).await;
    session
        .send_raw(ServerReflectionRequest {
            host: "example".into(),
            message_request: None,
        })
        .await;
    let response = session.receive().await;
    let Some(MessageResponse::ErrorResponse(error)) = response.message_response else {
        panic!("not an error: {response:?}");
    };
    assert_eq!(error.error_code, Code::InvalidArgument.as_i32());
    assert_eq!(session.files(symbol("acme.base.Plain")).await, [BASE]);
}

#[tokio::test]
async fn responses_echo_the_host_and_request_in_order() {
    let mut session = session(Version::V1).await;
    // Several requests in flight: answered in order.
    let names = ["acme.base.Plain", "acme.api.Item", "acme.ext.weight"];
    for (i, name) in names.iter().enumerate() {
        session.send(&format!("host-{i}"), symbol(name)).await;
    }
    for (i, name) in names.iter().enumerate() {
        let response = session.receive().await;
        assert_eq!(response.valid_host, format!("host-{i}"));
        let original = response.original_request.expect("echoed");
        assert_eq!(original.host, format!("host-{i}"));
        assert_eq!(original.message_request, Some(symbol(name)));
    }
    session.close().await;
}

#[tokio::test]
async fn listed_services_can_be_chosen() {
    let set = common::compile(&["acme/api.proto"]);
    let reflection = ReflectionService::builder()
        .register_encoded_file_descriptor_set(set.clone())
        .with_service_name("acme.api.Catalog")
        .with_service_name("acme.api.Hidden")
        .build()
        .expect("builds");
    assert_eq!(
        reflection.service_names(),
        [
            "acme.api.Catalog",
            "acme.api.Hidden",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
    );
    let without_self = ReflectionService::builder()
        .register_encoded_file_descriptor_set(set)
        .include_reflection_service(false)
        .build()
        .expect("builds");
    let mut session = Session::open(&serve(&without_self).await, Version::V1).await;
    assert_eq!(list(&mut session).await, ["acme.api.Catalog"]);
    let error = session
        .error(symbol("grpc.reflection.v1.ServerReflection"))
        .await;
    assert_eq!(error.error_code, Code::NotFound.as_i32());
}
