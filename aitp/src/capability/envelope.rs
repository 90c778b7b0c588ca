//! The envelope: `{"$schema": url, "<key>": body}` to and from typed messages.

use std::{any::Any, fmt};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de, ser::SerializeMap};
use serde_json::{Map, Value, value::RawValue};

use super::{
    AitpCapability, CapabilityId, CapabilityIdError, CapabilityMessage, data_request, decisions,
    evm_wallet, near_wallet, payments, transactions,
};
use crate::validate::{ValidationErrors, Validator};

/// Why a text is not a (well-formed) capability message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// JSON, but not an AITP message: not an object, no string `$schema`, or no message key
    /// whose value is an object.
    #[error("not an AITP message: {0}")]
    NotAitp(&'static str),
    /// An AITP message of a known type whose body does not have that type's shape.
    #[error("`{key}` message ({capability}) does not match its schema at `{path}`: {error}")]
    Body {
        /// The message key.
        key: String,
        /// The capability the message was read as (its slug).
        capability: &'static str,
        /// The JSON path of the offending value, from the message root.
        path: String,
        /// What serde said.
        #[source]
        error: serde_json::Error,
    },
    /// A key repeated within one JSON object, in the envelope or anywhere in the body.
    ///
    /// Refused rather than read: serde's typed structs refuse duplicates, while
    /// `serde_json::Value`, Python's `json` and JavaScript's `JSON.parse` keep the last one, so
    /// a message with a duplicate could be acted on differently here and by the peer (two
    /// `decision` objects in one message, say). No mainstream writer produces one.
    #[error("duplicate key `{key}` in the object at `{path}`")]
    DuplicateKey {
        /// The JSON path of the object holding the key, from the message root (empty for the
        /// root), such as `decision.options[0]`.
        path: String,
        /// The repeated key.
        key: String,
    },
}

impl ParseError {
    /// Whether the text was an AITP message at all (if not, it is plain content).
    pub fn is_aitp(&self) -> bool {
        matches!(self, Self::Body { .. } | Self::DuplicateKey { .. })
    }
}

