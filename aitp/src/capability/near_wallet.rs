//! AITP-04 NEAR Wallet: an agent asks a user's NEAR wallet for its accounts, to sign a
//! transaction, or to sign a message (NEP-413), and tells it about tokens (NEP-141).
//!
//! Schema: `https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json`. Every object
//! is closed (`additionalProperties: false`) except an action's free-form `params`; unknown
//! fields are still read and kept (an agent may pass a message on unchanged), and
//! [`Validate`] reports them. Message keys are shared with AITP-05 (EVM Wallet): only the
//! `$schema` URL tells them apart.
//!
//! Quantities in `params` (gas, yoctoNEAR deposits) are decimal strings, since a u128 does not
//! fit a JSON number a JavaScript wallet could read; `params` is kept as raw JSON, so numbers
//! are never rounded.
//!
//! ```
//! use aitp::capability::near_wallet::RequestTransaction;
//!
//! let request = RequestTransaction::function_call(
//!     "tx_1",
//!     "nft.example.near",
//!     "nft_mint",
//!     &serde_json::json!({"token_id": "1"}),
//!     30_000_000_000_000,
//!     10_000_000_000_000_000_000_000,
//! )
//! .description("Mint your NFT");
//! let action = &request.transaction.actions[0];
//! assert_eq!(action.params["gas"], "30000000000000");
//! assert_eq!(action.args_json().unwrap()["token_id"], "1");
//! let response = request.respond("9pz7fg2ZnM8joauyjvmwJeUESanYjRFzD3MN3kENAHVV");
//! assert_eq!(response.request_id, "tx_1");
//! ```

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{
    CapabilityMessage, OpenDeserialize,
    validate::{Validate, Validator, check_enum},
};

/// The action types the schema allows.
const ACTION_TYPES: &[&str] = &[
    "CreateAccount",
    "DeployContract",
    "FunctionCall",
    "Transfer",
    "Stake",
    "AddKey",
    "DeleteKey",
    "DeleteAccount",
];

/// `request_account`: asks the wallet which NEAR accounts it holds.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
    key = "request_account",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "NearRequestAccount", extend("additionalProperties" = false))]
pub struct RequestAccount {
    /// Identifies the request; the response repeats it.
    pub request_id: String,
    /// Why the accounts are wanted, for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl RequestAccount {
    /// A request with this id.
    pub fn new(request_id: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            description: None,
            extra: Map::new(),
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The answer listing `accounts`, correlated to this request.
    pub fn respond<A: Into<String>>(
        &self,
        accounts: impl IntoIterator<Item = A>,
    ) -> AccountResponse {
        AccountResponse::new(self.request_id.clone(), accounts)
    }
}

impl Validate for RequestAccount {
    fn check(&self, v: &mut Validator) {
        v.closed(&self.extra);
    }
}

/// `account_response`: the wallet's NEAR accounts.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
    key = "account_response",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "NearAccountResponse", extend("additionalProperties" = false))]
pub struct AccountResponse {
    /// The `request_id` of the [`RequestAccount`] answered.
    pub request_id: String,
    /// Account ids such as `user.near` (possibly none: the schema sets no minimum).
    pub accounts: Vec<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl AccountResponse {
    /// The answer to `request_id` listing `accounts`.
    pub fn new<A: Into<String>>(
        request_id: impl Into<String>,
        accounts: impl IntoIterator<Item = A>,
    ) -> Self {
        Self {
            request_id: request_id.into(),
            accounts: accounts.into_iter().map(Into::into).collect(),
            extra: Map::new(),
        }
    }
}

impl Validate for AccountResponse {
    fn check(&self, v: &mut Validator) {
        v.closed(&self.extra);
    }
}

/// `request_transaction`: asks the wallet to sign and send a transaction.
///
/// There is no signer or network field: the wallet signs with the account it chooses.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
    key = "request_transaction",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "NearRequestTransaction", extend("additionalProperties" = false))]
