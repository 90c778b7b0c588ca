//! AITP-04 wallet signatures: NEAR NEP-413 signed messages.
//!
//! A NEP-413 signature is ed25519 over the SHA-256 of the borsh serialisation of
//! `(tag: u32 = 2^31 + 413, message: String, nonce: [u8; 32], recipient: String,
//! callback_url: Option<String>)`. AITP-04's request has no `callbackUrl`, so it is always
//! `None` here. The tag keeps a signed message from ever being a valid NEAR transaction.

use sha2::{Digest, Sha256};

use super::{KeyError, KeyResolver, Party, PublicKey, SecretKey, Signature};
use crate::capability::near_wallet::{MessageSigningResponse, RequestMessageSigning};

/// NEP-413's prefix tag: 2^31 + 413.
pub const NEP413_TAG: u32 = (1 << 31) + 413;

/// The borsh payload: tag, message, nonce, recipient, callback URL, in that order (a tuple
/// serialises as its fields in order, as the NEP-413 struct does).
fn payload(
    message: &str,
    nonce: &[u8; 32],
    recipient: &str,
    callback_url: Option<&str>,
) -> Vec<u8> {
    // Serialising into a Vec cannot fail.
    borsh::to_vec(&(NEP413_TAG, message, nonce, recipient, callback_url)).unwrap_or_default()
}

/// The 32 bytes a NEP-413 signature signs: SHA-256 of the borsh-serialised tagged payload.
pub fn nep413_hash(
    message: &str,
    nonce: &[u8; 32],
    recipient: &str,
    callback_url: Option<&str>,
) -> [u8; 32] {
    Sha256::digest(payload(message, nonce, recipient, callback_url)).into()
}

/// Why a NEP-413 `message_signing_response` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Nep413Error {
    /// The response answers another request.
    #[error("the response answers `{response}`, not `{request}`")]
    RequestId {
        /// The request's id.
        request: String,
        /// The response's `request_id`.
        response: String,
    },
    /// The request's nonce is not base64 of exactly 32 bytes, as NEP-413 requires.
    #[error("the request's nonce is not base64 of 32 bytes")]
    Nonce,
    /// The response's `public_key` is not an `ed25519:` key.
    #[error("public_key: {0}")]
    PublicKey(KeyError),
    /// The response's `signature` is not an ed25519 signature.
    #[error("signature: {0}")]
    Signature(KeyError),
    /// The signature does not verify under the response's key (named in text form).
    #[error("the signature does not verify under {0}")]
    BadSignature(String),
    /// The resolver knows no key of the account.
    #[error("no key is known for the account `{0}`")]
    UnknownAccount(String),
    /// The key that signed is not one of the account's keys.
    #[error("{key} is not a key of `{account}`")]
    KeyNotAllowed {
        /// The account the response names.
        account: String,
        /// The key that signed, in text form.
        key: String,
    },
    /// The resolver failed.
    #[error("looking up the keys of `{account}` failed: {reason}")]
    Resolver {
        /// The account.
        account: String,
        /// The resolver's error.
        reason: String,
    },
}

fn nonce_of(request: &RequestMessageSigning) -> Result<[u8; 32], Nep413Error> {
    request
        .message
        .nonce_bytes()
        .and_then(|n| <[u8; 32]>::try_from(n).ok())
        .ok_or(Nep413Error::Nonce)
}

/// Reads a wallet's signature text: `ed25519:` + base64 or base58 as [`Signature`] reads
/// it, or the bare base64 that NEAR wallets (and NEAR AI) return.
fn signature_of(text: &str) -> Result<Signature, KeyError> {
    if text.starts_with("ed25519:") {
        text.parse()
    } else {
        format!("ed25519:{text}").parse()
    }
}

