//! `payment` and `payment_confirmation`: the payer pays a quote; the merchant answers.

#[allow(unused_imports)]
use super::*;

/// `payment`: the payer pays a quote, naming the channel the funds move through.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json",
    key = "payment",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "Payment", extend("additionalProperties" = false))]
pub struct Payment {
    /// The quote paid.
    pub quote_id: String,
    /// How it was paid.
    pub payment_method: PaymentMethodUsed,
    /// Who paid.
    pub payer_id: String,
    /// When (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub timestamp: String,
    /// The payer's signature over the rest (see `aitp::sign`). Required by the
    /// schema; `None` until signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String")]
    pub payer_signature: Option<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Payment {
    /// A payment of `quote` by `payer_id` with `payment_method`, stamped now; unsigned until
    /// `aitp::sign::sign`.
    pub fn new(
        quote: &Quote,
        payer_id: impl Into<String>,
        payment_method: PaymentMethodUsed,
    ) -> Self {
        Self {
            quote_id: quote.quote_id.clone(),
            payment_method,
            payer_id: payer_id.into(),
            timestamp: now_rfc3339(),
            payer_signature: None,
            extra: Map::new(),
        }
    }
}

impl Validate for Payment {
    fn check(&self, v: &mut Validator) {
        v.nested("payment_method", &self.payment_method);
        v.date_time("timestamp", &self.timestamp);
        v.required("payer_signature", &self.payer_signature);
        v.closed(&self.extra);
    }
}

/// `payment.payment_method`: the method a [`Payment`] used, with its channel and amount.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct PaymentMethodUsed {
    /// The kind of method (`near_payment_channel`).
    #[serde(rename = "type")]
    pub r#type: PaymentMethodType,
    /// The token contract, such as `usdc.near`.
    pub token: String,
    /// The payment channel the funds move through.
    pub channel_id: String,
    /// The amount paid, exact. Optional in the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Amount")]
    pub amount: Option<Amount>,
    /// The currency code, such as `USD`.
    pub currency: String,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl PaymentMethodUsed {
    /// `amount` in `currency`, paid in `token` over the NEAR payment channel `channel_id`.
    pub fn near_payment_channel(
        token: impl Into<String>,
        channel_id: impl Into<String>,
        amount: Amount,
        currency: impl Into<String>,
    ) -> Self {
        Self {
            r#type: PaymentMethodType::NearPaymentChannel,
            token: token.into(),
            channel_id: channel_id.into(),
            amount: Some(amount),
            currency: currency.into(),
            extra: Map::new(),
        }
    }

    /// Pays `option` of a quote with its `method` over `channel_id`: amount, currency, type
    /// and token are copied, so the payment matches the quote ([`Quote::accepts`]).
    pub fn for_option(
        option: &PaymentOption,
        method: &PaymentMethod,
        channel_id: impl Into<String>,
    ) -> Self {
        Self {
            r#type: method.r#type.clone(),
            token: method.token.clone(),
            channel_id: channel_id.into(),
            amount: option.amount.clone(),
            currency: option.currency.clone(),
            extra: Map::new(),
        }
    }
}

impl Validate for PaymentMethodUsed {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "type", self.r#type.as_str(), METHOD_TYPES);
        v.closed(&self.extra);
    }
}

/// `payment_confirmation`: the merchant's answer to a [`Payment`].
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json",
    key = "payment_confirmation",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "PaymentConfirmation", extend("additionalProperties" = false))]
pub struct PaymentConfirmation {
    /// The quote paid.
    pub quote_id: String,
    /// The merchant's id for this payment.
    pub payment_id: String,
    /// `success`, `failure` or `pending`.
    #[schemars(with = "ConfirmationResultSchema")]
    pub result: PaymentOutcome,
    /// When the payment was processed (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub timestamp: String,
    /// A note for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub message: Option<String>,
    /// Labelled facts about the payment (order number, receipt link …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<PaymentDetail>")]
    pub details: Option<Vec<PaymentDetail>>,
    /// The merchant's signature over the rest (see `aitp::sign`).
    /// Required by the schema; `None` until signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String")]
    pub merchant_signature: Option<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl PaymentConfirmation {
    /// The confirmation of `payment` (its quote) under the merchant's `payment_id`, with
    /// `outcome`, stamped now; unsigned until `aitp::sign::sign`.
    pub fn for_payment(
        payment: &Payment,
        payment_id: impl Into<String>,
        outcome: PaymentOutcome,
    ) -> Self {
        Self {
            quote_id: payment.quote_id.clone(),
            payment_id: payment_id.into(),
            result: outcome,
            timestamp: now_rfc3339(),
            message: None,
            details: None,
            merchant_signature: None,
            extra: Map::new(),
        }
    }

    /// Sets the message.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Adds a detail.
    pub fn detail(mut self, detail: PaymentDetail) -> Self {
        self.details.get_or_insert_with(Vec::new).push(detail);
        self
    }
}

impl Validate for PaymentConfirmation {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "result", self.result.as_str(), RESULTS);
        v.date_time("timestamp", &self.timestamp);
        v.field("details", |v| self.details.check(v));
        v.required("merchant_signature", &self.merchant_signature);
        v.closed(&self.extra);
    }
}