macro_rules! bodies {
    ($( $(#[$doc:meta])* $variant:ident => $ty:ty, $cap:ident; )*) => {
        /// The body of a capability message: one typed variant per message type this crate
        /// implements, and [`Body::Unknown`] for every other capability.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Body {
            $( $(#[$doc])* $variant($ty), )*
            /// A message of a capability (or a message type) this crate does not know; kept as
            /// received so it can be passed through unchanged.
            Unknown {
                /// The message key.
                key: String,
                /// The body.
                body: Value,
            },
        }

        impl Body {
            /// The message key, such as `request_decision`.
            pub fn key(&self) -> &str {
                match self {
                    $( Self::$variant(_) => <$ty as CapabilityMessage>::KEY, )*
                    Self::Unknown { key, .. } => key,
                }
            }

            /// The AITP capability of a typed variant; `None` for [`Body::Unknown`].
            pub fn aitp_capability(&self) -> Option<AitpCapability> {
                match self {
                    $( Self::$variant(_) => Some(AitpCapability::$cap), )*
                    Self::Unknown { .. } => None,
                }
            }

            /// The canonical schema URL of a typed variant.
            fn canonical_url(&self) -> Option<&'static str> {
                match self {
                    $( Self::$variant(_) => Some(<$ty as CapabilityMessage>::SCHEMA_URL), )*
                    Self::Unknown { .. } => None,
                }
            }

            /// Checks the body against its schema (typed variants only).
            pub fn validate(&self) -> Result<(), ValidationErrors> {
                match self {
                    $( Self::$variant(m) => CapabilityMessage::validate(m), )*
                    Self::Unknown { .. } => Ok(()),
                }
            }

            fn body_any(&self) -> Option<&dyn Any> {
                match self {
                    $( Self::$variant(m) => Some(m as &dyn Any), )*
                    Self::Unknown { .. } => None,
                }
            }

            /// The typed body as `T`, moved out; the body back if it is not a `T`.
            // The `Err` is the value itself, handed back unmoved; boxing it would cost the
            // allocation this exists to save.
            #[allow(clippy::result_large_err)]
            fn into_body<T: 'static>(self) -> Result<T, Self> {
                match self {
                    $(
                        Self::$variant(m) => {
                            let mut slot = Some(m);
                            if let Some(t) = (&mut slot as &mut dyn Any).downcast_mut::<Option<T>>() {
                                if let Some(t) = t.take() {
                                    return Ok(t);
                                }
                            }
                            match slot {
                                Some(m) => Err(Self::$variant(m)),
                                None => unreachable!("the body is taken only when it is returned"),
                            }
                        }
                    )*
                    other => Err(other),
                }
            }

            /// Wraps a typed message; messages of types this crate does not know become
            /// [`Body::Unknown`].
            pub fn from_message<T: CapabilityMessage>(message: T) -> Body {
                let mut slot = Some(message);
                $(
                    if let Some(s) = (&mut slot as &mut dyn Any).downcast_mut::<Option<$ty>>() {
                        if let Some(m) = s.take() {
                            return Self::$variant(m);
                        }
                    }
                )*
                let message = slot.take().expect("message is still in its slot");
                Self::Unknown {
                    key: T::KEY.to_owned(),
                    body: serde_json::to_value(&message).unwrap_or(Value::Null),
                }
            }

            fn serialize_body<S: SerializeMap>(&self, map: &mut S) -> Result<(), S::Error> {
                match self {
                    $( Self::$variant(m) => map.serialize_entry(<$ty as CapabilityMessage>::KEY, m), )*
                    Self::Unknown { key, body } => map.serialize_entry(key, body),
                }
            }

            /// Parses `raw` as the body of `key` in `cap`; `None` when `cap` has no such key.
            fn parse_typed(cap: AitpCapability, key: &str, raw: &str) -> Option<Result<Body, ParseError>> {
                $(
                    if cap == AitpCapability::$cap && key == <$ty as CapabilityMessage>::KEY {
                        return Some(parse_body::<$ty>(raw, AitpCapability::$cap).map(Self::$variant));
                    }
                )*
                None
            }
        }

        $(
            impl From<$ty> for Body {
                fn from(m: $ty) -> Self {
                    Self::$variant(m)
                }
            }
        )*
    };
}

bodies! {
    /// AITP-01 `quote`.
    Quote => payments::Quote, Payments;
    /// AITP-01 `wrapped_quote`.
    WrappedQuote => payments::WrappedQuote, Payments;
    /// AITP-01 `payment`.
    Payment => payments::Payment, Payments;
    /// AITP-01 `payment_confirmation`.
    PaymentConfirmation => payments::PaymentConfirmation, Payments;
    /// AITP-01 `top_up_request`.
    TopUpRequest => payments::TopUpRequest, Payments;
    /// AITP-01 `top_up_response`.
    TopUpResponse => payments::TopUpResponse, Payments;
    /// AITP-02 `request_decision`.
    RequestDecision => decisions::RequestDecision, Decisions;
    /// AITP-02 `decision`.
    Decision => decisions::Decision, Decisions;
    /// AITP-03 `request_data`.
    RequestData => data_request::RequestData, DataRequest;
    /// AITP-03 `data`.
    Data => data_request::Data, DataRequest;
    /// AITP-04 `request_account`.
    NearRequestAccount => near_wallet::RequestAccount, NearWallet;
    /// AITP-04 `account_response`.
    NearAccountResponse => near_wallet::AccountResponse, NearWallet;
    /// AITP-04 `request_transaction`.
    NearRequestTransaction => near_wallet::RequestTransaction, NearWallet;
    /// AITP-04 `transaction_response`.
    NearTransactionResponse => near_wallet::TransactionResponse, NearWallet;
    /// AITP-04 `request_message_signing` (NEP-413).
    NearRequestMessageSigning => near_wallet::RequestMessageSigning, NearWallet;
    /// AITP-04 `message_signing_response`.
    NearMessageSigningResponse => near_wallet::MessageSigningResponse, NearWallet;
    /// AITP-04 `token_notification`.
    NearTokenNotification => near_wallet::TokenNotification, NearWallet;
    /// AITP-05 `request_address`.
    EvmRequestAddress => evm_wallet::RequestAddress, EvmWallet;
    /// AITP-05 `address_response`.
    EvmAddressResponse => evm_wallet::AddressResponse, EvmWallet;
    /// AITP-05 `request_transaction`.
    EvmRequestTransaction => evm_wallet::RequestTransaction, EvmWallet;
    /// AITP-05 `transaction_response`.
    EvmTransactionResponse => evm_wallet::TransactionResponse, EvmWallet;
    /// AITP-05 `request_message_signing` (EIP-191 / EIP-712).
    EvmRequestMessageSigning => evm_wallet::RequestMessageSigning, EvmWallet;
    /// AITP-05 `message_signing_response`.
    EvmMessageSigningResponse => evm_wallet::MessageSigningResponse, EvmWallet;
    /// AITP-05 `chain_notification`.
    EvmChainNotification => evm_wallet::ChainNotification, EvmWallet;
    /// AITP-05 `token_notification`.
    EvmTokenNotification => evm_wallet::TokenNotification, EvmWallet;
    /// Legacy AITP-04 Transactions `quote` (`payment_plans`, number amounts; NEAR AI).
    LegacyQuote => transactions::Quote, Transactions;
    /// Legacy AITP-04 Transactions `payment_authorization`.
    PaymentAuthorization => transactions::PaymentAuthorization, Transactions;
    /// Legacy AITP-04 Transactions `payment_result`.
    PaymentResult => transactions::PaymentResult, Transactions;
}

fn parse_body<T: CapabilityMessage>(raw: &str, cap: AitpCapability) -> Result<T, ParseError> {
    match serde_json::from_str::<T>(raw) {
        Ok(t) => Ok(t),
        Err(_) => {
            // Slow path, errors only: parse again to learn where it failed.
            let mut de = serde_json::Deserializer::from_str(raw);
            let (path, error) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
                Ok(_) => (String::new(), de::Error::custom("inconsistent parse")),
                Err(e) => (e.path().to_string(), e.into_inner()),
            };
            let path = if path.is_empty() || path == "." {
                T::KEY.to_owned()
            } else {
                format!("{}.{}", T::KEY, path)
            };
            Err(ParseError::Body {
                key: T::KEY.to_owned(),
                capability: cap.slug(),
                path,
                error,
            })
        }
    }
}

