//! AITP-01 Payments: signed quotes, affiliate wrapping, payments over NEAR payment channels,
//! confirmations and top-ups.
//!
//! Schema: `https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json`. Every object
//! in it is **closed** (`additionalProperties: false`); parsing still keeps unknown fields (so a
//! message passes through unchanged) and [`Validate`] reports them with their path.
//!
//! No peer is known to speak AITP-01 yet, so parsing demands what the schema demands of ids,
//! currencies and amounts (a missing `merchant_id` or an amount of `"1e3"` is a parse error
//! naming its path). Signatures are the exception: they are `Option`s, because an unsigned
//! message is a normal state while building one, and validation reports them when missing.
//!
//! Amounts are [`Amount`]s: decimal strings (`"99.99"`), exact, never floats. Timestamps and
//! expirations are RFC 3339 strings. Not to be confused with the legacy *Transactions* quote
//! ([`super::transactions::Quote`]: `payee_id`, `payment_plans`, number amounts) that NEAR AI
//! and AITP-02 product options use.
//!
//! # Signatures
//!
//! Quotes, payments, confirmations and top-ups carry a signature string (`ed25519:<base64>` in
//! the spec). This module does no cryptography: the [`Signed`] trait gives each of them
//! `signing_payload()` (the bytes to sign), `sign_with(|bytes| signature)` and
//! `verify_with(|bytes, signature| ok)`, so any signer (a key in memory, an HSM, a wallet)
//! plugs in without a dependency.
//!
//! What is signed is the message body **without its signature field**, in the canonical form
//! of [`canonical_json`]: object keys sorted recursively, no whitespace. The spec's prose asks
//! for exactly that ("sort all object keys alphabetically, remove all whitespace"), but its
//! pseudocode (`JSON.stringify(obj, Object.keys(obj).sort())`) passes the key list as an
//! allow-list that drops every nested key not also present at the top level, so it would not
//! sign the amounts. We follow the prose, with RFC 8785 (JCS) rules for key order and string
//! escaping. A wrapper signs `{"new_wrapper": <wrapper without signature>, "original_quote":
//! <quote>, "previous_wrappers": [<wrappers>]}` in the same form (the spec's pseudocode payload).
//!
//! ```
//! use aitp::capability::payments::{PaymentConfirmation, PaymentMethodUsed, PaymentOption, Payment, Quote, Signed};
//! use aitp::capability::transactions::PaymentOutcome;
//!
//! let merchant_key = |bytes: &[u8]| format!("ed25519:{}", bytes.len()); // a real signer here
//! let quote = Quote::builder("q_1", "store.near", "Annual plan")
//!     .expiration("2030-01-01T00:00:00Z")
//!     .option(PaymentOption::near_payment_channel(
//!         "99.99".parse().unwrap(), "USD", "usdc.near", "store.near",
//!     ))
//!     .sign_with(merchant_key);
//! assert!(quote.validate().is_ok());
//!
//! let option = &quote.payment_options[0];
//! let method = PaymentMethodUsed::for_option(option, &option.payment_methods[0], "ch_1");
//! assert!(quote.accepts(&method));
//! let payment = Payment::new(&quote, "user.near", method).sign_with(|b| format!("ed25519:{}", b.len()));
//! assert!(payment.validate().is_ok());
//!
//! let confirmation = PaymentConfirmation::for_payment(&payment, "pay_1", PaymentOutcome::Success)
//!     .message("Thanks!")
//!     .sign_with(merchant_key);
//! assert!(confirmation.validate().is_ok());
//! assert!(confirmation.verify_with(|bytes, sig| merchant_key(bytes) == sig));
//! ```

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{
    CapabilityMessage, OpenDeserialize,
    capability::transactions::{PaymentDetail, PaymentOutcome, now_rfc3339},
    money::Amount,
    validate::{Validate, Validator, check_enum},
};

const ROLES: &[&str] = &["personal_assistant", "discovery", "service", "other"];
const METHOD_TYPES: &[&str] = &["near_payment_channel"];
const RESULTS: &[&str] = &["success", "failure", "pending"];

// ---------------------------------------------------------------------------------------------
// Canonical JSON and signing
// ---------------------------------------------------------------------------------------------

