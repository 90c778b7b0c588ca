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

mod address;
mod notification;
mod signing;
mod transaction;

pub use address::*;
#[allow(unused_imports)]
use address::*;
pub use notification::*;
#[allow(unused_imports)]
use notification::*;
pub use signing::*;
#[allow(unused_imports)]
use signing::*;
pub use transaction::*;
#[allow(unused_imports)]
use transaction::*;

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
