//! The command line, with clap's derive API.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// The exit codes, also in `--help`.
pub(crate) const EXIT_CODES: &str = "Exit codes: 0 success; 1 local failure (cannot connect, \
unknown service or method, bad JSON, unreadable files); 2 usage error; 3 health check answered \
but not SERVING; 64 + the gRPC status code when the call ends with a non-OK status \
(grpcurl's convention: 68 DEADLINE_EXCEEDED, 69 NOT_FOUND, 76 UNIMPLEMENTED, 78 UNAVAILABLE).";

/// `rill`: list, describe and call gRPC services, and check their health.
///
/// ADDR is any target a rill channel accepts: `host:port` and `http://host:port`
/// (plaintext), `https://host:port` (TLS), `dns:///host:port`, `ipv4:…`, `ipv6:…`,
/// `unix:/path`, `unix-abstract:name`.
#[derive(Debug, Parser)]
#[command(name = "rill", version, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    #[command(flatten)]
    pub(crate) common: Common,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Lists the services (or, given a SERVICE, its methods).
    List {
        /// The server (not contacted when --proto gives the descriptors).
        addr: String,
        /// A fully-qualified service name, e.g. `user.UserService`.
        service: Option<String>,
    },
    /// Describes a service, method, message or enum as proto source (every service without
    /// SYMBOL).
    Describe {
        /// The server (not contacted when --proto gives the descriptors).
        addr: String,
        /// A fully-qualified name: `pkg.Service`, `pkg.Service.Method`, `pkg.Message`, `pkg.Enum`.
        symbol: Option<String>,
    },
    /// Calls a method. Request messages are JSON (proto3 JSON mapping) from the argument or,
    /// without it, from stdin (several messages for client and bidi streams, one after the
    /// other, e.g. one per line); response messages are printed one JSON document per line.
    Call {
        /// The server.
        addr: String,
        /// `pkg.Service/Method` (or `pkg.Service.Method`).
        method: String,
        /// The request message(s) as JSON; `@` reads stdin, `@FILE` reads FILE. Without it,
        /// stdin is read when it is not a terminal (an empty input sends `{}` to a unary or
        /// server-streaming method).
        json: Option<String>,
        /// The request JSON as an option, as grpcurl takes it (`-d @` reads stdin).
        #[arg(
            short = 'd',
            long = "data",
            value_name = "JSON",
            conflicts_with = "json"
        )]
        data: Option<String>,
        /// Prints responses indented over several lines instead of one line each.
        #[arg(long)]
        pretty: bool,
    },
    /// Checks the health of the server ("" = the whole server) or of SERVICE with
    /// grpc.health.v1.Health/Check; prints the status, exits 0 only for SERVING.
    Health {
        /// The server.
        addr: String,
        /// The service to check; the whole server when left out.
        service: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct Common {
    /// Request metadata `key: value` (repeatable); `-bin` keys take base64 values.
    #[arg(short = 'H', long = "header", value_name = "KEY: VALUE", global = true)]
    pub(crate) headers: Vec<String>,
    /// The deadline of the whole operation, e.g. `5s`, `250ms`, `1m30s`, or plain seconds
    /// (`2.5`).
    #[arg(long, visible_alias = "max-time", value_parser = parse_duration, global = true)]
    pub(crate) deadline: Option<Duration>,
    /// How long connecting may take.
    #[arg(long, value_parser = parse_duration, default_value = "10s", global = true)]
    pub(crate) connect_timeout: Duration,
    /// Uses TLS (implied by `https://` targets and by --ca, --cert, --key, --server-name).
    #[arg(long, global = true, conflicts_with = "plaintext")]
    pub(crate) tls: bool,
    /// Uses plaintext HTTP/2 (the default for `http://` and bare `host:port` targets).
    #[arg(long, global = true)]
    pub(crate) plaintext: bool,
    /// PEM file with the CA certificates to verify the server with (instead of the system's).
    #[arg(long, value_name = "PEM", global = true)]
    pub(crate) ca: Option<PathBuf>,
    /// PEM file with the client certificate chain (mTLS; needs --key).
    #[arg(long, value_name = "PEM", global = true, requires = "key")]
    pub(crate) cert: Option<PathBuf>,
    /// PEM file with the client certificate's private key (needs --cert).
    #[arg(long, value_name = "PEM", global = true, requires = "cert")]
    pub(crate) key: Option<PathBuf>,
    /// The name the server certificate must be for (instead of the target's host).
    #[arg(long, value_name = "NAME", global = true)]
    pub(crate) server_name: Option<String>,
    /// Takes descriptors from these .proto files instead of server reflection (repeatable).
    #[arg(long = "proto", value_name = "FILE", global = true)]
    pub(crate) protos: Vec<PathBuf>,
    /// Where --proto files and their imports are looked up (repeatable; default: the
    /// directory of each --proto file).
    #[arg(short = 'I', long = "import-path", value_name = "DIR", global = true)]
    pub(crate) import_paths: Vec<PathBuf>,
    /// The largest response message accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024, global = true)]
    pub(crate) max_msg_sz: usize,
    /// Prints fields with default values too (zeros, empty strings and lists).
    #[arg(long, global = true)]
    pub(crate) emit_defaults: bool,
    /// Prints request metadata and response headers and trailers (on stderr).
    #[arg(short = 'v', long, global = true)]
    pub(crate) verbose: bool,
}

impl Common {
    /// Whether any TLS option asks for TLS.
    pub(crate) fn wants_tls(&self) -> bool {
        self.tls
            || self.ca.is_some()
            || self.cert.is_some()
            || self.key.is_some()
            || self.server_name.is_some()
    }
}

/// `5s`, `250ms`, `1m30s`, `1h`, `2.5` (seconds), `100us`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{text:?}: a number needs a unit (h, m, s, ms, us, ns)"))?;
        let (number, tail) = rest.split_at(digits);
        let number: f64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration like 5s or 250ms"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => {
                return Err(format!(
                    "{text:?}: unknown unit {unit:?} (h, m, s, ms, us, ns)"
                ))
            }
        };
        let part = Duration::try_from_secs_f64(number * scale).map_err(|e| e.to_string())?;
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("{text:?} is too long"))?;
        rest = tail;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok: &[(&str, Duration)] = &[
            ("5s", Duration::from_secs(5)),
            ("250ms", Duration::from_millis(250)),
            ("1m30s", Duration::from_secs(90)),
            ("1h", Duration::from_secs(3600)),
            ("2.5", Duration::from_millis(2500)),
            ("0.5s", Duration::from_millis(500)),
            ("100us", Duration::from_micros(100)),
        ];
        for (text, expected) in ok {
            assert_eq!(parse_duration(text).as_ref(), Ok(expected), "{text}");
        }
        for bad in [
            "",
            "s",
            "5x",
            "-1",
            "1.2.3s",
            "five",
            "1e300h1e300h",
            "NaN",
            "inf",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cli_shape() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