/// Which capability a message key belongs to when the `$schema` does not say: NEAR AI
/// dispatched on the key alone, and agents wrote obsolete URLs.
fn capability_by_key(key: &str, raw: &str) -> Option<AitpCapability> {
    use AitpCapability::*;
    Some(match key {
        "request_decision" | "decision" => Decisions,
        "request_data" | "data" => DataRequest,
        "wrapped_quote"
        | "payment"
        | "payment_confirmation"
        | "top_up_request"
        | "top_up_response" => Payments,
        "payment_authorization" | "payment_result" => Transactions,
        "request_account" | "account_response" => NearWallet,
        "request_address" | "address_response" | "chain_notification" => EvmWallet,
        "quote" => {
            if raw.contains("\"payment_options\"") || raw.contains("\"merchant_id\"") {
                Payments
            } else {
                Transactions
            }
        }
        "request_transaction"
        | "transaction_response"
        | "request_message_signing"
        | "message_signing_response"
        | "token_notification" => {
            let evm = raw.contains("\"chain_id\"")
                || raw.contains("\"signing_type\"")
                || raw.contains("\"0x")
                || raw.contains("\"erc20\"");
            if evm { EvmWallet } else { NearWallet }
        }
        _ => return None,
    })
}

/// A capability message: `{"$schema": url, "<key>": body}`.
///
/// The `$schema` URL is kept exactly as received (so a message passed through is unchanged);
/// messages built here get the canonical URL. Root-level fields besides `$schema` and the key
/// are kept too.
///
/// ```
/// use aitp::capability::{Envelope, Body};
/// let m = Envelope::parse(r#"{"$schema": "https://aitp.dev/v1/decisions/schema.json",
///     "decision": {"request_decision_id": "size", "options": [{"id": "M"}]}}"#).unwrap();
/// assert!(matches!(m.body(), Body::Decision(_)));
/// assert_eq!(m.schema(), "https://aitp.dev/v1/decisions/schema.json");
///
/// let other = Envelope::parse(r#"{"$schema": "https://loyalty.example/v1.0.0/schema.json",
///     "redeem": {"points": 10}}"#).unwrap();
/// assert!(matches!(other.body(), Body::Unknown { key, .. } if key == "redeem"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    schema: String,
    // What `schema` names, parsed once: routing and `message::<T>()` ask for it per message.
    id: Result<CapabilityId, CapabilityIdError>,
    // Boxed: the largest bodies are several hundred bytes, and envelopes move around.
    body: Box<Body>,
    extra: Map<String, Value>,
}

