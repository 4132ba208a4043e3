//! rill's interop test client: `interop-client --server_port=PORT --test_case=NAME|all`.
//!
//! Prints one line per case; exits 0 when every case passed, 1 when one failed (saying why),
//! 2 on a usage error.

use std::process::ExitCode;

use interop::flags::{ClientFlags, CLIENT_USAGE, EXIT_USAGE};

#[tokio::main]
async fn main() -> ExitCode {
    let mut warnings = Vec::new();
    let flags = match ClientFlags::parse(std::env::args().skip(1), &mut warnings) {
        Ok(flags) => flags,
        Err(error) => {
            eprintln!("interop-client: {error}\n{CLIENT_USAGE}");
            return exit(EXIT_USAGE);
        }
    };
    for warning in warnings {
        eprintln!("interop-client: {warning}");
    }
    exit(interop::client::run(flags).await)
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
