//! Command-line flags of the interop programs, named as grpc/grpc's
//! `doc/interop-test-descriptions.md` and grpc-go's interop client name them, so that any
//! implementation's test runner can drive rill's (and the tonic peer's) programs.
//!
//! Both `--flag=value` and `--flag value` work, with one or two leading dashes. A boolean
//! flag given alone (`--use_tls`) is true. Flags another runner passes that these programs do
//! not know are accepted with a warning on stderr.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// What the programs print and exit with when TLS is asked for.
pub const TLS_NEEDS_CERT: &str =
    "--use_tls needs --tls_cert_file and --tls_key_file (rill ships no test certificates)";

/// Exit code for a usage error (bad flag value, TLS asked for).
pub const EXIT_USAGE: i32 = 2;

/// A command-line error, printed with the program's usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagError(pub String);

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FlagError {}

/// Parsed `--name=value` pairs, before each program reads its own.
#[derive(Debug, Default)]
struct RawFlags {
    values: HashMap<String, String>,
}

impl RawFlags {
    /// Splits `args` into flags. `booleans` may stand alone; a flag not in `known` (nor in
    /// `ignored`) is kept for a warning and takes the next argument as its value unless that
    /// looks like a flag.
    fn parse(
        args: impl IntoIterator<Item = String>,
        known: &[&str],
        booleans: &[&str],
        warnings: &mut Vec<String>,
    ) -> Result<RawFlags, FlagError> {
        let mut raw = RawFlags::default();
        let mut args = args.into_iter().peekable();
        while let Some(arg) = args.next() {
            let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
                return Err(FlagError(format!("unexpected argument {arg:?}")));
            };
            let (name, inline) = match flag.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(value.to_string())),
                None => (flag.to_string(), None),
            };
            let is_bool = booleans.contains(&name.as_str());
            let value = match inline {
                Some(value) => value,
                None if is_bool => match args.peek().map(String::as_str) {
                    Some("true" | "false") => args.next().unwrap_or_default(),
                    _ => "true".to_string(),
                },
                None => match args.peek() {
                    Some(next) if !next.starts_with('-') => args.next().unwrap_or_default(),
                    _ if known.contains(&name.as_str()) => {
                        return Err(FlagError(format!("flag --{name} needs a value")))
                    }
                    _ => String::new(),
                },
            };
            if !known.contains(&name.as_str()) {
                warnings.push(format!("warning: ignoring unknown flag --{name}"));
                continue;
            }
            raw.values.insert(name, value);
        }
        Ok(raw)
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.values
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    fn optional(&self, name: &str) -> Option<String> {
        self.values.get(name).filter(|v| !v.is_empty()).cloned()
    }

    fn parsed<T: FromStr>(&self, name: &str, default: T) -> Result<T, FlagError> {
        match self.values.get(name) {
            None => Ok(default),
            Some(value) => value
                .parse()
                .map_err(|_| FlagError(format!("invalid value {value:?} for --{name}"))),
        }
    }

    fn boolean(&self, name: &str) -> Result<bool, FlagError> {
        match self.values.get(name).map(String::as_str) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(other) => Err(FlagError(format!(
                "invalid value {other:?} for --{name}: expected true or false"
            ))),
        }
    }
}

/// Flags of an interop server: `--port`, `--use_tls`, and `--host` (rill's own; the address to
/// listen on, 127.0.0.1 by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFlags {
    /// Port to listen on.
    pub port: u16,
    /// Address to listen on.
    pub host: String,
    /// Whether to serve TLS.
    pub use_tls: bool,
    /// PEM certificate chain for TLS (grpc-go's flag name).
    pub tls_cert_file: Option<String>,
    /// PEM private key for TLS.
    pub tls_key_file: Option<String>,
}

/// Usage of an interop server.
pub const SERVER_USAGE: &str = "usage: [--port=PORT] [--use_tls=false] [--host=127.0.0.1] \
[--tls_cert_file=PEM --tls_key_file=PEM]";

const SERVER_FLAGS: &[&str] = &[
    "port",
    "use_tls",
    "host",
    "use_test_ca",
    "tls_cert_file",
    "tls_key_file",
];
const SERVER_BOOLEANS: &[&str] = &["use_tls", "use_test_ca"];

impl ServerFlags {
    /// Parses a server's arguments (without the program name); warnings go to `warnings`.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        warnings: &mut Vec<String>,
    ) -> Result<ServerFlags, FlagError> {
        let raw = RawFlags::parse(args, SERVER_FLAGS, SERVER_BOOLEANS, warnings)?;
        Ok(ServerFlags {
            port: raw.parsed("port", 10000)?,
            host: raw.string("host", "127.0.0.1"),
            use_tls: raw.boolean("use_tls")?,
            tls_cert_file: raw.optional("tls_cert_file"),
            tls_key_file: raw.optional("tls_key_file"),
        })
    }
}

