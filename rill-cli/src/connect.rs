//! The channel to ADDR (rill's target syntax, TLS options) and the request metadata (-H).

use std::time::Instant;

use base64::Engine;
use rill::client::Endpoint;
use rill::tls::{Certificates, ClientTlsConfig, Identity};
use rill::{Channel, MetadataMap};

use crate::args::Common;
use crate::error::CliError;

/// Connects to `addr` now, so an unreachable server is reported as such.
pub(crate) async fn channel(
    addr: &str,
    common: &Common,
    deadline: Option<Instant>,
) -> Result<Channel, CliError> {
    let endpoint = endpoint(addr, common)?;
    let mut timeout = common.connect_timeout;
    if let Some(deadline) = deadline {
        timeout = timeout.min(deadline.saturating_duration_since(Instant::now()));
    }
    let endpoint = endpoint.connect_timeout(timeout);
    match tokio::time::timeout(timeout, endpoint.connect()).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(rill::Error::Connect { status, .. })) => Err(CliError::Connect {
            addr: addr.to_string(),
            reason: status.message().to_string(),
        }),
        Ok(Err(e)) => Err(CliError::Connect {
            addr: addr.to_string(),
            reason: e.to_string(),
        }),
        Err(_) => Err(CliError::Connect {
            addr: addr.to_string(),
            reason: format!("timed out after {timeout:?}"),
        }),
    }
}

/// The endpoint for `addr` with the TLS settings the flags ask for.
fn endpoint(addr: &str, common: &Common) -> Result<Endpoint, CliError> {
    let https = addr.starts_with("https://");
    if addr.starts_with("http://") && common.wants_tls() {
        return Err(CliError::Usage(format!(
            "{addr} is a plaintext (http://) target; use https:// or host:port with TLS options"
        )));
    }
    if https && common.plaintext {
        return Err(CliError::Usage(format!(
            "{addr} is a TLS (https://) target; --plaintext needs http:// or host:port"
        )));
    }
    let mut endpoint = Endpoint::new(addr);
    if common.wants_tls() {
        let mut config = ClientTlsConfig::new();
        if let Some(ca) = &common.ca {
            config = config.ca_certificates(Certificates::from_pem_file(ca).map_err(tls)?);
        }
        if let (Some(cert), Some(key)) = (&common.cert, &common.key) {
            config = config.identity(Identity::from_pem_files(cert, key).map_err(tls)?);
        }
        if let Some(name) = &common.server_name {
            config = config.domain_name(name.clone());
        }
        endpoint = endpoint.tls_config(config);
    }
    Ok(endpoint)
}

fn tls(e: rill::tls::TlsError) -> CliError {
    CliError::Input(format!("TLS options: {e}"))
}

/// The `-H 'key: value'` headers as metadata; `-bin` values are base64 (padded or not).
pub(crate) fn metadata(headers: &[String]) -> Result<MetadataMap, CliError> {
    let mut map = MetadataMap::new();
    for header in headers {
        let (key, value) = header
            .split_once(':')
            .ok_or_else(|| CliError::Usage(format!("-H {header:?}: expected 'key: value'")))?;
        let (key, value) = (key.trim(), value.trim());
        let invalid =
            |e: rill::metadata::InvalidMetadata| CliError::Usage(format!("-H {header:?}: {e}"));
        if key.to_ascii_lowercase().ends_with("-bin") {
            let bytes = decode_base64(value).ok_or_else(|| {
                CliError::Usage(format!("-H {header:?}: a -bin value must be base64"))
            })?;
            map.append_bin(key, bytes).map_err(invalid)?;
        } else {
            map.append(key, value).map_err(invalid)?;
        }
    }
    Ok(map)
}

fn decode_base64(value: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_become_metadata() {
        let map = metadata(&[
            "x-a: 1".into(),
            "X-A:2".into(),
            "x-trace-bin: AAEC".into(),
            "x-b:  spaced value ".into(),
        ])
        .unwrap();
        assert_eq!(map.get_all("x-a"), ["1", "2"]);
        assert_eq!(map.get_bin("x-trace-bin"), Some(Ok(vec![0, 1, 2])));
        assert_eq!(map.get("x-b"), Some("spaced value"));
    }

    #[test]
    fn bad_headers_are_usage_errors() {
        for bad in ["novalue", "bad key: 1", "x-bin: !!!", "grpc-status: 0"] {
            let err = metadata(&[bad.to_string()]).unwrap_err();
            assert!(matches!(err, CliError::Usage(_)), "{bad}: {err:?}");
        }
    }
}
