//! rill's interop test client: every test case of grpc/grpc's
//! `doc/interop-test-descriptions.md` that needs no cloud credential, plus grpc-java's and
//! gRPC C++'s extra non-cloud cases, each a small function in `cases/`.
//!
//! ```no_run
//! # async fn run() {
//! let mut warnings = Vec::new();
//! let args = ["--server_port=10000", "--test_case=all"].map(String::from);
//! let flags = interop::flags::ClientFlags::parse(args, &mut warnings).expect("valid flags");
//! let exit_code = interop::client::run(flags).await;
//! # let _ = exit_code; }
//! ```

use std::time::Duration;

use rill::client::Endpoint;
use rill::service_config::ServiceConfig;
use rill::tls::{Certificates, ClientTlsConfig};
use rill::{Channel, Client};

use crate::flags::ClientFlags;
use crate::grpc::testing::test_service_client::TestServiceClient;
use crate::grpc::testing::unimplemented_service_client::UnimplementedServiceClient;

/// Fails the case with a formatted reason unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($reason:tt)+) => {
        if !$cond {
            return Err(format!($($reason)+));
        }
    };
}

mod cases;
mod soak;
mod support;

pub use cases::{find, Case, CaseFn, CASES};

/// A case's outcome: `Err` says why it failed.
pub type CaseResult = Result<(), String>;

/// Exit code when every case passed.
pub const EXIT_PASSED: i32 = 0;
/// Exit code when a case failed.
pub const EXIT_FAILED: i32 = 1;

/// What the cases share: the flags and a client on one channel.
#[derive(Debug)]
pub struct Ctx {
    flags: ClientFlags,
    client: Client,
    tls: Option<ClientTlsConfig>,
}

impl Ctx {
    /// A context whose client connects lazily to the flags' server.
    ///
    /// Panics only if `--use_tls` names an unreadable CA file; [`Ctx::try_new`] reports it.
    pub fn new(flags: ClientFlags) -> Ctx {
        match Ctx::try_new(flags) {
            Ok(ctx) => ctx,
            Err(error) => panic!("{error}"),
        }
    }

    /// A context whose client connects lazily to the flags' server; fails on an unusable TLS
    /// setup (`--ca_file`, `--server_host_override`).
    pub fn try_new(flags: ClientFlags) -> Result<Ctx, String> {
        let tls = tls_config(&flags)?;
        let client = new_client(&flags, tls.as_ref())?;
        Ok(Ctx { flags, client, tls })
    }

    /// The flags the client was started with.
    pub fn flags(&self) -> &ClientFlags {
        &self.flags
    }

    /// A `TestService` client on the shared channel.
    pub fn test_service(&self) -> TestServiceClient {
        TestServiceClient::new(self.client.clone())
    }

    /// An `UnimplementedService` client on the shared channel.
    pub fn unimplemented_service(&self) -> UnimplementedServiceClient {
        UnimplementedServiceClient::new(self.client.clone())
    }

    /// A `TestService` client on a channel of its own (a new connection).
    pub fn fresh_test_service(&self) -> TestServiceClient {
        // The same settings built the first client, so this cannot fail differently.
        let client =
            new_client(&self.flags, self.tls.as_ref()).unwrap_or_else(|_| self.client.clone());
        TestServiceClient::new(client)
    }
}

