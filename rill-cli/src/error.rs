//! What can go wrong, how it is printed, and the exit code it gives.

use std::fmt::Write as _;

use rill::{Code, ErrorDetails, Status};

/// Offset of the exit code of a call that ended with a non-OK status (grpcurl's convention).
pub(crate) const STATUS_EXIT_OFFSET: i32 = 64;

/// A failure of one `rill` run.
#[derive(Debug)]
pub(crate) enum CliError {
    /// Bad flags or arguments (exit 2).
    Usage(String),
    /// The server could not be reached.
    Connect { addr: String, reason: String },
    /// Bad input: JSON, files, TLS material.
    Input(String),
    /// A service, method or symbol that does not exist.
    NotFound(String),
    /// Descriptors could not be had (no reflection, bad protos).
    Descriptors(String),
    /// The call (or a reflection or health call) ended with a non-OK status.
    Status(Status),
    /// A health check that answered something other than SERVING.
    NotServing(String),
}

impl CliError {
    /// The process exit code.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::NotServing(_) => 3,
            CliError::Status(status) => STATUS_EXIT_OFFSET + status.code().as_i32(),
            CliError::Connect { .. }
            | CliError::Input(_)
            | CliError::NotFound(_)
            | CliError::Descriptors(_) => 1,
        }
    }

    /// The text printed on stderr.
    pub(crate) fn render(&self) -> String {
        match self {
            CliError::Usage(m) => format!("rill: {m}\n(see rill --help)"),
            CliError::Connect { addr, reason } => {
                format!("rill: cannot connect to {addr}: {reason}")
            }
            CliError::Input(m) | CliError::NotFound(m) | CliError::Descriptors(m) => {
                format!("rill: {m}")
            }
            CliError::NotServing(m) => format!("rill: {m}"),
            CliError::Status(status) => render_status(status),
        }
    }
}

impl From<Status> for CliError {
    fn from(status: Status) -> Self {
        CliError::Status(status)
    }
}

/// A non-OK status: code, message, then each decoded google.rpc detail.
pub(crate) fn render_status(status: &Status) -> String {
    let mut out = String::from("ERROR:\n");
    let code = status.code();
    let _ = writeln!(out, "  Code: {} ({})", code.as_str(), code.as_i32());
    let _ = writeln!(out, "  Message: {}", status.message());
    if !status.details().is_empty() {
        match status.error_details() {
            Ok(details) if !details.is_empty() => {
                out.push_str("  Details:\n");
                render_details(&details, &mut out);
            }
            Ok(_) => {}
            Err(e) => {
                let _ = writeln!(out, "  Details: undecodable google.rpc.Status ({e})");
            }
        }
    }
    if code == Code::DeadlineExceeded {
        out.push_str("  (the deadline passed: see --deadline)\n");
    }
    out.trim_end().to_string()
}

fn render_details(details: &ErrorDetails, out: &mut String) {
    if let Some(bad) = details.bad_request() {
        out.push_str("    BadRequest:\n");
        for v in &bad.field_violations {
            let _ = writeln!(out, "      field {:?}: {}", v.field, v.description);
        }
    }
    if let Some(info) = details.error_info() {
        let _ = writeln!(
            out,
            "    ErrorInfo: reason {:?}, domain {:?}",
            info.reason, info.domain
        );
        let mut keys: Vec<_> = info.metadata.iter().collect();
        keys.sort();
        for (k, v) in keys {
            let _ = writeln!(out, "      {k}: {v}");
        }
    }
    if let Some(retry) = details.retry_info() {
        match retry.delay() {
            Some(delay) => {
                let _ = writeln!(out, "    RetryInfo: retry after {delay:?}");
            }
            None => out.push_str("    RetryInfo: (no delay)\n"),
        }
    }
    if let Some(debug) = details.debug_info() {
        let _ = writeln!(out, "    DebugInfo: {}", debug.detail);
        for entry in &debug.stack_entries {
            let _ = writeln!(out, "      at {entry}");
        }
    }
    if let Some(quota) = details.quota_failure() {
        out.push_str("    QuotaFailure:\n");
        for v in &quota.violations {
            let _ = writeln!(out, "      {}: {}", v.subject, v.description);
        }
    }
    if let Some(pre) = details.precondition_failure() {
        out.push_str("    PreconditionFailure:\n");
        for v in &pre.violations {
            let _ = writeln!(out, "      {} {}: {}", v.r#type, v.subject, v.description);
        }
    }
    if let Some(req) = details.request_info() {
        let _ = writeln!(
            out,
            "    RequestInfo: request id {:?}, serving data {:?}",
            req.request_id, req.serving_data
        );
    }
    if let Some(res) = details.resource_info() {
        let _ = writeln!(
            out,
            "    ResourceInfo: {} {:?} (owner {:?}): {}",
            res.resource_type, res.resource_name, res.owner, res.description
        );
    }
    if let Some(help) = details.help() {
        out.push_str("    Help:\n");
        for link in &help.links {
            let _ = writeln!(out, "      {}: {}", link.description, link.url);
        }
    }
    if let Some(msg) = details.localized_message() {
        let _ = writeln!(
            out,
            "    LocalizedMessage ({}): {}",
            msg.locale, msg.message
        );
    }
    for any in details.other() {
        let _ = writeln!(
            out,
            "    {} ({} bytes, not a google.rpc error detail)",
            any.type_url,
            any.value.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rill::status::details::FieldViolation;

    #[test]
    fn exit_codes() {
        let cases: &[(CliError, i32)] = &[
            (CliError::Usage("x".into()), 2),
            (CliError::Input("x".into()), 1),
            (CliError::NotServing("NOT_SERVING".into()), 3),
            (Status::deadline_exceeded("late").into(), 68),
            (Status::not_found("gone").into(), 69),
            (Status::unimplemented("no").into(), 76),
            (Status::unauthenticated("who").into(), 80),
        ];
        for (err, code) in cases {
            assert_eq!(err.exit_code(), *code, "{err:?}");
        }
    }

    #[test]
    fn status_with_details_is_readable() {
        let details = ErrorDetails::new()
            .with_bad_request(vec![FieldViolation::new("email", "not an email")])
            .with_error_info(
                "BAD_EMAIL",
                "example.com",
                [("user".to_string(), "7".to_string())].into(),
            )
            .with_retry_info(std::time::Duration::from_secs(2));
        let status =
            Status::with_error_details(Code::InvalidArgument, "user #0 is invalid", details);
        let text = render_status(&status);
        for expected in [
            "Code: INVALID_ARGUMENT (3)",
            "Message: user #0 is invalid",
            "BadRequest:",
            "field \"email\": not an email",
            "ErrorInfo: reason \"BAD_EMAIL\", domain \"example.com\"",
            "user: 7",
            "RetryInfo: retry after 2s",
        ] {
            assert!(text.contains(expected), "{expected:?} not in:\n{text}");
        }
    }
}
