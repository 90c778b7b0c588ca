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
pub use envelope::{Body, Envelope, ParseError};
pub use extract::{ContentPart, extract, extract_text};
pub use id::{AitpCapability, CapabilityId, CapabilityIdError};
pub use negotiate::{Declaration, Negotiated};

use serde::{Serialize, de::DeserializeOwned};

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
}

/// The schema URLs of every AITP capability this crate implements, at v1.0.0: what an agent or
/// client declares to support all of them.
pub const ALL_V1: [&str; 5] = [
    "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json",
    "https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json",
    "https://aitp.dev/capabilities/aitp-03-data-request/v1.0.0/schema.json",
    "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
    "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
];