/// Flags of an interop test client (the spec's and grpc-go's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFlags {
    /// Server host name or address (default `localhost`).
    pub server_host: String,
    /// Server port (default 10000).
    pub server_port: u16,
    /// The name to claim as `:authority` (and for TLS), instead of `server_host`.
    pub server_host_override: Option<String>,
    /// Any channel target (`dns:///host:port`, `ipv4:a:p,b:p`, `unix:path`…), in place of
    /// `server_host` and `server_port`.
    pub server_uri: Option<String>,
    /// The test case to run, or `all`.
    pub test_case: String,
    /// Whether to use TLS.
    pub use_tls: bool,
    /// Whether to trust the test CA (`--ca_file`) rather than the system roots.
    pub use_test_ca: bool,
    /// The CA certificate (PEM) to trust with `--use_tls`.
    pub ca_file: Option<String>,
    /// Soak tests: number of RPCs.
    pub soak_iterations: u32,
    /// Soak tests: RPCs allowed to fail (error or too slow).
    pub soak_max_failures: u32,
    /// Soak tests: slowest acceptable RPC, in milliseconds.
    pub soak_per_iteration_max_acceptable_latency_ms: u64,
    /// Soak tests: time limit of the whole test, in seconds.
    pub soak_overall_timeout_seconds: u64,
    /// Soak tests: minimum time between the starts of consecutive RPCs, in milliseconds.
    pub soak_min_time_ms_between_rpcs: u64,
    /// Soak tests: request payload size.
    pub soak_request_size: usize,
    /// Soak tests: response payload size.
    pub soak_response_size: usize,
    /// Soak tests: concurrent workers sharing the iterations.
    pub soak_num_threads: u32,
    /// Metadata added to every call: `key:value;key2:value2` (grpc-go's flag).
    pub additional_metadata: Vec<(String, String)>,
    /// The channel's default service config (gRPC's JSON form), validated when parsed.
    pub service_config_json: Option<String>,
}

/// Usage of an interop client.
pub const CLIENT_USAGE: &str = "usage: --server_port=PORT [--server_host=localhost] \
[--server_host_override=NAME] [--server_uri=TARGET] [--test_case=NAME|all] [--use_tls=false] \
[--use_test_ca=false] [--ca_file=PEM] \
[--soak_iterations=10] [--soak_max_failures=0] \
[--soak_per_iteration_max_acceptable_latency_ms=1000] [--soak_overall_timeout_seconds=10] \
[--soak_min_time_ms_between_rpcs=0] [--soak_request_size=271828] \
[--soak_response_size=314159] [--soak_num_threads=1] [--additional_metadata=k:v;k2:v2] \
[--service_config_json=JSON]";

const CLIENT_FLAGS: &[&str] = &[
    "server_host",
    "server_port",
    "server_host_override",
    "server_uri",
    "test_case",
    "use_tls",
    "use_test_ca",
    "ca_file",
    "soak_iterations",
    "soak_max_failures",
    "soak_per_iteration_max_acceptable_latency_ms",
    "soak_overall_timeout_seconds",
    "soak_min_time_ms_between_rpcs",
    "soak_request_size",
    "soak_response_size",
    "soak_num_threads",
    "additional_metadata",
    "service_config_json",
];
const CLIENT_BOOLEANS: &[&str] = &["use_tls", "use_test_ca"];

