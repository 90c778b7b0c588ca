//! Passing a merchant's quote on as an affiliate (AITP-01 `wrapped_quote`): check every
//! signature of what arrived, add our wrapper, sign it.

use std::{fmt, sync::Arc};

use aitp::{
    agent::{BoxFuture, Reply, ThreadCtx},
    capability::{
        Body, Envelope,
        errors::{ErrorCode, ErrorReport},
        payments::{Affiliate, AffiliateRole, WrappedQuote, Wrapper},
    },
    sign::{
        KeyResolver, Offer, PublicKey, SecretKey, SignError, VerifiedChain, VerifyError,
        verify_chain, wrap,
    },
};

/// Who we are when a quote passes through us on its way to the payer: our affiliate id and
/// role, the key our wrappers are signed with, the affiliates we add, and whose keys we trust
/// to have signed what we receive.
///
/// An agent between a merchant and the payer (a personal assistant, a discovery or service
/// agent) earns its part of the merchant's `revenue_share` by wrapping the merchant's quote:
/// the payer then sees a `wrapped_quote`, the original quote untouched (so the merchant's
/// signature still verifies) with one wrapper per agent, each signed over the quote and the
/// wrappers before it ([`aitp::sign::wrapper_signing_bytes`]). The payment still names the
/// merchant's quote id and goes to the recipient the merchant named; the affiliates' share is
/// paid out of it by the payment channel.
///
/// Nothing unverified is ever wrapped: [`Affiliation::wrap`] first checks, with
/// [`verify_chain`], the merchant's signature and every wrapper already there against the keys
/// `resolver` allows. Wrapping a forged quote would lend it our signature.
///
/// Use it with [`Forwarder::affiliate`](crate::Forwarder::affiliate), which wraps every quote
/// the remote agent sends back, or on its own.
///
/// ```
/// use aitp_client::aitp::sign::{ConfiguredKeys, SecretKey};
/// use aitp_client::Affiliation;
///
/// let shop_key = SecretKey::from_seed(&[1; 32]).public_key();
/// let my_key = SecretKey::from_seed(&[2; 32]);
/// let trusted = ConfiguredKeys::new().allow("shop.near", shop_key);
/// let me = Affiliation::new("assistant.near", my_key, trusted);
/// assert_eq!(me.affiliate_id(), "assistant.near");
/// ```
#[derive(Clone)]
pub struct Affiliation {
    affiliate_id: String,
    role: AffiliateRole,
    key: SecretKey,
    added: Vec<Affiliate>,
    checker: Arc<dyn CheckChain>,
}

impl fmt::Debug for Affiliation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Affiliation")
            .field("affiliate_id", &self.affiliate_id)
            .field("role", &self.role)
            .field("public_key", &self.key.public_key())
            .field("added", &self.added)
            .finish_non_exhaustive()
    }
}

/// Why a quote was not passed on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AffiliateError {
    /// A signature of what arrived does not verify against the trusted keys (or is missing,
    /// or the chain is broken): it is not wrapped.
    #[error("the quote received was not passed on: {0}")]
    Unverified(#[from] VerifyError),
    /// Our wrapper could not be signed (the quote has no canonical form).
    #[error("the quote could not be wrapped: {0}")]
    Sign(#[from] SignError),
}

/// [`verify_chain`] over a resolver whose type is forgotten, so that [`Affiliation`] (and the
/// [`Forwarder`](crate::Forwarder) holding it) need no type parameter: [`KeyResolver`]'s
/// futures are `impl Future`, so it cannot be a trait object itself.
trait CheckChain: Send + Sync {
    fn check<'a>(
        &'a self,
        recipient: &'a str,
        offer: &'a Offer,
    ) -> BoxFuture<'a, Result<VerifiedChain, VerifyError>>;
}

struct Resolved<R>(R);

impl<R: KeyResolver + 'static> CheckChain for Resolved<R> {
    fn check<'a>(
        &'a self,
        recipient: &'a str,
        offer: &'a Offer,
    ) -> BoxFuture<'a, Result<VerifiedChain, VerifyError>> {
        Box::pin(verify_chain(&self.0, Some(recipient), offer))
    }
}

impl Affiliation {
    /// We are `affiliate_id`, a [`AffiliateRole::PersonalAssistant`], signing wrappers with
    /// `key`; `resolver` says which keys may sign for the merchants (and the affiliates before
    /// us) whose quotes we pass on.
    pub fn new(
        affiliate_id: impl Into<String>,
        key: SecretKey,
        resolver: impl KeyResolver + 'static,
    ) -> Self {
        Self {
            affiliate_id: affiliate_id.into(),
            role: AffiliateRole::PersonalAssistant,
            key,
            added: Vec::new(),
            checker: Arc::new(Resolved(resolver)),
        }
    }

    /// Our role in the chain (default: personal assistant).
    pub fn role(mut self, role: AffiliateRole) -> Self {
        self.role = role;
        self
    }

    /// An affiliate we add to each wrapper (a discovery agent that referred the payer, say),
    /// sharing in the revenue by its weight.
    pub fn added_affiliate(mut self, affiliate: Affiliate) -> Self {
        self.added.push(affiliate);
        self
    }

    /// Our affiliate id.
    pub fn affiliate_id(&self) -> &str {
        &self.affiliate_id
    }

