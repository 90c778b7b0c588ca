//! Whether a quote's merchant signature verified, as the quote confirmation shows it.
//!
//! The SDK's signature checking (`aitp::sign`) is being built; until it lands this reports
//! what it can tell without it. When it lands, [`quote_signature`] is the one place to call it
//! (with the merchant's key found from `merchant_id`) and to return [`Signature::Verified`] or
//! [`Signature::Invalid`].

use aitp::capability::payments::Quote;

/// What is known of a quote's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signature {
    /// The quote carries no `merchant_signature`.
    Missing,
    /// Signed, but not checked: this build cannot verify signatures.
    NotVerified,
    /// Checked against the merchant's key, and good.
    #[allow(dead_code)]
    Verified,
    /// Checked, and wrong: the quote may not be the merchant's.
    #[allow(dead_code)]
    Invalid(String),
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("none (the quote is not signed)"),
            Self::NotVerified => f.write_str("not verified"),
            Self::Verified => f.write_str("verified"),
            Self::Invalid(why) => write!(f, "INVALID ({why})"),
        }
    }
}

/// What is known of `q`'s signature.
pub(crate) fn quote_signature(q: &Quote) -> Signature {
    match &q.merchant_signature {
        None => Signature::Missing,
        Some(_) => Signature::NotVerified,
    }
}
