//! The AITP-01 messages that carry one signature, and how that signature is made and checked.

use serde::Serialize;
use serde_json::Value;

use super::{CanonicalError, KeyError, PublicKey, SecretKey, Signature, canonical_json};
use crate::capability::payments::{
    Payment, PaymentConfirmation, Quote, TopUpRequest, TopUpResponse,
};

/// Who must have signed a message: the party a [`KeyResolver`](super::KeyResolver) is asked
/// about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Party {
    /// A merchant, by its `merchant_id`: signs quotes, confirmations and top-up requests.
    Merchant(String),
    /// A payer, by its `payer_id`: signs payments and top-up responses.
    Payer(String),
    /// An affiliate, by its `affiliate_id`: signs its wrapper of a `wrapped_quote`.
    Affiliate(String),
}

impl Party {
    /// The account id, whatever the role.
    pub fn id(&self) -> &str {
        match self {
            Party::Merchant(id) | Party::Payer(id) | Party::Affiliate(id) => id,
        }
    }
}

impl std::fmt::Display for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Party::Merchant(id) => write!(f, "merchant {id}"),
            Party::Payer(id) => write!(f, "payer {id}"),
            Party::Affiliate(id) => write!(f, "affiliate {id}"),
        }
    }
}

/// An AITP-01 message signed by one party over the RFC 8785 canonical JSON of its body
/// without the signature field: `quote`, `payment`, `payment_confirmation`,
/// `top_up_request` and `top_up_response`.
///
/// Sign with [`sign`](super::sign()), check with [`verify`](super::verify()) or, knowing
/// only who should have signed, [`verify_signed`](super::verify_signed).
pub trait Signable: Serialize {
    /// The message's key in its envelope (`quote`, `payment`, …), used in error paths.
    const KEY: &'static str;
    /// The field holding the signature (`merchant_signature` or `payer_signature`).
    const SIGNATURE_FIELD: &'static str;

    /// The signature text, if signed.
    fn signature(&self) -> Option<&str>;

    /// Sets the signature text.
    fn set_signature(&mut self, signature: String);

    /// Who signs it, when the message names them. A `payment_confirmation` does not (it is
    /// signed by the merchant of its quote), so it is `None` there and the caller says who.
    fn signer(&self) -> Option<Party>;
}

macro_rules! signable {
    ($($ty:ty => $key:literal, $field:ident, $signer:expr;)*) => {$(
        impl Signable for $ty {
            const KEY: &'static str = $key;
            const SIGNATURE_FIELD: &'static str = stringify!($field);
            fn signature(&self) -> Option<&str> {
                self.$field.as_deref()
            }
            fn set_signature(&mut self, signature: String) {
                self.$field = Some(signature);
            }
            fn signer(&self) -> Option<Party> {
                #[allow(clippy::redundant_closure_call)]
                ($signer)(self)
            }
        }
    )*};
}

signable! {
    Quote => "quote", merchant_signature, |m: &Quote| Some(Party::Merchant(m.merchant_id.clone()));
    Payment => "payment", payer_signature, |m: &Payment| Some(Party::Payer(m.payer_id.clone()));
    PaymentConfirmation => "payment_confirmation", merchant_signature, |_: &PaymentConfirmation| None;
    TopUpRequest => "top_up_request", merchant_signature, |m: &TopUpRequest| Some(Party::Merchant(m.merchant_id.clone()));
    TopUpResponse => "top_up_response", payer_signature, |m: &TopUpResponse| Some(Party::Payer(m.payer_id.clone()));
}

/// Why a message could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The body has no canonical form (an out-of-range number in an unknown field).
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// A `wrapped_quote` with no wrapper to sign.
    #[error("the wrapped quote has no wrapper to sign")]
    NoWrapper,
}