struct RawFields<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for RawFields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> de::Visitor<'de> for V<'a> {
            type Value = RawFields<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawFields<'a>, A::Error> {
                let mut fields = Vec::with_capacity(2);
                while let Some(k) = map.next_key::<String>()? {
                    let v: &'a RawValue = map.next_value()?;
                    fields.push((k, v));
                }
                Ok(RawFields(fields))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl Envelope {
    /// A message of any capability, typed or not, under an explicit `$schema` URL.
    pub fn with_schema(schema: impl Into<String>, body: Body) -> Self {
        let schema = schema.into();
        Self {
            id: CapabilityId::parse(&schema),
            schema,
            body: Box::new(body),
            extra: Map::new(),
        }
    }

    /// Parses a capability message from JSON text.
    ///
    /// The message type is chosen by the key, disambiguated by the `$schema` capability for
    /// keys several capabilities share (and by shape when the URL names none). Third-party
    /// capabilities become [`Body::Unknown`].
    ///
    /// A key repeated within any one object of the message is refused
    /// ([`ParseError::DuplicateKey`]), so that no peer's parser reads the message differently.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if let Some(dup) = crate::json::find_duplicate_key(text) {
            return Err(ParseError::DuplicateKey {
                path: dup.path,
                key: dup.key,
            });
        }
        let RawFields(fields) = serde_json::from_str(text).map_err(|e| {
            if e.is_data() {
                ParseError::NotAitp("not a JSON object")
            } else {
                ParseError::NotJson(e)
            }
        })?;
        let mut schema: Option<String> = None;
        for (k, v) in &fields {
            if k == "$schema" {
                schema = serde_json::from_str::<String>(v.get()).ok();
            }
        }
        let schema = schema.ok_or(ParseError::NotAitp("no string `$schema`"))?;
        let id = CapabilityId::parse(&schema);
        if is_json_schema_document(&schema) {
            return Err(ParseError::NotAitp("a JSON Schema document, not a message"));
        }
        let declared = match &id {
            Ok(id) => id.aitp(),
            Err(_) => None,
        };
        let third_party = matches!(&id, Ok(id) if id.aitp().is_none());

        // Candidate message keys: every key but `$schema` whose value is an object.
        let candidates: Vec<usize> = fields
            .iter()
            .enumerate()
            .filter(|(_, (k, v))| k != "$schema" && v.get().trim_start().starts_with('{'))
            .map(|(i, _)| i)
            .collect();
        if candidates.is_empty() {
            return Err(ParseError::NotAitp("no message key with an object body"));
        }
        let key_index = candidates
            .iter()
            .copied()
            .find(|&i| declared.is_some_and(|c| c.message_keys().contains(&fields[i].0.as_str())))
            .or_else(|| {
                if third_party {
                    None
                } else {
                    candidates
                        .iter()
                        .copied()
                        .find(|&i| capability_by_key(&fields[i].0, "").is_some())
                }
            })
            .unwrap_or(candidates[0]);

