//! `request_transaction` and `transaction_response`: a transaction to sign and send, and its hash.

#[allow(unused_imports)]
use super::*;

/// `request_transaction`: asks the wallet to sign and send a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
    key = "request_transaction",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(rename = "EvmRequestTransaction", extend("additionalProperties" = false))]
pub struct RequestTransaction {
    /// Identifies the request; the response repeats it.
    pub request_id: String,
    /// What the transaction does, for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The chain to send it on (the docs say absent means 1, Ethereum mainnet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// The transaction, in the JSON-RPC `eth_sendTransaction` shape.
    pub transaction: Transaction,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl RequestTransaction {
    /// A request for `transaction`.
    pub fn new(request_id: impl Into<String>, transaction: Transaction) -> Self {
        Self {
            request_id: request_id.into(),
            description: None,
            chain_id: None,
            transaction,
            extra: Map::new(),
        }
    }

    /// Builds a request for a transaction to `to`; set the value, data, gas … on the builder.
    pub fn builder(request_id: impl Into<String>, to: Address) -> RequestTransactionBuilder {
        RequestTransactionBuilder {
            inner: Self::new(request_id, Transaction::new(to)),
        }
    }

    /// The chain asked for, 1 (Ethereum mainnet) when absent, as the capability's docs say.
    pub fn chain_id_or_mainnet(&self) -> u64 {
        self.chain_id.unwrap_or(1)
    }

    /// The answer carrying the hash of the sent transaction, correlated by `request_id`.
    pub fn respond(&self, transaction_hash: impl Into<B256>) -> TransactionResponse {
        TransactionResponse::new(self.request_id.clone(), transaction_hash)
    }
}

impl Validate for RequestTransaction {
    fn check(&self, v: &mut Validator) {
        v.nested("transaction", &self.transaction);
        v.closed(&self.extra);
    }
}

/// Builds a [`RequestTransaction`]; start from [`RequestTransaction::builder`]. Quantities are
/// taken as integers and written as `0x`-hex, as JSON-RPC wants them.
#[derive(Debug, Clone)]
#[must_use = "call .build() to get the RequestTransaction"]
pub struct RequestTransactionBuilder {
    inner: RequestTransaction,
}

impl RequestTransactionBuilder {
    /// Sets the description shown to the user.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.inner.description = Some(description.into());
        self
    }

    /// Sets the chain.
    pub fn chain_id(mut self, chain_id: u64) -> Self {
        self.inner.chain_id = Some(chain_id);
        self
    }

    /// Sets the sender.
    pub fn from(mut self, from: Address) -> Self {
        self.inner.transaction.from = Some(from.into());
        self
    }

    /// Sets the value sent, in wei.
    pub fn value_wei(mut self, wei: u128) -> Self {
        self.inner.transaction.value = Some(quantity(wei));
        self
    }

    /// Sets the call data (bytes, or a checked hex string via [`HexBytes::parse`]).
    pub fn data(mut self, data: impl Into<HexBytes>) -> Self {
        self.inner.transaction.data = Some(data.into().into());
        self
    }

    /// Sets the gas limit.
    pub fn gas(mut self, gas: u64) -> Self {
        self.inner.transaction.gas = Some(quantity(gas.into()));
        self
    }

    /// Sets the legacy gas price, in wei.
    pub fn gas_price_wei(mut self, wei: u128) -> Self {
        self.inner.transaction.gas_price = Some(quantity(wei));
        self
    }

    /// Sets the EIP-1559 maximum fee per gas, in wei.
    pub fn max_fee_per_gas_wei(mut self, wei: u128) -> Self {
        self.inner.transaction.max_fee_per_gas = Some(quantity(wei));
        self
    }

    /// Sets the EIP-1559 maximum priority fee per gas, in wei.
    pub fn max_priority_fee_per_gas_wei(mut self, wei: u128) -> Self {
        self.inner.transaction.max_priority_fee_per_gas = Some(quantity(wei));
        self
    }

    /// Sets the nonce.
    pub fn nonce(mut self, nonce: u64) -> Self {
        self.inner.transaction.nonce = Some(quantity(nonce.into()));
        self
    }

    /// Adds an EIP-2930 access-list entry.
    pub fn access(mut self, entry: AccessListEntry) -> Self {
        self.inner
            .transaction
            .access_list
            .get_or_insert_with(Vec::new)
            .push(entry);
        self
    }

    /// The request.
    pub fn build(self) -> RequestTransaction {
        self.inner
    }
}

