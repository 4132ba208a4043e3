//! gRPC status codes and the [`Status`] error returned by every call.
//!
//! A `Status` travels in the response trailers as `grpc-status`, `grpc-message` (percent-encoded)
//! and the optional `grpc-status-details-bin` (a base64 `google.rpc.Status`, see [`details`]).

pub mod details;

use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::metadata::{MetadataMap, BASE64_DECODE, BASE64_ENCODE};
use details::ErrorDetails;

pub(crate) const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
pub(crate) const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
pub(crate) const GRPC_STATUS_DETAILS: HeaderName =
    HeaderName::from_static("grpc-status-details-bin");

/// Bytes that PROTOCOL-HTTP2 requires to be percent-encoded in `grpc-message`: everything outside
/// 0x20..=0x7E (non-ASCII is always encoded by `utf8_percent_encode`) plus `%` itself.
const MESSAGE_ENCODE_SET: &AsciiSet = &CONTROLS.add(b'%');

/// The canonical gRPC status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Code {
    /// Not an error; returned on success.
    Ok = 0,
    /// The operation was cancelled, typically by the caller.
    Cancelled = 1,
    /// Unknown error, e.g. a status from another address space with an unknown code.
    Unknown = 2,
    /// The client specified an invalid argument.
    InvalidArgument = 3,
    /// The deadline expired before the operation could complete.
    DeadlineExceeded = 4,
    /// Some requested entity was not found.
    NotFound = 5,
    /// The entity that a client attempted to create already exists.
    AlreadyExists = 6,
    /// The caller does not have permission to execute the operation.
    PermissionDenied = 7,
    /// Some resource (quota, memory, message size...) has been exhausted.
    ResourceExhausted = 8,
    /// The system is not in a state required for the operation's execution.
    FailedPrecondition = 9,
    /// The operation was aborted, typically due to a concurrency issue.
    Aborted = 10,
    /// The operation was attempted past the valid range.
    OutOfRange = 11,
    /// The operation is not implemented or not supported.
    Unimplemented = 12,
    /// An internal invariant was broken.
    Internal = 13,
    /// The service is currently unavailable; retrying may help.
    Unavailable = 14,
    /// Unrecoverable data loss or corruption.
    DataLoss = 15,
    /// The request does not have valid authentication credentials.
    Unauthenticated = 16,
}

impl Code {
    /// Every code, indexed by its numeric value.
    const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// Converts a numeric code; values outside 0..=16 become [`Code::Unknown`].
    pub fn from_i32(value: i32) -> Code {
        usize::try_from(value)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
            .unwrap_or(Code::Unknown)
    }

    /// The numeric value sent in `grpc-status`.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The canonical upper-snake-case name, e.g. `"NOT_FOUND"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// A short human-readable description of the code.
    pub fn description(self) -> &'static str {
        match self {
            Code::Ok => "the operation completed successfully",
            Code::Cancelled => "the operation was cancelled",
            Code::Unknown => "unknown error",
            Code::InvalidArgument => "client specified an invalid argument",
            Code::DeadlineExceeded => "deadline expired before operation could complete",
            Code::NotFound => "some requested entity was not found",
            Code::AlreadyExists => "some entity that we attempted to create already exists",
            Code::PermissionDenied => {
                "the caller does not have permission to execute the specified operation"
            }
            Code::ResourceExhausted => "some resource has been exhausted",
            Code::FailedPrecondition => {
                "the system is not in a state required for the operation's execution"
            }
            Code::Aborted => "the operation was aborted",
            Code::OutOfRange => "operation was attempted past the valid range",
            Code::Unimplemented => "operation is not implemented or not supported",
            Code::Internal => "internal error",
            Code::Unavailable => "the service is currently unavailable",
            Code::DataLoss => "unrecoverable data loss or corruption",
            Code::Unauthenticated => "the request does not have valid authentication credentials",
        }
    }

    /// Maps an HTTP status of a response without `grpc-status`, per
    /// grpc's doc/http-grpc-status-mapping.md.
    pub(crate) fn from_http_status(status: u16) -> Code {
        match status {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A gRPC error: a [`Code`], a message, optional binary details and trailing metadata.
///
/// Pointer-sized (the parts live in one allocation) so `Result<T, Status>` stays small.
#[derive(Clone)]
pub struct Status(Box<Inner>);

/// The parts of a [`Status`].
#[derive(Clone)]
struct Inner {
    code: Code,
    message: String,
    details: Bytes,
    metadata: MetadataMap,
}

/// Generates one shorthand constructor per error code.
macro_rules! code_constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<String>) -> Status {
                Status::new(Code::$code, message)
            }
        )*
    };
}