        let mut extra = Map::new();
        let mut body = None;
        for (i, (k, v)) in fields.into_iter().enumerate() {
            if k == "$schema" {
                continue;
            }
            if i != key_index {
                let value: Value = serde_json::from_str(v.get()).map_err(ParseError::NotJson)?;
                extra.insert(k, value);
                continue;
            }
            let raw = v.get();
            let cap = match declared {
                Some(c) if c.message_keys().contains(&k.as_str()) => Some(c),
                _ if third_party => None,
                _ => capability_by_key(&k, raw),
            };
            let typed = cap.and_then(|c| Body::parse_typed(c, &k, raw));
            body = Some(match typed {
                Some(result) => result?,
                None => Body::Unknown {
                    body: serde_json::from_str(raw).map_err(ParseError::NotJson)?,
                    key: k,
                },
            });
        }
        let body = body.ok_or(ParseError::NotAitp("no message key"))?;
        Ok(Self {
            schema,
            id,
            body: Box::new(body),
            extra,
        })
    }

    /// Reads a message from a JSON value (slower than [`Envelope::parse`] on text).
    pub fn from_value(value: &Value) -> Result<Self, ParseError> {
        Self::parse(&value.to_string())
    }

    /// The `$schema` URL, as received or written.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The capability the `$schema` URL names, if it names one.
    pub fn capability_id(&self) -> Result<CapabilityId, CapabilityIdError> {
        self.id.clone()
    }

    /// The parsed `$schema`, without a copy.
    pub(crate) fn id_ref(&self) -> Option<&CapabilityId> {
        self.id.as_ref().ok()
    }

    /// The message key.
    pub fn key(&self) -> &str {
        self.body.key()
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The body, by value.
    pub fn into_body(self) -> Body {
        *self.body
    }

    /// Root-level fields besides `$schema` and the message key.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// The body as `T`, if this is a `T` message: typed variants by type, unknown ones by key
    /// and capability (so messages of your own capabilities come out typed too).
    ///
    /// `None` when the message is of another type; `Some(Err)` when it is a `T` by key and
    /// capability but its body does not fit `T`.
    pub fn message<T: CapabilityMessage>(&self) -> Option<Result<T, ParseError>> {
        if let Some(any) = self.body.body_any() {
            return any.downcast_ref::<T>().map(|t| Ok(t.clone()));
        }
        self.custom_message::<T>()
    }

    /// Like [`Envelope::message`], moving the body out instead of copying it (with the
    /// `$schema` as received); the message comes back, with the parse error if any, when it
    /// is not a `T` that fits.
    #[allow(clippy::result_large_err)] // the message handed back, as `Body::into_body`
    pub(crate) fn take_message<T: CapabilityMessage>(
        mut self,
    ) -> Result<(T, String), (Self, Option<ParseError>)> {
        if self.body.aitp_capability().is_some() {
            let placeholder = Body::Unknown {
                key: String::new(),
                body: Value::Null,
            };
            let body = std::mem::replace(&mut *self.body, placeholder);
            return match body.into_body::<T>() {
                Ok(t) => Ok((t, self.schema)),
                Err(body) => {
                    *self.body = body;
                    Err((self, None))
                }
            };
        }
        match self.custom_message::<T>() {
            Some(Ok(t)) => Ok((t, self.schema)),
            Some(Err(e)) => Err((self, Some(e))),
            None => Err((self, None)),
        }
    }

    /// A message of a capability this crate does not type, read as `T` when its key and
    /// capability (same major version) are `T`'s.
    fn custom_message<T: CapabilityMessage>(&self) -> Option<Result<T, ParseError>> {
        let Body::Unknown { key, body } = &*self.body else {
            return None;
        };
        let want = T::capability();
        let fits = key == T::KEY
            && self.id.as_ref().is_ok_and(|id| {
                id.same_capability(want) && id.version().major == want.version().major
            });
        if !fits {
            return None;
        }
        Some(T::deserialize(body).map_err(|error| ParseError::Body {
            key: key.clone(),
            capability: "custom",
            path: key.clone(),
            error,
        }))
    }

    /// Checks the message against its capability's schema: the body (typed messages), a
    /// `$schema` that is a URI, and no stray root fields where the schema closes the root
    /// (AITP-01, AITP-04, AITP-05, legacy Transactions).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new();
        v.uri("$schema", &self.schema);
        if let Some(cap) = self.body.aitp_capability() {
            if cap != AitpCapability::Decisions && cap != AitpCapability::DataRequest {
                v.closed(&self.extra);
            }
        }
        let body = self.body.validate();
        match (v.finish(), body) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(a), Ok(())) | (Ok(()), Err(a)) => Err(a),
            (Err(a), Err(b)) => {
                let mut v = Validator::new();
                for e in a.into_iter().chain(b) {
                    v.field(&e.path, |v| v.error(e.message));
                }
                v.finish()
            }
        }
    }

    /// The message as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The message as compact JSON text, as it travels in a thread.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The same message under its capability's canonical URL (typed messages only; others
    /// are returned unchanged).
    pub fn canonicalized(mut self) -> Self {
        if let Some(url) = self.body.canonical_url() {
            self.schema = url.to_owned();
            self.id = CapabilityId::parse(url);
        }
        self
    }
}

fn is_json_schema_document(schema: &str) -> bool {
    schema.contains("json-schema.org/")
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2 + self.extra.len()))?;
        map.serialize_entry("$schema", &self.schema)?;
        self.body.serialize_body(&mut map)?;
        for (k, v) in &self.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Self::from_value(&v).map_err(de::Error::custom)
    }
}

impl fmt::Display for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_string())
    }
}

