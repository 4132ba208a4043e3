//! The `google.rpc` rich error model, carried in `grpc-status-details-bin`.
//!
//! The message types mirror `google/rpc/status.proto` and `google/rpc/error_details.proto`
//! (same field numbers), so details interoperate with every gRPC implementation.
//! [`ErrorDetails`] is the convenient way to build and read them.

use std::collections::HashMap;

use bytes::Bytes;
use prost::{DecodeError, Message, Name};

use super::Code;

/// Domain prefix of the type URLs written into [`Any`].
const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// `google.rpc.Status`: the message encoded into `grpc-status-details-bin`.
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    /// The numeric status code; should match `grpc-status`.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// The developer-facing error message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// Error details, each packed as an [`Any`].
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

/// `google.protobuf.Any`: an encoded message with its type URL.
#[derive(Clone, PartialEq, Message)]
pub struct Any {
    /// Identifies the message type, e.g. `type.googleapis.com/google.rpc.ErrorInfo`.
    #[prost(string, tag = "1")]
    pub type_url: String,
    /// The encoded message.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

impl Any {
    /// Packs a message under `type.googleapis.com/<full name>`.
    pub fn pack<M: Name>(message: &M) -> Any {
        Any {
            type_url: M::type_url(),
            value: message.encode_to_vec(),
        }
    }

    /// Unpacks the message when the type URL names `M` (any domain prefix); `None` otherwise.
    pub fn unpack<M: Name + Default>(&self) -> Option<Result<M, DecodeError>> {
        (type_name(&self.type_url) == M::full_name()).then(|| M::decode(self.value.as_slice()))
    }
}

/// The part of a type URL after its last `/`, which is the full message name.
fn type_name(type_url: &str) -> &str {
    type_url.rsplit('/').next().unwrap_or(type_url)
}

/// `google.protobuf.Duration`: a signed span of time.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Duration {
    /// Whole seconds.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Fraction of a second in nanoseconds, same sign as `seconds`.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Duration {
        Duration {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // subsec_nanos() < 1e9, always fits.
            nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
        }
    }
}

impl Duration {
    /// Converts to a `std::time::Duration`; `None` when negative or out of range.
    pub fn to_std(self) -> Option<std::time::Duration> {
        let secs = u64::try_from(self.seconds).ok()?;
        let nanos = u32::try_from(self.nanos)
            .ok()
            .filter(|n| *n < 1_000_000_000)?;
        Some(std::time::Duration::new(secs, nanos))
    }
}

/// `google.rpc.ErrorInfo`: the reason for an error, with its domain and structured metadata.
#[derive(Clone, PartialEq, Message)]
pub struct ErrorInfo {
    /// A constant UPPER_SNAKE_CASE reason, e.g. `API_DISABLED`.
    #[prost(string, tag = "1")]
    pub reason: String,
    /// The logical grouping the reason belongs to, e.g. `example.com`.
    #[prost(string, tag = "2")]
    pub domain: String,
    /// Additional structured details.
    #[prost(map = "string, string", tag = "3")]
    pub metadata: HashMap<String, String>,
}

/// `google.rpc.RetryInfo`: when the client may retry.
#[derive(Clone, PartialEq, Message)]
pub struct RetryInfo {
    /// How long the client should wait before retrying.
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<Duration>,
}

impl RetryInfo {
    /// The retry delay as a `std::time::Duration`, when present and valid.
    pub fn delay(&self) -> Option<std::time::Duration> {
        self.retry_delay.and_then(Duration::to_std)
    }
}

/// `google.rpc.DebugInfo`: debugging information from the server.
#[derive(Clone, PartialEq, Message)]
pub struct DebugInfo {
    /// The stack trace entries.
    #[prost(string, repeated, tag = "1")]
    pub stack_entries: Vec<String>,
    /// Additional debugging information.
    #[prost(string, tag = "2")]
    pub detail: String,
}

