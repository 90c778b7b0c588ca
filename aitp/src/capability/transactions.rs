//! The legacy AITP-04 *Transactions* capability: what NEAR AI's agents and UI called
//! "payments" (`https://aitp.dev/v1/payments/schema.json`).
//!
//! Removed from the spec on 2025-02-25 in favour of AITP-01, but it is what real clients
//! speak: a `quote` with `payment_plans` and JSON-number amounts, a `payment_authorization`
//! after the payer's on-chain transfer, and the payee's `payment_result`. The same quote shape
//! is embedded in AITP-02 product options. Never confuse it with AITP-01's `payments::Quote`.
//!
//! Amounts are [`DecimalNumber`]s: JSON numbers kept digit-exact.
//!
//! ```
//! use aitp::capability::transactions::Quote;
//! use aitp::money::DecimalNumber;
//!
//! let q = Quote::one_time("q_1", "shop.near", "19.99".parse().unwrap(), "2030-01-01T00:00:00Z");
//! let json = serde_json::to_string(&q).unwrap();
//! assert!(json.contains(r#""amount":19.99"#));
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

use crate::{
    CapabilityMessage, OpenDeserialize,
    money::DecimalNumber,
    validate::{Validate, Validator, check_enum},
};

/// `quote` (legacy shape): a price for something, payable under one of several plans.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-transactions/v1.0.0/schema.json",
    key = "quote",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(rename = "LegacyQuote", title = "LegacyQuote")]
pub struct Quote {
    /// Always `"Quote"` (required by the schema; `None` when a peer left it out).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "QuoteTypeSchema")]
    pub r#type: Option<String>,
    /// Identifies the quote; payments refer to it.
    pub quote_id: String,
    /// Who is paid (a NEAR account).
    pub payee_id: String,
    /// The ways to pay.
    pub payment_plans: Vec<PaymentPlan>,
    /// Until when the quote holds (RFC 3339).
    pub valid_until: String,
    /// Fields the schema does not define, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

#[derive(JsonSchema)]
#[schemars(rename = "QuoteType")]
#[allow(dead_code)]
enum QuoteTypeSchema {
    Quote,
}

impl Quote {
    /// A quote with one one-time plan in USD.
    pub fn one_time(
        quote_id: impl Into<String>,
        payee_id: impl Into<String>,
        amount_usd: DecimalNumber,
        valid_until: impl Into<String>,
    ) -> Self {
        let quote_id = quote_id.into();
        Self {
            r#type: Some("Quote".into()),
            payment_plans: vec![PaymentPlan::one_time(
                format!("{quote_id}-plan"),
                amount_usd,
            )],
            quote_id,
            payee_id: payee_id.into(),
            valid_until: valid_until.into(),
            extra: Map::new(),
        }
    }
}

impl Validate for Quote {
    fn check(&self, v: &mut Validator) {
        match &self.r#type {
            None => v.required("type", &self.r#type),
            Some(t) => check_enum(v, "type", t, &["Quote"]),
        }
        v.field("payment_plans", |v| self.payment_plans.check(v));
        v.date_time("valid_until", &self.valid_until);
    }
}

/// One way to pay a legacy [`Quote`].
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
pub struct PaymentPlan {
    /// Identifies the plan.
    pub plan_id: String,
    /// Always `one-time` in the schema; other values are kept as received.
    #[schemars(with = "PlanTypeSchema")]
    pub plan_type: String,
    /// The amount, a JSON number kept exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required)]
    pub amount: Option<DecimalNumber>,
    /// Always `USD` in the schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "CurrencySchema")]
    pub currency: Option<String>,
    /// Fields the schema does not define, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

#[derive(JsonSchema)]
#[schemars(rename = "PlanType")]
#[allow(dead_code)]
enum PlanTypeSchema {
    #[schemars(rename = "one-time")]
    OneTime,
}

#[derive(JsonSchema)]
#[schemars(rename = "Currency")]
#[allow(dead_code)]
enum CurrencySchema {
    #[schemars(rename = "USD")]
    Usd,
}

impl PaymentPlan {
    /// A one-time plan in USD.
    pub fn one_time(plan_id: impl Into<String>, amount_usd: DecimalNumber) -> Self {
        Self {
            plan_id: plan_id.into(),
            plan_type: "one-time".into(),
            amount: Some(amount_usd),
            currency: Some("USD".into()),
            extra: Map::new(),
        }
    }
}

impl Validate for PaymentPlan {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "plan_type", &self.plan_type, &["one-time"]);
        v.required("amount", &self.amount);
        match &self.currency {
            None => v.required("currency", &self.currency),
            Some(c) => check_enum(v, "currency", c, &["USD"]),
        }
    }
}

