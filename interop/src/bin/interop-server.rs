//! rill's interop test server: `interop-server --port=PORT [--use_tls=false]`.
//!
//! Serves `grpc.testing.TestService` on 127.0.0.1 (or `--host`) until killed.

use std::net::SocketAddr;
use std::process::ExitCode;

use interop::flags::{ServerFlags, EXIT_USAGE, SERVER_USAGE, TLS_UNSUPPORTED};

#[tokio::main]
async fn main() -> ExitCode {
    let mut warnings = Vec::new();
    let flags = match ServerFlags::parse(std::env::args().skip(1), &mut warnings) {
        Ok(flags) => flags,
        Err(error) => {
            eprintln!("interop-server: {error}\n{SERVER_USAGE}");
            return exit(EXIT_USAGE);
        }
    };
    for warning in warnings {
        eprintln!("interop-server: {warning}");
    }
    if flags.use_tls {
        eprintln!("interop-server: {TLS_UNSUPPORTED}");
        return exit(EXIT_USAGE);
    }
    let address = match format!("{}:{}", flags.host, flags.port).parse::<SocketAddr>() {
        Ok(address) => address,
        Err(error) => {
            eprintln!(
                "interop-server: bad address {}:{}: {error}",
                flags.host, flags.port
            );
            return exit(EXIT_USAGE);
        }
    };
    eprintln!("interop-server: listening on {address}");
    match interop::server::interop_server().serve(address).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("interop-server: {error}");
            ExitCode::FAILURE
        }
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
