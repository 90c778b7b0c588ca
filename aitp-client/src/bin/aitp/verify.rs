//! Whether a quote's signatures verified, as the quote confirmation shows it.
//!
//! A valid signature proves nothing unless the key is one the person trusts to speak for the
//! account that signed, so a quote is "verified" only against keys given with
//! `--merchant-key` for its `merchant_id` and, for a `wrapped_quote`, for each wrapper's
//! `affiliate_id`. The check is `aitp::sign::verify_chain`: the merchant's signature, then
//! each wrapper's over the quote and the wrappers before it, the wrappers forming one chain
//! that ends at us.

use aitp::{
    capability::payments::{PaymentConfirmation, WrappedQuote},
    sign::{ConfiguredKeys, Offer, PublicKey, VerifyError, verify_chain},
};

/// What is known of an offer's signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signature {
    /// A signature is missing (the JSON path of the field).
    Missing(String),
    /// Signed, but no key is trusted for this account, so it could not be checked.
    NotVerified(String),
    /// Every signature checked against a trusted key, and good.
    Verified,
    /// Checked, and wrong: the quote may not be what its merchant (or an affiliate) signed.
    Invalid(String),
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(path) => write!(f, "none ({path} is missing: not signed)"),
            Self::NotVerified(account) => write!(
                f,
                "not verified (no key for {account}: pass --merchant-key {account}=ed25519:...)"
            ),
            Self::Verified => f.write_str("verified"),
            Self::Invalid(why) => write!(f, "INVALID ({why})"),
        }
    }
}

/// What is known of `offer`'s signatures, given the keys the person trusts; `recipient` is
/// who we are to the agents that passed the quote on (the chain must end at us).
pub(crate) async fn offer_signature(
    offer: &Offer,
    keys: &[(String, PublicKey)],
    recipient: &str,
) -> Signature {
    let trusted = keys
        .iter()
        .fold(ConfiguredKeys::new(), |k, (account, key)| {
            k.allow(account.clone(), *key)
        });
    match verify_chain(&trusted, Some(recipient), offer).await {
        Ok(_) => Signature::Verified,
        Err(VerifyError::Missing { path }) => Signature::Missing(path),
        Err(VerifyError::UnknownSigner { party, .. }) => {
            Signature::NotVerified(party.id().to_owned())
        }
        Err(e) => Signature::Invalid(e.to_string()),
    }
}

/// What is known of the signature of wrapper `index` alone (over the quote and the wrappers
/// before it), against the keys trusted for its affiliate: shown beside each wrapper, while
/// [`offer_signature`] judges the whole chain.
pub(crate) fn wrapper_signature(
    wrapped: &WrappedQuote,
    index: usize,
    keys: &[(String, PublicKey)],
) -> Signature {
    let path = format!("wrapped_quote.wrappers[{index}].signature");
    let Some(w) = wrapped.wrappers.get(index) else {
        return Signature::Missing(path);
    };
    let Some(text) = w.signature.as_deref() else {
        return Signature::Missing(path);
    };
    let trusted: Vec<&PublicKey> = keys
        .iter()
        .filter(|(account, _)| *account == w.affiliate_id)
        .map(|(_, key)| key)
        .collect();
    if trusted.is_empty() {
        return Signature::NotVerified(w.affiliate_id.clone());
    }
    let signature: aitp::sign::Signature = match text.parse() {
        Ok(s) => s,
        Err(e) => return Signature::Invalid(format!("{path}: {e}")),
    };
    let bytes = match aitp::sign::wrapper_signing_bytes(wrapped, index) {
        Some(Ok(bytes)) => bytes,
        Some(Err(e)) => return Signature::Invalid(format!("{path}: {e}")),
        None => return Signature::Missing(path),
    };
    if trusted.iter().any(|key| key.verify(&bytes, &signature)) {
        Signature::Verified
    } else {
        Signature::Invalid(format!("{path} does not verify for {}", w.affiliate_id))
    }
}

/// What is known of a `payment_confirmation`'s signature: it must be the merchant's whose
/// quote we paid (`merchant`, `None` when we paid no quote with this id in this session).
pub(crate) fn confirmation_signature(
    c: &PaymentConfirmation,
    merchant: Option<&str>,
    keys: &[(String, PublicKey)],
) -> Signature {
    if c.merchant_signature.is_none() {
        return Signature::Missing("payment_confirmation.merchant_signature".to_owned());
    }
    let Some(merchant) = merchant else {
        return Signature::NotVerified(format!("the merchant of quote {}", c.quote_id));
    };
    let trusted: Vec<&PublicKey> = keys
        .iter()
        .filter(|(account, _)| account == merchant)
        .map(|(_, key)| key)
        .collect();
    if trusted.is_empty() {
        return Signature::NotVerified(merchant.to_owned());
    }
    let mut last = String::new();
    for key in trusted {
        match aitp::sign::verify(key, c) {
            Ok(()) => return Signature::Verified,
            Err(e) => last = e.to_string(),
        }
    }
    Signature::Invalid(last)
}