/// `google.rpc.QuotaFailure`: which quota checks failed.
#[derive(Clone, PartialEq, Message)]
pub struct QuotaFailure {
    /// All quota violations.
    #[prost(message, repeated, tag = "1")]
    pub violations: Vec<QuotaViolation>,
}

/// `google.rpc.QuotaFailure.Violation`: one failed quota check.
#[derive(Clone, PartialEq, Message)]
pub struct QuotaViolation {
    /// The subject on which the check failed, e.g. `clientip:1.2.3.4`.
    #[prost(string, tag = "1")]
    pub subject: String,
    /// How the quota check failed.
    #[prost(string, tag = "2")]
    pub description: String,
}

/// `google.rpc.PreconditionFailure`: which preconditions failed.
#[derive(Clone, PartialEq, Message)]
pub struct PreconditionFailure {
    /// All precondition violations.
    #[prost(message, repeated, tag = "1")]
    pub violations: Vec<PreconditionViolation>,
}

/// `google.rpc.PreconditionFailure.Violation`: one failed precondition.
#[derive(Clone, PartialEq, Message)]
pub struct PreconditionViolation {
    /// Service-specific type of the failure, e.g. `TOS`.
    #[prost(string, tag = "1")]
    pub r#type: String,
    /// The subject, relative to the type, that failed.
    #[prost(string, tag = "2")]
    pub subject: String,
    /// How the precondition failed.
    #[prost(string, tag = "3")]
    pub description: String,
}

/// `google.rpc.BadRequest`: violations in the client request.
#[derive(Clone, PartialEq, Message)]
pub struct BadRequest {
    /// All field violations.
    #[prost(message, repeated, tag = "1")]
    pub field_violations: Vec<FieldViolation>,
}

/// `google.rpc.BadRequest.FieldViolation`: one invalid request field.
#[derive(Clone, PartialEq, Message)]
pub struct FieldViolation {
    /// Path to the field, e.g. `user.email`.
    #[prost(string, tag = "1")]
    pub field: String,
    /// Why the field is invalid.
    #[prost(string, tag = "2")]
    pub description: String,
}

