//! `wrapped_quote`: wrapping a quote as an affiliate, and checking the whole chain.

use serde_json::Value;

use super::{
    KeyResolver, Party, PublicKey, SecretKey, SignError, Signable, VerifyError, canonical_json,
    message::{prepared, signing_bytes},
    resolve::check_party,
};
use crate::capability::payments::{Quote, WrappedQuote, Wrapper};

/// The exact bytes the wrapper at `index` of `wrapped` signs: the RFC 8785 canonical JSON of
///
/// ```text
/// {"new_wrapper": <wrapper[index] without "signature">,
///  "original_quote": <the original quote, with its merchant_signature>,
///  "previous_wrappers": [<wrapper[0]> … <wrapper[index-1]>, each with its signature]}
/// ```
///
/// `None` when there is no wrapper `index`. This is the payload of the spec's pseudocode,
/// with JCS in place of its broken canonicalisation. Because each wrapper signs the
/// signatures before it, reordering, dropping or inserting a wrapper breaks every signature
/// after that point; only the *last* wrappers can be dropped without breaking a signature,
/// which [`verify_chain`] catches by checking that the chain ends at its caller (see its
/// rule on `next_recipient`).
pub fn wrapper_signing_bytes(
    wrapped: &WrappedQuote,
    index: usize,
) -> Option<Result<Vec<u8>, super::CanonicalError>> {
    let wrapper = wrapped.wrappers.get(index)?;
    Some(wrapper_bytes(
        &wrapped.original_quote,
        &wrapped.wrappers[..index],
        wrapper,
    ))
}

fn wrapper_bytes(
    quote: &Quote,
    previous: &[Wrapper],
    wrapper: &Wrapper,
) -> Result<Vec<u8>, super::CanonicalError> {
    let mut chain = ChainBytes::new(quote)?;
    for w in previous {
        chain.push(w)?;
    }
    chain.payload(wrapper)
}

/// The canonical pieces of a chain, each computed once. JCS is compositional: the payload of
/// wrapper `i` is the canonical quote and the canonical wrappers before it, put together
/// under keys that are already in order (`new_wrapper` < `original_quote` <
/// `previous_wrappers`), so a chain of `n` wrappers is serialised once, not `n` times.
struct ChainBytes {
    quote: String,
    previous: Vec<String>,
}

fn canonical_of<T: serde::Serialize>(value: &T) -> Result<String, super::CanonicalError> {
    canonical_json(&serde_json::to_value(value).unwrap_or(Value::Null))
}

impl ChainBytes {
    fn new(quote: &Quote) -> Result<Self, super::CanonicalError> {
        Ok(Self {
            quote: canonical_of(quote)?,
            previous: Vec::new(),
        })
    }

    fn push(&mut self, wrapper: &Wrapper) -> Result<(), super::CanonicalError> {
        self.previous.push(canonical_of(wrapper)?);
        Ok(())
    }

    fn payload(&self, wrapper: &Wrapper) -> Result<Vec<u8>, super::CanonicalError> {
        let mut new_wrapper = serde_json::to_value(wrapper).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut new_wrapper {
            map.remove("signature");
        }
        let new_wrapper = canonical_json(&new_wrapper)?;
        let mut out = String::with_capacity(
            new_wrapper.len()
                + self.quote.len()
                + self.previous.iter().map(|p| p.len() + 1).sum::<usize>()
                + 64,
        );
        out.push_str("{\"new_wrapper\":");
        out.push_str(&new_wrapper);
        out.push_str(",\"original_quote\":");
        out.push_str(&self.quote);
        out.push_str(",\"previous_wrappers\":[");
        out.push_str(&self.previous.join(","));
        out.push_str("]}");
        Ok(out.into_bytes())
    }
}

/// A quote as it reaches an agent: straight from the merchant, or wrapped by affiliates.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Offer {
    /// A merchant's `quote`.
    Quote(Quote),
    /// A `wrapped_quote`.
    Wrapped(WrappedQuote),
}