impl ClientFlags {
    /// Parses a client's arguments (without the program name); warnings go to `warnings`.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        warnings: &mut Vec<String>,
    ) -> Result<ClientFlags, FlagError> {
        let raw = RawFlags::parse(args, CLIENT_FLAGS, CLIENT_BOOLEANS, warnings)?;
        let flags = ClientFlags {
            server_host: raw.string("server_host", "localhost"),
            server_port: raw.parsed("server_port", 10000)?,
            server_host_override: raw.optional("server_host_override"),
            server_uri: raw.optional("server_uri"),
            test_case: raw.string("test_case", "large_unary"),
            use_tls: raw.boolean("use_tls")?,
            use_test_ca: raw.boolean("use_test_ca")?,
            ca_file: raw.optional("ca_file"),
            soak_iterations: raw.parsed("soak_iterations", 10)?,
            soak_max_failures: raw.parsed("soak_max_failures", 0)?,
            soak_per_iteration_max_acceptable_latency_ms: raw
                .parsed("soak_per_iteration_max_acceptable_latency_ms", 1000)?,
            soak_overall_timeout_seconds: raw.parsed("soak_overall_timeout_seconds", 10)?,
            soak_min_time_ms_between_rpcs: raw.parsed("soak_min_time_ms_between_rpcs", 0)?,
            soak_request_size: raw.parsed("soak_request_size", 271_828)?,
            soak_response_size: raw.parsed("soak_response_size", 314_159)?,
            soak_num_threads: raw.parsed("soak_num_threads", 1)?,
            additional_metadata: parse_metadata(&raw.string("additional_metadata", ""))?,
            service_config_json: raw.optional("service_config_json"),
        };
        if let Some(json) = &flags.service_config_json {
            rill::service_config::ServiceConfig::from_json(json)
                .map_err(|e| FlagError(format!("--service_config_json: {e}")))?;
        }
        if flags.soak_num_threads == 0 {
            return Err(FlagError("--soak_num_threads must be at least 1".into()));
        }
        Ok(flags)
    }

    /// The `host:port` to connect to (IPv6 literals bracketed).
    pub fn server_address(&self) -> String {
        host_port(&self.server_host, self.server_port)
    }

    /// The `:authority` to claim: `server_host_override` if given, else the server address.
    pub fn authority(&self) -> String {
        match &self.server_host_override {
            Some(name) => host_port(name, self.server_port),
            None => self.server_address(),
        }
    }
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Parses grpc-go's `--additional_metadata`: `key:value` pairs separated by `;`.
fn parse_metadata(value: &str) -> Result<Vec<(String, String)>, FlagError> {
    value
        .split(';')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            pair.split_once(':')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| {
                    FlagError(format!("--additional_metadata: {pair:?} is not key:value"))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn server_flags_in_both_forms() {
        let mut warnings = Vec::new();
        let flags = ServerFlags::parse(args(&["--port=5000", "--use_tls=false"]), &mut warnings)
            .expect("valid");
        assert_eq!((flags.port, flags.use_tls), (5000, false));
        let flags = ServerFlags::parse(
            args(&["--port", "5001", "--use_tls", "true"]),
            &mut warnings,
        )
        .expect("valid");
        assert_eq!((flags.port, flags.use_tls), (5001, true));
        let flags = ServerFlags::parse(args(&["-port", "5002", "--use_tls"]), &mut warnings)
            .expect("valid");
        assert_eq!(
            (flags.port, flags.use_tls, flags.host.as_str()),
            (5002, true, "127.0.0.1")
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn client_flags_defaults_and_values() {
        let mut warnings = Vec::new();
        let flags = ClientFlags::parse(
            args(&["--server_port=7", "--test_case", "ping_pong"]),
            &mut warnings,
        )
        .expect("valid");
        assert_eq!(flags.server_address(), "localhost:7");
        assert_eq!(flags.test_case, "ping_pong");
        assert_eq!(flags.soak_iterations, 10);
        assert_eq!(flags.soak_per_iteration_max_acceptable_latency_ms, 1000);
        let flags = ClientFlags::parse(
            args(&[
                "--server_host=::1",
                "--server_port=8",
                "--server_host_override=foo.test.google.fr",
                "--soak_iterations=3",
                "--soak_max_failures",
                "1",
                "--additional_metadata=a:1;b-bin:AAE=",
            ]),
            &mut warnings,
        )
        .expect("valid");
        assert_eq!(flags.server_address(), "[::1]:8");
        assert_eq!(flags.authority(), "foo.test.google.fr:8");
        assert_eq!((flags.soak_iterations, flags.soak_max_failures), (3, 1));
        assert_eq!(
            flags.additional_metadata,
            [("a".into(), "1".into()), ("b-bin".into(), "AAE=".into())]
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn unknown_flags_are_warned_about_and_skipped() {
        let mut warnings = Vec::new();
        let flags = ClientFlags::parse(
            args(&[
                "--oauth_scope",
                "x",
                "--server_port=9",
                "--default_service_account=sa",
                "--flag_without_value",
                "--test_case=empty_unary",
            ]),
            &mut warnings,
        )
        .expect("valid");
        assert_eq!(
            (flags.server_port, flags.test_case.as_str()),
            (9, "empty_unary")
        );
        assert_eq!(warnings.len(), 3, "{warnings:?}");
    }

    #[test]
    fn bad_values_are_errors() {
        let mut warnings = Vec::new();
        for bad in [
            &["--server_port=x"][..],
            &["--use_tls=maybe"],
            &["--server_port"],
            &["positional"],
            &["--additional_metadata=novalue"],
            &["--soak_num_threads=0"],
            &["--service_config_json={\"methodConfig\": 1}"],
            &["--service_config_json=not json"],
        ] {
            assert!(
                ClientFlags::parse(args(bad), &mut warnings).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn service_config_json_is_validated_and_kept() {
        let json = r#"{"methodConfig": [{"name": [{}], "waitForReady": true}]}"#;
        let flags = ClientFlags::parse(
            args(&[&format!("--service_config_json={json}")]),
            &mut Vec::new(),
        )
        .expect("valid");
        assert_eq!(flags.service_config_json.as_deref(), Some(json));
    }
}
