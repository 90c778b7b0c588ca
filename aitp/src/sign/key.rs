//! ed25519 keys and signatures in NEAR's text forms (`ed25519:<base58>`).

use std::{fmt, str::FromStr};

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

/// The prefix of every key and signature text this module reads and writes.
const PREFIX: &str = "ed25519:";

/// Why a key or signature text was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text does not start with `ed25519:` (the only curve AITP-01 uses).
    #[error("expected `ed25519:` followed by the key or signature")]
    MissingPrefix,
    /// The part after the prefix is not base58 (or, for signatures, padded base64).
    #[error("not valid base58 or base64")]
    Encoding,
    /// Decoded to the wrong number of bytes.
    #[error("decodes to {actual} bytes, expected {expected}")]
    Length {
        /// The bytes wanted.
        expected: &'static str,
        /// The bytes found.
        actual: usize,
    },
    /// A public key that is not a canonical encoding of a curve point, or a point of small
    /// order (a "weak" key under which forged signatures can verify).
    #[error("not a canonical ed25519 public key of large order")]
    WeakOrNonCanonical,
    /// A 64-byte NEAR secret key whose second half is not the public key of its first half.
    #[error("the secret key's public half does not match its seed")]
    Mismatch,
}

/// An ed25519 public key, written as NEAR writes it: `ed25519:<base58 of 32 bytes>`.
///
/// Parsing is strict: besides the text form, the key must be the canonical encoding of a
/// point of large order, so that [`PublicKey::verify`] (which is strict too) cannot be
/// fooled by a weak key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// The key from its 32 bytes, with the same checks as parsing.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::WeakOrNonCanonical)?;
        let canonical = key.to_edwards().compress().to_bytes() == *bytes;
        if !canonical || key.is_weak() {
            return Err(KeyError::WeakOrNonCanonical);
        }
        Ok(Self(key))
    }

    /// The 32 bytes of the key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Checks `signature` over `message` strictly (ed25519-dalek's `verify_strict`): the
    /// signature's `R` must be canonical and of large order and its `S` reduced, so one
    /// message has exactly one valid signature per key and signatures cannot be malleated.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0.verify_strict(message, &signature).is_ok()
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        let bytes = decode_base58(text.strip_prefix(PREFIX).ok_or(KeyError::MissingPrefix)?)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| KeyError::Length {
            expected: "32",
            actual: b.len(),
        })?;
        Self::from_bytes(&bytes)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}{}",
            bs58::encode(self.0.as_bytes()).into_string()
        )
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An ed25519 secret key in NEAR's text form: `ed25519:<base58>` of the 64-byte keypair
/// (32-byte seed, then the 32-byte public key), as `near-cli` writes it to
/// `~/.near-credentials`. The bare 32-byte seed is read too.
///
/// `Debug` never shows the key; `Display` does (so that it can be saved), so keep it out of
/// logs.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// The key with this 32-byte seed (deterministic: the same seed is the same key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The public half, to publish or configure in a [`KeyResolver`](super::KeyResolver).
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `message`. Ed25519 is deterministic: the same message gives the same signature.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl FromStr for SecretKey {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        let bytes = decode_base58(text.strip_prefix(PREFIX).ok_or(KeyError::MissingPrefix)?)?;
        match bytes.len() {
            32 => Ok(Self::from_seed(bytes[..].try_into().unwrap_or(&[0; 32]))),
            64 => {
                let pair: &[u8; 64] = bytes[..].try_into().unwrap_or(&[0; 64]);
                SigningKey::from_keypair_bytes(pair)
                    .map(Self)
                    .map_err(|_| KeyError::Mismatch)
            }
            actual => Err(KeyError::Length {
                expected: "64 (or a 32-byte seed)",
                actual,
            }),
        }
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pair = self.0.to_keypair_bytes();
        write!(f, "{PREFIX}{}", bs58::encode(pair).into_string())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public: {})", self.public_key())
    }
}

