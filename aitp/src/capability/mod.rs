//! Capabilities: identity, negotiation, the typed messages of AITP-01..05, and the envelope.
//!
//! A capability message is one JSON object, `{"$schema": "<capability URL>", "<key>": body}`,
//! that travels as a JSON string inside a thread message's text content. [`Envelope`] is that
//! envelope; [`CapabilityMessage`] is implemented by every typed message body (derive it for your
//! own with [`crate::CapabilityMessage`]); [`Capability`] is a whole capability as an enum of its
//! message types, with its `schema.json` (derive it with `#[derive(Capability)]`).

pub(crate) mod definition;
mod envelope;
mod extract;
mod id;
mod negotiate;
mod nulls;
mod parse_error;
pub(crate) mod registry;

pub mod data_request;
pub mod decisions;
pub mod errors;
pub mod evm_wallet;
pub mod near_wallet;
pub mod payments;
pub mod transactions;

/// Derives [`Capability`] for an enum of message types; see [the trait](trait@Capability).
pub use aitp_derive::Capability;
pub use definition::Capability;
pub use envelope::Envelope;
pub use extract::{ContentPart, extract, extract_text};
pub use id::{CapabilityId, CapabilityIdError};
pub use negotiate::{Declaration, Negotiated};
pub use parse_error::ParseError;
pub use registry::{ALL_V1, AitpCapability, Body};

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::validate::ValidationErrors;

/// One message type of a capability: its body type, the key it travels under, and the
/// capability (schema URL and version) it belongs to.
///
/// Derive it with `#[derive(aitp::CapabilityMessage)]`, or implement it by hand: it is all a
/// type needs to be a handler's payload and a handler's reply.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a capability message",
    label = "not a capability message",
    note = "derive it: `#[derive(Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage)]` with \
            `#[aitp(capability = \"<schema URL>\", key = \"<message key>\")]`"
)]
pub trait CapabilityMessage: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The schema URL of the capability, as written by this crate (canonical).
    const SCHEMA_URL: &'static str;
    /// The top-level key of the message, such as `request_decision`.
    const KEY: &'static str;

    /// The capability and version this message type belongs to.
    fn capability() -> &'static CapabilityId;

    /// Checks what the capability's schema demands beyond what parsing enforced.
    ///
    /// Parsing is tolerant; call this before acting on a message from a peer. Paths in the
    /// errors start with [`Self::KEY`].
    fn validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }

    /// The message as a [`Body`]: its own variant for the built-in types, [`Body::Unknown`]
    /// for every other type. The derive writes this; generic code never inspects `T`.
    #[doc(hidden)]
    fn into_body(self) -> Body {
        Body::Unknown {
            key: Self::KEY.to_owned(),
            body: serde_json::to_value(&self).unwrap_or(Value::Null),
        }
    }

    /// The message out of its own [`Body`] variant (built-in types only); the body back
    /// otherwise, to be read by key and capability.
    #[doc(hidden)]
    // The `Err` is the body itself, handed back unmoved.
    #[allow(clippy::result_large_err)]
    fn from_body(body: Body) -> Result<Self, Body> {
        Err(body)
    }

    /// The message in its own [`Body`] variant, borrowed (built-in types only).
    #[doc(hidden)]
    fn body_ref(_body: &Body) -> Option<&Self> {
        None
    }
}
