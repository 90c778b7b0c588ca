//! `quote`: the merchant's signed offer, its payment options and methods, and the wire enums they use.

#[allow(unused_imports)]
use super::*;

wire_enum! {
    /// The kind of a payment method. The schema knows one: a NEAR payment channel.
    #[derive(Default)]
    pub enum PaymentMethodType : schema("PaymentMethodType", "Type of payment method") {
        /// `near_payment_channel`: funds move through a NEAR payment channel (one-time, metered
        /// or authorise-then-capture payments over the same channel).
        #[default]
        NearPaymentChannel = "near_payment_channel",
    }
}

wire_enum! {
    /// The part an affiliate played in bringing the payer to the merchant.
    pub enum AffiliateRole : schema("AffiliateRole", "Role of this affiliate in the transaction") {
        /// `personal_assistant`: the payer's own assistant.
        PersonalAssistant = "personal_assistant",
        /// `discovery`: an agent that helped find the merchant.
        Discovery = "discovery",
        /// `service`: a service agent between the assistant and the merchant.
        Service = "service",
        /// `other`: the schema's own catch-all role (a valid value, unlike [`AffiliateRole::Other`]).
        OtherRole = "other",
    }
}

/// Schema of `payment_confirmation.result`: unlike the legacy capability, AITP-01 allows
/// `pending`.
#[derive(JsonSchema)]
#[schemars(rename = "PaymentConfirmationResult")]
#[allow(dead_code)]
pub(super) enum ConfirmationResultSchema {
    #[schemars(rename = "success")]
    Success,
    #[schemars(rename = "failure")]
    Failure,
    #[schemars(rename = "pending")]
    Pending,
}

/// `quote`: a merchant's signed offer, payable in one of several ways.
///
/// Also the body of [`WrappedQuote::original_quote`]. Build one with [`Quote::builder`].
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json",
    key = "quote",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "Quote", extend("additionalProperties" = false))]
