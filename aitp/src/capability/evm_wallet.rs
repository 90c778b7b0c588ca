//! AITP-05 EVM Wallet: an agent asks a user's EVM wallet (Ethereum, Polygon, Arbitrum …) for
//! addresses, transaction signatures and message signatures (EIP-191 `personal_sign`, EIP-712
//! typed data), and tells it about chains and ERC-20 tokens.
//!
//! Schema: `https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json`. Every object
//! is closed except the EIP-712 `typed_data.domain` and `typed_data.message`, which are
//! free-form and kept as JSON values with their numbers digit-exact (`uint256` values such as
//! 10^18 do not survive an `f64`). AITP-04 (NEAR) uses five of the same message keys; only the
//! `$schema` URL tells them apart, and [`crate::capability::Envelope::parse`] follows it.
//!
//! Addresses, hashes and quantities are `String` fields so that whatever a peer sends can be
//! read and passed on; [`Validate`] checks their patterns. The constructors take checked
//! values ([`Address`], [`B256`], [`HexBytes`], integers) so what they build always validates.
//!
//! ```
//! use aitp::capability::evm_wallet::{Address, RequestTransaction};
//!
//! let to: Address = "0x1234567890123456789012345678901234567890".parse().unwrap();
//! let request = RequestTransaction::builder("tx_1", to)
//!     .chain_id(1)
//!     .value_wei(1_000_000_000_000_000_000)
//!     .gas(21_000)
//!     .build();
//! assert_eq!(request.transaction.value.as_deref(), Some("0xde0b6b3a7640000"));
//! assert!(request.validate().is_ok());
//!
//! let response = request.respond([0xab; 32]);
//! assert_eq!(response.request_id, "tx_1");
//! ```

use std::{collections::BTreeMap, fmt, str::FromStr};

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::{
    CapabilityMessage, OpenDeserialize,
    validate::{Validate, Validator, check_enum},
};

const ADDRESS_PATTERN: &str = r"^0x[a-fA-F0-9]{40}$";
const B256_PATTERN: &str = r"^0x[a-fA-F0-9]{64}$";
const DATA_PATTERN: &str = r"^0x[a-fA-F0-9]*$";
const QUANTITY_PATTERN: &str = r"^0x[a-fA-F0-9]+$";

/// Whether `value` is `0x` followed by hex digits: exactly `len` of them when given, at least
/// `min` otherwise (the same rule as [`Validator::hex`]).
fn is_hex(value: &str, len: Option<usize>, min: usize) -> bool {
    value.strip_prefix("0x").is_some_and(|h| {
        h.bytes().all(|b| b.is_ascii_hexdigit())
            && match len {
                Some(n) => h.len() == n,
                None => h.len() >= min,
            }
    })
}

