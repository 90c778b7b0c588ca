//! `token_notification`: a token the wallet should show.

#[allow(unused_imports)]
use super::*;

wire_enum! {
    /// The token standard of a [`TokenNotification`].
    pub enum TokenType : schema("NearTokenType", "One of: `nep141`.") {
        /// A NEP-141 fungible token (metadata by NEP-148).
        Nep141 = "nep141",
    }
}

/// `token_notification`: tells the wallet about a token it should show.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
    key = "token_notification",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "NearTokenNotification", extend("additionalProperties" = false))]
pub struct TokenNotification {
    /// Identifies the notification.
    pub notification_id: String,
    /// The token standard (only `nep141`).
    pub token_type: TokenType,
    /// The token's contract account; the wallet reads name, symbol and decimals from it
    /// (NEP-148).
    pub token_contract: String,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl TokenNotification {
    /// A notification about the NEP-141 token at `token_contract`.
    pub fn nep141(notification_id: impl Into<String>, token_contract: impl Into<String>) -> Self {
        Self {
            notification_id: notification_id.into(),
            token_type: TokenType::Nep141,
            token_contract: token_contract.into(),
            extra: Map::new(),
        }
    }
}

impl Validate for TokenNotification {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "token_type", self.token_type.as_str(), &["nep141"]);
        v.closed(&self.extra);
    }
}
