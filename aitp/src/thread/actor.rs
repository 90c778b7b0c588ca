//! Actors: the participants of a thread and the capabilities each declares.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{
    OpenDeserialize,
    capability::{CapabilityId, Declaration},
};

/// A participant of a thread (a user, an app or an agent) and the capabilities it supports.
///
/// Declared at thread creation in `metadata.actors`. The `id` need only be unique within the
/// thread. Capabilities are read from URL strings, `{"schema": url}` and `{"$schema": url}`,
/// and written as URL strings.
///
/// ```
/// use aitp::capability::{AitpCapability, Negotiated};
/// use aitp::thread::Actor;
///
/// let me = Actor::new("me.near")
///     .client_id("my-app")
///     .capability(AitpCapability::Decisions.v1())
///     .capability(AitpCapability::Payments.v1());
/// let agent = Actor::all_v1("shop.example");
/// let agreed = Negotiated::between([&me.capability_ids()[..], &agent.capability_ids()[..]]);
/// assert!(agreed.get(&AitpCapability::Decisions.v1()).is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize)]
#[non_exhaustive]
pub struct Actor {
    /// Identifies the actor within the thread (an account, a username, an agent URL).
    #[serde(default)]
    pub id: String,
    /// The UI or framework acting for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The capabilities it supports, one schema URL per supported version.
    #[serde(default)]
    pub capabilities: Vec<Declaration>,
    /// Fields AITP does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Actor {
    /// An actor with no declared capabilities.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            client_id: None,
            capabilities: Vec::new(),
            extra: Map::new(),
        }
    }

    /// An actor declaring every AITP capability this crate implements, at v1.0.0
    /// ([`crate::capability::ALL_V1`]).
    pub fn all_v1(id: impl Into<String>) -> Self {
        crate::capability::ALL_V1
            .iter()
            .fold(Self::new(id), |a, url| a.capability_url(*url))
    }

    /// Sets the client id.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// Declares a capability (at the version the id names).
    pub fn capability(mut self, id: impl Into<Declaration>) -> Self {
        self.capabilities.push(id.into());
        self
    }

    /// Declares a capability by its schema URL, verbatim (for URLs that name no version, such
    /// as NEAR AI's `https://aitp.dev/v1/decisions/schema.json`, or third-party ones).
    pub fn capability_url(mut self, url: impl Into<String>) -> Self {
        self.capabilities.push(declaration_from_url(url.into()));
        self
    }

    /// The declared capabilities that name a capability and version; URLs that do not are
    /// skipped (they cannot take part in negotiation).
    pub fn capability_ids(&self) -> Vec<CapabilityId> {
        self.capabilities
            .iter()
            .filter_map(|d| d.id().ok())
            .collect()
    }
}

/// A declaration of a URL as written. A declaration reads any string, so this cannot fail.
fn declaration_from_url(url: String) -> Declaration {
    use serde::{Deserialize, de::value::StringDeserializer};
    Declaration::deserialize(StringDeserializer::<serde::de::value::Error>::new(url))
        .expect("a URL string is always a declaration")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::AitpCapability;

    #[test]
    fn reads_three_capability_shapes_writes_urls() {
        let a: Actor = serde_json::from_str(
            r#"{"id": "root.near", "capabilities": [
                "https://aitp.dev/v1/data/schema.json",
                {"schema": "https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json"},
                {"$schema": "https://aitp.dev/v1/payments.schema.json"}
            ], "role": "buyer"}"#,
        )
        .unwrap();
        assert_eq!(a.capability_ids().len(), 3);
        assert_eq!(
            a.capability_ids()[1].aitp(),
            Some(AitpCapability::Decisions)
        );
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(
            v["capabilities"][1],
            AitpCapability::Decisions.v1().url().as_str()
        );
        assert_eq!(v["role"], "buyer");
        assert!(v.get("client_id").is_none());
    }

    #[test]
    fn constructors() {
        let a = Actor::all_v1("agent").client_id("aitp-rs");
        assert_eq!(a.capabilities.len(), 5);
        assert_eq!(a.capability_ids().len(), 5);
        let b = Actor::new("x").capability_url("https://example.com/no-version.json");
        assert_eq!(
            b.capabilities[0].url(),
            "https://example.com/no-version.json"
        );
        assert!(b.capability_ids().is_empty());
    }
}