/// Whether a payment went through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PaymentOutcome {
    /// It did.
    Success,
    /// It did not.
    Failure,
    /// AITP-01 only: not settled yet.
    Pending,
    /// A value the schema does not define, kept as received.
    Other(String),
}

impl PaymentOutcome {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Pending => "pending",
            Self::Other(s) => s,
        }
    }
}

impl Serialize for PaymentOutcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PaymentOutcome {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "success" => Self::Success,
            "failure" => Self::Failure,
            "pending" => Self::Pending,
            _ => Self::Other(s),
        })
    }
}

impl JsonSchema for PaymentOutcome {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PaymentOutcome".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "enum": ["success", "failure"] })
    }
}

/// `payment_authorization`: the payer reports the transfer it made for a quote.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-transactions/v1.0.0/schema.json",
    key = "payment_authorization",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "PaymentAuthorization")]
pub struct PaymentAuthorization {
    /// The quote paid.
    pub quote_id: String,
    /// Whether the transfer succeeded (`success` or `failure`).
    pub result: PaymentOutcome,
    /// A note for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When (RFC 3339).
    pub timestamp: String,
    /// The transfers made.
    pub details: Vec<TransferDetail>,
    /// Fields the schema does not define, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Validate for PaymentAuthorization {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "result", self.result.as_str(), &["success", "failure"]);
        v.date_time("timestamp", &self.timestamp);
        v.field("details", |v| self.details.check(v));
    }
}

impl PaymentAuthorization {
    /// A successful authorization of `quote` by a NEAR USDC transfer.
    pub fn near_usdc(
        quote: &Quote,
        amount: DecimalNumber,
        account_id: impl Into<String>,
        transaction_id: impl Into<String>,
    ) -> Self {
        Self {
            quote_id: quote.quote_id.clone(),
            result: PaymentOutcome::Success,
            message: None,
            timestamp: now_rfc3339(),
            details: vec![TransferDetail {
                network: "NEAR".into(),
                token_type: "USDC".into(),
                amount,
                account_id: account_id.into(),
                transaction_id: transaction_id.into(),
                extra: Map::new(),
            }],
            extra: Map::new(),
        }
    }
}

/// One on-chain transfer of a [`PaymentAuthorization`] (closed object).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct TransferDetail {
    /// Always `NEAR`.
    #[schemars(with = "NetworkSchema")]
    pub network: String,
    /// Always `USDC`.
    #[schemars(with = "TokenSchema")]
    pub token_type: String,
    /// The amount, a JSON number kept exact.
    pub amount: DecimalNumber,
    /// The payer's account.
    pub account_id: String,
    /// The transaction.
    pub transaction_id: String,
    /// Fields the schema does not allow (reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

#[derive(JsonSchema)]
#[schemars(rename = "Network")]
#[allow(dead_code)]
enum NetworkSchema {
    #[schemars(rename = "NEAR")]
    Near,
}

#[derive(JsonSchema)]
#[schemars(rename = "TokenType")]
#[allow(dead_code)]
enum TokenSchema {
    #[schemars(rename = "USDC")]
    Usdc,
}