/// An ed25519 signature: written `ed25519:<base64>` (padded standard base64, as the AITP-01
/// docs show), read in that form or as `ed25519:<base58>` (NEAR's usual form).
///
/// Reading is unambiguous because 64 bytes in padded base64 always end in `==`, which is not
/// in the base58 alphabet: text with `=` is base64, any other is base58. Unpadded base64
/// is refused, since it could also be read as base58.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; 64]);

impl Signature {
    /// The signature from its 64 bytes.
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    /// The 64 bytes.
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0
    }

    /// The NEAR form, `ed25519:<base58>`, for peers that want it.
    pub fn to_base58_string(&self) -> String {
        format!("{PREFIX}{}", bs58::encode(self.0).into_string())
    }
}

impl FromStr for Signature {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        let body = text.strip_prefix(PREFIX).ok_or(KeyError::MissingPrefix)?;
        let bytes = if body.contains('=') {
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|_| KeyError::Encoding)?
        } else {
            decode_base58(body)?
        };
        let bytes: [u8; 64] = bytes.try_into().map_err(|b: Vec<u8>| KeyError::Length {
            expected: "64",
            actual: b.len(),
        })?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = base64::engine::general_purpose::STANDARD.encode(self.0);
        write!(f, "{PREFIX}{text}")
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

fn decode_base58(text: &str) -> Result<Vec<u8>, KeyError> {
    bs58::decode(text)
        .into_vec()
        .map_err(|_| KeyError::Encoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 32] = [7; 32];

    #[test]
    fn text_forms_round_trip() {
        let secret = SecretKey::from_seed(&SEED);
        let again: SecretKey = secret.to_string().parse().unwrap();
        assert_eq!(again.public_key(), secret.public_key());
        let seed_only = format!("ed25519:{}", bs58::encode(SEED).into_string());
        assert_eq!(
            seed_only.parse::<SecretKey>().unwrap().public_key(),
            secret.public_key()
        );
        let public: PublicKey = secret.public_key().to_string().parse().unwrap();
        assert_eq!(public, secret.public_key());
        assert!(!format!("{secret:?}").contains(&secret.to_string()[8..]));
    }

    #[test]
    fn signatures_read_in_base64_and_base58() {
        let secret = SecretKey::from_seed(&SEED);
        let sig = secret.sign(b"hello");
        let b64 = sig.to_string();
        assert!(b64.ends_with("=="));
        assert_eq!(b64.parse::<Signature>().unwrap(), sig);
        assert_eq!(sig.to_base58_string().parse::<Signature>().unwrap(), sig);
        assert!(secret.public_key().verify(b"hello", &sig));
        assert!(!secret.public_key().verify(b"hellp", &sig));
        let unpadded = b64.trim_end_matches('=');
        assert!(unpadded.parse::<Signature>().is_err());
        assert_eq!("AAAA".parse::<Signature>(), Err(KeyError::MissingPrefix));
    }

    #[test]
    fn mismatched_keypairs_and_weak_keys_are_refused() {
        let secret = SecretKey::from_seed(&SEED);
        let mut pair = secret.0.to_keypair_bytes();
        pair[40] ^= 1;
        let text = format!("ed25519:{}", bs58::encode(pair).into_string());
        assert!(matches!(
            text.parse::<SecretKey>(),
            Err(KeyError::Mismatch | KeyError::WeakOrNonCanonical)
        ));
        // The identity point (small order) as a public key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            PublicKey::from_bytes(&identity),
            Err(KeyError::WeakOrNonCanonical)
        );
        // A non-canonical encoding of a valid point: y = p + 1 (i.e. 1 again, non-reduced).
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        assert_eq!(
            PublicKey::from_bytes(&non_canonical),
            Err(KeyError::WeakOrNonCanonical)
        );
    }

    #[test]
    fn non_canonical_signatures_are_refused() {
        let secret = SecretKey::from_seed(&SEED);
        let sig = secret.sign(b"m").to_bytes();
        // S + l: the same signature under non-strict rules, refused under strict ones.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut malleated = sig;
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
            malleated[32 + i] = sum as u8;
            carry = sum >> 8;
        }
        assert!(
            !secret
                .public_key()
                .verify(b"m", &Signature::from_bytes(malleated))
        );
    }
}