impl FieldViolation {
    /// Creates a field violation.
    ///
    /// ```rust
    /// let v = rill::status::details::FieldViolation::new("email", "not an email");
    /// assert_eq!(v.field, "email");
    /// ```
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> FieldViolation {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// `google.rpc.RequestInfo`: identifies the request, e.g. for bug reports.
#[derive(Clone, PartialEq, Message)]
pub struct RequestInfo {
    /// An opaque request id.
    #[prost(string, tag = "1")]
    pub request_id: String,
    /// Data used to serve the request, e.g. an encrypted stack trace.
    #[prost(string, tag = "2")]
    pub serving_data: String,
}

/// `google.rpc.ResourceInfo`: the resource being accessed.
#[derive(Clone, PartialEq, Message)]
pub struct ResourceInfo {
    /// The resource type, e.g. `sql table`.
    #[prost(string, tag = "1")]
    pub resource_type: String,
    /// The resource name.
    #[prost(string, tag = "2")]
    pub resource_name: String,
    /// The resource owner.
    #[prost(string, tag = "3")]
    pub owner: String,
    /// What error was encountered when accessing the resource.
    #[prost(string, tag = "4")]
    pub description: String,
}

/// `google.rpc.Help`: links to documentation.
#[derive(Clone, PartialEq, Message)]
pub struct Help {
    /// Relevant links.
    #[prost(message, repeated, tag = "1")]
    pub links: Vec<HelpLink>,
}

/// `google.rpc.Help.Link`: one documentation link.
#[derive(Clone, PartialEq, Message)]
pub struct HelpLink {
    /// What the link offers.
    #[prost(string, tag = "1")]
    pub description: String,
    /// The URL of the link.
    #[prost(string, tag = "2")]
    pub url: String,
}

impl HelpLink {
    /// Creates a link.
    pub fn new(description: impl Into<String>, url: impl Into<String>) -> HelpLink {
        HelpLink {
            description: description.into(),
            url: url.into(),
        }
    }
}

/// `google.rpc.LocalizedMessage`: a user-facing message in some locale.
#[derive(Clone, PartialEq, Message)]
pub struct LocalizedMessage {
    /// The BCP-47 locale, e.g. `en-US`.
    #[prost(string, tag = "1")]
    pub locale: String,
    /// The localized message.
    #[prost(string, tag = "2")]
    pub message: String,
}

/// Implements [`prost::Name`] with the `type.googleapis.com` URL used by every gRPC stack.
macro_rules! impl_name {
    ($($ty:ident => $package:literal, $name:literal;)*) => {
        $(
            impl Name for $ty {
                const NAME: &'static str = $name;
                const PACKAGE: &'static str = $package;

                fn type_url() -> String {
                    format!("{TYPE_URL_PREFIX}{}", Self::full_name())
                }
            }
        )*
    };
}

impl_name! {
    RpcStatus => "google.rpc", "Status";
    Any => "google.protobuf", "Any";
    Duration => "google.protobuf", "Duration";
    ErrorInfo => "google.rpc", "ErrorInfo";
    RetryInfo => "google.rpc", "RetryInfo";
    DebugInfo => "google.rpc", "DebugInfo";
    QuotaFailure => "google.rpc", "QuotaFailure";
    QuotaViolation => "google.rpc", "QuotaFailure.Violation";
    PreconditionFailure => "google.rpc", "PreconditionFailure";
    PreconditionViolation => "google.rpc", "PreconditionFailure.Violation";
    BadRequest => "google.rpc", "BadRequest";
    FieldViolation => "google.rpc", "BadRequest.FieldViolation";
    RequestInfo => "google.rpc", "RequestInfo";
    ResourceInfo => "google.rpc", "ResourceInfo";
    Help => "google.rpc", "Help";
    HelpLink => "google.rpc", "Help.Link";
    LocalizedMessage => "google.rpc", "LocalizedMessage";
}

/// A builder and reader for the standard error details of a status.
///
/// Holds at most one of each standard detail type; anything else (unknown types, repeated or
/// undecodable standard ones) is kept verbatim in [`ErrorDetails::other`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorDetails {
    error_info: Option<ErrorInfo>,
    retry_info: Option<RetryInfo>,
    debug_info: Option<DebugInfo>,
    quota_failure: Option<QuotaFailure>,
    precondition_failure: Option<PreconditionFailure>,
    bad_request: Option<BadRequest>,
    request_info: Option<RequestInfo>,
    resource_info: Option<ResourceInfo>,
    help: Option<Help>,
    localized_message: Option<LocalizedMessage>,
    other: Vec<Any>,
}

impl ErrorDetails {
    /// Creates empty details.
    ///
    /// ```rust
    /// use std::time::Duration;
    /// use rill::status::details::{ErrorDetails, FieldViolation};
    ///
    /// let details = ErrorDetails::new()
    ///     .with_bad_request(vec![FieldViolation::new("email", "not an email")])
    ///     .with_retry_info(Duration::from_secs(5));
    /// let bytes = details.encode(rill::Code::InvalidArgument, "invalid request");
    /// let back = ErrorDetails::decode(&bytes).unwrap();
    /// assert_eq!(back.retry_info().unwrap().delay(), Some(Duration::from_secs(5)));
    /// ```
    pub fn new() -> ErrorDetails {
        ErrorDetails::default()
    }

    /// Whether no detail is set.
    pub fn is_empty(&self) -> bool {
        *self == ErrorDetails::default()
    }

    /// Sets a [`BadRequest`] with the given field violations.
    pub fn with_bad_request(mut self, field_violations: Vec<FieldViolation>) -> ErrorDetails {
        self.bad_request = Some(BadRequest { field_violations });
        self
    }

    /// Adds one field violation to the [`BadRequest`], creating it if needed.
    pub fn with_bad_request_violation(
        mut self,
        field: impl Into<String>,
        description: impl Into<String>,
    ) -> ErrorDetails {
        self.bad_request
            .get_or_insert_with(BadRequest::default)
            .field_violations
            .push(FieldViolation::new(field, description));
        self
    }