    /// The public key our wrappers verify under: what the payer must trust for us.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Checks `offer` (a merchant's quote, or one already wrapped) and wraps it, passing it
    /// to `next_recipient`. The chain received must verify and, when it names whom it is
    /// for, be for us.
    pub async fn wrap(
        &self,
        offer: impl Into<Offer>,
        next_recipient: &str,
    ) -> Result<WrappedQuote, AffiliateError> {
        let offer = offer.into();
        self.checker.check(&self.affiliate_id, &offer).await?;
        let mut wrapper = Wrapper::new(&self.affiliate_id, self.role.clone(), next_recipient);
        for a in &self.added {
            wrapper = wrapper.added_affiliate(a.clone());
        }
        Ok(wrap(&self.key, wrapper, offer)?)
    }

    /// `replies` with every `quote` and `wrapped_quote` wrapped for `next_recipient`. One
    /// that does not verify is replaced by an `error` message saying why (a `handler_error`
    /// about the `quote`), so the payer never sees it and is not left waiting.
    pub async fn pass_on(&self, next_recipient: &str, replies: Vec<Reply>) -> Vec<Reply> {
        let mut out = Vec::with_capacity(replies.len());
        for reply in replies {
            let offer = match &reply {
                Reply::Message(m) => match m.body() {
                    Body::Quote(q) => Some((m, Offer::from(q.clone()))),
                    Body::WrappedQuote(w) => Some((m, Offer::from(w.clone()))),
                    _ => None,
                },
                _ => None,
            };
            let Some((m, offer)) = offer else {
                out.push(reply);
                continue;
            };
            match self.wrap(offer, next_recipient).await {
                Ok(wrapped) => out.push(Reply::Message(Envelope::from(wrapped))),
                Err(e) => {
                    tracing::warn!(affiliate = %self.affiliate_id, error = %e, "quote withheld");
                    out.push(Reply::error(
                        ErrorReport::new(ErrorCode::HandlerError, e.to_string())
                            .capability(m.schema())
                            .key(m.key()),
                    ));
                }
            }
        }
        out
    }

    /// Whom a quote passing through us in `cx`'s thread goes to next: the sender of the
    /// message being answered (its `metadata.actor`), else the first actor of the thread
    /// that is neither us nor `local_actor` (the agent's own actor id), else `"user"`.
    pub fn next_recipient(&self, cx: &ThreadCtx, local_actor: &str) -> String {
        let us = |id: &str| id == self.affiliate_id || id == local_actor;
        if let Some(sender) = cx.message().actor().filter(|a| !us(a)) {
            return sender.to_owned();
        }
        cx.actors()
            .iter()
            .map(|a| a.id.as_str())
            .find(|id| !id.is_empty() && !us(id))
            .unwrap_or("user")
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use aitp::{
        capability::payments::{PaymentOption, Quote},
        sign::{self, ConfiguredKeys},
    };

    use super::*;

    fn shop() -> SecretKey {
        SecretKey::from_seed(&[1; 32])
    }

    fn me() -> Affiliation {
        Affiliation::new(
            "pa.near",
            SecretKey::from_seed(&[2; 32]),
            ConfiguredKeys::new().allow("shop.near", shop().public_key()),
        )
        .added_affiliate(Affiliate::new("d.near", AffiliateRole::Discovery).weight(2))
    }

    fn quote(signer: &SecretKey) -> Quote {
        let option =
            PaymentOption::near_payment_channel("4.20".parse().unwrap(), "USD", "usdc.near", "s");
        sign::sign(
            signer,
            Quote::builder("q_1", "shop.near", "a hat")
                .option(option)
                .build_unsigned(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_verified_quote_is_wrapped_and_signed() {
        let me = me();
        let wrapped = me.wrap(quote(&shop()), "ada.near").await.unwrap();
        let w = &wrapped.wrappers[0];
        assert_eq!(
            (w.affiliate_id.as_str(), w.next_recipient.as_str()),
            ("pa.near", "ada.near")
        );
        assert_eq!(w.added_affiliates.as_ref().unwrap()[0].id, "d.near");
        let keys = ConfiguredKeys::new()
            .allow("shop.near", shop().public_key())
            .allow("pa.near", me.public_key());
        let chain = verify_chain(&keys, Some("ada.near"), &Offer::from(wrapped))
            .await
            .unwrap();
        assert_eq!(chain.wrapper_keys, [me.public_key()]);
    }

    #[tokio::test]
    async fn an_unverified_quote_is_never_wrapped() {
        let me = me();
        // Signed by someone other than the shop.
        let forged = quote(&SecretKey::from_seed(&[9; 32]));
        assert!(matches!(
            me.wrap(forged.clone(), "ada.near").await,
            Err(AffiliateError::Unverified(VerifyError::BadSignature { .. }))
        ));
        // Meant for another agent.
        let mut elsewhere = quote(&shop());
        elsewhere.next_recipient = Some("other.near".into());
        let elsewhere = sign::sign(&shop(), elsewhere).unwrap();
        assert!(matches!(
            me.wrap(elsewhere, "ada.near").await,
            Err(AffiliateError::Unverified(
                VerifyError::WrongRecipient { .. }
            ))
        ));
        // In replies, it becomes an error message; the rest passes unchanged.
        let replies = vec![
            Reply::Text("here".into()),
            Reply::Message(Envelope::from(forged)),
        ];
        let out = me.pass_on("ada.near", replies).await;
        assert!(matches!(&out[0], Reply::Text(t) if t == "here"));
        let Reply::Message(m) = &out[1] else {
            panic!("{out:?}")
        };
        let report = m.message::<ErrorReport>().unwrap().unwrap();
        assert_eq!(report.code, ErrorCode::HandlerError);
        assert!(
            report.message.contains("not passed on"),
            "{}",
            report.message
        );
    }
}
