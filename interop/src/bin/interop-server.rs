//! rill's interop test server: `interop-server --port=PORT [--use_tls=false]
//! [--tls_cert_file=PEM --tls_key_file=PEM]`.
//!
//! Serves `grpc.testing.TestService` on 127.0.0.1 (or `--host`) until killed.

use std::net::SocketAddr;
use std::process::ExitCode;

use interop::flags::{ServerFlags, EXIT_USAGE, SERVER_USAGE, TLS_NEEDS_CERT};
use rill::tls::{Identity, ServerTlsConfig};

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
    let mut server = interop::server::interop_server();
    if flags.use_tls {
        let (Some(cert), Some(key)) = (&flags.tls_cert_file, &flags.tls_key_file) else {
            eprintln!("interop-server: {TLS_NEEDS_CERT}");
            return exit(EXIT_USAGE);
        };
        let tls = Identity::from_pem_files(cert, key).map(ServerTlsConfig::new);
        server = match tls
            .map_err(rill::Error::from)
            .and_then(|tls| server.tls_config(tls))
        {
            Ok(server) => server,
            Err(error) => {
                eprintln!("interop-server: {error}");
                return exit(EXIT_USAGE);
            }
        };
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
    match server.serve(address).await {
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