/// The transaction of a [`RequestTransaction`]: `eth_sendTransaction` fields, `0x`-hex strings
/// with the JSON-RPC (camelCase) names on the wire. Read quantities with [`parse_quantity`].
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(rename = "EvmTransaction", extend("additionalProperties" = false))]
pub struct Transaction {
    /// The recipient or contract.
    #[schemars(regex(pattern = ADDRESS_PATTERN))]
    pub to: String,
    /// The sender (the wallet picks when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ADDRESS_PATTERN))]
    pub from: Option<String>,
    /// Call data; may be `0x`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DATA_PATTERN))]
    pub data: Option<String>,
    /// Wei sent, a `0x`-hex quantity.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub value: Option<String>,
    /// Gas limit, a `0x`-hex quantity.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub gas: Option<String>,
    /// Legacy gas price in wei (`gasPrice`).
    #[serde(rename = "gasPrice", skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub gas_price: Option<String>,
    /// EIP-1559 fee cap in wei (`maxFeePerGas`).
    #[serde(rename = "maxFeePerGas", skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub max_fee_per_gas: Option<String>,
    /// EIP-1559 tip cap in wei (`maxPriorityFeePerGas`).
    #[serde(
        rename = "maxPriorityFeePerGas",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub max_priority_fee_per_gas: Option<String>,
    /// The sender's nonce, a `0x`-hex quantity.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub nonce: Option<String>,
    /// EIP-2930 access list (`accessList`).
    #[serde(rename = "accessList", skip_serializing_if = "Option::is_none")]
    pub access_list: Option<Vec<AccessListEntry>>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Transaction {
    /// A transaction to `to` with nothing else set.
    pub fn new(to: Address) -> Self {
        Self {
            to: to.into(),
            from: None,
            data: None,
            value: None,
            gas: None,
            gas_price: None,
            max_fee_per_gas: None,
            max_priority_fee_per_gas: None,
            nonce: None,
            access_list: None,
            extra: Map::new(),
        }
    }
}

impl Validate for Transaction {
    fn check(&self, v: &mut Validator) {
        v.hex("to", &self.to, Some(40), 0);
        if let Some(from) = &self.from {
            v.hex("from", from, Some(40), 0);
        }
        if let Some(data) = &self.data {
            v.hex("data", data, None, 0);
        }
        for (name, q) in [
            ("value", &self.value),
            ("gas", &self.gas),
            ("gasPrice", &self.gas_price),
            ("maxFeePerGas", &self.max_fee_per_gas),
            ("maxPriorityFeePerGas", &self.max_priority_fee_per_gas),
            ("nonce", &self.nonce),
        ] {
            if let Some(q) = q {
                v.hex(name, q, None, 1);
            }
        }
        if let Some(list) = &self.access_list {
            v.field("accessList", |v| list.check(v));
        }
        v.closed(&self.extra);
    }
}

/// One EIP-2930 access-list entry: a contract and the storage slots the transaction touches.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(rename = "EvmAccessListEntry", extend("additionalProperties" = false))]
pub struct AccessListEntry {
    /// The contract.
    #[schemars(regex(pattern = ADDRESS_PATTERN))]
    pub address: String,
    /// The storage keys, 32 bytes each (`storageKeys`).
    #[serde(rename = "storageKeys")]
    #[schemars(inner(regex(pattern = B256_PATTERN)))]
    pub storage_keys: Vec<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl AccessListEntry {
    /// An entry for `address` and these storage keys.
    pub fn new(address: Address, storage_keys: impl IntoIterator<Item = B256>) -> Self {
        Self {
            address: address.into(),
            storage_keys: storage_keys.into_iter().map(String::from).collect(),
            extra: Map::new(),
        }
    }
}

impl Validate for AccessListEntry {
    fn check(&self, v: &mut Validator) {
        v.hex("address", &self.address, Some(40), 0);
        v.field("storageKeys", |v| {
            for (i, k) in self.storage_keys.iter().enumerate() {
                hex_item(v, i, k, 64);
            }
        });
        v.closed(&self.extra);
    }
}

/// `transaction_response`: the hash of the transaction the wallet sent.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
    key = "transaction_response",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(rename = "EvmTransactionResponse", extend("additionalProperties" = false))]
pub struct TransactionResponse {
    /// The `request_id` of the request answered.
    pub request_id: String,
    /// The transaction hash, `0x` and 64 hex digits.
    #[schemars(regex(pattern = B256_PATTERN))]
    pub transaction_hash: String,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl TransactionResponse {
    /// The answer to the request `request_id`.
    pub fn new(request_id: impl Into<String>, transaction_hash: impl Into<B256>) -> Self {
        Self {
            request_id: request_id.into(),
            transaction_hash: transaction_hash.into().into(),
            extra: Map::new(),
        }
    }
}

impl Validate for TransactionResponse {
    fn check(&self, v: &mut Validator) {
        v.hex("transaction_hash", &self.transaction_hash, Some(64), 0);
        v.closed(&self.extra);
    }
}

// ---------------------------------------------------------------------------------------------
// request_message_signing / message_signing_response
