//! `wrapped_quote`: a quote passed along a chain of agents, with affiliates and revenue shares.

#[allow(unused_imports)]
use super::*;

/// `wrapped_quote`: a [`Quote`] passed along a chain of agents, each adding itself (and maybe
/// others) as affiliates, and signing the chain so far.
///
/// Wrap and sign with `aitp::sign::wrap` (feature `signing`), check a chain with
/// `aitp::sign::verify_chain`:
///
/// ```
/// use aitp::capability::payments::{AffiliateRole, PaymentOption, Quote, WrappedQuote, Wrapper};
/// # #[cfg(feature = "signing")] {
/// use aitp::sign::{SecretKey, sign, wrap};
///
/// let store = SecretKey::from_seed(&[1; 32]);
/// let service = SecretKey::from_seed(&[2; 32]);
/// let quote = Quote::builder("q_1", "store.near", "Plan")
///     .option(PaymentOption::near_payment_channel("5".parse().unwrap(), "USD", "usdc.near", "store.near"))
///     .build_unsigned();
/// let quote = sign(&store, quote).unwrap();
/// let wrapper = Wrapper::new("service.near", AffiliateRole::Service, "assistant.near");
/// let wrapped: WrappedQuote = wrap(&service, wrapper, quote).unwrap();
/// assert!(wrapped.validate().is_ok());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json",
    key = "wrapped_quote",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "WrappedQuote", extend("additionalProperties" = false))]
pub struct WrappedQuote {
    /// The merchant's quote, unchanged (its signature must still verify).
    pub original_quote: Quote,
    /// The agents that wrapped it, in order.
    pub wrappers: Vec<Wrapper>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl WrappedQuote {
    /// `quote` wrapped once, by `wrapper`, unsigned (`aitp::sign::wrap` wraps and signs).
    pub fn wrap(quote: Quote, wrapper: Wrapper) -> Self {
        Self {
            original_quote: quote,
            wrappers: vec![wrapper],
            extra: Map::new(),
        }
    }

    /// Adds the next wrapper to the chain, unsigned (`aitp::sign::sign_last_wrapper` signs it).
    pub fn add_wrapper(mut self, wrapper: Wrapper) -> Self {
        self.wrappers.push(wrapper);
        self
    }

    /// Every affiliate of the chain: the quote's own, then each wrapper (as an affiliate in
    /// its role) followed by the affiliates it added.
    pub fn affiliates(&self) -> Vec<Affiliate> {
        let mut all: Vec<Affiliate> = self
            .original_quote
            .revenue_share
            .as_ref()
            .and_then(|r| r.affiliates.clone())
            .unwrap_or_default();
        for w in &self.wrappers {
            all.push(Affiliate::new(w.affiliate_id.clone(), w.role.clone()));
            all.extend(w.added_affiliates.iter().flatten().cloned());
        }
        all
    }

    /// Who should receive the quote next: the last wrapper's `next_recipient`.
    pub fn next_recipient(&self) -> Option<&str> {
        self.wrappers.last().map(|w| w.next_recipient.as_str())
    }
}

impl Validate for WrappedQuote {
    fn check(&self, v: &mut Validator) {
        v.nested("original_quote", &self.original_quote);
        v.field("wrappers", |v| self.wrappers.check(v));
        v.closed(&self.extra);
    }
}

/// One agent's addition to a [`WrappedQuote`].
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct Wrapper {
    /// The wrapping agent, itself an affiliate.
    pub affiliate_id: String,
    /// Its role.
    pub role: AffiliateRole,
    /// Other affiliates it adds (a discovery agent that referred the user, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<Affiliate>")]
    pub added_affiliates: Option<Vec<Affiliate>>,
    /// Who it passes the quote to.
    pub next_recipient: String,
    /// When it wrapped (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub timestamp: String,
    /// Its signature over the quote and the wrappers before it (`aitp::sign::wrapper_signing_bytes`). Required by the
    /// schema; `None` until signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String")]
    pub signature: Option<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Wrapper {
    /// A wrapper by `affiliate_id` in `role` passing the quote to `next_recipient`, stamped
    /// now, with an empty list of added affiliates; unsigned.
    pub fn new(
        affiliate_id: impl Into<String>,
        role: AffiliateRole,
        next_recipient: impl Into<String>,
    ) -> Self {
        Self {
            affiliate_id: affiliate_id.into(),
            role,
            added_affiliates: Some(Vec::new()),
            next_recipient: next_recipient.into(),
            timestamp: now_rfc3339(),
            signature: None,
            extra: Map::new(),
        }
    }

    /// Adds an affiliate.
    pub fn added_affiliate(mut self, affiliate: Affiliate) -> Self {
        self.added_affiliates
            .get_or_insert_with(Vec::new)
            .push(affiliate);
        self
    }
}

impl Validate for Wrapper {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "role", self.role.as_str(), ROLES);
        v.field("added_affiliates", |v| self.added_affiliates.check(v));
        v.date_time("timestamp", &self.timestamp);
        v.required("signature", &self.signature);
        v.closed(&self.extra);
    }
}
