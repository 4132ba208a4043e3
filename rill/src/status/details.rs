//! The `google.rpc` rich error model, carried in `grpc-status-details-bin`.
//!
//! The message types mirror `google/rpc/status.proto` and `google/rpc/error_details.proto`
//! (same field numbers), so details interoperate with every gRPC implementation.
//! [`ErrorDetails`] is the convenient way to build and read them.

mod messages;

use std::collections::HashMap;

use bytes::Bytes;
use prost::{DecodeError, Message, Name};

use super::Code;
use messages::type_name;
pub use messages::{
    Any, BadRequest, DebugInfo, Duration, ErrorInfo, FieldViolation, Help, HelpLink,
    LocalizedMessage, PreconditionFailure, PreconditionViolation, QuotaFailure, QuotaViolation,
    RequestInfo, ResourceInfo, RetryInfo, RpcStatus,
};

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