#[cfg(test)]
mod tests {
    use aitp::{
        capability::payments::{AffiliateRole, PaymentOption, Quote, Wrapper},
        sign::{self, SecretKey},
    };

    use super::*;

    fn quote(shop: &SecretKey) -> Quote {
        let option =
            PaymentOption::near_payment_channel("9.99".parse().unwrap(), "USD", "usdc.near", "s");
        sign::sign(
            shop,
            Quote::builder("q_1", "shop.near", "a hat")
                .option(option)
                .build_unsigned(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_chain_is_verified_only_against_trusted_keys() {
        let shop = SecretKey::from_seed(&[1; 32]);
        let assistant = SecretKey::from_seed(&[2; 32]);
        let wrapper = Wrapper::new("pa.near", AffiliateRole::PersonalAssistant, "ada.near");
        let wrapped = Offer::from(sign::wrap(&assistant, wrapper, quote(&shop)).unwrap());
        let both = [
            ("shop.near".to_owned(), shop.public_key()),
            ("pa.near".to_owned(), assistant.public_key()),
        ];
        assert_eq!(
            offer_signature(&wrapped, &both, "ada.near").await,
            Signature::Verified
        );
        // The affiliate's key is not given: its wrapper could not be checked.
        assert_eq!(
            offer_signature(&wrapped, &both[..1], "ada.near").await,
            Signature::NotVerified("pa.near".to_owned())
        );
        let Offer::Wrapped(w) = &wrapped else {
            unreachable!()
        };
        assert_eq!(wrapper_signature(w, 0, &both), Signature::Verified);
        assert_eq!(
            wrapper_signature(w, 0, &both[..1]),
            Signature::NotVerified("pa.near".to_owned())
        );
        let mut forged = w.clone();
        forged.wrappers[0].next_recipient = "bob.near".to_owned();
        assert!(matches!(
            wrapper_signature(&forged, 0, &both),
            Signature::Invalid(_)
        ));
        // Meant for someone else.
        assert!(matches!(
            offer_signature(&wrapped, &both, "bob.near").await,
            Signature::Invalid(_)
        ));
        // Changed on the way: the merchant's signature breaks.
        let Offer::Wrapped(mut changed) = wrapped else {
            unreachable!()
        };
        changed.original_quote.description = "two hats".to_owned();
        let shown = offer_signature(&Offer::from(changed), &both, "ada.near").await;
        assert!(
            shown
                .to_string()
                .starts_with("INVALID (wrapped_quote.original_quote"),
            "{shown}"
        );
        let mut unsigned = quote(&shop);
        unsigned.merchant_signature = None;
        assert!(matches!(
            offer_signature(&Offer::from(unsigned), &both, "ada.near").await,
            Signature::Missing(_)
        ));
    }

    /// The shop handed its quote to the assistant (`next_recipient`); a hop that strips the
    /// assistant's wrapper leaves good signatures, but the quote is not addressed to us.
    #[tokio::test]
    async fn a_quote_stripped_of_its_wrapper_is_shown_invalid() {
        let shop = SecretKey::from_seed(&[1; 32]);
        let assistant = SecretKey::from_seed(&[2; 32]);
        let mut handed = quote(&shop);
        handed.next_recipient = Some("pa.near".to_owned());
        let handed = sign::sign(&shop, handed).unwrap();
        let wrapper = Wrapper::new("pa.near", AffiliateRole::PersonalAssistant, "ada.near");
        let wrapped = sign::wrap(&assistant, wrapper, handed).unwrap();
        let both = [
            ("shop.near".to_owned(), shop.public_key()),
            ("pa.near".to_owned(), assistant.public_key()),
        ];
        assert_eq!(
            offer_signature(&Offer::from(wrapped.clone()), &both, "ada.near").await,
            Signature::Verified
        );
        let stripped = Offer::from(wrapped.original_quote);
        let shown = offer_signature(&stripped, &both, "ada.near").await;
        assert_eq!(
            shown.to_string(),
            "INVALID (the quote is addressed to `pa.near`, not to `ada.near`)"
        );
    }
}
