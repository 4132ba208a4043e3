//! The descriptor index: every registered file by name, every symbol and extension by the
//! file that declares it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use prost::Message as _;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
};

use crate::Error;

/// A `google.protobuf.FileDescriptorSet` whose files stay encoded, exactly as registered.
#[derive(Clone, PartialEq, prost::Message)]
struct RawFileSet {
    #[prost(bytes = "bytes", repeated, tag = "1")]
    file: Vec<Bytes>,
}

/// One registered file: its encoding (sent as is) and the files it imports.
struct File {
    encoded: Bytes,
    dependencies: Vec<String>,
}

/// What reflection answers from; built once, then shared by every call.
#[derive(Default)]
pub(crate) struct Index {
    files: HashMap<String, File>,
    /// Full symbol name (no leading dot) → declaring file.
    symbols: HashMap<String, String>,
    /// Message full names, for `all_extension_numbers_of_type`.
    messages: HashSet<String>,
    /// (extended message, field number) → declaring file.
    extensions: BTreeMap<(String, i32), String>,
    /// Services declared by the registered files.
    services: BTreeSet<String>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("files", &self.files.len())
            .field("symbols", &self.symbols.len())
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}

/// `scope.name`, or `name` at the root.
fn join(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_owned()
    } else {
        format!("{scope}.{name}")
    }
}

/// A full name as clients may send it: with or without the leading dot.
fn trim_dot(name: &str) -> &str {
    name.strip_prefix('.').unwrap_or(name)
}

impl Index {
    /// Adds every file of an encoded `FileDescriptorSet`. A file whose name is already
    /// registered is skipped (sets built separately share their imports).
    pub(crate) fn add_encoded_set(&mut self, encoded: &Bytes) -> Result<(), Error> {
        let set = RawFileSet::decode(encoded.clone()).map_err(Error::Decode)?;
        for file in set.file {
            let proto = FileDescriptorProto::decode(file.clone()).map_err(Error::Decode)?;
            self.add_file(&proto, file)?;
        }
        Ok(())
    }

    fn add_file(&mut self, proto: &FileDescriptorProto, encoded: Bytes) -> Result<(), Error> {
        let name = proto.name().to_owned();
        if self.files.contains_key(&name) {
            return Ok(());
        }
        let mut symbols = Symbols::default();
        let package = proto.package();
        for message in &proto.message_type {
            symbols.message(package, message);
        }
        for enumeration in &proto.enum_type {
            symbols.enumeration(package, enumeration);
        }
        for extension in &proto.extension {
            symbols.extension(package, extension);
        }
        for service in &proto.service {
            let full = join(package, service.name());
            for method in &service.method {
                symbols.names.push(join(&full, method.name()));
            }
            symbols.names.push(full.clone());
            self.services.insert(full);
        }
        for symbol in symbols.names {
            if let Some(other) = self.symbols.get(&symbol) {
                return Err(Error::DuplicateSymbol {
                    symbol,
                    files: [other.clone(), name],
                });
            }
            self.symbols.insert(symbol, name.clone());
        }
        self.messages.extend(symbols.messages);
        for key in symbols.extensions {
            self.extensions.insert(key, name.clone());
        }
        let dependencies = proto.dependency.clone();
        self.files.insert(
            name,
            File {
                encoded,
                dependencies,
            },
        );
        Ok(())
    }

    /// Fails on the first import that is not registered: reflection clients could not
    /// assemble the file.
    pub(crate) fn check_dependencies(&self) -> Result<(), Error> {
        for (name, file) in &self.files {
            if let Some(missing) = file
                .dependencies
                .iter()
                .find(|d| !self.files.contains_key(*d))
            {
                return Err(Error::MissingDependency {
                    file: name.clone(),
                    dependency: missing.clone(),
                });
            }
        }
        Ok(())
    }

    /// The services the registered files declare, sorted.
    pub(crate) fn services(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(String::as_str)
    }

    /// `name` and every file it imports, transitively: each file once, `name` first, then its
    /// imports depth first in declaration order (as gRPC C++ answers).
    pub(crate) fn file_with_dependencies(&self, name: &str) -> Option<Vec<Bytes>> {
        self.files.get(name)?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut stack = vec![name];
        while let Some(next) = stack.pop() {
            if !seen.insert(next) {
                continue;
            }
            if let Some(file) = self.files.get(next) {
                out.push(file.encoded.clone());
                stack.extend(file.dependencies.iter().rev().map(String::as_str));
            }
        }
        Some(out)
    }

    /// The file declaring the fully qualified `symbol` (a message, field, oneof, enum, enum
    /// value, extension, service or method).
    pub(crate) fn file_containing_symbol(&self, symbol: &str) -> Option<&str> {
        self.symbols.get(trim_dot(symbol)).map(String::as_str)
    }

    /// The file declaring extension `number` of message `extendee`.
    pub(crate) fn file_containing_extension(&self, extendee: &str, number: i32) -> Option<&str> {
        self.extensions
            .get(&(trim_dot(extendee).to_owned(), number))
            .map(String::as_str)
    }

    /// The extension numbers of message `extendee` (sorted; empty when it has none), or `None`
    /// when no registered file declares that message.
    pub(crate) fn extension_numbers(&self, extendee: &str) -> Option<Vec<i32>> {
        let extendee = trim_dot(extendee);
        if !self.messages.contains(extendee) {
            return None;
        }
        let from = (extendee.to_owned(), i32::MIN);
        let numbers = self
            .extensions
            .range(from..)
            .take_while(|((message, _), _)| message == extendee)
            .map(|((_, number), _)| *number)
            .collect();
        Some(numbers)
    }
}

/// The symbols one file declares.
#[derive(Default)]
struct Symbols {
    names: Vec<String>,
    messages: Vec<String>,
    extensions: Vec<(String, i32)>,
}

impl Symbols {
    fn message(&mut self, scope: &str, message: &DescriptorProto) {
        let full = join(scope, message.name());
        for field in &message.field {
            self.names.push(join(&full, field.name()));
        }
        for oneof in &message.oneof_decl {
            self.names.push(join(&full, oneof.name()));
        }
        for extension in &message.extension {
            self.extension(&full, extension);
        }
        for nested in &message.nested_type {
            self.message(&full, nested);
        }
        for enumeration in &message.enum_type {
            self.enumeration(&full, enumeration);
        }
        self.names.push(full.clone());
        self.messages.push(full);
    }

    /// An enum; its values are its siblings, as protobuf scopes them (`pkg.Color` has
    /// `pkg.RED`).
    fn enumeration(&mut self, scope: &str, enumeration: &EnumDescriptorProto) {
        self.names.push(join(scope, enumeration.name()));
        for value in &enumeration.value {
            self.names.push(join(scope, value.name()));
        }
    }

    fn extension(&mut self, scope: &str, extension: &FieldDescriptorProto) {
        self.names.push(join(scope, extension.name()));
        self.extensions.push((
            trim_dot(extension.extendee()).to_owned(),
            extension.number(),
        ));
    }
}