/// A client on a new channel to the server: TCP to `server_host:server_port`, claiming
/// `server_host_override` as `:authority` when given, adding `--additional_metadata`.
fn new_client(flags: &ClientFlags, tls: Option<&ClientTlsConfig>) -> Result<Client, String> {
    let address = flags.server_address();
    let service_config = match &flags.service_config_json {
        Some(json) => Some(
            ServiceConfig::from_json(json).map_err(|e| format!("--service_config_json: {e}"))?,
        ),
        None => None,
    };
    let with_config = |endpoint: Endpoint| match &service_config {
        Some(config) => endpoint.service_config(config.clone()),
        None => endpoint,
    };
    let channel = match (tls, &flags.server_uri) {
        // --server_uri: any target the channel resolves (dns:, ipv4:, unix:…).
        (tls, Some(uri)) => {
            let mut endpoint = with_config(Channel::builder(uri));
            if let Some(tls) = tls {
                endpoint = endpoint.tls_config(tls.clone());
            }
            endpoint
                .connect_lazy()
                .map_err(|e| format!("--server_uri {uri}: {e}"))?
        }
        // TLS: verify the server as `server_host_override` (or the host) with the given CA.
        (Some(tls), None) => with_config(Channel::builder(&format!("https://{address}")))
            .tls_config(tls.clone())
            .connect_lazy()
            .map_err(|e| format!("tls channel: {e}"))?,
        // A service config needs a channel that resolves its target (the authority is then
        // the server address, not --server_host_override).
        (None, None) if service_config.is_some() => {
            with_config(Channel::builder(&format!("http://{address}")))
                .connect_lazy()
                .map_err(|e| format!("channel: {e}"))?
        }
        (None, None) => Channel::with_connector(&flags.authority(), move || {
            let address = address.clone();
            async move {
                let stream = tokio::net::TcpStream::connect(address).await?;
                stream.set_nodelay(true)?;
                Ok(stream)
            }
        }),
    };
    let metadata = flags.additional_metadata.clone();
    Ok(Client::new(channel).interceptor(move |request| {
        for (key, value) in &metadata {
            // As in grpc-go, a -bin key's value is the raw bytes (sent base64-encoded).
            if key.ends_with("-bin") {
                request.metadata_mut().append_bin(key, value.as_bytes())?;
            } else {
                request.metadata_mut().append(key, value)?;
            }
        }
        Ok(())
    }))
}

/// The TLS settings `--use_tls` asks for: the CA of `--ca_file` (what `--use_test_ca` means
/// here: rill ships no test CA), the name `--server_host_override` or the host.
fn tls_config(flags: &ClientFlags) -> Result<Option<ClientTlsConfig>, String> {
    if !flags.use_tls {
        return Ok(None);
    }
    let mut config = ClientTlsConfig::new();
    if let Some(ca) = &flags.ca_file {
        let roots = Certificates::from_pem_file(ca).map_err(|e| format!("--ca_file: {e}"))?;
        config = config.ca_certificates(roots);
    } else if flags.use_test_ca {
        return Err("--use_test_ca needs --ca_file (rill ships no test CA)".to_string());
    }
    if let Some(name) = &flags.server_host_override {
        config = config.domain_name(name.clone());
    }
    Ok(Some(config))
}

/// The longest a case may run before it counts as hung.
fn case_time_limit(case: &Case, flags: &ClientFlags) -> Duration {
    let base = Duration::from_secs(60);
    if case.name.ends_with("_soak") {
        base + Duration::from_secs(flags.soak_overall_timeout_seconds)
    } else {
        base
    }
}

/// Runs one case under its time limit.
pub async fn run_case(ctx: &Ctx, case: &Case) -> CaseResult {
    let limit = case_time_limit(case, &ctx.flags);
    match tokio::time::timeout(limit, (case.run)(ctx)).await {
        Ok(result) => result,
        Err(_) => Err(format!("did not finish within {} s", limit.as_secs())),
    }
}

/// Runs the flags' test case (`all`: every case in turn), printing one line per case: success
/// on stdout, failure with its reason on stderr. Returns the process exit code:
/// [`EXIT_PASSED`], [`EXIT_FAILED`], or [`EXIT_USAGE`](crate::flags::EXIT_USAGE) for an
/// unknown case or TLS.
pub async fn run(flags: ClientFlags) -> i32 {
    let selected: Vec<&Case> = if flags.test_case == "all" {
        CASES.iter().collect()
    } else {
        match find(&flags.test_case) {
            Some(case) => vec![case],
            None => {
                let names: Vec<_> = CASES.iter().map(|c| c.name).collect();
                eprintln!(
                    "unknown test case {:?}; known: all, {}",
                    flags.test_case,
                    names.join(", ")
                );
                return crate::flags::EXIT_USAGE;
            }
        }
    };
    let ctx = match Ctx::try_new(flags) {
        Ok(ctx) => ctx,
        Err(error) => {
            eprintln!("{error}");
            return crate::flags::EXIT_USAGE;
        }
    };
    let mut failed = 0;
    for case in &selected {
        match run_case(&ctx, case).await {
            Ok(()) => println!("{}: passed", case.name),
            Err(reason) => {
                failed += 1;
                eprintln!("{}: FAILED: {reason}", case.name);
            }
        }
    }
    if selected.len() > 1 {
        let passed = selected.len() - failed;
        println!("{passed} of {} cases passed", selected.len());
    }
    if failed == 0 {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    }
}
