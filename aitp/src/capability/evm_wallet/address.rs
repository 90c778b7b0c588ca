//! `request_address` and `address_response`: which addresses the wallet holds.

#[allow(unused_imports)]
use super::*;

/// `request_address`: asks the wallet for the user's addresses.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
    key = "request_address",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(rename = "EvmRequestAddress", extend("additionalProperties" = false))]
pub struct RequestAddress {
    /// Identifies the request; the response repeats it.
    pub request_id: String,
    /// Why the addresses are needed, for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The chain the addresses are for (the docs say absent means 1, Ethereum mainnet; see
    /// [`RequestAddress::chain_id_or_mainnet`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl RequestAddress {
    /// A request with this id, for any chain.
    pub fn new(request_id: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            description: None,
            chain_id: None,
            extra: Map::new(),
        }
    }

    /// Sets the description shown to the user.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the chain.
    pub fn chain_id(mut self, chain_id: u64) -> Self {
        self.chain_id = Some(chain_id);
        self
    }

    /// The chain asked for, 1 (Ethereum mainnet) when absent, as the capability's docs say.
    pub fn chain_id_or_mainnet(&self) -> u64 {
        self.chain_id.unwrap_or(1)
    }

    /// The answer giving `addresses`, correlated by `request_id`.
    pub fn respond(&self, addresses: impl IntoIterator<Item = Address>) -> AddressResponse {
        AddressResponse::new(self.request_id.clone(), addresses)
    }
}

impl Validate for RequestAddress {
    fn check(&self, v: &mut Validator) {
        v.closed(&self.extra);
    }
}

/// `address_response`: the wallet's addresses, in answer to a [`RequestAddress`].
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
    key = "address_response",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(rename = "EvmAddressResponse", extend("additionalProperties" = false))]
pub struct AddressResponse {
    /// The `request_id` of the request answered.
    pub request_id: String,
    /// The addresses (`0x` and 40 hex digits each).
    #[schemars(inner(regex(pattern = ADDRESS_PATTERN)))]
    pub addresses: Vec<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl AddressResponse {
    /// The answer to the request `request_id`.
    pub fn new(
        request_id: impl Into<String>,
        addresses: impl IntoIterator<Item = Address>,
    ) -> Self {
        Self {
            request_id: request_id.into(),
            addresses: addresses.into_iter().map(String::from).collect(),
            extra: Map::new(),
        }
    }
}

impl Validate for AddressResponse {
    fn check(&self, v: &mut Validator) {
        v.field("addresses", |v| {
            for (i, a) in self.addresses.iter().enumerate() {
                hex_item(v, i, a, 40);
            }
        });
        v.closed(&self.extra);
    }
}

// ---------------------------------------------------------------------------------------------
// request_transaction / transaction_response
