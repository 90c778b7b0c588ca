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
mod tests;