impl Offer {
    /// The merchant's quote inside.
    pub fn quote(&self) -> &Quote {
        match self {
            Offer::Quote(q) => q,
            Offer::Wrapped(w) => &w.original_quote,
        }
    }

    /// The wrappers, in order (none for a plain quote).
    pub fn wrappers(&self) -> &[Wrapper] {
        match self {
            Offer::Quote(_) => &[],
            Offer::Wrapped(w) => &w.wrappers,
        }
    }
}

impl From<Quote> for Offer {
    fn from(quote: Quote) -> Self {
        Offer::Quote(quote)
    }
}

impl From<WrappedQuote> for Offer {
    fn from(wrapped: WrappedQuote) -> Self {
        Offer::Wrapped(wrapped)
    }
}

/// Wraps `offer` as the affiliate `wrapper.affiliate_id`, signing `wrapper` with `key`
/// over the quote and the wrappers before it ([`wrapper_signing_bytes`]).
///
/// An agent passing a merchant's quote on adds itself this way; a plain quote becomes a
/// one-wrapper `wrapped_quote`, a wrapped one gets one wrapper more. Check what you
/// received with [`verify_chain`] first: wrapping does not check it.
///
/// ```
/// use aitp::capability::payments::{AffiliateRole, PaymentOption, Quote, Wrapper};
/// use aitp::sign::{self, SecretKey};
///
/// let shop = SecretKey::from_seed(&[1; 32]);
/// let assistant = SecretKey::from_seed(&[2; 32]);
/// let quote = sign::sign(&shop, Quote::builder("q_1", "shop.near", "A mug")
///     .next_recipient("assistant.near")
///     .option(PaymentOption::near_payment_channel("12.50".parse()?, "USD", "usdc.near", "shop.near"))
///     .build_unsigned())?;
/// let wrapper = Wrapper::new("assistant.near", AffiliateRole::PersonalAssistant, "buyer.near");
/// let wrapped = sign::wrap(&assistant, wrapper, quote)?;
/// assert_eq!(wrapped.wrappers.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn wrap(
    key: &SecretKey,
    mut wrapper: Wrapper,
    offer: impl Into<Offer>,
) -> Result<WrappedQuote, SignError> {
    let (quote, mut wrappers) = match offer.into() {
        Offer::Quote(q) => (q, Vec::new()),
        Offer::Wrapped(w) => (w.original_quote, w.wrappers),
    };
    let bytes = wrapper_bytes(&quote, &wrappers, &wrapper)?;
    wrapper.signature = Some(key.sign(&bytes).to_string());
    wrappers.push(wrapper);
    let mut wrapped = WrappedQuote::wrap(quote, wrappers.remove(0));
    for w in wrappers {
        wrapped = wrapped.add_wrapper(w);
    }
    Ok(wrapped)
}

/// Signs the last wrapper of `wrapped` (one added unsigned) with `key`.
pub fn sign_last_wrapper(
    key: &SecretKey,
    mut wrapped: WrappedQuote,
) -> Result<WrappedQuote, SignError> {
    let last = wrapped
        .wrappers
        .len()
        .checked_sub(1)
        .ok_or(SignError::NoWrapper)?;
    let bytes = wrapper_bytes(
        &wrapped.original_quote,
        &wrapped.wrappers[..last],
        &wrapped.wrappers[last],
    )?;
    wrapped.wrappers[last].signature = Some(key.sign(&bytes).to_string());
    Ok(wrapped)
}

/// The keys that verified an offer: the merchant's, then each wrapper's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedChain {
    /// The key that signed the quote, allowed for its merchant.
    pub merchant_key: PublicKey,
    /// The key of each wrapper, in order, allowed for its affiliate.
    pub wrapper_keys: Vec<PublicKey>,
}

