//! Per-package descriptor sets: what each generated package file embeds as
//! `FILE_DESCRIPTOR_SET`, for server reflection.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use prost::Message as _;
use prost_types::{FileDescriptorProto, FileDescriptorSet};

/// Name of the file, beside the package's `.rs` file, that holds the package's encoded set:
/// `user_descriptor.bin` for `package user;`, `_descriptor.bin` without a package.
pub(crate) fn file_name(package: &str) -> String {
    let stem = if package.is_empty() { "_" } else { package };
    format!("{stem}_descriptor.bin")
}

/// For every package that declares a service: the package's files and everything they import,
/// transitively, in the order of `all` (which lists imports before their importers).
pub(crate) fn package_sets(all: &FileDescriptorSet) -> BTreeMap<String, FileDescriptorSet> {
    let by_name: HashMap<&str, &FileDescriptorProto> =
        all.file.iter().map(|file| (file.name(), file)).collect();
    let with_services: HashSet<&str> = all
        .file
        .iter()
        .filter(|file| !file.service.is_empty())
        .map(FileDescriptorProto::package)
        .collect();
    with_services
        .into_iter()
        .map(|package| {
            let mut wanted: HashSet<&str> = HashSet::new();
            let mut stack: Vec<&str> = all
                .file
                .iter()
                .filter(|file| file.package() == package)
                .map(FileDescriptorProto::name)
                .collect();
            while let Some(name) = stack.pop() {
                if wanted.insert(name) {
                    if let Some(file) = by_name.get(name) {
                        stack.extend(file.dependency.iter().map(String::as_str));
                    }
                }
            }
            let file = all
                .file
                .iter()
                .filter(|file| wanted.contains(file.name()))
                .cloned()
                .collect();
            (package.to_owned(), FileDescriptorSet { file })
        })
        .collect()
}

/// Writes `set`, encoded, to `path` unless the file already holds exactly that (an unchanged
/// file keeps its timestamp, so dependants are not rebuilt).
pub(crate) fn write_if_changed(path: &Path, set: &FileDescriptorSet) -> std::io::Result<()> {
    let bytes = set.encode_to_vec();
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes)
}

/// The documented `FILE_DESCRIPTOR_SET` constant of `package`, read from `file` (a path
/// relative to the generated file, which sits beside it).
pub(crate) fn constant(package: &str, file: &str) -> String {
    let shown = if package.is_empty() {
        "the files without a package".to_owned()
    } else {
        format!("package `{package}`")
    };
    format!(
        "/// The encoded `google.protobuf.FileDescriptorSet` of {shown}: its `.proto` files and\n\
         /// everything they import. Register it with a reflection service, e.g.\n\
         /// `rill_reflection::ReflectionService::builder().register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)`.\n\
         pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!({file:?});\n"
    )
}
