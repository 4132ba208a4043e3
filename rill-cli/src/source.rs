//! Where descriptors come from: `.proto` files compiled with protox, or the server's
//! reflection service (`grpc.reflection.v1`, falling back to `v1alpha`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use prost_reflect::DescriptorPool;

use crate::error::CliError;
use crate::reflection::Reflection;

/// Descriptors for one run.
pub(crate) enum Source {
    /// Compiled from `--proto` files; `services` are the ones the named files define.
    Files {
        pool: DescriptorPool,
        services: Vec<String>,
    },
    /// Asked from the server, file by file as needed.
    Reflection(Box<Reflection>),
}

impl Source {
    /// Compiles `protos` (looked up in `import_paths`, or beside each file when none given).
    pub(crate) fn from_files(
        protos: &[PathBuf],
        import_paths: &[PathBuf],
    ) -> Result<Source, CliError> {
        let mut includes: Vec<PathBuf> = import_paths.to_vec();
        if includes.is_empty() {
            for proto in protos {
                let dir = proto
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .map_or_else(|| PathBuf::from("."), PathBuf::from);
                if !includes.contains(&dir) {
                    includes.push(dir);
                }
            }
        }
        let bad = |e: protox::Error| CliError::Descriptors(format!("--proto: {e}"));
        let mut compiler = protox::Compiler::new(&includes).map_err(bad)?;
        compiler.include_imports(true).include_source_info(true);
        compiler.open_files(protos).map_err(bad)?;
        let pool = compiler.descriptor_pool();
        let named: BTreeSet<&str> = compiler
            .files()
            .filter(|f| !f.is_import())
            .map(|f| f.name())
            .collect();
        let services = pool
            .services()
            .filter(|s| named.contains(s.parent_file().name()))
            .map(|s| s.full_name().to_string())
            .collect();
        Ok(Source::Files { pool, services })
    }

    /// The services: those the files define, or those the server lists.
    pub(crate) async fn list_services(&mut self) -> Result<Vec<String>, CliError> {
        let mut names = match self {
            Source::Files { services, .. } => services.clone(),
            Source::Reflection(r) => r.list_services().await?,
        };
        names.sort();
        Ok(names)
    }

    /// Makes sure the file defining `symbol` (and its imports) is in the pool; `false` when
    /// no such symbol is known.
    pub(crate) async fn load_symbol(&mut self, symbol: &str) -> Result<bool, CliError> {
        match self {
            Source::Files { pool, .. } => Ok(pool.get_message_by_name(symbol).is_some()
                || pool.get_service_by_name(symbol).is_some()
                || pool.get_enum_by_name(symbol).is_some()
                || pool.get_extension_by_name(symbol).is_some()),
            Source::Reflection(r) => r.load_symbol(symbol).await,
        }
    }

    /// The descriptors loaded so far.
    pub(crate) fn pool(&self) -> DescriptorPool {
        match self {
            Source::Files { pool, .. } => pool.clone(),
            Source::Reflection(r) => r.pool(),
        }
    }

    /// Loads the message types among `names` that are not known yet (for `Any`); types the
    /// server does not know either are left out (printing or parsing then says so).
    pub(crate) async fn load_types(&mut self, names: &[String]) -> Result<(), CliError> {
        let Source::Reflection(r) = self else {
            return Ok(());
        };
        for name in names {
            if r.pool().get_message_by_name(name).is_none() {
                r.load_symbol(name).await?;
            }
        }
        Ok(())
    }
}