pub struct RequestTransaction {
    /// Identifies the request; the response repeats it.
    pub request_id: String,
    /// What the transaction does, for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The transaction to sign.
    pub transaction: Transaction,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl RequestTransaction {
    /// A request to sign `transaction`.
    pub fn new(request_id: impl Into<String>, transaction: Transaction) -> Self {
        Self {
            request_id: request_id.into(),
            description: None,
            transaction,
            extra: Map::new(),
        }
    }

    /// A request to call `method_name` on `receiver_id` with the JSON arguments `args_json`,
    /// attaching `gas` and `deposit_yocto` (yoctoNEAR: 10^-24 NEAR).
    pub fn function_call(
        request_id: impl Into<String>,
        receiver_id: impl Into<String>,
        method_name: impl Into<String>,
        args_json: &Value,
        gas: u64,
        deposit_yocto: u128,
    ) -> Self {
        Self::new(
            request_id,
            Transaction::new(
                receiver_id,
                [Action::function_call(
                    method_name,
                    args_json,
                    gas,
                    deposit_yocto,
                )],
            ),
        )
    }

    /// A request to transfer `deposit_yocto` yoctoNEAR to `receiver_id`.
    pub fn transfer(
        request_id: impl Into<String>,
        receiver_id: impl Into<String>,
        deposit_yocto: u128,
    ) -> Self {
        Self::new(
            request_id,
            Transaction::new(receiver_id, [Action::transfer(deposit_yocto)]),
        )
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Appends an action to the transaction.
    #[must_use]
    pub fn action(mut self, action: Action) -> Self {
        self.transaction.actions.push(action);
        self
    }

    /// The answer reporting the sent transaction's hash, correlated to this request.
    pub fn respond(&self, transaction_hash: impl Into<String>) -> TransactionResponse {
        TransactionResponse::new(self.request_id.clone(), transaction_hash)
    }
}

impl Validate for RequestTransaction {
    fn check(&self, v: &mut Validator) {
        v.nested("transaction", &self.transaction);
        v.closed(&self.extra);
    }
}

/// The transaction of a [`RequestTransaction`] (closed object).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct Transaction {
    /// The account the actions apply to (the contract called, the account paid …).
    pub receiver_id: String,
    /// What to do, in order (the schema sets no minimum).
    pub actions: Vec<Action>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Transaction {
    /// A transaction of `actions` on `receiver_id`.
    pub fn new(receiver_id: impl Into<String>, actions: impl IntoIterator<Item = Action>) -> Self {
        Self {
            receiver_id: receiver_id.into(),
            actions: actions.into_iter().collect(),
            extra: Map::new(),
        }
    }
}

impl Validate for Transaction {
    fn check(&self, v: &mut Validator) {
        v.nested("actions", &self.actions);
        v.closed(&self.extra);
    }
}

wire_enum! {
    /// The kind of a NEAR transaction [`Action`].
    pub enum ActionType : schema("NearActionType", "The kind of NEAR action; `params` holds its arguments.") {
        /// Create the receiver account.
        CreateAccount = "CreateAccount",
        /// Deploy contract code to the receiver.
        DeployContract = "DeployContract",
        /// Call a contract method.
        FunctionCall = "FunctionCall",
        /// Send NEAR.
        Transfer = "Transfer",
        /// Stake NEAR with a validator key.
        Stake = "Stake",
        /// Add an access key.
        AddKey = "AddKey",
        /// Delete an access key.
        DeleteKey = "DeleteKey",
        /// Delete the receiver account.
        DeleteAccount = "DeleteAccount",
    }
}

/// One action of a [`Transaction`]: a type and free-form parameters (closed object, but
/// `params` is open).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct Action {
    /// What the action does.
    #[serde(rename = "type")]
    pub r#type: ActionType,
    /// Its arguments, as the wallet expects them; for `FunctionCall`: `method_name`, `args`
    /// (base64 of the JSON arguments), `gas` and `deposit` (decimal strings). Kept as raw
    /// JSON: numbers are never rounded.
    pub params: Map<String, Value>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Action {
    /// An action of type `kind` with these parameters.
    pub fn new(kind: ActionType, params: Map<String, Value>) -> Self {
        Self {
            r#type: kind,
            params,
            extra: Map::new(),
        }
    }

    /// A `FunctionCall` of `method_name` with the JSON arguments `args_json` (sent base64
    /// encoded, as the docs show), `gas` and `deposit_yocto` (written as decimal strings).
    pub fn function_call(
        method_name: impl Into<String>,
        args_json: &Value,
        gas: u64,
        deposit_yocto: u128,
    ) -> Self {
        let args = serde_json::to_vec(args_json).unwrap_or_default();
        let mut params = Map::new();
        params.insert("method_name".into(), Value::String(method_name.into()));
        params.insert("args".into(), Value::String(base64::encode(&args)));
        params.insert("gas".into(), Value::String(gas.to_string()));
        params.insert("deposit".into(), Value::String(deposit_yocto.to_string()));
        Self::new(ActionType::FunctionCall, params)
    }

    /// A `Transfer` of `deposit_yocto` yoctoNEAR (written as a decimal string).
    pub fn transfer(deposit_yocto: u128) -> Self {
        let mut params = Map::new();
        params.insert("deposit".into(), Value::String(deposit_yocto.to_string()));
        Self::new(ActionType::Transfer, params)
    }

    /// The `deposit` parameter in yoctoNEAR, read from a decimal string (or a JSON integer).
    pub fn deposit_yocto(&self) -> Option<u128> {
        self.params.get("deposit").and_then(integer_param)
    }

    /// The `gas` parameter, read from a decimal string (or a JSON integer).
    pub fn gas(&self) -> Option<u64> {
        self.params
            .get("gas")
            .and_then(integer_param)
            .and_then(|g| u64::try_from(g).ok())
    }

    /// The `FunctionCall` arguments: `args` decoded from base64, then parsed as JSON. `None`
    /// when absent, not base64, or not JSON (contracts may take other encodings).
    pub fn args_json(&self) -> Option<Value> {
        let bytes = base64::decode(self.params.get("args")?.as_str()?)?;
        serde_json::from_slice(&bytes).ok()
    }
}

fn integer_param(v: &Value) -> Option<u128> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_str().parse().ok(),
        _ => None,
    }
}

