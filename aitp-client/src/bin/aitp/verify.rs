//! Whether a quote's merchant signature verified, as the quote confirmation shows it.
//!
//! A valid signature proves nothing unless the key is one the person trusts to speak for the
//! merchant, so a quote is "verified" only against a key given with `--merchant-key` for its
//! `merchant_id` (checked with `aitp::sign`, RFC 8785 canonical JSON and ed25519).

use aitp::{capability::payments::Quote, sign::PublicKey};

/// What is known of a quote's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signature {
    /// The quote carries no `merchant_signature`.
    Missing,
    /// Signed, but no key is trusted for its merchant, so it could not be checked.
    NotVerified(String),
    /// Checked against the merchant's key, and good.
    Verified,
    /// Checked, and wrong: the quote may not be the merchant's.
    Invalid(String),
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("none (the quote is not signed)"),
            Self::NotVerified(merchant) => write!(
                f,
                "not verified (no key for {merchant}: pass --merchant-key {merchant}=ed25519:...)"
            ),
            Self::Verified => f.write_str("verified"),
            Self::Invalid(why) => write!(f, "INVALID ({why})"),
        }
    }
}

/// What is known of `q`'s signature, given the merchants' keys the person trusts.
pub(crate) fn quote_signature(q: &Quote, keys: &[(String, PublicKey)]) -> Signature {
    if q.merchant_signature.is_none() {
        return Signature::Missing;
    }
    let trusted: Vec<&PublicKey> = keys
        .iter()
        .filter(|(merchant, _)| *merchant == q.merchant_id)
        .map(|(_, key)| key)
        .collect();
    if trusted.is_empty() {
        return Signature::NotVerified(q.merchant_id.clone());
    }
    let mut last = String::new();
    for key in trusted {
        match aitp::sign::verify(key, q) {
            Ok(()) => return Signature::Verified,
            Err(e) => last = e.to_string(),
        }
    }
    Signature::Invalid(last)
}