/// The canonical text of a JSON value, as AITP-01 signatures cover it: object keys sorted
/// recursively, no whitespace.
///
/// Keys are ordered by their UTF-16 code units and strings are escaped minimally, as in
/// RFC 8785 (JCS), so any JCS implementation produces the same bytes for AITP-01 messages.
/// Numbers are written with their exact digits as received (JCS would re-format non-integers
/// through IEEE 754; AITP-01's only numbers are integers, where both agree).
///
/// We sign this form rather than the spec's pseudocode, which drops nested keys (see the
/// [module documentation](self)).
///
/// ```
/// use aitp::capability::payments::canonical_json;
/// let a = serde_json::json!({"b": 1, "a": {"d": [true, null], "c": "x"}});
/// assert_eq!(canonical_json(&a), r#"{"a":{"c":"x","d":[true,null]},"b":1}"#);
/// ```
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal with JCS escaping: `\"`, `\\`, `\b \f \n \r \t`, other control
/// characters as lowercase `\u00xx`, everything else as is.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The canonical form of `body` without its `signature_field`.
fn signing_payload_of<T: Serialize>(body: &T, signature_field: &str) -> String {
    let mut value = serde_json::to_value(body).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove(signature_field);
    }
    canonical_json(&value)
}

/// A message signed by one party: the signature covers the canonical JSON ([`canonical_json`])
/// of the message body without its signature field.
///
/// AITP-01 signs quotes, payments, confirmations and top-ups alike; this trait is that rule
/// once. Bring it into scope (`use aitp::capability::payments::Signed`) to sign and verify.
pub trait Signed: Serialize + Sized {
    /// The field holding the signature (`merchant_signature` or `payer_signature`).
    const SIGNATURE_FIELD: &'static str;

    /// The signature, if signed.
    fn signature(&self) -> Option<&str>;

    /// Where the signature goes.
    fn signature_mut(&mut self) -> &mut Option<String>;

    /// The bytes the signer signs: the canonical JSON of the body without the signature.
    fn signing_payload(&self) -> String {
        signing_payload_of(self, Self::SIGNATURE_FIELD)
    }

    /// Signs: `sign` gets [`Signed::signing_payload`] and returns the signature string
    /// (`ed25519:<base64>` by the spec's convention). Sign last: any later change to the
    /// message invalidates the signature.
    fn sign_with(mut self, sign: impl FnOnce(&[u8]) -> String) -> Self {
        let signature = sign(self.signing_payload().as_bytes());
        *self.signature_mut() = Some(signature);
        self
    }

    /// Whether `verify(payload, signature)` accepts the signature; `false` when unsigned.
    fn verify_with(&self, verify: impl FnOnce(&[u8], &str) -> bool) -> bool {
        self.signature()
            .is_some_and(|sig| verify(self.signing_payload().as_bytes(), sig))
    }
}

macro_rules! signed {
    ($($ty:ty => $field:ident;)*) => {$(
        impl Signed for $ty {
            const SIGNATURE_FIELD: &'static str = stringify!($field);
            fn signature(&self) -> Option<&str> {
                self.$field.as_deref()
            }
            fn signature_mut(&mut self) -> &mut Option<String> {
                &mut self.$field
            }
        }
    )*};
}

signed! {
    Quote => merchant_signature;
    Payment => payer_signature;
    PaymentConfirmation => merchant_signature;
    TopUpRequest => merchant_signature;
    TopUpResponse => payer_signature;
}

/// Why a signature chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
#[non_exhaustive]
pub struct SignatureError {
    /// The JSON path of the signature field, such as `wrapped_quote.wrappers[1].signature`.
    pub path: String,
    /// `"missing"` or `"does not verify"`.
    pub reason: &'static str,
}