impl Validate for Action {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "type", self.r#type.as_str(), ACTION_TYPES);
        v.closed(&self.extra);
    }
}

/// `transaction_response`: the hash of the transaction the wallet sent.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
    key = "transaction_response",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "NearTransactionResponse", extend("additionalProperties" = false))]
pub struct TransactionResponse {
    /// The `request_id` of the [`RequestTransaction`] answered.
    pub request_id: String,
    /// The transaction hash (base58), to look the outcome up on chain.
    pub transaction_hash: String,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl TransactionResponse {
    /// The answer to `request_id`.
    pub fn new(request_id: impl Into<String>, transaction_hash: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            transaction_hash: transaction_hash.into(),
            extra: Map::new(),
        }
    }
}

impl Validate for TransactionResponse {
    fn check(&self, v: &mut Validator) {
        v.closed(&self.extra);
    }
}

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

/// Standard base64 (RFC 4648 §4, with padding): all this capability needs, so no dependency.
mod base64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub(super) fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// Decodes standard base64; padding may be left out, anything else is rejected.
    pub(super) fn decode(text: &str) -> Option<Vec<u8>> {
        let trimmed = text.trim_end_matches('=');
        if text.len() - trimmed.len() > 2 || (text.len() != trimmed.len() && text.len() % 4 != 0) {
            return None;
        }
        let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
        let mut acc = 0u32;
        let mut bits = 0;
        for c in trimmed.bytes() {
            let v = ALPHABET.iter().position(|&a| a == c)? as u32;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        // A lone leftover sextet, or leftover bits that are not zero, is not canonical base64.
        (bits < 6 && acc == 0).then_some(out)
    }
}

