//! `request_message_signing` and `message_signing_response`: NEP-413 signatures.

#[allow(unused_imports)]
use super::*;

/// `request_message_signing`: asks the wallet to sign a message by NEP-413 (off-chain
/// proof of account ownership).
///
/// NEP-413's `callbackUrl` has no place here (the object is closed); `state` is an opaque
/// string the response does not echo.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
    key = "request_message_signing",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "NearRequestMessageSigning", extend("additionalProperties" = false))]
pub struct RequestMessageSigning {
    /// Identifies the request; the response repeats it.
    pub request_id: String,
    /// Why a signature is wanted, for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What to sign.
    pub message: Nep413Message,
    /// Opaque state for the requester.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl RequestMessageSigning {
    /// A request to sign `message` for `recipient` (the app that will verify it) with a
    /// 32-byte `nonce` (NEP-413 requires 32 bytes; use a fresh random one per request).
    pub fn nep413(
        request_id: impl Into<String>,
        message: impl Into<String>,
        recipient: impl Into<String>,
        nonce: [u8; 32],
    ) -> Self {
        Self {
            request_id: request_id.into(),
            description: None,
            message: Nep413Message {
                nonce: base64::encode(&nonce),
                recipient: recipient.into(),
                message: message.into(),
                extra: Map::new(),
            },
            state: None,
            extra: Map::new(),
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the opaque state.
    #[must_use]
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// The answer carrying a signature, correlated to this request.
    pub fn respond(
        &self,
        account_id: impl Into<String>,
        public_key: impl Into<String>,
        signature: impl Into<String>,
    ) -> MessageSigningResponse {
        MessageSigningResponse::new(self.request_id.clone(), account_id, public_key, signature)
    }
}

impl Validate for RequestMessageSigning {
    fn check(&self, v: &mut Validator) {
        v.nested("message", &self.message);
        v.closed(&self.extra);
    }
}

/// The NEP-413 payload of a [`RequestMessageSigning`] (closed object).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct Nep413Message {
    /// The nonce, base64. NEP-413 wants 32 bytes, though the docs' example has 4; the schema's
    /// `format: "base64"` is not a standard format, so neither its encoding nor its length
    /// is a schema rule (see [`Nep413Message::nonce_bytes`]).
    #[schemars(extend("format" = "base64"))]
    pub nonce: String,
    /// Who the signature is for (the verifying app's account or domain).
    pub recipient: String,
    /// The text to sign.
    pub message: String,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Nep413Message {
    /// The nonce decoded from base64; `None` when it is not base64. A signer or verifier
    /// should also insist on 32 bytes.
    pub fn nonce_bytes(&self) -> Option<Vec<u8>> {
        base64::decode(&self.nonce)
    }
}

impl Validate for Nep413Message {
    fn check(&self, v: &mut Validator) {
        v.closed(&self.extra);
    }
}

/// `message_signing_response`: the NEP-413 signature.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
    key = "message_signing_response",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "NearMessageSigningResponse", extend("additionalProperties" = false))]
pub struct MessageSigningResponse {
    /// The `request_id` of the [`RequestMessageSigning`] answered.
    pub request_id: String,
    /// The account that signed.
    pub account_id: String,
    /// The key that signed (`ed25519:<base58>`); a verifier must check it belongs to
    /// `account_id`.
    pub public_key: String,
    /// The signature (`ed25519:<base58>` in the docs' example).
    pub signature: String,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl MessageSigningResponse {
    /// The answer to `request_id`.
    pub fn new(
        request_id: impl Into<String>,
        account_id: impl Into<String>,
        public_key: impl Into<String>,
        signature: impl Into<String>,
    ) -> Self {
        Self {
            request_id: request_id.into(),
            account_id: account_id.into(),
            public_key: public_key.into(),
            signature: signature.into(),
            extra: Map::new(),
        }
    }
}

impl Validate for MessageSigningResponse {
    fn check(&self, v: &mut Validator) {
        v.closed(&self.extra);
    }
}