impl Status {
    /// Creates a status with a code and a message.
    ///
    /// ```rust
    /// use rill::{Code, Status};
    ///
    /// let status = Status::new(Code::NotFound, "user 7 not found");
    /// assert_eq!(status.code(), Code::NotFound);
    /// assert_eq!(status.message(), "user 7 not found");
    /// ```
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status::from_parts(code, message.into(), Bytes::new(), MetadataMap::new())
    }

    /// Assembles a status from its parts.
    fn from_parts(code: Code, message: String, details: Bytes, metadata: MetadataMap) -> Status {
        Status(Box::new(Inner {
            code,
            message,
            details,
            metadata,
        }))
    }

    /// Creates a status carrying raw `grpc-status-details-bin` bytes (an encoded
    /// `google.rpc.Status`).
    ///
    /// ```rust
    /// use rill::{Code, Status};
    ///
    /// let status = Status::with_details(Code::Internal, "boom", bytes::Bytes::from_static(b"\x08\x0d"));
    /// assert_eq!(status.details(), b"\x08\x0d");
    /// ```
    pub fn with_details(code: Code, message: impl Into<String>, details: Bytes) -> Status {
        Status::from_parts(code, message.into(), details, MetadataMap::new())
    }

    /// Creates a status whose details are the rich error model built with [`ErrorDetails`].
    ///
    /// ```rust
    /// use rill::status::details::{ErrorDetails, FieldViolation};
    /// use rill::{Code, Status};
    ///
    /// let details = ErrorDetails::new()
    ///     .with_bad_request(vec![FieldViolation::new("email", "not an email")]);
    /// let status = Status::with_error_details(Code::InvalidArgument, "bad request", details);
    /// let decoded = status.error_details().unwrap();
    /// assert_eq!(decoded.bad_request().unwrap().field_violations[0].field, "email");
    /// ```
    pub fn with_error_details(
        code: Code,
        message: impl Into<String>,
        details: ErrorDetails,
    ) -> Status {
        let message = message.into();
        let encoded = details.encode(code, &message);
        Status::with_details(code, message, encoded)
    }

    /// Replaces the status metadata (sent as trailers) and returns the status.
    pub fn with_metadata(mut self, metadata: MetadataMap) -> Status {
        self.0.metadata = metadata;
        self
    }

    code_constructors! {
        /// Creates a [`Code::Cancelled`] status.
        cancelled => Cancelled;
        /// Creates a [`Code::Unknown`] status.
        unknown => Unknown;
        /// Creates a [`Code::InvalidArgument`] status.
        invalid_argument => InvalidArgument;
        /// Creates a [`Code::DeadlineExceeded`] status.
        deadline_exceeded => DeadlineExceeded;
        /// Creates a [`Code::NotFound`] status.
        not_found => NotFound;
        /// Creates a [`Code::AlreadyExists`] status.
        already_exists => AlreadyExists;
        /// Creates a [`Code::PermissionDenied`] status.
        permission_denied => PermissionDenied;
        /// Creates a [`Code::ResourceExhausted`] status.
        resource_exhausted => ResourceExhausted;
        /// Creates a [`Code::FailedPrecondition`] status.
        failed_precondition => FailedPrecondition;
        /// Creates a [`Code::Aborted`] status.
        aborted => Aborted;
        /// Creates a [`Code::OutOfRange`] status.
        out_of_range => OutOfRange;
        /// Creates a [`Code::Unimplemented`] status.
        unimplemented => Unimplemented;
        /// Creates a [`Code::Internal`] status.
        internal => Internal;
        /// Creates a [`Code::Unavailable`] status.
        unavailable => Unavailable;
        /// Creates a [`Code::DataLoss`] status.
        data_loss => DataLoss;
        /// Creates a [`Code::Unauthenticated`] status.
        unauthenticated => Unauthenticated;
    }

    /// The status code.
    pub fn code(&self) -> Code {
        self.0.code
    }

    /// The (already percent-decoded) message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The raw `grpc-status-details-bin` bytes; empty when there are none.
    pub fn details(&self) -> &[u8] {
        &self.0.details
    }

    /// Metadata carried with the status (trailers).
    pub fn metadata(&self) -> &MetadataMap {
        &self.0.metadata
    }

    /// Mutable access to the metadata carried with the status.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.0.metadata
    }

    /// Decodes the details as the `google.rpc` rich error model; empty details give an empty
    /// [`ErrorDetails`].
    pub fn error_details(&self) -> Result<ErrorDetails, prost::DecodeError> {
        ErrorDetails::decode(&self.0.details)
    }

    /// Writes `grpc-status`, `grpc-message`, `grpc-status-details-bin` and the metadata.
    pub(crate) fn add_to_headers(&self, headers: &mut HeaderMap) {
        // (hot path: every call ends here; the status value is a static string)
        headers.insert(GRPC_STATUS, status_value(self.0.code));
        if !self.0.message.is_empty() {
            let encoded = utf8_percent_encode(&self.0.message, MESSAGE_ENCODE_SET).to_string();
            // Cannot fail: the encoded form is printable ASCII only.
            if let Ok(value) = HeaderValue::try_from(encoded) {
                headers.insert(GRPC_MESSAGE, value);
            }
        }
        if !self.0.details.is_empty() {
            let encoded = BASE64_ENCODE.encode(&self.0.details);
            if let Ok(value) = HeaderValue::try_from(encoded) {
                headers.insert(GRPC_STATUS_DETAILS, value);
            }
        }
        self.0.metadata.extend_headers(headers);
    }

    /// Only the code of the status in response headers or trailers (cheap: the common end of
    /// a call needs no message, details or metadata); `None` when `grpc-status` is absent.
    pub(crate) fn code_from_headers(headers: &HeaderMap) -> Option<Code> {
        let raw = headers.get(&GRPC_STATUS)?.as_bytes();
        if raw == b"0" {
            return Some(Code::Ok);
        }
        Some(
            std::str::from_utf8(raw)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
                .map_or(Code::Unknown, Code::from_i32),
        )
    }

    /// Reads a status from response headers or trailers; `None` when `grpc-status` is absent.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Status> {
        let code = Status::code_from_headers(headers)?;
        let message = headers
            .get(&GRPC_MESSAGE)
            .map(|v| {
                percent_decode(v.as_bytes())
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        // Undecodable details are dropped rather than failing the whole status.
        let details = headers
            .get(&GRPC_STATUS_DETAILS)
            .and_then(|v| BASE64_DECODE.decode(v.as_bytes()).ok())
            .map(Bytes::from)
            .unwrap_or_default();
        let metadata = MetadataMap::from_headers(headers.clone());
        Some(Status::from_parts(code, message, details, metadata))
    }

    /// A status for an HTTP response that carried no `grpc-status`.
    pub(crate) fn from_http_status(status: u16) -> Status {
        Status::new(
            Code::from_http_status(status),
            format!("HTTP status {status} (no grpc-status)"),
        )
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Status");
        s.field("code", &self.0.code)
            .field("message", &self.0.message);
        if !self.0.details.is_empty() {
            s.field("details", &format_args!("{} bytes", self.0.details.len()));
        }
        if !self.0.metadata.is_empty() {
            s.field("metadata", &self.0.metadata);
        }
        s.finish()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "status: {}, message: {:?}", self.0.code, self.0.message)
    }
}

impl std::error::Error for Status {}

impl From<std::io::Error> for Status {
    fn from(err: std::io::Error) -> Status {
        use std::io::ErrorKind;

        // A Status tunnelled through an io::Error comes back unchanged.
        if err.get_ref().is_some_and(|inner| inner.is::<Status>()) {
            if let Some(inner) = err.into_inner() {
                if let Ok(status) = inner.downcast::<Status>() {
                    return *status;
                }
            }
            return Status::unknown("io error");
        }
        let code = match err.kind() {
            ErrorKind::TimedOut => Code::DeadlineExceeded,
            ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::NotConnected
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
            | ErrorKind::AddrNotAvailable => Code::Unavailable,
            _ => Code::Unknown,
        };
        Status::new(code, err.to_string())
    }
}

#[cfg(test)]
mod tests;

/// `grpc-status` as a header value without allocating: codes are 0..=16.
fn status_value(code: Code) -> HeaderValue {
    const VALUES: [&str; 17] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    ];
    usize::try_from(code.as_i32())
        .ok()
        .and_then(|i| VALUES.get(i))
        .map_or_else(
            || HeaderValue::from(code.as_i32()),
            |v| HeaderValue::from_static(v),
        )
}
