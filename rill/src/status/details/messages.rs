//! The `google.rpc` and `google.protobuf` messages of the error model, hand-written with the
//! official field numbers.

use std::collections::HashMap;

use prost::{DecodeError, Message, Name};

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
pub(super) fn type_name(type_url: &str) -> &str {
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
