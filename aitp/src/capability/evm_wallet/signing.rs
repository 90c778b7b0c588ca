//! `request_message_signing` and `message_signing_response`: EIP-191 and EIP-712 signatures.

#[allow(unused_imports)]
use super::*;

wire_enum! {
    /// How a message is to be signed.
    pub enum SigningType : schema("EvmSigningType", "`personal_sign` (EIP-191, signs `message`) or `typed_data` (EIP-712, signs `typed_data`).") {
        /// EIP-191 `personal_sign` of the text in `message`.
        PersonalSign = "personal_sign",
        /// EIP-712 `eth_signTypedData_v4` of `typed_data`.
        TypedData = "typed_data",
    }
}

/// `request_message_signing`: asks the wallet to sign a text (`personal_sign`) or EIP-712
/// typed data (`typed_data`).
///
/// The schema's `oneOf` ties the two together: `personal_sign` requires `message`,
/// `typed_data` requires `typed_data`; [`Validate`] reports the one missing.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
    key = "request_message_signing",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(
    rename = "EvmRequestMessageSigning",
    extend("additionalProperties" = false),
    extend("oneOf" = [
        {"properties": {"signing_type": {"enum": ["personal_sign"]}}, "required": ["message"]},
        {"properties": {"signing_type": {"enum": ["typed_data"]}}, "required": ["typed_data"]}
    ])
)]
pub struct RequestMessageSigning {
    /// Identifies the request; the response repeats it.
    pub request_id: String,
    /// Why the signature is needed, for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The address that should sign (the wallet picks when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ADDRESS_PATTERN))]
    pub address: Option<String>,
    /// `personal_sign` or `typed_data`.
    pub signing_type: SigningType,
    /// The text to sign (`personal_sign`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The EIP-712 data to sign (`typed_data`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typed_data: Option<TypedData>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl RequestMessageSigning {
    /// A request to sign the text `message` with EIP-191 `personal_sign`.
    pub fn personal_sign(request_id: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            description: None,
            address: None,
            signing_type: SigningType::PersonalSign,
            message: Some(message.into()),
            typed_data: None,
            extra: Map::new(),
        }
    }

    /// A request to sign EIP-712 typed data.
    pub fn typed_data(request_id: impl Into<String>, typed_data: TypedData) -> Self {
        Self {
            request_id: request_id.into(),
            description: None,
            address: None,
            signing_type: SigningType::TypedData,
            message: None,
            typed_data: Some(typed_data),
            extra: Map::new(),
        }
    }

    /// Sets the description shown to the user.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the address that should sign.
    pub fn address(mut self, address: Address) -> Self {
        self.address = Some(address.into());
        self
    }

    /// The answer carrying `signature` (non-empty) made by `address`, correlated by
    /// `request_id`.
    pub fn respond(
        &self,
        address: Address,
        signature: impl Into<HexBytes>,
    ) -> MessageSigningResponse {
        MessageSigningResponse::new(self.request_id.clone(), address, signature)
    }
}

impl Validate for RequestMessageSigning {
    fn check(&self, v: &mut Validator) {
        if let Some(a) = &self.address {
            v.hex("address", a, Some(40), 0);
        }
        check_enum(
            v,
            "signing_type",
            self.signing_type.as_str(),
            &["personal_sign", "typed_data"],
        );
        match self.signing_type {
            SigningType::PersonalSign if self.message.is_none() => v.field("message", |v| {
                v.error("is required when signing_type is \"personal_sign\"")
            }),
            SigningType::TypedData if self.typed_data.is_none() => v.field("typed_data", |v| {
                v.error("is required when signing_type is \"typed_data\"")
            }),
            _ => {}
        }
        if let Some(t) = &self.typed_data {
            v.nested("typed_data", t);
        }
        v.closed(&self.extra);
    }
}