impl Validate for TransferDetail {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "network", &self.network, &["NEAR"]);
        check_enum(v, "token_type", &self.token_type, &["USDC"]);
        v.closed(&self.extra);
    }
}

/// `payment_result`: the payee's answer to a [`PaymentAuthorization`].
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-transactions/v1.0.0/schema.json",
    key = "payment_result",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "PaymentResult")]
pub struct PaymentResult {
    /// The quote paid.
    pub quote_id: String,
    /// `success` or `failure`.
    pub result: PaymentOutcome,
    /// When (RFC 3339).
    pub timestamp: String,
    /// A note for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Labelled facts about the payment (order number, receipt link …).
    pub details: Vec<PaymentDetail>,
    /// Fields the schema does not define, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl PaymentResult {
    /// The result `outcome` for the quote `quote_id`, stamped now.
    pub fn new(quote_id: impl Into<String>, outcome: PaymentOutcome) -> Self {
        Self {
            quote_id: quote_id.into(),
            result: outcome,
            timestamp: now_rfc3339(),
            message: None,
            details: Vec::new(),
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
        self.details.push(detail);
        self
    }
}

impl Validate for PaymentResult {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "result", self.result.as_str(), &["success", "failure"]);
        v.date_time("timestamp", &self.timestamp);
        v.field("details", |v| self.details.check(v));
    }
}

/// A labelled fact about a payment (closed object); shared by AITP-01's
/// `payment_confirmation`.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct PaymentDetail {
    /// What the value is.
    pub label: String,
    /// A string or a number (kept exact).
    pub value: DetailValue,
    /// A link.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(url)]
    pub url: Option<String>,
    /// Fields the schema does not allow (reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl PaymentDetail {
    /// A detail with a text value.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            value: DetailValue::String(value.into()),
            url: None,
            extra: Map::new(),
        }
    }

    /// Sets the link.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }
}

impl Validate for PaymentDetail {
    fn check(&self, v: &mut Validator) {
        if let Some(u) = &self.url {
            v.uri("url", u);
        }
        v.closed(&self.extra);
    }
}

/// The value of a [`PaymentDetail`]: a string or an exact number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DetailValue {
    /// Text.
    String(String),
    /// A number, digit-exact.
    Number(Number),
}

impl Serialize for DetailValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::String(v) => s.serialize_str(v),
            Self::Number(n) => n.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for DetailValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Self::String(s)),
            Value::Number(n) => Ok(Self::Number(n)),
            other => Err(serde::de::Error::invalid_type(
                crate::json::unexpected(&other),
                &"a string or a number",
            )),
        }
    }
}

impl JsonSchema for DetailValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DetailValue".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": ["string", "number"] })
    }
}

/// Now, as RFC 3339 in UTC with a `Z` (the form NEAR AI's UI accepts).
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_builder_is_valid_and_exact() {
        let q = Quote::one_time(
            "q1",
            "shop.near",
            "0.10".parse().unwrap(),
            "2030-01-01T00:00:00Z",
        );
        assert!(q.validate().is_ok());
        let s = serde_json::to_string(&q).unwrap();
        assert!(s.contains(r#""amount":0.10"#), "{s}");
    }

    #[test]
    fn broken_quote_parses_and_fails_validation() {
        let v = serde_json::json!({
            "quote_id": "quote_1234", "payee_id": "demo.near",
            "payment_plans": [
                {"plan_id": "a", "plan_type": "one-time", "amount": 123.45, "currency": "USD"},
                {"plan_id": "b", "plan_type": "subscription", "recurring_details": {"amount": 9.99}}
            ],
            "valid_until": "2025-12-31 12:00:00"
        });
        let q: Quote = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&q).unwrap(), v);
        let err = q.validate().unwrap_err();
        for p in [
            "quote.type",
            "quote.payment_plans[1].plan_type",
            "quote.payment_plans[1].amount",
            "quote.valid_until",
        ] {
            assert!(err.has_path(p), "{p}: {err}");
        }
    }
}
