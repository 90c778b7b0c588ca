//! A whole capability as a Rust type: an enum of its message types.
//!
//! [`CapabilityMessage`] describes one message; [`Capability`] describes the set a capability
//! defines, so that its identity, its message keys and its publishable `schema.json` come from
//! one declaration. Derive it on an enum whose variants each wrap one message type:
//!
//! ```
//! use aitp::capability::Capability;
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! /// Spend loyalty points on an order.
//! #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage)]
//! #[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json", key = "redeem_points")]
//! pub struct RedeemPoints {
//!     /// Points to spend.
//!     pub points: u64,
//! }
//!
//! /// How many points an account holds.
//! #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage)]
//! #[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json", key = "points_balance")]
//! pub struct PointsBalance {
//!     /// Points left.
//!     pub points: u64,
//! }
//!
//! /// Loyalty points: spend them, learn the balance.
//! #[derive(Debug, Clone, Capability)]
//! #[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json")]
//! pub enum Loyalty {
//!     /// The user spends points.
//!     Redeem(RedeemPoints),
//!     /// The shop answers with what is left.
//!     Balance(PointsBalance),
//! }
//!
//! assert_eq!(Loyalty::KEYS, ["redeem_points", "points_balance"]);
//! assert_eq!(Loyalty::id().version().minor, 2);
//! let schema = Loyalty::schema();
//! assert_eq!(schema["$id"], Loyalty::SCHEMA_URL);
//! assert_eq!(schema["description"], "Loyalty points: spend them, learn the balance.");
//! assert_eq!(schema["anyOf"].as_array().unwrap().len(), 2);
//!
//! // Any message of the capability, typed.
//! let m = Loyalty::from(RedeemPoints { points: 40 }).to_envelope();
//! assert!(matches!(Loyalty::from_envelope(&m), Ok(Some(Loyalty::Redeem(_)))));
//! ```
//!
//! The derive checks at compile time that every message carries the enum's capability URL and
//! that no two messages share a key.

use serde_json::Value;

use super::{CapabilityId, Envelope, ParseError};
use crate::validate::ValidationErrors;

/// A capability as a type: an enum over its message types (derive it with
/// `#[derive(aitp::capability::Capability)]`).
///
/// The value side is "any message of this capability": build one from a message with `From`,
/// read one from an envelope with [`Capability::from_envelope`], and return one from a handler
/// (the agent layer implements `IntoReplies` for every `Capability`).
pub trait Capability: Sized + Send + Sync + 'static {
    /// The schema URL of the capability: the `$id` of its schema document.
    const SCHEMA_URL: &'static str;
    /// The keys of its messages, in declaration order.
    const KEYS: &'static [&'static str];

    /// The capability and version.
    fn id() -> &'static CapabilityId;

    /// The capability's `schema.json`: JSON Schema 2020-12, `anyOf` over the messages (each
    /// with its envelope), `$id` = [`Self::SCHEMA_URL`], doc comments as descriptions.
    fn schema() -> Value;

    /// The key of this message.
    fn key(&self) -> &'static str;

    /// This message in its envelope, ready to send.
    fn to_envelope(&self) -> Envelope;

    /// The message as one of this capability's, if it is one.
    ///
    /// `Ok(None)` when it is a message of another capability or an unknown key; `Err` when the
    /// key is this capability's but the body does not fit.
    fn from_envelope(message: &Envelope) -> Result<Option<Self>, ParseError>;

    /// Checks what the message's schema demands beyond parsing (see
    /// [`CapabilityMessage::validate`](super::CapabilityMessage::validate)).
    fn validate(&self) -> Result<(), ValidationErrors>;
}

/// Sets the `description` of each `anyOf` branch of a generated capability document, in order
/// (empty strings are skipped). Used by the derive for variant doc comments.
#[doc(hidden)]
pub fn describe_branches(doc: &mut Value, descriptions: &[&str]) {
    let Some(branches) = doc.get_mut("anyOf").and_then(Value::as_array_mut) else {
        return;
    };
    for (branch, text) in branches.iter_mut().zip(descriptions) {
        if !text.is_empty() {
            if let Some(obj) = branch.as_object_mut() {
                obj.insert("description".into(), Value::String((*text).to_owned()));
            }
        }
    }
}

/// Byte equality of two strings, usable in constants (the derives' compile-time checks).
#[doc(hidden)]
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
