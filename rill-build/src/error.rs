//! The error type of rill-build.

use std::path::PathBuf;

/// Why compiling `.proto` files failed.
///
/// `Display` carries the whole story (including protox's `file:line:column: message`
/// diagnostic), so a build script can simply return it from `main`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `.proto` file could not be found, read, parsed or checked (syntax error, unknown
    /// type, missing import, file outside every include path, ...).
    #[error("cannot compile .proto files: {}", ProtoxDiagnostic(.0))]
    Proto(protox::Error),
    /// prost-build could not generate or write the Rust code (for instance `OUT_DIR` is not set
    /// and no `out_dir` was configured, or an `extern_path` is invalid).
    #[error("cannot generate Rust code: {0}")]
    Codegen(std::io::Error),
    /// The encoded `FileDescriptorSet` could not be written.
    #[error("cannot write the file descriptor set to {}: {error}", path.display())]
    DescriptorSet {
        /// Where the descriptor set was to be written.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
}

impl From<protox::Error> for Error {
    fn from(error: protox::Error) -> Self {
        Error::Proto(error)
    }
}

/// protox's `Display` is only the message; its `Debug` adds `file:line:column:`, which is what a
/// person fixing the `.proto` file needs.
struct ProtoxDiagnostic<'a>(&'a protox::Error);

impl std::fmt::Display for ProtoxDiagnostic<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