/// Checks an AITP-04 `message_signing_response` against its `request`: it answers that
/// request, its signature is a NEP-413 signature of the request's message, nonce and
/// recipient under the response's `public_key`, and that key is one `resolver` allows for
/// the response's `account_id` (as [`Party::Payer`]). Returns the key.
///
/// The last check matters: anyone can sign with a fresh key and name any account.
pub async fn verify_nep413<R: KeyResolver>(
    resolver: &R,
    request: &RequestMessageSigning,
    response: &MessageSigningResponse,
) -> Result<PublicKey, Nep413Error> {
    if request.request_id != response.request_id {
        return Err(Nep413Error::RequestId {
            request: request.request_id.clone(),
            response: response.request_id.clone(),
        });
    }
    let nonce = nonce_of(request)?;
    let key: PublicKey = response
        .public_key
        .parse()
        .map_err(Nep413Error::PublicKey)?;
    let signature = signature_of(&response.signature).map_err(Nep413Error::Signature)?;
    let m = &request.message;
    let hash = nep413_hash(&m.message, &nonce, &m.recipient, None);
    if !key.verify(&hash, &signature) {
        return Err(Nep413Error::BadSignature(key.to_string()));
    }
    let account = response.account_id.clone();
    let allowed = resolver
        .keys(&Party::Payer(account.clone()))
        .await
        .map_err(|e| Nep413Error::Resolver {
            account: account.clone(),
            reason: e.0,
        })?;
    if allowed.is_empty() {
        return Err(Nep413Error::UnknownAccount(account));
    }
    if !allowed.contains(&key) {
        return Err(Nep413Error::KeyNotAllowed {
            account,
            key: key.to_string(),
        });
    }
    Ok(key)
}

/// Answers `request` as the wallet of `account_id` holding `key` would: a NEP-413 signature
/// (`ed25519:<base58>`, NEAR's form) of the request's message. For agents that hold a NEAR
/// key themselves, and for tests.
pub fn sign_nep413(
    key: &SecretKey,
    account_id: impl Into<String>,
    request: &RequestMessageSigning,
) -> Result<MessageSigningResponse, Nep413Error> {
    let nonce = nonce_of(request)?;
    let m = &request.message;
    let signature = key.sign(&nep413_hash(&m.message, &nonce, &m.recipient, None));
    Ok(MessageSigningResponse::new(
        request.request_id.clone(),
        account_id,
        key.public_key().to_string(),
        signature.to_base58_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::ConfiguredKeys;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_wallet_signature_verifies_and_each_refusal_is_its_own() {
        let key = SecretKey::from_seed(&[5; 32]);
        let keys = ConfiguredKeys::new().allow("user.near", key.public_key());
        let request = RequestMessageSigning::nep413("r1", "Log in to shop", "shop.near", [9; 32]);
        let response = sign_nep413(&key, "user.near", &request).unwrap();
        assert_eq!(
            block_on(verify_nep413(&keys, &request, &response)),
            Ok(key.public_key())
        );

        // Bare base64, as NEAR wallets return it, reads too.
        let mut bare = response.clone();
        let sig: Signature = response.signature.parse().unwrap();
        bare.signature = sig.to_string().trim_start_matches("ed25519:").into();
        assert!(block_on(verify_nep413(&keys, &request, &bare)).is_ok());

        let mut other = request.clone();
        other.message.message = "Pay 1000 USD".into();
        assert!(matches!(
            block_on(verify_nep413(&keys, &other, &response)),
            Err(Nep413Error::BadSignature(_))
        ));
        other = request.clone();
        other.message.recipient = "evil.near".into();
        assert!(matches!(
            block_on(verify_nep413(&keys, &other, &response)),
            Err(Nep413Error::BadSignature(_))
        ));
        other = request.clone();
        other.request_id = "r2".into();
        assert!(matches!(
            block_on(verify_nep413(&keys, &other, &response)),
            Err(Nep413Error::RequestId { .. })
        ));
        other = request.clone();
        other.message.nonce = "AQIDBA==".into();
        assert_eq!(
            block_on(verify_nep413(&keys, &other, &response)),
            Err(Nep413Error::Nonce)
        );

        let stranger = SecretKey::from_seed(&[6; 32]);
        let forged = sign_nep413(&stranger, "user.near", &request).unwrap();
        assert!(matches!(
            block_on(verify_nep413(&keys, &request, &forged)),
            Err(Nep413Error::KeyNotAllowed { .. })
        ));
        let unknown = sign_nep413(&stranger, "nobody.near", &request).unwrap();
        assert_eq!(
            block_on(verify_nep413(&keys, &request, &unknown)),
            Err(Nep413Error::UnknownAccount("nobody.near".into()))
        );
    }

    #[test]
    fn the_payload_is_tagged_borsh() {
        let bytes = payload("hi", &[1; 32], "r", None);
        assert_eq!(&bytes[..4], &0x8000_019d_u32.to_le_bytes());
        assert_eq!(&bytes[4..10], &[2, 0, 0, 0, b'h', b'i']);
        assert_eq!(&bytes[10..42], &[1; 32]);
        assert_eq!(&bytes[42..], &[1, 0, 0, 0, b'r', 0]);
    }
}