/// [`Validator::hex`] for an array item: reports at `[i]` under the current path.
fn hex_item(v: &mut Validator, i: usize, value: &str, len: usize) {
    if !is_hex(value, Some(len), 0) {
        v.index(i, |v| {
            v.error(format!(
                "must be 0x followed by exactly {len} hex digits, got {value:?}"
            ))
        });
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// An EVM quantity as JSON-RPC writes it: `0x` and lowercase hex without leading zeros
/// (`0x0` for zero).
fn quantity(n: u128) -> String {
    format!("{n:#x}")
}

/// Reads a `0x`-hex quantity such as a transaction's `value` or `gas` (`None` when it is not
/// one, or does not fit in a `u128`).
///
/// ```
/// use aitp::capability::evm_wallet::parse_quantity;
/// assert_eq!(parse_quantity("0x5208"), Some(21_000));
/// assert_eq!(parse_quantity("0x"), None);
/// ```
pub fn parse_quantity(s: &str) -> Option<u128> {
    let h = s.strip_prefix("0x")?;
    if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(h, 16).ok()
}

/// Why a string is not the hex value it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not {expected}")]
pub struct HexError {
    input: String,
    expected: &'static str,
}

macro_rules! hex_string_type {
    ($(#[$doc:meta])* $name:ident, $len:expr, $min:expr, $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Checks `s` and keeps it as written (letter case included).
            pub fn parse(s: &str) -> Result<Self, HexError> {
                if is_hex(s, $len, $min) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(HexError {
                        input: s.to_owned(),
                        expected: $expected,
                    })
                }
            }

            /// The text, `0x…`.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = HexError;
            fn from_str(s: &str) -> Result<Self, HexError> {
                Self::parse(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = HexError;
            fn try_from(s: &str) -> Result<Self, HexError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = HexError;
            fn try_from(s: String) -> Result<Self, HexError> {
                Self::parse(&s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_string_type!(
    /// A checked EVM address: `0x` and 40 hex digits (`^0x[a-fA-F0-9]{40}$`).
    ///
    /// The text is kept as written, so an EIP-55 checksummed address stays checksummed; the
    /// checksum itself is not verified (the schema does not ask for it). Message fields hold
    /// addresses as `String`s so that a malformed one can still be read and reported; the
    /// constructors take an `Address` so that what they build is valid.
    ///
    /// ```
    /// use aitp::capability::evm_wallet::Address;
    /// let a: Address = "0x742d35Cc6634C0532925a3b844Bc454e4438f44e".parse().unwrap();
    /// assert_eq!(a, "0x742d35Cc6634C0532925a3b844Bc454e4438f44e");
    /// assert!("0x742d35".parse::<Address>().is_err());
    /// assert_eq!(Address::from([0u8; 20]).as_str(), "0x0000000000000000000000000000000000000000");
    /// ```
    Address,
    Some(40),
    0,
    "an EVM address (0x followed by 40 hex digits)"
);

hex_string_type!(
    /// A checked 32-byte value, `0x` and 64 hex digits: transaction hashes and access-list
    /// storage keys.
    B256,
    Some(64),
    0,
    "a 32-byte hex value (0x followed by 64 hex digits)"
);

hex_string_type!(
    /// Checked `0x`-prefixed hex of any length (`^0x[a-fA-F0-9]*$`): call data and
    /// signatures. Built from bytes it is written in lowercase.
    ///
    /// A signature must not be empty (`0x` alone breaks the schema's `^0x[a-fA-F0-9]+$`).
    HexBytes,
    None,
    0,
    "hex data (0x followed by hex digits)"
);

impl From<[u8; 20]> for Address {
    fn from(bytes: [u8; 20]) -> Self {
        Self(to_hex(&bytes))
    }
}

impl From<[u8; 32]> for B256 {
    fn from(bytes: [u8; 32]) -> Self {
        Self(to_hex(&bytes))
    }
}

impl From<&[u8]> for HexBytes {
    fn from(bytes: &[u8]) -> Self {
        Self(to_hex(bytes))
    }
}

impl From<Vec<u8>> for HexBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(to_hex(&bytes))
    }
}

impl<const N: usize> From<[u8; N]> for HexBytes {
    fn from(bytes: [u8; N]) -> Self {
        Self(to_hex(&bytes))
    }
}

impl<const N: usize> From<&[u8; N]> for HexBytes {
    fn from(bytes: &[u8; N]) -> Self {
        Self(to_hex(bytes))
    }
}

// ---------------------------------------------------------------------------------------------
// request_address / address_response

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

/// `chain_notification`: tells the wallet about a chain (to add or switch to).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
    key = "chain_notification",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(rename = "EvmChainNotification", extend("additionalProperties" = false))]
pub struct ChainNotification {
    /// Identifies the notification.
    pub notification_id: String,
    /// The chain id (1 Ethereum, 10 Optimism, 137 Polygon, 42161 Arbitrum One …).
    pub chain_id: u64,
    /// The chain's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A JSON-RPC endpoint of the chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(url)]
    pub rpc_url: Option<String>,
    /// The chain's native currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_currency: Option<NativeCurrency>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl ChainNotification {
    /// A notification about the chain `chain_id`.
    pub fn new(notification_id: impl Into<String>, chain_id: u64) -> Self {
        Self {
            notification_id: notification_id.into(),
            chain_id,
            name: None,
            rpc_url: None,
            native_currency: None,
            extra: Map::new(),
        }
    }

    /// Sets the chain's name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the JSON-RPC endpoint (an absolute URL).
    pub fn rpc_url(mut self, url: impl Into<String>) -> Self {
        self.rpc_url = Some(url.into());
        self
    }

    /// Sets the native currency.
    pub fn native_currency(mut self, currency: NativeCurrency) -> Self {
        self.native_currency = Some(currency);
        self
    }
}

impl Validate for ChainNotification {
    fn check(&self, v: &mut Validator) {
        if let Some(u) = &self.rpc_url {
            v.uri("rpc_url", u);
        }
        if let Some(c) = &self.native_currency {
            v.nested("native_currency", c);
        }
        v.closed(&self.extra);
    }
}

/// The native currency of a chain (ETH, MATIC …).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(rename = "EvmNativeCurrency", extend("additionalProperties" = false))]
pub struct NativeCurrency {
    /// Its name.
    pub name: String,
    /// Its ticker symbol.
    pub symbol: String,
    /// Decimal places of its smallest unit (18 for ETH).
    pub decimals: u64,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl NativeCurrency {
    /// A currency `name` / `symbol` with `decimals` decimal places.
    pub fn new(name: impl Into<String>, symbol: impl Into<String>, decimals: u64) -> Self {
        Self {
            name: name.into(),
            symbol: symbol.into(),
            decimals,
            extra: Map::new(),
        }
    }
}

impl Validate for NativeCurrency {
    fn check(&self, v: &mut Validator) {
        v.closed(&self.extra);
    }
}

wire_enum! {
    /// The token standard of a [`TokenNotification`].
    pub enum TokenType : schema("EvmTokenType", "The token standard: `erc20`.") {
        /// An ERC-20 fungible token (the only one the schema defines).
        Erc20 = "erc20",
    }
}

/// `token_notification`: tells the wallet about an ERC-20 token (to track or display).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
    key = "token_notification",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(rename = "EvmTokenNotification", extend("additionalProperties" = false))]
pub struct TokenNotification {
    /// Identifies the notification.
    pub notification_id: String,
    /// The chain the token lives on.
    pub chain_id: u64,
    /// The token standard (`erc20`).
    pub token_type: TokenType,
    /// The token's contract address.
    #[schemars(regex(pattern = ADDRESS_PATTERN))]
    pub token_contract: String,
    /// The token's name.
    pub name: String,
    /// Its ticker symbol.
    pub symbol: String,
    /// Decimal places of its smallest unit (6 for USDT, 18 for most).
    pub decimals: u64,
    /// An image of the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(url)]
    pub icon_url: Option<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl TokenNotification {
    /// A notification about the ERC-20 token at `token_contract` on `chain_id`.
    pub fn erc20(
        notification_id: impl Into<String>,
        chain_id: u64,
        token_contract: Address,
        name: impl Into<String>,
        symbol: impl Into<String>,
        decimals: u64,
    ) -> Self {
        Self {
            notification_id: notification_id.into(),
            chain_id,
            token_type: TokenType::Erc20,
            token_contract: token_contract.into(),
            name: name.into(),
            symbol: symbol.into(),
            decimals,
            icon_url: None,
            extra: Map::new(),
        }
    }

    /// Sets the icon (an absolute URL).
    pub fn icon_url(mut self, url: impl Into<String>) -> Self {
        self.icon_url = Some(url.into());
        self
    }
}

impl Validate for TokenNotification {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "token_type", self.token_type.as_str(), &["erc20"]);
        v.hex("token_contract", &self.token_contract, Some(40), 0);
        if let Some(u) = &self.icon_url {
            v.uri("icon_url", u);
        }
        v.closed(&self.extra);
    }
}

/// EvmWallet as a type (declared in the registry with the other built-in capabilities).
pub use super::registry::EvmWallet;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::capability::{Body, CapabilityMessage as _, Envelope};

    const URL: &str = "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json";
    const ALICE: &str = "0x742d35Cc6634C0532925a3b844Bc454e4438f44e";

    fn vectors_dir() -> std::path::PathBuf {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spec/vectors").into()
    }

    /// The AITP-05 vectors, plus the two doc examples the vector set lacks (`address_response`
    /// and `request_transaction`, from `aitp-05-evm-wallet.md`).
    fn examples() -> Vec<(String, String)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(vectors_dir()).expect("vectors directory") {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("aitp-05-") && name.ends_with(".json") {
                out.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
        out.sort();
        assert!(
            out.len() >= 7,
            "expected the AITP-05 vectors, found {}",
            out.len()
        );
        out.push(("doc:address_response".into(), DOC_ADDRESS_RESPONSE.into()));
        out.push((
            "doc:request_transaction".into(),
            DOC_REQUEST_TRANSACTION.into(),
        ));
        out
    }

    const DOC_ADDRESS_RESPONSE: &str = r#"{
      "$schema": "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
      "address_response": {
        "request_id": "addr_req_12345",
        "addresses": ["0x742d35Cc6634C0532925a3b844Bc454e4438f44e", "0x8ba1f109551bD432803012645Ac136ddd64DBA72"]
      }
    }"#;

    const DOC_REQUEST_TRANSACTION: &str = r#"{
      "$schema": "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
      "request_transaction": {
        "request_id": "tx_req_67890",
        "description": "Sign transaction to mint NFT",
        "chain_id": 1,
        "transaction": {
          "to": "0x1234567890123456789012345678901234567890",
          "from": "0x742d35Cc6634C0532925a3b844Bc454e4438f44e",
          "data": "0xa9059cbb000000000000000000000000742d35cc6634c0532925a3b844bc454e4438f44e0000000000000000000000000000000000000000000000000de0b6b3a7640000",
          "value": "0x0",
          "gas": "0x5208",
          "gasPrice": "0x3b9aca00",
          "nonce": "0x1",
          "maxFeePerGas": "0x3b9aca00",
          "maxPriorityFeePerGas": "0x3b9aca00",
          "accessList": []
        }
      }
    }"#;

    /// The body's key when the payload is one of the typed EVM variants.
    fn evm_key(p: &Body) -> Option<&'static str> {
        Some(match p {
            Body::EvmRequestAddress(_) => RequestAddress::KEY,
            Body::EvmAddressResponse(_) => AddressResponse::KEY,
            Body::EvmRequestTransaction(_) => RequestTransaction::KEY,
            Body::EvmTransactionResponse(_) => TransactionResponse::KEY,
            Body::EvmRequestMessageSigning(_) => RequestMessageSigning::KEY,
            Body::EvmMessageSigningResponse(_) => MessageSigningResponse::KEY,
            Body::EvmChainNotification(_) => ChainNotification::KEY,
            Body::EvmTokenNotification(_) => TokenNotification::KEY,
            _ => return None,
        })
    }

    fn official_schema() -> jsonschema::Validator {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/spec/aitp/schemas/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json"
        ))
        .unwrap();
        jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
    }

    /// The JSON Schema this crate generates for the body type of `key`.
    fn generated_schema(key: &str) -> jsonschema::Validator {
        let schema = match key {
            "request_address" => schemars::schema_for!(RequestAddress),
            "address_response" => schemars::schema_for!(AddressResponse),
            "request_transaction" => schemars::schema_for!(RequestTransaction),
            "transaction_response" => schemars::schema_for!(TransactionResponse),
            "request_message_signing" => schemars::schema_for!(RequestMessageSigning),
            "message_signing_response" => schemars::schema_for!(MessageSigningResponse),
            "chain_notification" => schemars::schema_for!(ChainNotification),
            "token_notification" => schemars::schema_for!(TokenNotification),
            other => panic!("no EVM key {other}"),
        };
        jsonschema::validator_for(&serde_json::to_value(&schema).unwrap()).unwrap()
    }

    /// Checks a whole message against the official schema and its body against the generated
    /// one; both must agree with `valid`.
    fn assert_schemas(message: &Value, valid: bool) {
        let key = message
            .as_object()
            .unwrap()
            .keys()
            .find(|k| *k != "$schema")
            .unwrap()
            .clone();
        assert_eq!(
            official_schema().is_valid(message),
            valid,
            "official schema: {message}"
        );
        assert_eq!(
            generated_schema(&key).is_valid(&message[&key]),
            valid,
            "generated schema for {key}: {message}"
        );
    }

    #[test]
    fn vectors_parse_typed_round_trip_and_validate() {
        for (name, text) in examples() {
            let expected: Value = serde_json::from_str(&text).unwrap();
            let m = Envelope::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(evm_key(m.body()), Some(m.key()), "{name}: {:?}", m.body());
            assert_eq!(m.to_value(), expected, "{name}");
            assert!(m.validate().is_ok(), "{name}: {:?}", m.validate());
            assert_schemas(&expected, true);
        }
    }

    #[test]
    fn eip712_numbers_stay_exact() {
        let text = std::fs::read_to_string(
            vectors_dir().join("aitp-05-request_message_signing-typed_data-typed_req_13579.json"),
        )
        .unwrap();
        let m = Envelope::parse(&text).unwrap();
        let r = m.message::<RequestMessageSigning>().unwrap().unwrap();
        assert_eq!(r.signing_type, SigningType::TypedData);
        let td = r.typed_data.as_ref().unwrap();
        assert_eq!(td.primary_type, "Order");
        assert_eq!(td.types["Order"][2].name, "price");
        assert_eq!(td.message["price"].to_string(), "1000000000000000000");
        assert!(
            m.to_json_string()
                .contains(r#""price":1000000000000000000"#)
        );
        let through_serde: RequestMessageSigning =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(through_serde, r);
    }

    #[test]
    fn evm_schema_decides_over_shape() {
        // No `0x` anywhere: the key-only heuristic would say NEAR, the `$schema` says EVM.
        let text = json!({"$schema": URL, "transaction_response": {
            "request_id": "tx_1", "transaction_hash": "FZ3x"}})
        .to_string();
        let m = Envelope::parse(&text).unwrap();
        assert!(matches!(m.body(), Body::EvmTransactionResponse(_)));
        let err = m.validate().unwrap_err();
        assert!(
            err.has_path("transaction_response.transaction_hash"),
            "{err}"
        );

        let near = json!({"$schema": "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
            "transaction_response": {"request_id": "tx_1", "transaction_hash": "0xab"}})
        .to_string();
        assert_eq!(evm_key(Envelope::parse(&near).unwrap().body()), None);
    }

    fn broken(message: Value, paths: &[&str]) {
        let m = Envelope::from_value(&message).unwrap();
        assert!(evm_key(m.body()).is_some(), "{message}");
        assert_eq!(m.to_value(), message, "kept losslessly");
        let err = m.validate().unwrap_err();
        for p in paths {
            assert!(err.has_path(p), "expected an error at {p}, got: {err}");
        }
        assert_schemas(&message, false);
    }

    #[test]
    fn broken_messages_name_the_path() {
        broken(
            json!({"$schema": URL, "request_transaction": {"request_id": "r", "transaction": {
                "to": "0x1234", "value": "0x", "data": "0xzz", "gasPrice": "12",
                "accessList": [{"address": ALICE, "storageKeys": [
                    format!("0x{}", "0".repeat(64)), "0x01"]}]}}}),
            &[
                "request_transaction.transaction.to",
                "request_transaction.transaction.value",
                "request_transaction.transaction.data",
                "request_transaction.transaction.gasPrice",
                "request_transaction.transaction.accessList[0].storageKeys[1]",
            ],
        );
        broken(
            json!({"$schema": URL, "request_message_signing": {
                "request_id": "r", "signing_type": "personal_sign"}}),
            &["request_message_signing.message"],
        );
        broken(
            json!({"$schema": URL, "request_message_signing": {
                "request_id": "r", "signing_type": "typed_data", "message": "hi"}}),
            &["request_message_signing.typed_data"],
        );
        broken(
            json!({"$schema": URL, "request_message_signing": {
                "request_id": "r", "signing_type": "eth_sign", "message": "hi"}}),
            &["request_message_signing.signing_type"],
        );
        broken(
            json!({"$schema": URL, "request_message_signing": {
                "request_id": "r", "signing_type": "typed_data", "typed_data": {
                    "types": {"Mail": [{"name": "to", "type": "address", "indexed": true}]},
                    "primaryType": "Mail", "domain": {}, "message": {"to": ALICE}, "salt": "0x"}}}),
            &[
                "request_message_signing.typed_data.types.Mail[0].indexed",
                "request_message_signing.typed_data.salt",
            ],
        );
        broken(
            json!({"$schema": URL, "request_address": {"request_id": "r", "network": "mainnet"}}),
            &["request_address.network"],
        );
        broken(
            json!({"$schema": URL, "address_response": {"request_id": "r",
                "addresses": [ALICE, "0xnope"]}}),
            &["address_response.addresses[1]"],
        );
        broken(
            json!({"$schema": URL, "message_signing_response": {"request_id": "r",
                "address": ALICE, "signature": "0x"}}),
            &["message_signing_response.signature"],
        );
        broken(
            json!({"$schema": URL, "token_notification": {"notification_id": "n", "chain_id": 1,
                "token_type": "erc721", "token_contract": "0xdac17f958d2ee523a2206206994597c13d831ec7",
                "name": "T", "symbol": "T", "decimals": 0}}),
            &["token_notification.token_type"],
        );
    }

    #[test]
    fn stray_root_fields_and_missing_required_fields() {
        let m = Envelope::from_value(&json!({"$schema": URL,
            "request_address": {"request_id": "r"}, "note": "hi"}))
        .unwrap();
        assert!(m.validate().unwrap_err().has_path("note"));
        let e = Envelope::parse(
            &json!({"$schema": URL, "chain_notification": {"notification_id": "n"}}).to_string(),
        )
        .unwrap_err();
        assert!(e.is_aitp(), "{e}");
        assert!(e.to_string().contains("chain_notification"), "{e}");
        // Required fields of nested objects are required by the types too: a parse error
        // that names the path.
        let e = Envelope::parse(
            &json!({"$schema": URL, "chain_notification": {"notification_id": "n", "chain_id": 10,
                "native_currency": {"name": "Ether", "symbol": "ETH"}}})
            .to_string(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, crate::capability::ParseError::Body { path, .. }
                if path == "chain_notification.native_currency"),
            "{e}"
        );
    }

    #[test]
    fn builders_validate() {
        let alice: Address = ALICE.parse().unwrap();
        let contract = Address::from([0xcc; 20]);
        let tx = RequestTransaction::builder("tx_1", contract.clone())
            .description("Mint")
            .chain_id(137)
            .from(alice.clone())
            .value_wei(0)
            .data([0xa9, 0x05, 0x9c, 0xbb])
            .gas(21_000)
            .gas_price_wei(1_000_000_000)
            .max_fee_per_gas_wei(2_000_000_000)
            .max_priority_fee_per_gas_wei(1)
            .nonce(7)
            .access(AccessListEntry::new(
                contract.clone(),
                [B256::from([1; 32])],
            ))
            .build();
        let t = &tx.transaction;
        assert_eq!(t.value.as_deref(), Some("0x0"));
        assert_eq!(t.gas.as_deref(), Some("0x5208"));
        assert_eq!(t.data.as_deref(), Some("0xa9059cbb"));
        assert_eq!(
            parse_quantity(t.gas_price.as_deref().unwrap()),
            Some(1_000_000_000)
        );
        let v = serde_json::to_value(&tx).unwrap();
        assert_eq!(v["transaction"]["maxPriorityFeePerGas"], "0x1");
        assert_eq!(
            v["transaction"]["accessList"][0]["storageKeys"][0],
            format!("0x{}", "01".repeat(32))
        );

        let typed = TypedData::new(
            "Order",
            json!({"name": "Shop", "chainId": 1}).as_object().unwrap().clone(),
            serde_json::from_str(r#"{"maker": "0x742d35Cc6634C0532925a3b844Bc454e4438f44e", "price": 1000000000000000000}"#)
                .unwrap(),
        )
        .with_type("EIP712Domain", [("name", "string"), ("chainId", "uint256")])
        .with_type("Order", [("maker", "address"), ("price", "uint256")]);
        let sign_typed = RequestMessageSigning::typed_data("s_2", typed).address(alice.clone());
        let sign = RequestMessageSigning::personal_sign("s_1", "Hello").description("Log in");
        let addr = RequestAddress::new("a_1").description("Share").chain_id(1);

        let messages: Vec<Envelope> = vec![
            addr.clone().into(),
            addr.respond([alice.clone(), contract.clone()]).into(),
            tx.clone().into(),
            tx.respond([0xab; 32]).into(),
            sign.clone().into(),
            sign.respond(alice.clone(), [0x11u8; 65]).into(),
            sign_typed.clone().into(),
            ChainNotification::new("c_1", 10)
                .name("Optimism")
                .rpc_url("https://mainnet.optimism.io")
                .native_currency(NativeCurrency::new("Ether", "ETH", 18))
                .into(),
            TokenNotification::erc20("t_1", 1, contract, "Tether USD", "USDT", 6)
                .icon_url("https://example.com/usdt.png")
                .into(),
        ];
        for m in messages {
            assert!(m.validate().is_ok(), "{m}: {:?}", m.validate());
            assert_eq!(m.schema(), URL);
            let text = m.to_json_string();
            let back = Envelope::parse(&text).unwrap();
            assert_eq!(back, m, "{text}");
            assert_schemas(&m.to_value(), true);
        }
        assert_eq!(tx.respond([0xab; 32]).request_id, "tx_1");
        assert_eq!(addr.chain_id_or_mainnet(), 1);
        assert!(
            Envelope::from(sign_typed)
                .to_json_string()
                .contains(r#""price":1000000000000000000"#)
        );
    }

    #[test]
    fn checked_hex_inputs() {
        assert!(Address::parse("0x742d35Cc6634C0532925a3b844Bc454e4438f44").is_err());
        assert!(Address::parse("742d35Cc6634C0532925a3b844Bc454e4438f44e00").is_err());
        assert!(B256::parse(&format!("0x{}", "A".repeat(64))).is_ok());
        assert_eq!(HexBytes::parse("0x").unwrap().as_str(), "0x");
        assert!(HexBytes::parse("0xg").is_err());
        assert_eq!(HexBytes::from(vec![0u8, 255]).as_str(), "0x00ff");
        let err = "0x12".parse::<Address>().unwrap_err();
        assert!(err.to_string().contains("EVM address"), "{err}");
        let a: Address = serde_json::from_value(json!(ALICE)).unwrap();
        assert_eq!(serde_json::to_value(&a).unwrap(), json!(ALICE));
        assert!(serde_json::from_value::<Address>(json!("0x1")).is_err());
        assert_eq!(
            parse_quantity("0xde0b6b3a7640000"),
            Some(1_000_000_000_000_000_000)
        );
        assert_eq!(parse_quantity("0x+1"), None);
        assert_eq!(parse_quantity("5208"), None);
    }
}