pub struct Quote {
    /// Identifies the quote; payments and confirmations repeat it.
    pub quote_id: String,
    /// Who is paid.
    pub merchant_id: String,
    /// What is being paid for, for people.
    pub description: String,
    /// Until when the quote holds (RFC 3339). Check it with [`Quote::is_expired`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub expiration: Option<String>,
    /// The next agent in the chain that should receive the quote (affiliate flows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub next_recipient: Option<String>,
    /// The ways to pay: an amount in a currency, and the methods that can carry it.
    pub payment_options: Vec<PaymentOption>,
    /// How much of the price goes to affiliates, and to whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "RevenueShare")]
    pub revenue_share: Option<RevenueShare>,
    /// The merchant's signature over the rest of the quote (see `aitp::sign`).
    /// Required by the schema; `None` until signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String")]
    pub merchant_signature: Option<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Quote {
    /// Starts a quote; add options, then finish with [`QuoteBuilder::build_unsigned`] and sign
    /// it (`aitp::sign::sign`).
    pub fn builder(
        quote_id: impl Into<String>,
        merchant_id: impl Into<String>,
        description: impl Into<String>,
    ) -> QuoteBuilder {
        QuoteBuilder {
            inner: Quote {
                quote_id: quote_id.into(),
                merchant_id: merchant_id.into(),
                description: description.into(),
                expiration: None,
                next_recipient: None,
                payment_options: Vec::new(),
                revenue_share: None,
                merchant_signature: None,
                extra: Map::new(),
            },
        }
    }

    /// Whether the quote has expired: its `expiration` is a date-time in the past. A quote
    /// without an (RFC 3339) expiration never expires by this test.
    pub fn is_expired(&self) -> bool {
        self.expiration
            .as_deref()
            .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
            .is_some_and(|e| e < chrono::Utc::now())
    }

    /// Whether a payment made with `method` matches one of this quote's options: same
    /// method type and token, same currency, and the same amount when the option names one
    /// (amounts compare exactly: `"10.0"` equals `"10"`).
    pub fn accepts(&self, method: &PaymentMethodUsed) -> bool {
        self.payment_options.iter().any(|o| {
            o.currency == method.currency
                && o.amount
                    .as_ref()
                    .is_none_or(|a| method.amount.as_ref() == Some(a))
                && o.payment_methods
                    .iter()
                    .any(|m| m.r#type == method.r#type && m.token == method.token)
        })
    }
}

impl Validate for Quote {
    fn check(&self, v: &mut Validator) {
        if let Some(e) = &self.expiration {
            v.date_time("expiration", e);
        }
        v.field("payment_options", |v| self.payment_options.check(v));
        v.field("revenue_share", |v| self.revenue_share.check(v));
        v.required("merchant_signature", &self.merchant_signature);
        v.closed(&self.extra);
    }
}

/// Builds a [`Quote`]; start from [`Quote::builder`].
#[derive(Debug, Clone)]
#[must_use = "finish with .build_unsigned(), then sign it (aitp::sign::sign)"]
pub struct QuoteBuilder {
    inner: Quote,
}

impl QuoteBuilder {
    /// Sets the expiration (RFC 3339, such as `2030-01-01T00:00:00Z`).
    pub fn expiration(mut self, expiration: impl Into<String>) -> Self {
        self.inner.expiration = Some(expiration.into());
        self
    }

    /// Sets the expiration to `duration` from now.
    pub fn expires_after(mut self, duration: std::time::Duration) -> Self {
        let at = chrono::TimeDelta::from_std(duration)
            .ok()
            .and_then(|d| chrono::Utc::now().checked_add_signed(d))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        self.inner.expiration = Some(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        self
    }

    /// Sets the next agent in the chain that should receive the quote.
    pub fn next_recipient(mut self, next_recipient: impl Into<String>) -> Self {
        self.inner.next_recipient = Some(next_recipient.into());
        self
    }

    /// Adds a way to pay.
    pub fn option(mut self, option: PaymentOption) -> Self {
        self.inner.payment_options.push(option);
        self
    }

    /// Sets the affiliates' share.
    pub fn revenue_share(mut self, revenue_share: RevenueShare) -> Self {
        self.inner.revenue_share = Some(revenue_share);
        self
    }

    /// The quote without a signature: not yet valid until signed (`aitp::sign::sign` with the
    /// merchant's key, or your own signer over `aitp::sign::signing_bytes`).
    pub fn build_unsigned(self) -> Quote {
        self.inner
    }
}

/// One way to pay a [`Quote`]: an amount in a currency, over one of several methods.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct PaymentOption {
    /// The amount, exact. Optional in the schema (metered payments name none up front).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Amount")]
    pub amount: Option<Amount>,
    /// The currency code, such as `USD`.
    pub currency: String,
    /// The methods that can carry this amount.
    pub payment_methods: Vec<PaymentMethod>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl PaymentOption {
    /// An option of `amount` in `currency`, with no methods yet (add them with
    /// [`PaymentOption::method`]).
    pub fn new(amount: Amount, currency: impl Into<String>) -> Self {
        Self {
            amount: Some(amount),
            currency: currency.into(),
            payment_methods: Vec::new(),
            extra: Map::new(),
        }
    }

    /// `amount` in `currency`, paid in `token` (a token contract, such as `usdc.near`) over a
    /// NEAR payment channel to `recipient`.
    pub fn near_payment_channel(
        amount: Amount,
        currency: impl Into<String>,
        token: impl Into<String>,
        recipient: impl Into<String>,
    ) -> Self {
        Self::new(amount, currency).method(PaymentMethod::near_payment_channel(token, recipient))
    }

    /// Adds a method.
    pub fn method(mut self, method: PaymentMethod) -> Self {
        self.payment_methods.push(method);
        self
    }
}

impl Validate for PaymentOption {
    fn check(&self, v: &mut Validator) {
        v.field("payment_methods", |v| self.payment_methods.check(v));
        v.closed(&self.extra);
    }
}

/// How a [`PaymentOption`] can be paid: a method type, a token and a recipient.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct PaymentMethod {
    /// The kind of method (`near_payment_channel`).
    #[serde(rename = "type")]
    pub r#type: PaymentMethodType,
    /// The token contract, such as `usdc.near`.
    pub token: String,
    /// The account or address that receives the funds.
    pub recipient: String,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl PaymentMethod {
    /// Payment in `token` over a NEAR payment channel to `recipient`.
    pub fn near_payment_channel(token: impl Into<String>, recipient: impl Into<String>) -> Self {
        Self {
            r#type: PaymentMethodType::NearPaymentChannel,
            token: token.into(),
            recipient: recipient.into(),
            extra: Map::new(),
        }
    }
}

impl Validate for PaymentMethod {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "type", self.r#type.as_str(), METHOD_TYPES);
        v.closed(&self.extra);
    }
}

/// The affiliates' cut of a [`Quote`].
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct RevenueShare {
    /// The share of the price for all affiliates together, in basis points (300 = 3%).
    pub affiliate_share_bps: i64,
    /// Who shares it (wrappers add more along the way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<Affiliate>")]
    pub affiliates: Option<Vec<Affiliate>>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl RevenueShare {
    /// A share of `affiliate_share_bps` basis points, with an (empty) list of affiliates.
    pub fn new(affiliate_share_bps: i64) -> Self {
        Self {
            affiliate_share_bps,
            affiliates: Some(Vec::new()),
            extra: Map::new(),
        }
    }

    /// Adds an affiliate.
    pub fn affiliate(mut self, affiliate: Affiliate) -> Self {
        self.affiliates.get_or_insert_with(Vec::new).push(affiliate);
        self
    }
}

impl Validate for RevenueShare {
    fn check(&self, v: &mut Validator) {
        v.field("affiliates", |v| self.affiliates.check(v));
        v.closed(&self.extra);
    }
}

/// An agent that gets part of the affiliates' share.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct Affiliate {
    /// Who (an account id).
    pub id: String,
    /// The part it played.
    pub role: AffiliateRole,
    /// Its weight relative to the other affiliates (at least 1; equal shares when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i64", range(min = 1))]
    pub weight: Option<i64>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Affiliate {
    /// The affiliate `id` in `role`.
    pub fn new(id: impl Into<String>, role: AffiliateRole) -> Self {
        Self {
            id: id.into(),
            role,
            weight: None,
            extra: Map::new(),
        }
    }

    /// Sets the relative weight (at least 1).
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = Some(weight.into());
        self
    }
}

impl Validate for Affiliate {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "role", self.role.as_str(), ROLES);
        if self.weight.is_some_and(|w| w < 1) {
            v.field("weight", |v| v.error("must be at least 1"));
        }
        v.closed(&self.extra);
    }
}