/// NearWallet as a type (declared in the registry with the other built-in capabilities).
pub use super::registry::NearWallet;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::{AitpCapability, Body, Envelope};

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spec/vectors");
    const SCHEMA: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/spec/aitp/schemas/capabilities/aitp-04-near-wallet/v1.0.0/schema.json"
    );
    const URL: &str = "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json";

    fn official() -> jsonschema::Validator {
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
        jsonschema::validator_for(&schema).unwrap()
    }

    fn generated<T: JsonSchema>() -> jsonschema::Validator {
        let schema = schemars::schema_for!(T);
        jsonschema::validator_for(&serde_json::to_value(&schema).unwrap()).unwrap()
    }

    /// The body's own schema, generated from its type, accepts `body`.
    fn generated_accepts(key: &str, body: &Value) -> bool {
        match key {
            "request_account" => generated::<RequestAccount>().is_valid(body),
            "account_response" => generated::<AccountResponse>().is_valid(body),
            "request_transaction" => generated::<RequestTransaction>().is_valid(body),
            "transaction_response" => generated::<TransactionResponse>().is_valid(body),
            "request_message_signing" => generated::<RequestMessageSigning>().is_valid(body),
            "message_signing_response" => generated::<MessageSigningResponse>().is_valid(body),
            "token_notification" => generated::<TokenNotification>().is_valid(body),
            other => panic!("unexpected key {other}"),
        }
    }

    fn vectors() -> Vec<(String, String)> {
        let mut out: Vec<_> = std::fs::read_dir(VECTORS)
            .expect("vector directory")
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_str().unwrap();
                name.starts_with("aitp-04-") && name.ends_with(".json")
            })
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (p.file_name().unwrap().to_str().unwrap().to_owned(), text)
            })
            .collect();
        out.sort();
        out
    }

    fn key_of(m: &Envelope) -> &str {
        m.key()
    }

    #[test]
    fn every_vector_parses_round_trips_and_validates() {
        let vectors = vectors();
        assert!(vectors.len() >= 6, "found only {} vectors", vectors.len());
        let official = official();
        for (name, text) in vectors {
            let original: Value = serde_json::from_str(&text).unwrap();
            let m = Envelope::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let typed = matches!(
                m.body(),
                Body::NearRequestAccount(_)
                    | Body::NearAccountResponse(_)
                    | Body::NearRequestTransaction(_)
                    | Body::NearTransactionResponse(_)
                    | Body::NearRequestMessageSigning(_)
                    | Body::NearMessageSigningResponse(_)
                    | Body::NearTokenNotification(_)
            );
            assert!(typed, "{name}: parsed as {:?}", m.body());
            assert_eq!(m.body().aitp_capability(), Some(AitpCapability::NearWallet));
            assert_eq!(m.to_value(), original, "{name}: round trip");
            m.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(official.is_valid(&original), "{name}: official");
            let key = key_of(&m).to_owned();
            assert!(
                generated_accepts(&key, &original[&key]),
                "{name}: generated schema"
            );
        }
    }

    #[test]
    fn vector_details() {
        let text = std::fs::read_to_string(format!(
            "{VECTORS}/aitp-04-request_transaction-tx_req_67890.json"
        ))
        .unwrap();
        let r = Envelope::parse(&text)
            .unwrap()
            .message::<RequestTransaction>()
            .unwrap()
            .unwrap();
        let a = &r.transaction.actions[0];
        assert_eq!(a.r#type, ActionType::FunctionCall);
        assert_eq!(a.gas(), Some(30_000_000_000_000));
        assert_eq!(a.deposit_yocto(), Some(1_000_000_000_000_000_000_000_000));
        assert_eq!(a.args_json().unwrap()["metadata"]["title"], "My NFT");

        let text = std::fs::read_to_string(format!(
            "{VECTORS}/aitp-04-request_message_signing-nep413-msg_req_24680.json"
        ))
        .unwrap();
        let s = Envelope::parse(&text)
            .unwrap()
            .message::<RequestMessageSigning>()
            .unwrap()
            .unwrap();
        assert_eq!(s.message.nonce_bytes(), Some(vec![1, 2, 3, 4]));
    }

    #[test]
    fn broken_messages_name_the_path() {
        let official = official();
        let base = |key: &str, body: Value| serde_json::json!({"$schema": URL, key: body});
        let tx = serde_json::json!({
            "request_id": "t",
            "transaction": {"receiver_id": "a.near", "actions": [
                {"type": "Transfer", "params": {"deposit": "1", "anything": {"goes": 1.50}}}
            ]}
        });
        let ok = base("request_transaction", tx.clone());
        assert!(Envelope::from_value(&ok).unwrap().validate().is_ok());
        assert!(official.is_valid(&ok));

        let mut cases: Vec<(Value, &str)> = Vec::new();
        let mut t = ok.clone();
        t["request_transaction"]["transaction"]["signer_id"] = "me.near".into();
        cases.push((t, "request_transaction.transaction.signer_id"));
        let mut t = ok.clone();
        t["request_transaction"]["transaction"]["actions"][0]["type"] = "Delegate".into();
        cases.push((t, "request_transaction.transaction.actions[0].type"));
        let mut t = ok.clone();
        t["request_transaction"]["transaction"]["actions"][0]["gas"] = "1".into();
        cases.push((t, "request_transaction.transaction.actions[0].gas"));
        let mut t = ok.clone();
        t["request_transaction"]["network"] = "mainnet".into();
        cases.push((t, "request_transaction.network"));
        let mut t = ok.clone();
        t["memo"] = "root".into();
        cases.push((t, "memo"));
        cases.push((
            base(
                "token_notification",
                serde_json::json!({"notification_id": "n", "token_type": "nep171", "token_contract": "c.near"}),
            ),
            "token_notification.token_type",
        ));
        cases.push((
            base(
                "request_message_signing",
                serde_json::json!({"request_id": "m", "message": {
                    "nonce": "AQIDBA==", "recipient": "app.near", "message": "hi", "callbackUrl": "https://x"
                }}),
            ),
            "request_message_signing.message.callbackUrl",
        ));
        cases.push((
            base(
                "request_account",
                serde_json::json!({"request_id": "a", "chain": "near"}),
            ),
            "request_account.chain",
        ));
        cases.push((
            base(
                "account_response",
                serde_json::json!({"request_id": "a", "accounts": [], "x": 1}),
            ),
            "account_response.x",
        ));
        cases.push((
            base(
                "transaction_response",
                serde_json::json!({"request_id": "a", "transaction_hash": "h", "x": 1}),
            ),
            "transaction_response.x",
        ));
        cases.push((
            base(
                "message_signing_response",
                serde_json::json!({"request_id": "a", "account_id": "u", "public_key": "k", "signature": "s", "x": 1}),
            ),
            "message_signing_response.x",
        ));
        for (broken, path) in cases {
            let m = Envelope::from_value(&broken).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(
                m.body().aitp_capability(),
                Some(AitpCapability::NearWallet),
                "{path}"
            );
            assert_eq!(m.to_value(), broken, "{path}: lossless");
            let err = m.validate().unwrap_err();
            assert!(err.has_path(path), "{path}: {err}");
            assert!(
                !official.is_valid(&broken),
                "{path}: official schema accepts it"
            );
            if path != "memo" {
                let key = key_of(&m).to_owned();
                assert!(
                    !generated_accepts(&key, &broken[&key]),
                    "{path}: generated schema accepts it"
                );
            }
        }
    }

    #[test]
    fn builders_validate_against_the_official_schema() {
        let official = official();
        let account = RequestAccount::new("acc").description("Share your account");
        let call = RequestTransaction::function_call(
            "tx",
            "usdc.near",
            "ft_transfer",
            &serde_json::json!({"receiver_id": "shop.near", "amount": "1000000"}),
            300_000_000_000_000,
            1,
        )
        .description("Pay 1 USDC")
        .action(Action::transfer(u128::MAX));
        let transfer = RequestTransaction::transfer("tx2", "bob.near", 10u128.pow(24));
        let sign = RequestMessageSigning::nep413("m", "Log in", "app.near", [7; 32])
            .description("Prove it is you")
            .state("s1");
        let messages = [
            Envelope::from(account.clone()),
            Envelope::from(account.respond(["user.near"])),
            Envelope::from(call.clone()),
            Envelope::from(call.respond("hash")),
            Envelope::from(transfer.clone()),
            Envelope::from(sign.clone()),
            Envelope::from(sign.respond("user.near", "ed25519:key", "ed25519:sig")),
            Envelope::from(TokenNotification::nep141("n1", "usdt.tether-token.near")),
        ];
        for m in messages {
            assert_eq!(m.schema(), URL);
            m.validate().unwrap_or_else(|e| panic!("{m}: {e}"));
            assert!(official.is_valid(&m.to_value()), "{m}");
            assert_eq!(Envelope::parse(&m.to_json_string()).unwrap(), m, "{m}");
        }
        let extra = &call.transaction.actions[1];
        assert_eq!(extra.params["deposit"], u128::MAX.to_string().as_str());
        assert_eq!(extra.deposit_yocto(), Some(u128::MAX));
        assert_eq!(
            transfer.transaction.actions[0].deposit_yocto(),
            Some(10u128.pow(24))
        );
        assert_eq!(call.transaction.actions[0].gas(), Some(300_000_000_000_000));
        assert_eq!(
            call.transaction.actions[0].args_json().unwrap(),
            serde_json::json!({"receiver_id": "shop.near", "amount": "1000000"})
        );
        assert_eq!(sign.message.nonce_bytes(), Some(vec![7; 32]));
        assert_eq!(sign.message.nonce.len(), 44);
    }

    #[test]
    fn base64_round_trips_and_rejects() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (bytes, text) in cases {
            assert_eq!(base64::encode(bytes), text);
            assert_eq!(base64::decode(text).as_deref(), Some(bytes));
            assert_eq!(
                base64::decode(text.trim_end_matches('=')).as_deref(),
                Some(bytes)
            );
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64::decode(&base64::encode(&all)), Some(all));
        for bad in ["Z", "Zg=", "Zh==", "Zm9v!", "Zg===", "=Zg="] {
            assert_eq!(base64::decode(bad), None, "{bad}");
        }
    }
}