/// Checks every signature of `offer` against the keys `resolver` allows, in order: the
/// merchant's on the quote, then each wrapper's (as its `affiliate_id`); and that the
/// wrappers form one chain, each wrapper being the `next_recipient` the link before it named
/// (the quote's own `next_recipient`, when set, names the first wrapper).
///
/// `recipient`, when given, is the agent checking (its own account id): the chain must end
/// at it — the last wrapper's `next_recipient`, or the quote's for an unwrapped quote,
/// when the quote names one. Without it a chain with its last wrapper cut off still
/// verifies, since it is exactly what the agents before that wrapper signed.
///
/// # Binding a quote to its wrappers *(this SDK's reading of the spec)*
///
/// AITP-01 gives every wrapper a required `next_recipient` and the quote an optional one,
/// and says an agent verifies "the whole signature chain"; it does not say what stops a hop
/// from removing wrappers. Every signature covers only what came before it, so a tail of
/// wrappers — down to all of them — can be cut off leaving good signatures. This SDK binds
/// each link to the next through `next_recipient`:
///
/// - A merchant names in its quote's `next_recipient` the agent it hands the quote to
///   (the sender of the message it answers). An affiliate names the agent it passes the
///   quote on to in its wrapper's `next_recipient`, as the spec requires.
/// - Wrapper `i`'s `affiliate_id` must be the `next_recipient` of the link before it
///   ([`VerifyError::BrokenChain`]), and the last link must name the agent checking
///   ([`VerifyError::WrongRecipient`]).
///
/// So a quote the shop handed to an assistant reaches the buyer either with the assistant's
/// wrapper (and the assistant's part of the `revenue_share`) or addressed to the assistant,
/// which the buyer refuses: stripping a wrapper is detected. A quote that names no
/// `next_recipient` is for whoever receives it, and its first wrappers can then be stripped
/// undetected; a merchant that shares revenue with affiliates should name one.
pub async fn verify_chain<R: KeyResolver>(
    resolver: &R,
    recipient: Option<&str>,
    offer: &Offer,
) -> Result<VerifiedChain, VerifyError> {
    let quote = offer.quote();
    let prefix = match offer {
        Offer::Quote(_) => "quote",
        Offer::Wrapped(_) => "wrapped_quote.original_quote",
    };
    let path = format!("{prefix}.merchant_signature");
    let (bytes, signature) = prepared(&path, quote.signature(), signing_bytes(quote))?;
    let merchant = Party::Merchant(quote.merchant_id.clone());
    let merchant_key = check_party(resolver, &path, &merchant, &bytes, &signature).await?;

    let wrappers = offer.wrappers();
    let mut addressed_to = quote.next_recipient.clone();
    let mut wrapper_keys = Vec::with_capacity(wrappers.len());
    let mut pieces = ChainBytes::new(quote);
    for (index, wrapper) in wrappers.iter().enumerate() {
        if let Some(expected) = addressed_to
            .as_ref()
            .filter(|e| **e != wrapper.affiliate_id)
        {
            return Err(VerifyError::BrokenChain {
                index,
                expected: expected.clone(),
                affiliate_id: wrapper.affiliate_id.clone(),
            });
        }
        let path = format!("wrapped_quote.wrappers[{index}].signature");
        let bytes = match &mut pieces {
            Ok(chain) => {
                let bytes = chain.payload(wrapper);
                chain.push(wrapper).map(|()| bytes).and_then(|b| b)
            }
            Err(e) => Err(e.clone()),
        };
        let (bytes, signature) = prepared(&path, wrapper.signature.as_deref(), bytes)?;
        let party = Party::Affiliate(wrapper.affiliate_id.clone());
        wrapper_keys.push(check_party(resolver, &path, &party, &bytes, &signature).await?);
        addressed_to = Some(wrapper.next_recipient.clone());
    }
    if let (Some(recipient), Some(addressed_to)) = (recipient, addressed_to) {
        if recipient != addressed_to {
            return Err(VerifyError::WrongRecipient {
                addressed_to,
                recipient: recipient.into(),
            });
        }
    }
    Ok(VerifiedChain {
        merchant_key,
        wrapper_keys,
    })
}
