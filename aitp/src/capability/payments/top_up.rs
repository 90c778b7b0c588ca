//! `top_up_request` and `top_up_response`: more funds for a payment channel.

#[allow(unused_imports)]
use super::*;

/// `top_up_request`: the merchant asks for more funds in a payment channel (metered use).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json",
    key = "top_up_request",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "TopUpRequest", extend("additionalProperties" = false))]
pub struct TopUpRequest {
    /// The channel to top up.
    pub channel_id: String,
    /// How much to add, exact. Optional in the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Amount")]
    pub amount: Option<Amount>,
    /// The currency code, such as `USD`.
    pub currency: String,
    /// Why, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub reason: Option<String>,
    /// The merchant asking.
    pub merchant_id: String,
    /// When (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub timestamp: String,
    /// The merchant's signature over the rest (see `aitp::sign`). Required
    /// by the schema; `None` until signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String")]
    pub merchant_signature: Option<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl TopUpRequest {
    /// A request by `merchant_id` to add `amount` in `currency` to `channel_id`, stamped now;
    /// unsigned until `aitp::sign::sign`.
    pub fn new(
        channel_id: impl Into<String>,
        amount: Amount,
        currency: impl Into<String>,
        merchant_id: impl Into<String>,
    ) -> Self {
        Self {
            channel_id: channel_id.into(),
            amount: Some(amount),
            currency: currency.into(),
            reason: None,
            merchant_id: merchant_id.into(),
            timestamp: now_rfc3339(),
            merchant_signature: None,
            extra: Map::new(),
        }
    }

    /// Sets the reason.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

impl Validate for TopUpRequest {
    fn check(&self, v: &mut Validator) {
        v.date_time("timestamp", &self.timestamp);
        v.required("merchant_signature", &self.merchant_signature);
        v.closed(&self.extra);
    }
}

/// `top_up_response`: the payer reports the funds it added to a channel.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json",
    key = "top_up_response",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "TopUpResponse", extend("additionalProperties" = false))]
pub struct TopUpResponse {
    /// The channel topped up.
    pub channel_id: String,
    /// How much was added, exact (required here, unlike in the request).
    pub amount: Amount,
    /// The currency code, such as `USD`.
    pub currency: String,
    /// The channel's balance after the top-up, exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Amount")]
    pub new_balance: Option<Amount>,
    /// Who paid.
    pub payer_id: String,
    /// When (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub timestamp: String,
    /// The payer's signature over the rest (see `aitp::sign`). Required by
    /// the schema; `None` until signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String")]
    pub payer_signature: Option<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl TopUpResponse {
    /// `payer_id` added `amount` in `currency` to `channel_id`, stamped now; unsigned until
    /// `aitp::sign::sign`.
    pub fn new(
        channel_id: impl Into<String>,
        amount: Amount,
        currency: impl Into<String>,
        payer_id: impl Into<String>,
    ) -> Self {
        Self {
            channel_id: channel_id.into(),
            amount,
            currency: currency.into(),
            new_balance: None,
            payer_id: payer_id.into(),
            timestamp: now_rfc3339(),
            payer_signature: None,
            extra: Map::new(),
        }
    }

    /// The answer to `request`: its channel and currency, `amount` added (what it asked
    /// for, or what the payer chose to add), paid by `payer_id`.
    pub fn for_request(
        request: &TopUpRequest,
        amount: Amount,
        payer_id: impl Into<String>,
    ) -> Self {
        Self::new(
            request.channel_id.clone(),
            amount,
            request.currency.clone(),
            payer_id,
        )
    }

    /// Sets the new balance.
    pub fn new_balance(mut self, new_balance: Amount) -> Self {
        self.new_balance = Some(new_balance);
        self
    }
}

impl Validate for TopUpResponse {
    fn check(&self, v: &mut Validator) {
        v.date_time("timestamp", &self.timestamp);
        v.required("payer_signature", &self.payer_signature);
        v.closed(&self.extra);
    }
}