    /// Sets an [`ErrorInfo`].
    pub fn with_error_info(
        mut self,
        reason: impl Into<String>,
        domain: impl Into<String>,
        metadata: HashMap<String, String>,
    ) -> ErrorDetails {
        self.error_info = Some(ErrorInfo {
            reason: reason.into(),
            domain: domain.into(),
            metadata,
        });
        self
    }

    /// Sets a [`RetryInfo`] with the given delay.
    pub fn with_retry_info(mut self, retry_delay: std::time::Duration) -> ErrorDetails {
        self.retry_info = Some(RetryInfo {
            retry_delay: Some(retry_delay.into()),
        });
        self
    }

    /// Sets a [`DebugInfo`].
    pub fn with_debug_info(
        mut self,
        stack_entries: Vec<String>,
        detail: impl Into<String>,
    ) -> ErrorDetails {
        self.debug_info = Some(DebugInfo {
            stack_entries,
            detail: detail.into(),
        });
        self
    }

    /// Sets a [`QuotaFailure`].
    pub fn with_quota_failure(mut self, violations: Vec<QuotaViolation>) -> ErrorDetails {
        self.quota_failure = Some(QuotaFailure { violations });
        self
    }

    /// Sets a [`PreconditionFailure`].
    pub fn with_precondition_failure(
        mut self,
        violations: Vec<PreconditionViolation>,
    ) -> ErrorDetails {
        self.precondition_failure = Some(PreconditionFailure { violations });
        self
    }

    /// Sets a [`RequestInfo`].
    pub fn with_request_info(
        mut self,
        request_id: impl Into<String>,
        serving_data: impl Into<String>,
    ) -> ErrorDetails {
        self.request_info = Some(RequestInfo {
            request_id: request_id.into(),
            serving_data: serving_data.into(),
        });
        self
    }

    /// Sets a [`ResourceInfo`].
    pub fn with_resource_info(
        mut self,
        resource_type: impl Into<String>,
        resource_name: impl Into<String>,
        owner: impl Into<String>,
        description: impl Into<String>,
    ) -> ErrorDetails {
        self.resource_info = Some(ResourceInfo {
            resource_type: resource_type.into(),
            resource_name: resource_name.into(),
            owner: owner.into(),
            description: description.into(),
        });
        self
    }

    /// Sets a [`Help`] with the given links.
    pub fn with_help(mut self, links: Vec<HelpLink>) -> ErrorDetails {
        self.help = Some(Help { links });
        self
    }

    /// Sets a [`LocalizedMessage`].
    pub fn with_localized_message(
        mut self,
        locale: impl Into<String>,
        message: impl Into<String>,
    ) -> ErrorDetails {
        self.localized_message = Some(LocalizedMessage {
            locale: locale.into(),
            message: message.into(),
        });
        self
    }

    /// Adds a detail of any other type, already packed.
    pub fn with_other(mut self, any: Any) -> ErrorDetails {
        self.other.push(any);
        self
    }

    /// The [`BadRequest`], if set.
    pub fn bad_request(&self) -> Option<&BadRequest> {
        self.bad_request.as_ref()
    }

    /// The [`ErrorInfo`], if set.
    pub fn error_info(&self) -> Option<&ErrorInfo> {
        self.error_info.as_ref()
    }

    /// The [`RetryInfo`], if set.
    pub fn retry_info(&self) -> Option<&RetryInfo> {
        self.retry_info.as_ref()
    }

    /// The [`DebugInfo`], if set.
    pub fn debug_info(&self) -> Option<&DebugInfo> {
        self.debug_info.as_ref()
    }

    /// The [`QuotaFailure`], if set.
    pub fn quota_failure(&self) -> Option<&QuotaFailure> {
        self.quota_failure.as_ref()
    }

    /// The [`PreconditionFailure`], if set.
    pub fn precondition_failure(&self) -> Option<&PreconditionFailure> {
        self.precondition_failure.as_ref()
    }