fn check_signature(
    path: String,
    signer: &str,
    payload: &str,
    signature: Option<&str>,
    verify: &mut impl FnMut(&str, &[u8], &str) -> bool,
) -> Result<(), SignatureError> {
    match signature {
        None => Err(SignatureError {
            path,
            reason: "missing",
        }),
        Some(sig) if verify(signer, payload.as_bytes(), sig) => Ok(()),
        Some(_) => Err(SignatureError {
            path,
            reason: "does not verify",
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Wire enums
// ---------------------------------------------------------------------------------------------

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
enum ConfirmationResultSchema {
    #[schemars(rename = "success")]
    Success,
    #[schemars(rename = "failure")]
    Failure,
    #[schemars(rename = "pending")]
    Pending,
}

// ---------------------------------------------------------------------------------------------
// quote
// ---------------------------------------------------------------------------------------------

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
    /// The merchant's signature over the rest of the quote ([`Quote::signing_payload`]).
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
    /// Starts a quote; add options, then finish with [`QuoteBuilder::sign_with`].
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
#[must_use = "finish with .sign_with(..) (or .build_unsigned())"]
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

    /// Signs and returns the quote (see [`Signed::sign_with`]).
    pub fn sign_with(self, sign: impl FnOnce(&[u8]) -> String) -> Quote {
        self.inner.sign_with(sign)
    }

    /// The quote without a signature: not yet valid, for signing elsewhere
    /// ([`Quote::signing_payload`], then set `merchant_signature`).
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

// ---------------------------------------------------------------------------------------------
// wrapped_quote
// ---------------------------------------------------------------------------------------------

/// `wrapped_quote`: a [`Quote`] passed along a chain of agents, each adding itself (and maybe
/// others) as affiliates, and signing the chain so far.
///
/// ```
/// use aitp::capability::payments::{AffiliateRole, PaymentOption, Quote, WrappedQuote, Wrapper};
///
/// let sign = |who: &'static str| move |b: &[u8]| format!("ed25519:{who}:{}", b.len());
/// let quote = Quote::builder("q_1", "store.near", "Plan")
///     .option(PaymentOption::near_payment_channel("5".parse().unwrap(), "USD", "usdc.near", "store.near"))
///     .sign_with(sign("store.near"));
/// let wrapped = WrappedQuote::wrap(quote, Wrapper::new("service.near", AffiliateRole::Service, "assistant.near"))
///     .sign_with(sign("service.near"));
/// assert!(wrapped.validate().is_ok());
/// wrapped
///     .verify_chain_with(|signer, bytes, sig| sig == format!("ed25519:{signer}:{}", bytes.len()))
///     .unwrap();
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
    /// `quote` wrapped once, by `wrapper`. Sign the wrapper with [`WrappedQuote::sign_with`].
    pub fn wrap(quote: Quote, wrapper: Wrapper) -> Self {
        Self {
            original_quote: quote,
            wrappers: vec![wrapper],
            extra: Map::new(),
        }
    }

    /// Adds the next wrapper to the chain. Sign it with [`WrappedQuote::sign_with`].
    pub fn add_wrapper(mut self, wrapper: Wrapper) -> Self {
        self.wrappers.push(wrapper);
        self
    }

    /// The bytes the wrapper at `index` signs: the canonical JSON of `{"new_wrapper": <the
    /// wrapper without signature>, "original_quote": <the quote>, "previous_wrappers":
    /// [<the wrappers before it>]}`. `None` when there is no such wrapper.
    pub fn signing_payload(&self, index: usize) -> Option<String> {
        let wrapper = self.wrappers.get(index)?;
        let mut new_wrapper = serde_json::to_value(wrapper).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut new_wrapper {
            map.remove("signature");
        }
        let payload = serde_json::json!({
            "original_quote": self.original_quote,
            "previous_wrappers": &self.wrappers[..index],
            "new_wrapper": new_wrapper,
        });
        Some(canonical_json(&payload))
    }

    /// Signs the last wrapper (the one just added) over the quote and the wrappers before it.
    pub fn sign_with(mut self, sign: impl FnOnce(&[u8]) -> String) -> Self {
        if let Some(last) = self.wrappers.len().checked_sub(1) {
            let payload = self.signing_payload(last).unwrap_or_default();
            self.wrappers[last].signature = Some(sign(payload.as_bytes()));
        }
        self
    }

    /// Checks the whole signature chain, as the spec asks of every receiver: the merchant's
    /// signature on the original quote, then each wrapper's. `verify(signer, payload,
    /// signature)` gets the claimed signer (`merchant_id`, then each `affiliate_id`), the bytes
    /// signed and the signature; it should check the signature against that signer's key.
    pub fn verify_chain_with(
        &self,
        mut verify: impl FnMut(&str, &[u8], &str) -> bool,
    ) -> Result<(), SignatureError> {
        let q = &self.original_quote;
        check_signature(
            "wrapped_quote.original_quote.merchant_signature".into(),
            &q.merchant_id,
            &q.signing_payload(),
            q.merchant_signature.as_deref(),
            &mut verify,
        )?;
        for (i, w) in self.wrappers.iter().enumerate() {
            check_signature(
                format!("wrapped_quote.wrappers[{i}].signature"),
                &w.affiliate_id,
                &self.signing_payload(i).unwrap_or_default(),
                w.signature.as_deref(),
                &mut verify,
            )?;
        }
        Ok(())
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
    /// Its signature over the chain ([`WrappedQuote::signing_payload`]). Required by the
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

// ---------------------------------------------------------------------------------------------
// payment
// ---------------------------------------------------------------------------------------------

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
    /// The payer's signature over the rest ([`Payment::signing_payload`]). Required by the
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
    /// [`Payment::sign_with`].
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

// ---------------------------------------------------------------------------------------------
// payment_confirmation
// ---------------------------------------------------------------------------------------------

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
    /// The merchant's signature over the rest ([`PaymentConfirmation::signing_payload`]).
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
    /// `outcome`, stamped now; unsigned until [`PaymentConfirmation::sign_with`].
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

// ---------------------------------------------------------------------------------------------
// top_up_request / top_up_response
// ---------------------------------------------------------------------------------------------

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
    /// The merchant's signature over the rest ([`TopUpRequest::signing_payload`]). Required
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
    /// unsigned until [`TopUpRequest::sign_with`].
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
    /// The payer's signature over the rest ([`TopUpResponse::signing_payload`]). Required by
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
    /// [`TopUpResponse::sign_with`].
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

/// Payments as a type (declared in the registry with the other built-in capabilities).
pub use super::registry::Payments;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::capability::{AitpCapability, Body, Envelope, ParseError};

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spec/vectors");
    const SCHEMA: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/spec/aitp/schemas/capabilities/aitp-01-payments/v1.0.0/schema.json"
    );

    fn vectors() -> Vec<(String, Value)> {
        let mut out: Vec<(String, Value)> = std::fs::read_dir(VECTORS)
            .expect("vectors directory")
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("aitp-01-") && n.ends_with(".json"))
            })
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (
                    p.display().to_string(),
                    serde_json::from_str(&text).unwrap(),
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn vector(key: &str) -> Value {
        vectors()
            .into_iter()
            .map(|(_, v)| v)
            .find(|v| {
                v.get(key).is_some()
                    && v["$schema"]
                        == "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json"
            })
            .unwrap_or_else(|| panic!("no {key} vector"))
    }

    /// A validator for `#/components/schemas/<component>` of the official OpenAPI document,
    /// asserting formats (date-time, uri).
    fn official(component: &str) -> jsonschema::Validator {
        let mut doc: Value =
            serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
        doc["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        doc["$ref"] = json!(format!("#/components/schemas/{component}"));
        jsonschema::options()
            .should_validate_formats(true)
            .build(&doc)
            .expect("official schema compiles")
    }

    fn component(key: &str) -> &'static str {
        match key {
            "quote" => "Quote",
            "wrapped_quote" => "WrappedQuote",
            "payment" => "Payment",
            "payment_confirmation" => "PaymentConfirmation",
            "top_up_request" => "TopUpRequest",
            "top_up_response" => "TopUpResponse",
            other => panic!("not an AITP-01 key: {other}"),
        }
    }

    /// Checks a message we built against the official schema and our own validation.
    fn assert_valid(message: impl Into<Envelope>) {
        let m: Envelope = message.into();
        let value = m.to_value();
        let errors: Vec<String> = official(component(m.key()))
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "official schema rejects {value}: {errors:?}"
        );
        m.validate().unwrap_or_else(|e| panic!("{value}: {e}"));
        // And it reads back as the same typed message.
        assert_eq!(Envelope::parse(&m.to_json_string()).unwrap(), m);
    }

    fn generated_schema(key: &str) -> Value {
        let schema = match key {
            "quote" => schemars::schema_for!(Quote),
            "wrapped_quote" => schemars::schema_for!(WrappedQuote),
            "payment" => schemars::schema_for!(Payment),
            "payment_confirmation" => schemars::schema_for!(PaymentConfirmation),
            "top_up_request" => schemars::schema_for!(TopUpRequest),
            "top_up_response" => schemars::schema_for!(TopUpResponse),
            other => panic!("not an AITP-01 key: {other}"),
        };
        serde_json::to_value(schema).unwrap()
    }

    fn fake_signer(who: &str) -> impl Fn(&[u8]) -> String + '_ {
        move |bytes| format!("ed25519:{who}:{:016x}", fnv(bytes))
    }

    fn fnv(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    #[test]
    fn every_vector_parses_typed_round_trips_and_validates() {
        let all = vectors();
        assert_eq!(all.len(), 8, "expected the 8 AITP-01 vectors");
        for (name, value) in all {
            let text = serde_json::to_string(&value).unwrap();
            let m = Envelope::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                m.body().aitp_capability(),
                Some(AitpCapability::Payments),
                "{name}"
            );
            assert!(!matches!(m.body(), Body::Unknown { .. }), "{name}");
            assert_eq!(m.to_value(), value, "{name} does not round-trip");
            m.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            // The body through the concrete type, too.
            let key = m.key().to_owned();
            let body = value[&key].clone();
            match m.body() {
                Body::Quote(q) => assert_eq!(serde_json::to_value(q).unwrap(), body),
                Body::WrappedQuote(q) => assert_eq!(serde_json::to_value(q).unwrap(), body),
                Body::Payment(p) => assert_eq!(serde_json::to_value(p).unwrap(), body),
                Body::PaymentConfirmation(c) => {
                    assert_eq!(serde_json::to_value(c).unwrap(), body)
                }
                Body::TopUpRequest(r) => assert_eq!(serde_json::to_value(r).unwrap(), body),
                Body::TopUpResponse(r) => assert_eq!(serde_json::to_value(r).unwrap(), body),
                other => panic!("{name}: parsed as {other:?}"),
            }
            // Our generated JSON Schema accepts the body as the official one does.
            let generated = jsonschema::validator_for(&generated_schema(&key)).unwrap();
            let errors: Vec<String> = generated
                .iter_errors(&body)
                .map(|e| e.to_string())
                .collect();
            assert!(
                errors.is_empty(),
                "{name}: generated schema rejects it: {errors:?}"
            );
            assert!(official(component(&key)).is_valid(&value), "{name}");
        }
    }

    #[test]
    fn typed_accessors_see_the_vector_data() {
        let m = Envelope::from_value(&vector("wrapped_quote")).unwrap();
        let wq = m.message::<WrappedQuote>().unwrap().unwrap();
        assert_eq!(
            wq.original_quote.payment_options[0].amount,
            Some("99.99".parse().unwrap())
        );
        assert_eq!(wq.wrappers[1].role, AffiliateRole::PersonalAssistant);
        assert_eq!(wq.next_recipient(), Some("user-interface.near"));
        let ids: Vec<_> = wq.affiliates().into_iter().map(|a| a.id).collect();
        assert_eq!(
            ids,
            ["service-agent.near", "assistant.near", "discovery.near"]
        );

        let m = Envelope::from_value(&vector("payment_confirmation")).unwrap();
        let c = m.message::<PaymentConfirmation>().unwrap().unwrap();
        assert_eq!(c.result, PaymentOutcome::Success);
        assert_eq!(c.details.as_ref().map(Vec::len), Some(2));
    }

    #[test]
    fn missing_required_field_is_a_parse_error_at_the_body() {
        let mut v = vector("quote");
        v["quote"].as_object_mut().unwrap().remove("merchant_id");
        let err = Envelope::from_value(&v).unwrap_err();
        assert!(err.is_aitp(), "{err}");
        match &err {
            ParseError::Body {
                key, path, error, ..
            } => {
                assert_eq!(key, "quote");
                assert_eq!(path, "quote");
                assert!(error.to_string().contains("merchant_id"), "{error}");
            }
            other => panic!("{other:?}"),
        }
        // The official schema agrees it is invalid.
        assert!(!official("Quote").is_valid(&v));
    }

    #[test]
    fn bad_amount_is_a_parse_error_with_its_path() {
        let mut v = vector("quote");
        v["quote"]["payment_options"][0]["amount"] = json!("1e3");
        match Envelope::from_value(&v).unwrap_err() {
            ParseError::Body { path, .. } => assert_eq!(path, "quote.payment_options[0].amount"),
            other => panic!("{other:?}"),
        }
        assert!(!official("Quote").is_valid(&v));

        let mut v = vector("top_up_response");
        v["top_up_response"]["new_balance"] = json!(75.5);
        match Envelope::from_value(&v).unwrap_err() {
            ParseError::Body { path, .. } => assert_eq!(path, "top_up_response.new_balance"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn extra_fields_parse_round_trip_and_fail_validation_at_their_path() {
        let cases = [
            (
                "quote",
                "/quote/payment_options/0/payment_methods/0",
                "quote.payment_options[0].payment_methods[0].memo",
            ),
            ("quote", "/quote/revenue_share", "quote.revenue_share.memo"),
            ("quote", "/quote", "quote.memo"),
            (
                "wrapped_quote",
                "/wrapped_quote/wrappers/1/added_affiliates/0",
                "wrapped_quote.wrappers[1].added_affiliates[0].memo",
            ),
            (
                "wrapped_quote",
                "/wrapped_quote/original_quote/payment_options/0",
                "wrapped_quote.original_quote.payment_options[0].memo",
            ),
            (
                "payment",
                "/payment/payment_method",
                "payment.payment_method.memo",
            ),
            (
                "payment_confirmation",
                "/payment_confirmation/details/0",
                "payment_confirmation.details[0].memo",
            ),
            ("top_up_request", "/top_up_request", "top_up_request.memo"),
            (
                "top_up_response",
                "/top_up_response",
                "top_up_response.memo",
            ),
            ("payment", "", "memo"),
        ];
        for (key, pointer, path) in cases {
            let mut v = vector(key);
            v.pointer_mut(pointer)
                .and_then(Value::as_object_mut)
                .unwrap_or_else(|| panic!("{pointer}"))
                .insert("memo".into(), json!({"note": 1.50}));
            let m = Envelope::from_value(&v).unwrap();
            assert_eq!(m.to_value(), v, "{path}: extra field not kept");
            let err = m.validate().unwrap_err();
            assert!(err.has_path(path), "{path}: {err}");
            assert_eq!(err.errors().len(), 1, "{err}");
            assert!(!official(component(key)).is_valid(&v), "{path}");
            // Our generated schema rejects it as well (message bodies only).
            if !pointer.is_empty() {
                let generated = jsonschema::validator_for(&generated_schema(key)).unwrap();
                assert!(
                    !generated.is_valid(&v[key]),
                    "{path}: generated schema accepts it"
                );
            }
        }
    }

    #[test]
    fn schema_rules_beyond_parsing_are_reported() {
        let mut v = vector("wrapped_quote");
        let w = &mut v["wrapped_quote"]["wrappers"][1];
        w["role"] = json!("referrer");
        w["added_affiliates"][0]["weight"] = json!(0);
        w["timestamp"] = json!("yesterday");
        w.as_object_mut().unwrap().remove("signature");
        v["wrapped_quote"]["original_quote"]["payment_options"][0]["payment_methods"][0]["type"] =
            json!("credit_card");
        let m = Envelope::from_value(&v).unwrap();
        assert_eq!(m.to_value(), v);
        let err = m.validate().unwrap_err();
        for p in [
            "wrapped_quote.wrappers[1].role",
            "wrapped_quote.wrappers[1].added_affiliates[0].weight",
            "wrapped_quote.wrappers[1].timestamp",
            "wrapped_quote.wrappers[1].signature",
            "wrapped_quote.original_quote.payment_options[0].payment_methods[0].type",
        ] {
            assert!(err.has_path(p), "{p}: {err}");
        }
        assert_eq!(err.errors().len(), 5, "{err}");

        let mut v = vector("payment_confirmation");
        v["payment_confirmation"]["result"] = json!("refunded");
        let m = Envelope::from_value(&v).unwrap();
        assert!(
            m.validate()
                .unwrap_err()
                .has_path("payment_confirmation.result")
        );
        v["payment_confirmation"]["result"] = json!("pending");
        Envelope::from_value(&v).unwrap().validate().unwrap();
    }

    #[test]
    fn canonical_json_is_key_order_independent() {
        let a: Value = serde_json::from_str(
            r#"{"z": {"b": [1, {"y": "é", "x": "a\"b\n"}], "a": null}, "a": 1.50, "B": true}"#,
        )
        .unwrap();
        let b: Value = serde_json::from_str(
            r#"{ "a": 1.50, "B": true, "z": { "a": null, "b": [1, {"x": "a\"b\n", "y": "é"}] } }"#,
        )
        .unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(
            canonical_json(&a),
            r#"{"B":true,"a":1.50,"z":{"a":null,"b":[1,{"x":"a\"b\n","y":"é"}]}}"#
        );
        // Control characters as lowercase \u00xx; '/' and non-ASCII as is.
        assert_eq!(
            canonical_json(&json!("\u{1f}/\u{7f}")),
            "\"\\u001f/\u{7f}\""
        );
        // UTF-16 order, as RFC 8785: U+1F600 (surrogates 0xD83D 0xDE00) sorts before U+FB01;
        // by code point it would be the other way round.
        let v = json!({"\u{1F600}": 1, "\u{FB01}": 2});
        assert_eq!(canonical_json(&v), "{\"\u{1F600}\":1,\"\u{FB01}\":2}");
        // The same message with keys in another order signs the same bytes.
        let q = vector("quote");
        let reordered: Value = {
            let mut body: Vec<(String, Value)> = q["quote"]
                .as_object()
                .unwrap()
                .clone()
                .into_iter()
                .collect();
            body.reverse();
            json!({"quote": Value::Object(body.into_iter().collect())})
        };
        let q1: Quote = serde_json::from_value(q["quote"].clone()).unwrap();
        let q2: Quote = serde_json::from_value(reordered["quote"].clone()).unwrap();
        assert_eq!(q1.signing_payload(), q2.signing_payload());
    }

    #[test]
    fn signing_payload_excludes_the_signature_and_covers_nested_fields() {
        let q: Quote = serde_json::from_value(vector("quote")["quote"].clone()).unwrap();
        let payload = q.signing_payload();
        assert!(!payload.contains("merchant_signature"), "{payload}");
        assert!(payload.contains(r#""amount":"99.99""#), "{payload}");
        assert!(
            payload
                .starts_with(r#"{"description":"Premium Subscription - Annual Plan","expiration""#)
        );
        let unsigned = Quote {
            merchant_signature: None,
            ..q.clone()
        };
        assert_eq!(unsigned.signing_payload(), payload);

        let signed = unsigned.sign_with(fake_signer("store.near"));
        assert!(signed.verify_with(|b, s| fake_signer("store.near")(b) == s));
        let mut tampered = signed.clone();
        tampered.payment_options[0].amount = Some("0.01".parse().unwrap());
        assert!(!tampered.verify_with(|b, s| fake_signer("store.near")(b) == s));
        // An unsigned quote never verifies.
        let unsigned = Quote {
            merchant_signature: None,
            ..q
        };
        assert!(!unsigned.verify_with(|_, _| true));
    }

    #[test]
    fn builders_produce_valid_messages() {
        let quote =
            Quote::builder("q_1", "store.near", "Premium Subscription")
                .expires_after(std::time::Duration::from_secs(3600))
                .next_recipient("service-agent.near")
                .option(PaymentOption::near_payment_channel(
                    "99.99".parse().unwrap(),
                    "USD",
                    "usdc.near",
                    "store.near",
                ))
                .option(PaymentOption::new("100".parse().unwrap(), "USDT").method(
                    PaymentMethod::near_payment_channel("usdt.tether-token.near", "store.near"),
                ))
                .revenue_share(RevenueShare::new(300).affiliate(
                    Affiliate::new("discovery.near", AffiliateRole::Discovery).weight(2),
                ))
                .sign_with(fake_signer("store.near"));
        assert!(!quote.is_expired());
        assert_eq!(
            quote
                .merchant_signature
                .as_deref()
                .map(|s| s.starts_with("ed25519:")),
            Some(true)
        );
        assert_valid(quote.clone());

        // An unsigned quote is not valid yet.
        let unsigned = Quote::builder("q_2", "store.near", "x").build_unsigned();
        assert!(
            unsigned
                .validate()
                .unwrap_err()
                .has_path("quote.merchant_signature")
        );

        let wrapped = WrappedQuote::wrap(
            quote.clone(),
            Wrapper::new(
                "service-agent.near",
                AffiliateRole::Service,
                "assistant.near",
            ),
        )
        .sign_with(fake_signer("service-agent.near"))
        .add_wrapper(
            Wrapper::new(
                "assistant.near",
                AffiliateRole::PersonalAssistant,
                "ui.near",
            )
            .added_affiliate(Affiliate::new("friend.near", AffiliateRole::OtherRole).weight(1)),
        )
        .sign_with(fake_signer("assistant.near"));
        assert_valid(wrapped.clone());
        let verify = |signer: &str, bytes: &[u8], sig: &str| fake_signer(signer)(bytes) == sig;
        wrapped.verify_chain_with(verify).unwrap();
        // Tampering with an earlier wrapper breaks the later signatures too.
        let mut tampered = wrapped.clone();
        tampered.wrappers[0].next_recipient = "mallory.near".into();
        let err = tampered.verify_chain_with(verify).unwrap_err();
        assert_eq!(err.path, "wrapped_quote.wrappers[0].signature");
        let mut tampered = wrapped.clone();
        tampered.original_quote.payment_options[0].amount = Some("1".parse().unwrap());
        let err = tampered.verify_chain_with(verify).unwrap_err();
        assert_eq!(err.path, "wrapped_quote.original_quote.merchant_signature");
        let unsigned = WrappedQuote::wrap(
            quote.clone(),
            Wrapper::new("a.near", AffiliateRole::Service, "b.near"),
        );
        assert_eq!(
            unsigned.verify_chain_with(verify).unwrap_err().reason,
            "missing"
        );
        assert!(
            unsigned
                .validate()
                .unwrap_err()
                .has_path("wrapped_quote.wrappers[0].signature")
        );

        let option = &quote.payment_options[0];
        let method = PaymentMethodUsed::for_option(option, &option.payment_methods[0], "ch_1");
        assert!(quote.accepts(&method));
        let mut cheaper = method.clone();
        cheaper.amount = Some("9.99".parse().unwrap());
        assert!(!quote.accepts(&cheaper));
        let same_value = PaymentMethodUsed::near_payment_channel(
            "usdc.near",
            "ch_1",
            "99.990".parse().unwrap(),
            "USD",
        );
        assert!(quote.accepts(&same_value));

        let payment = Payment::new(&quote, "user.near", method).sign_with(fake_signer("user.near"));
        assert_eq!(payment.quote_id, "q_1");
        assert!(payment.verify_with(|b, s| fake_signer("user.near")(b) == s));
        assert_valid(payment.clone());

        for outcome in [
            PaymentOutcome::Success,
            PaymentOutcome::Failure,
            PaymentOutcome::Pending,
        ] {
            let confirmation = PaymentConfirmation::for_payment(&payment, "pay_1", outcome)
                .message("Your subscription is active")
                .detail(
                    PaymentDetail::new("Order Number", "ORD-1").url("https://example.com/orders/1"),
                )
                .sign_with(fake_signer("store.near"));
            assert!(confirmation.verify_with(|b, s| fake_signer("store.near")(b) == s));
            assert_valid(confirmation);
        }

        let request = TopUpRequest::new("ch_1", "50.00".parse().unwrap(), "USD", "store.near")
            .reason("Metered usage")
            .sign_with(fake_signer("store.near"));
        assert!(request.verify_with(|b, s| fake_signer("store.near")(b) == s));
        assert_valid(request.clone());
        let response = TopUpResponse::for_request(&request, "50.00".parse().unwrap(), "user.near")
            .new_balance("75.50".parse().unwrap())
            .sign_with(fake_signer("user.near"));
        assert_eq!(response.channel_id, "ch_1");
        assert!(response.verify_with(|b, s| fake_signer("user.near")(b) == s));
        assert_valid(response);
    }

    #[test]
    fn generated_schemas_are_closed_and_tight() {
        let q = generated_schema("quote");
        assert_eq!(q["additionalProperties"], json!(false), "{q}");
        let required: Vec<&str> = q["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for r in [
            "quote_id",
            "merchant_id",
            "description",
            "payment_options",
            "merchant_signature",
        ] {
            assert!(required.contains(&r), "{r} not required: {q}");
        }
        assert!(!required.contains(&"expiration"), "{q}");
        let validator = jsonschema::validator_for(&q).unwrap();
        let body = vector("quote")["quote"].clone();
        for (pointer, bad) in [
            ("/expiration", Value::Null),
            ("/payment_options/0/amount", json!("1e3")),
            ("/payment_options/0/payment_methods/0/type", json!("card")),
            (
                "/revenue_share/affiliates",
                json!([{"id": "a", "role": "x"}]),
            ),
            (
                "/revenue_share/affiliates",
                json!([{"id": "a", "role": "service", "weight": 0}]),
            ),
        ] {
            let mut b = body.clone();
            *b.pointer_mut(pointer).unwrap() = bad;
            assert!(
                !validator.is_valid(&b),
                "generated schema accepts {pointer}: {b}"
            );
        }
        let c = generated_schema("payment_confirmation");
        let validator = jsonschema::validator_for(&c).unwrap();
        let mut body = vector("payment_confirmation")["payment_confirmation"].clone();
        body["result"] = json!("pending");
        assert!(validator.is_valid(&body));
        body["result"] = json!("refunded");
        assert!(!validator.is_valid(&body));
    }
}