/// The one way to put a typed message in an envelope: under the canonical schema URL of its
/// capability, with no extra root fields. (`Envelope::from(m)` or `m.into()`.)
impl<T: CapabilityMessage> From<T> for Envelope {
    fn from(message: T) -> Self {
        Self {
            schema: T::SCHEMA_URL.to_owned(),
            id: Ok(T::capability().clone()),
            body: Box::new(Body::from_message(message)),
            extra: Map::new(),
        }
    }
}

#[cfg(test)]
mod take_tests {
    use super::*;
    use crate::capability::{
        decisions::{Decision, RequestDecision},
        errors::ErrorReport,
    };

    #[test]
    fn take_message_moves_or_hands_back() {
        let request = RequestDecision::radio("size", ["S", "M"]).build();
        let m = Envelope::from(request.clone());
        let (taken, schema) = m.take_message::<RequestDecision>().unwrap();
        assert_eq!(taken, request);
        assert_eq!(schema, RequestDecision::SCHEMA_URL);

        let m = Envelope::from(request.clone());
        let (back, error) = m.clone().take_message::<Decision>().unwrap_err();
        assert!(error.is_none());
        assert_eq!(back, m, "a message of another type comes back unchanged");

        // A custom capability (here the error capability, read as Unknown) with a bad body.
        let text = r#"{"$schema": "https://aitp-rs.github.io/capabilities/errors/v1.0.0/schema.json", "error": {"code": 1}}"#;
        let m = Envelope::parse(text).unwrap();
        assert_eq!(m.capability_id().unwrap().url(), errors_url());
        let (back, error) = m.clone().take_message::<ErrorReport>().unwrap_err();
        assert!(error.is_some_and(|e| e.is_aitp()));
        assert_eq!(back, m);
    }

    fn errors_url() -> &'static str {
        crate::capability::errors::ERRORS_V1
    }
}

#[cfg(test)]
mod duplicate_tests {
    use super::*;

    fn refused(text: &str) -> (String, String) {
        match Envelope::parse(text) {
            Err(ParseError::DuplicateKey { path, key }) => (path, key),
            other => panic!("{text}: expected a duplicate-key error, got {other:?}"),
        }
    }

    #[test]
    fn duplicate_keys_are_refused_wherever_they_are() {
        let url = "https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json";
        // Two message bodies: Python and JS would act on the second, serde on the first.
        let two = format!(
            r#"{{"$schema":"{url}","decision":{{"request_decision_id":"a","options":[{{"id":"x"}}]}},"decision":{{"request_decision_id":"b","options":[{{"id":"y"}}]}}}}"#
        );
        assert_eq!(refused(&two), (String::new(), "decision".into()));
        // Deep in a typed body.
        let deep = format!(
            r#"{{"$schema":"{url}","request_decision":{{"id":"r","options":[{{"id":"a","name":"A","name":"B"}}]}}}}"#
        );
        assert_eq!(
            refused(&deep),
            ("request_decision.options[0]".into(), "name".into())
        );
        // A repeated unknown key (whose value would change on a round trip).
        let unknown = format!(
            r#"{{"$schema":"{url}","request_decision":{{"id":"r","options":[{{"id":"a"}}],"x":{{"y":1,"y":2}}}}}}"#
        );
        assert_eq!(refused(&unknown), ("request_decision.x".into(), "y".into()));
        // Third-party capabilities and root-level extras alike.
        let custom = r#"{"$schema":"https://loyalty.example/v1.0.0/schema.json","redeem":{"points":1},"n":1,"n":2}"#;
        assert_eq!(refused(custom), (String::new(), "n".into()));
        // `$schema` twice.
        let schema = format!(r#"{{"$schema":"{url}","$schema":"{url}","decision":{{}}}}"#);
        assert_eq!(refused(&schema), (String::new(), "$schema".into()));
        let e = Envelope::parse(&deep).unwrap_err();
        assert!(e.is_aitp(), "the peer is told, not ignored");
        assert_eq!(
            e.to_string(),
            "duplicate key `name` in the object at `request_decision.options[0]`"
        );
        // The same key in sibling objects is no duplicate.
        let siblings = format!(
            r#"{{"$schema":"{url}","request_decision":{{"id":"r","options":[{{"id":"a"}},{{"id":"b"}}]}}}}"#
        );
        assert!(Envelope::parse(&siblings).is_ok());
    }
}