    /// The [`RequestInfo`], if set.
    pub fn request_info(&self) -> Option<&RequestInfo> {
        self.request_info.as_ref()
    }

    /// The [`ResourceInfo`], if set.
    pub fn resource_info(&self) -> Option<&ResourceInfo> {
        self.resource_info.as_ref()
    }

    /// The [`Help`], if set.
    pub fn help(&self) -> Option<&Help> {
        self.help.as_ref()
    }

    /// The [`LocalizedMessage`], if set.
    pub fn localized_message(&self) -> Option<&LocalizedMessage> {
        self.localized_message.as_ref()
    }

    /// Details that are not one of the standard types above (or duplicates of one).
    pub fn other(&self) -> &[Any] {
        &self.other
    }

    /// Packs every detail, standard types first in a fixed order, then [`ErrorDetails::other`].
    pub fn to_any_vec(&self) -> Vec<Any> {
        fn push<M: Name>(out: &mut Vec<Any>, detail: &Option<M>) {
            if let Some(m) = detail {
                out.push(Any::pack(m));
            }
        }
        let mut out = Vec::new();
        push(&mut out, &self.error_info);
        push(&mut out, &self.retry_info);
        push(&mut out, &self.debug_info);
        push(&mut out, &self.quota_failure);
        push(&mut out, &self.precondition_failure);
        push(&mut out, &self.bad_request);
        push(&mut out, &self.request_info);
        push(&mut out, &self.resource_info);
        push(&mut out, &self.help);
        push(&mut out, &self.localized_message);
        out.extend(self.other.iter().cloned());
        out
    }

    /// Encodes a `google.rpc.Status` with these details, ready for `grpc-status-details-bin`.
    pub fn encode(&self, code: Code, message: &str) -> Bytes {
        let status = RpcStatus {
            code: code.as_i32(),
            message: message.to_owned(),
            details: self.to_any_vec(),
        };
        Bytes::from(status.encode_to_vec())
    }

    /// Decodes an encoded `google.rpc.Status`, sorting its details by type.
    ///
    /// Fails only when the outer `google.rpc.Status` is malformed; a malformed individual detail
    /// is kept in [`ErrorDetails::other`].
    pub fn decode(bytes: &[u8]) -> Result<ErrorDetails, DecodeError> {
        let status = RpcStatus::decode(bytes)?;
        let mut out = ErrorDetails::new();
        for any in status.details {
            out.absorb(any);
        }
        Ok(out)
    }

    /// Stores `any` in its typed slot, or in `other` when unknown, taken or undecodable.
    fn absorb(&mut self, any: Any) {
        fn fill<M: Name + Default>(slot: &mut Option<M>, any: &Any) -> bool {
            if slot.is_some() {
                return false;
            }
            match any.unpack::<M>() {
                Some(Ok(m)) => {
                    *slot = Some(m);
                    true
                }
                _ => false,
            }
        }
        let stored = match type_name(&any.type_url) {
            "google.rpc.ErrorInfo" => fill(&mut self.error_info, &any),
            "google.rpc.RetryInfo" => fill(&mut self.retry_info, &any),
            "google.rpc.DebugInfo" => fill(&mut self.debug_info, &any),
            "google.rpc.QuotaFailure" => fill(&mut self.quota_failure, &any),
            "google.rpc.PreconditionFailure" => fill(&mut self.precondition_failure, &any),
            "google.rpc.BadRequest" => fill(&mut self.bad_request, &any),
            "google.rpc.RequestInfo" => fill(&mut self.request_info, &any),
            "google.rpc.ResourceInfo" => fill(&mut self.resource_info, &any),
            "google.rpc.Help" => fill(&mut self.help, &any),
            "google.rpc.LocalizedMessage" => fill(&mut self.localized_message, &any),
            _ => false,
        };
        if !stored {
            self.other.push(any);
        }
    }
}

#[cfg(test)]
mod tests;