/// EIP-712 typed data, as `eth_signTypedData_v4` takes it.
///
/// `domain` and `message` are free-form JSON objects; their numbers keep their exact digits
/// (a `uint256` of 10^18 is written back as `1000000000000000000`, never through `f64`).
///
/// ```
/// use aitp::capability::evm_wallet::{TypedData, TypedDataField};
/// use serde_json::json;
///
/// let data = TypedData::new(
///     "Mail",
///     json!({"name": "Mail", "version": "1", "chainId": 1}).as_object().unwrap().clone(),
///     json!({"contents": "Hello"}).as_object().unwrap().clone(),
/// )
/// .with_type("EIP712Domain", [("name", "string"), ("version", "string"), ("chainId", "uint256")])
/// .with_type("Mail", [TypedDataField::new("contents", "string")]);
/// assert_eq!(data.types["Mail"][0].r#type, "string");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(rename = "EvmTypedData", extend("additionalProperties" = false))]
pub struct TypedData {
    /// The struct types by name, each a list of fields (including `EIP712Domain`).
    pub types: BTreeMap<String, Vec<TypedDataField>>,
    /// The type of `message` (`primaryType`).
    #[serde(rename = "primaryType")]
    pub primary_type: String,
    /// The domain separator's values (free-form).
    pub domain: Map<String, Value>,
    /// The values to sign (free-form).
    pub message: Map<String, Value>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl TypedData {
    /// Typed data of `primary_type` with this domain and message; add the types with
    /// [`TypedData::with_type`].
    pub fn new(
        primary_type: impl Into<String>,
        domain: Map<String, Value>,
        message: Map<String, Value>,
    ) -> Self {
        Self {
            types: BTreeMap::new(),
            primary_type: primary_type.into(),
            domain,
            message,
            extra: Map::new(),
        }
    }

    /// Adds (or replaces) the struct type `name` with these fields, in order.
    pub fn with_type<F: Into<TypedDataField>>(
        mut self,
        name: impl Into<String>,
        fields: impl IntoIterator<Item = F>,
    ) -> Self {
        self.types
            .insert(name.into(), fields.into_iter().map(Into::into).collect());
        self
    }
}

impl Validate for TypedData {
    fn check(&self, v: &mut Validator) {
        v.field("types", |v| {
            for (name, fields) in &self.types {
                v.field(name, |v| fields.check(v));
            }
        });
        v.closed(&self.extra);
    }
}

/// One field of an EIP-712 struct type: its name and Solidity type (`address`, `uint256` …).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(rename = "EvmTypedDataField", extend("additionalProperties" = false))]
pub struct TypedDataField {
    /// The field name.
    pub name: String,
    /// The Solidity type.
    #[serde(rename = "type")]
    pub r#type: String,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl TypedDataField {
    /// A field `name` of Solidity type `type`.
    pub fn new(name: impl Into<String>, r#type: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            r#type: r#type.into(),
            extra: Map::new(),
        }
    }
}

impl From<(&str, &str)> for TypedDataField {
    fn from((name, r#type): (&str, &str)) -> Self {
        Self::new(name, r#type)
    }
}

impl Validate for TypedDataField {
    fn check(&self, v: &mut Validator) {
        v.closed(&self.extra);
    }
}

/// `message_signing_response`: the signature the wallet made for a [`RequestMessageSigning`].
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
    key = "message_signing_response",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(rename = "EvmMessageSigningResponse", extend("additionalProperties" = false))]
pub struct MessageSigningResponse {
    /// The `request_id` of the request answered.
    pub request_id: String,
    /// The address that signed.
    #[schemars(regex(pattern = ADDRESS_PATTERN))]
    pub address: String,
    /// The signature, `0x`-hex (65 bytes for an ECDSA signature).
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub signature: String,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl MessageSigningResponse {
    /// The answer to the request `request_id`: `signature` (non-empty) made by `address`.
    pub fn new(
        request_id: impl Into<String>,
        address: Address,
        signature: impl Into<HexBytes>,
    ) -> Self {
        Self {
            request_id: request_id.into(),
            address: address.into(),
            signature: signature.into().into(),
            extra: Map::new(),
        }
    }
}

impl Validate for MessageSigningResponse {
    fn check(&self, v: &mut Validator) {
        v.hex("address", &self.address, Some(40), 0);
        v.hex("signature", &self.signature, None, 1);
        v.closed(&self.extra);
    }
}

// ---------------------------------------------------------------------------------------------
// chain_notification / token_notification