/// Why a signature was refused. Each check has its own variant, so a payer can be told
/// exactly which one failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signature field is absent.
    #[error("{path}: missing signature")]
    Missing {
        /// The JSON path of the signature field, such as `quote.merchant_signature`.
        path: String,
    },
    /// The signature text is not `ed25519:` with 64 bytes of base64 or base58.
    #[error("{path}: malformed signature: {error}")]
    Malformed {
        /// The JSON path of the signature field.
        path: String,
        /// What is wrong with it.
        error: KeyError,
    },
    /// The body has no canonical form, so nothing can have been signed.
    #[error("{path}: {error}")]
    Canonical {
        /// The JSON path of the signature field.
        path: String,
        /// Why.
        error: CanonicalError,
    },
    /// The resolver knows no key at all for the party that should have signed.
    #[error("{path}: no key is known for {party}")]
    UnknownSigner {
        /// The JSON path of the signature field.
        path: String,
        /// Who should have signed.
        party: Party,
    },
    /// The signature is valid, but under a key that belongs to someone else, not to the
    /// party that should have signed.
    #[error("{path}: signed with a key not allowed for {party} (it belongs to {owner})")]
    KeyNotAllowed {
        /// The JSON path of the signature field.
        path: String,
        /// Who should have signed.
        party: Party,
        /// Whose key it is.
        owner: String,
    },
    /// No allowed key verifies the signature: the message was changed after signing, or
    /// signed by an unknown key.
    #[error("{path}: signature does not verify for {party}")]
    BadSignature {
        /// The JSON path of the signature field.
        path: String,
        /// Who should have signed.
        party: Party,
    },
    /// The signature does not verify under the one key it was checked against
    /// ([`verify`](super::verify())).
    #[error("{path}: signature does not verify under the given key")]
    DoesNotVerify {
        /// The JSON path of the signature field.
        path: String,
    },
    /// The resolver failed (its own lookup went wrong); nothing was decided.
    #[error("{path}: looking up the keys of {party} failed: {reason}")]
    Resolver {
        /// The JSON path of the signature field.
        path: String,
        /// Who should have signed.
        party: Party,
        /// The resolver's error.
        reason: String,
    },
    /// A `wrapped_quote`'s wrappers do not form one chain: wrapper `index` is not the agent
    /// the one before it (or the quote) passed the quote to.
    #[error(
        "wrapped_quote.wrappers[{index}]: `{affiliate_id}` is not `{expected}`, the next recipient named before it"
    )]
    BrokenChain {
        /// The wrapper's index.
        index: usize,
        /// The previous link's `next_recipient`.
        expected: String,
        /// This wrapper's `affiliate_id`.
        affiliate_id: String,
    },
    /// The chain ends at someone other than the agent checking it: it was cut short, or
    /// meant for another agent.
    #[error("the quote is addressed to `{addressed_to}`, not to `{recipient}`")]
    WrongRecipient {
        /// Who the last link names as next recipient.
        addressed_to: String,
        /// Who is checking.
        recipient: String,
    },
}

/// The exact bytes signed for `message`: the RFC 8785 canonical JSON of the message body
/// (the object under its key, without `$schema`) with the signature field removed.
pub fn signing_bytes<M: Signable>(message: &M) -> Result<Vec<u8>, CanonicalError> {
    body_bytes(message, M::SIGNATURE_FIELD)
}

pub(super) fn body_bytes<T: Serialize>(
    body: &T,
    signature_field: &str,
) -> Result<Vec<u8>, CanonicalError> {
    let mut value = serde_json::to_value(body).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove(signature_field);
    }
    Ok(canonical_json(&value)?.into_bytes())
}

/// Signs `message` with `key`, replacing any signature it had, and returns it. Sign last:
/// any later change to the message invalidates the signature.
///
/// ```
/// use aitp::capability::payments::{PaymentOption, Quote};
/// use aitp::sign::{self, SecretKey};
///
/// let key = SecretKey::from_seed(&[1; 32]);
/// let quote = Quote::builder("q_1", "shop.near", "A mug")
///     .option(PaymentOption::near_payment_channel("12.50".parse()?, "USD", "usdc.near", "shop.near"))
///     .build_unsigned();
/// let quote = sign::sign(&key, quote)?;
/// assert!(quote.merchant_signature.as_deref().unwrap().starts_with("ed25519:"));
/// sign::verify(&key.public_key(), &quote)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sign<M: Signable>(key: &SecretKey, mut message: M) -> Result<M, SignError> {
    let bytes = signing_bytes(&message)?;
    message.set_signature(key.sign(&bytes).to_string());
    Ok(message)
}

/// Checks that `key` signed `message`, as it is now.
///
/// This proves only that the holder of `key` signed; whether that key may speak for the
/// message's merchant or payer is the [`KeyResolver`](super::KeyResolver)'s question (see
/// [`verify_signed`](super::verify_signed)).
pub fn verify<M: Signable>(key: &PublicKey, message: &M) -> Result<(), VerifyError> {
    let path = format!("{}.{}", M::KEY, M::SIGNATURE_FIELD);
    let (bytes, signature) = prepared(&path, message.signature(), signing_bytes(message))?;
    if key.verify(&bytes, &signature) {
        Ok(())
    } else {
        Err(VerifyError::DoesNotVerify { path })
    }
}

/// Parses the signature and unwraps the bytes, naming `path` in errors.
pub(super) fn prepared(
    path: &str,
    signature: Option<&str>,
    bytes: Result<Vec<u8>, CanonicalError>,
) -> Result<(Vec<u8>, Signature), VerifyError> {
    let text = signature.ok_or_else(|| VerifyError::Missing { path: path.into() })?;
    let signature = text.parse().map_err(|error| VerifyError::Malformed {
        path: path.into(),
        error,
    })?;
    let bytes = bytes.map_err(|error| VerifyError::Canonical {
        path: path.into(),
        error,
    })?;
    Ok((bytes, signature))
}
