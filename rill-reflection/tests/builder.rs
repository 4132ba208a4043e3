//! What the builder accepts and refuses.

mod common;

use prost::Message as _;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use rill_reflection::{Error, ReflectionService};

fn decoded(protos: &[&str]) -> FileDescriptorSet {
    FileDescriptorSet::decode(common::compile(protos).as_slice()).expect("decodes")
}

fn file(set: &FileDescriptorSet, name: &str) -> FileDescriptorProto {
    set.file
        .iter()
        .find(|f| f.name() == name)
        .cloned()
        .expect("in the set")
}

#[test]
fn sets_may_overlap() {
    // Sets built separately share imports: the shared files count once.
    let reflection = ReflectionService::builder()
        .register_encoded_file_descriptor_set(common::compile(&["acme/ext.proto"]))
        .register_encoded_file_descriptor_set(common::compile(&["acme/api.proto"]))
        .register_file_descriptor_set(decoded(&["acme/common.proto"]))
        .register_encoded_file_descriptor_set(rill_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .build()
        .expect("builds");
    assert!(reflection.service_names().contains(&"acme.api.Catalog"));
}

#[test]
fn invalid_bytes_are_refused() {
    let err = ReflectionService::builder()
        .register_encoded_file_descriptor_set(&b"\x0a\xff"[..])
        .build()
        .expect_err("not a descriptor set");
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
}

#[test]
fn missing_imports_are_refused() {
    let set = decoded(&["acme/api.proto"]);
    let alone = FileDescriptorSet {
        file: vec![file(&set, "acme/api.proto")],
    };
    let err = ReflectionService::builder()
        .register_file_descriptor_set(alone)
        .build()
        .expect_err("imports missing");
    assert!(
        matches!(&err, Error::MissingDependency { file, .. } if file == "acme/api.proto"),
        "{err:?}"
    );
    assert!(err.to_string().contains("is not registered"), "{err}");
}

#[test]
fn one_symbol_in_two_files_is_refused() {
    let set = decoded(&["acme/base.proto"]);
    let mut copy = file(&set, "acme/base.proto");
    copy.name = Some("acme/copy.proto".to_owned());
    let err = ReflectionService::builder()
        .register_file_descriptor_set(set)
        .register_file_descriptor_set(FileDescriptorSet { file: vec![copy] })
        .build()
        .expect_err("duplicate symbols");
    assert!(
        matches!(&err, Error::DuplicateSymbol { files, .. } if files[1] == "acme/copy.proto"),
        "{err:?}"
    );
}
