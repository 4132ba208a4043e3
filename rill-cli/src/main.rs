//! `rill`: a grpcurl-class command line tool for gRPC servers: list and describe services
//! (server reflection `grpc.reflection.v1`, falling back to `v1alpha`, or `.proto` files
//! compiled with protox), call methods of all four kinds with JSON in and out (the proto3 JSON
//! mapping), and check health (`grpc.health.v1`). Run `rill --help` for the flags and exit
//! codes.
#![forbid(unsafe_code)]

mod args;
mod call;
mod connect;
mod describe;
mod error;
mod health;
mod json;
mod output;
mod raw;
mod reflection;
mod source;

use std::time::Instant;

use clap::Parser;

use args::{Cli, Command, Common};
use error::CliError;
use source::Source;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit 2.
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("rill: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{}", e.render());
            e.exit_code()
        }
    };
    // Not waiting for a stdin reader thread that may still be blocked.
    std::process::exit(code);
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let common = cli.common;
    let deadline = common.deadline.map(|d| Instant::now() + d);
    let metadata = connect::metadata(&common.headers)?;
    match cli.command {
        Command::List { addr, service } => {
            let mut source = source(&addr, &common, deadline).await?;
            match service {
                None => {
                    for name in source.list_services().await? {
                        output::stdout(&format!("{name}\n"));
                    }
                }
                Some(service) => {
                    let pool = loaded(&mut source, &service).await?;
                    let Some(svc) = pool.get_service_by_name(&service) else {
                        return Err(CliError::NotFound(format!("{service:?} is not a service")));
                    };
                    for method in svc.methods() {
                        output::stdout(&format!("{}\n", method.full_name()));
                    }
                }
            }
        }
        Command::Describe { addr, symbol } => {
            let mut source = source(&addr, &common, deadline).await?;
            let symbols = match symbol {
                Some(symbol) => vec![symbol],
                None => source.list_services().await?,
            };
            let mut texts = Vec::new();
            for symbol in &symbols {
                let pool = loaded(&mut source, symbol).await?;
                let found = describe::find(&pool, symbol).ok_or_else(|| {
                    CliError::NotFound(format!(
                        "{symbol:?} is not a service, method, message or enum"
                    ))
                })?;
                texts.push(describe::describe(&found));
            }
            output::stdout(&texts.join("\n"));
        }
        Command::Call {
            addr,
            method,
            json,
            data,
            pretty,
        } => {
            let client = client(&addr, &common, deadline).await?;
            let mut source = source_for(client.clone(), &common, deadline)?;
            let method = call::find_method(&mut source, &method).await?;
            let options = call::CallOptions {
                metadata,
                deadline,
                emit_defaults: common.emit_defaults,
                pretty,
                verbose: common.verbose,
            };
            let input = call::Input::from_arg(json.or(data));
            call::call(&client, &mut source, &method, input, &options).await?;
        }
        Command::Health { addr, service } => {
            let client = client(&addr, &common, deadline).await?;
            let service = service.unwrap_or_default();
            health::check(client, &service, metadata, deadline).await?;
        }
    }
    Ok(())
}

/// Loads the file defining `symbol` (or, for a method, its service).
async fn loaded(
    source: &mut Source,
    symbol: &str,
) -> Result<prost_reflect::DescriptorPool, CliError> {
    let symbol = symbol.trim_start_matches('.');
    let mut found = source.load_symbol(symbol).await?;
    if !found {
        if let Some((parent, _)) = symbol.rsplit_once('/').or_else(|| symbol.rsplit_once('.')) {
            found = source.load_symbol(parent).await?;
        }
    }
    if !found {
        return Err(CliError::NotFound(format!("symbol {symbol:?} not found")));
    }
    Ok(source.pool())
}

/// A client on a channel connected to `addr`.
async fn client(
    addr: &str,
    common: &Common,
    deadline: Option<Instant>,
) -> Result<rill::Client, CliError> {
    let channel = connect::channel(addr, common, deadline).await?;
    Ok(rill::Client::new(channel).max_decoding_message_size(common.max_msg_sz))
}

/// Descriptors from --proto files, or from the server at `addr`.
async fn source(
    addr: &str,
    common: &Common,
    deadline: Option<Instant>,
) -> Result<Source, CliError> {
    if !common.protos.is_empty() {
        return Source::from_files(&common.protos, &common.import_paths);
    }
    let client = client(addr, common, deadline).await?;
    source_for(client, common, deadline)
}

fn source_for(
    client: rill::Client,
    common: &Common,
    deadline: Option<Instant>,
) -> Result<Source, CliError> {
    if !common.protos.is_empty() {
        return Source::from_files(&common.protos, &common.import_paths);
    }
    let mut client = client;
    if let Some(deadline) = deadline {
        client = client.timeout(deadline.saturating_duration_since(Instant::now()));
    }
    let metadata = connect::metadata(&common.headers)?;
    // Reflection calls carry the -H metadata too (servers may require credentials).
    let client = client.interceptor(move |request: &mut rill::Request<()>| {
        request.metadata_mut().merge(metadata.clone());
        Ok(())
    });
    Ok(Source::Reflection(Box::new(reflection::Reflection::new(
        client,
        common.verbose,
    ))))
}
