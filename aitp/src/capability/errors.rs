//! The aitp-rs error capability: how an agent tells a peer, inside the thread, that a message
//! could not be handled and why.
//!
//! AITP defines no error message, yet a peer must be able to act on a failure (fix a field, stop
//! sending a capability, retry later). Agents built with this crate answer with an `error`
//! message of this capability; peers that do not know it still see readable JSON with a
//! `message` for people.
//!
//! ```
//! use aitp::capability::{Envelope, errors::{ErrorCode, ErrorReport}};
//! let e = ErrorReport::new(ErrorCode::UnsupportedCapability, "this agent does not handle AITP-05")
//!     .capability("https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json")
//!     .key("request_address");
//! let wire = Envelope::from(e.clone()).to_json_string();
//! assert!(wire.contains("\"code\":\"unsupported_capability\""));
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::{
    CapabilityMessage, OpenDeserialize,
    validate::{Validate, ValidationErrors, Validator},
};

/// The schema URL of the error capability.
pub const ERRORS_V1: &str = "https://aitp-rs.github.io/capabilities/errors/v1.0.0/schema.json";

/// What kind of failure an [`ErrorReport`] reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The message's capability (or message type) is not handled by this agent.
    UnsupportedCapability,
    /// The message does not match its capability's schema; `details` name the fields.
    InvalidMessage,
    /// The handler could not do what was asked; `message` says why.
    HandlerError,
    /// A value the receiver does not know, kept as received.
    Other(String),
}

impl ErrorCode {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::UnsupportedCapability => "unsupported_capability",
            Self::InvalidMessage => "invalid_message",
            Self::HandlerError => "handler_error",
            Self::Other(s) => s,
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "unsupported_capability" => Self::UnsupportedCapability,
            "invalid_message" => Self::InvalidMessage,
            "handler_error" => Self::HandlerError,
            _ => Self::Other(s),
        })
    }
}

impl JsonSchema for ErrorCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ErrorCode".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "unsupported_capability, invalid_message, handler_error, or a newer code."
        })
    }
}

/// `error`: a message could not be handled.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp-rs.github.io/capabilities/errors/v1.0.0/schema.json",
    key = "error",
    validate
)]
#[non_exhaustive]
pub struct ErrorReport {
    /// The kind of failure.
    pub code: ErrorCode,
    /// An explanation for people (and language models).
    pub message: String,
    /// The `$schema` of the message that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// The message key that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The id of the thread message that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Per-field problems (for `invalid_message`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
    /// Fields of newer versions, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl ErrorReport {
    /// A report of `code` explained by `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            capability: None,
            key: None,
            message_id: None,
            details: Vec::new(),
            extra: Map::new(),
        }
    }

    /// An `invalid_message` report listing every validation error.
    pub fn invalid(errors: &ValidationErrors) -> Self {
        let mut r = Self::new(
            ErrorCode::InvalidMessage,
            format!("the message does not match its schema: {errors}"),
        );
        r.details = errors
            .errors()
            .iter()
            .map(|e| ErrorDetail {
                path: e.path.clone(),
                message: e.message.clone(),
                extra: Map::new(),
            })
            .collect();
        r
    }

    /// Sets the failed message's `$schema`.
    pub fn capability(mut self, schema: impl Into<String>) -> Self {
        self.capability = Some(schema.into());
        self
    }

    /// Sets the failed message key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the failed thread message's id.
    pub fn message_id(mut self, id: impl Into<String>) -> Self {
        self.message_id = Some(id.into());
        self
    }
}

impl Validate for ErrorReport {
    fn check(&self, v: &mut Validator) {
        if self.message.is_empty() {
            v.field("message", |v| v.error("must not be empty"));
        }
    }
}

/// One field-level problem of an [`ErrorReport`].
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// The JSON path of the offending value, such as `request_decision.options[0].id`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
    /// Fields of newer versions, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::{Envelope, decisions::RequestDecision};

    #[test]
    fn invalid_report_lists_paths() -> Result<(), Box<dyn std::error::Error>> {
        let r: RequestDecision = serde_json::from_str(r#"{"options": []}"#).unwrap();
        let errs = r.validate().unwrap_err();
        let report = ErrorReport::invalid(&errs).key("request_decision");
        let paths: Vec<_> = report.details.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["request_decision.id", "request_decision.options"]);
        let m = Envelope::parse(&Envelope::from(report.clone()).to_json_string())?;
        let back = m
            .message::<ErrorReport>()?
            .ok_or("an error report comes back")?;
        assert_eq!(back, report);
        Ok(())
    }
}
