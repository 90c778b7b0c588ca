//! The envelope: `{"$schema": url, "<key>": body}` to and from typed messages.

use std::{borrow::Cow, fmt};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de, ser::SerializeMap};
use serde_json::{Map, Value, value::RawValue};

use super::{
    AitpCapability, Body, CapabilityId, CapabilityIdError, CapabilityMessage, nulls::Nulls,
    parse_error::ParseError,
};
use crate::{
    json::Key,
    validate::{ValidationErrors, Validator},
};

/// Which capability a message key belongs to when the `$schema` does not say: NEAR AI
/// dispatched on the key alone, and agents wrote obsolete URLs. The keys come from the
/// registry; where two capabilities share a key, the body's shape decides.
fn capability_by_key(key: &str, raw: &str) -> Option<AitpCapability> {
    let mut owners = AitpCapability::ALL
        .into_iter()
        .filter(|c| c.message_keys().contains(&key));
    let first = owners.next()?;
    Some(match owners.next() {
        None => first,
        Some(second) => by_shape(first, second, raw),
    })
}

/// Tells apart two capabilities that define the same key by what the body holds.
fn by_shape(first: AitpCapability, second: AitpCapability, raw: &str) -> AitpCapability {
    use AitpCapability::*;
    match (first, second) {
        // `quote`: AITP-01 has payment options and a merchant, the legacy one payment plans.
        (Payments, Transactions) => {
            if raw.contains("\"payment_options\"") || raw.contains("\"merchant_id\"") {
                Payments
            } else {
                Transactions
            }
        }
        // The wallet messages: EVM ones name chains, hex values, signing types or ERC-20.
        (NearWallet, EvmWallet) => {
            let evm = raw.contains("\"chain_id\"")
                || raw.contains("\"signing_type\"")
                || raw.contains("\"0x")
                || raw.contains("\"erc20\"");
            if evm { EvmWallet } else { NearWallet }
        }
        _ => first,
    }
}

/// A capability message: `{"$schema": url, "<key>": body}`.
///
/// The `$schema` URL is kept exactly as received (so a message passed through is unchanged);
/// messages built here get the canonical URL. Root-level fields besides `$schema` and the key
/// are kept too, and so are explicit `null`s on optional fields of a typed body (read as `None`,
/// but written back as received).
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
    // Explicit `null`s the typed body does not write, written back (see `nulls`).
    nulls: Nulls,
}

// Keys borrowed from the text unless they carry escapes: most are never stored.
struct RawFields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

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
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
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
            nulls: Nulls::default(),
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
            .find(|&i| declared.is_some_and(|c| c.message_keys().contains(&fields[i].0.as_ref())))
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
        let mut nulls = Nulls::default();
        for (i, (k, v)) in fields.into_iter().enumerate() {
            if k == "$schema" {
                continue;
            }
            if i != key_index {
                let value: Value = serde_json::from_str(v.get()).map_err(ParseError::NotJson)?;
                extra.insert(k.into_owned(), value);
                continue;
            }
            let raw = v.get();
            let cap = match declared {
                Some(c) if c.message_keys().contains(&k.as_ref()) => Some(c),
                _ if third_party => None,
                _ => capability_by_key(&k, raw),
            };
            let typed = cap.and_then(|c| Body::parse_typed(c, &k, raw));
            body = Some(match typed {
                Some(result) => {
                    let typed = result?;
                    nulls = Nulls::lost(raw, || typed.to_value());
                    typed
                }
                None => Body::Unknown {
                    body: serde_json::from_str(raw).map_err(ParseError::NotJson)?,
                    key: k.into_owned(),
                },
            });
        }
        let body = body.ok_or(ParseError::NotAitp("no message key"))?;
        Ok(Self {
            schema,
            id,
            body: Box::new(body),
            extra,
            nulls,
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

    /// The capability the body belongs to, at the message's version: the `$schema`'s, except
    /// for a typed body read under a URL that names another capability (or none), which
    /// belongs to its own capability at 1.0.0. `None` when an untyped body has no capability.
    pub(crate) fn body_capability(&self) -> Option<CapabilityId> {
        let id = self.id.as_ref().ok();
        match self.body.aitp_capability() {
            None => id.cloned(),
            Some(cap) => Some(match id {
                Some(id) if id.aitp() == Some(cap) => id.clone(),
                _ => cap.v1(),
            }),
        }
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

    /// The body as `T`, if this is a `T` message: by type for the built-in messages, and by
    /// key and capability (same major version) otherwise, so that messages of your own
    /// capabilities, or your own types for built-in messages, come out typed too.
    ///
    /// `Ok(None)` when the message is of another type; `Err` when it is a `T` by key and
    /// capability but its body does not fit `T`. Composes with `?`:
    ///
    /// ```
    /// # use aitp::capability::{Envelope, ParseError, decisions::Decision};
    /// fn chosen(m: &Envelope) -> Result<Option<String>, ParseError> {
    ///     let Some(decision) = m.message::<Decision>()? else { return Ok(None) };
    ///     Ok(decision.options.first().map(|o| o.id.as_str().to_owned()))
    /// }
    /// ```
    pub fn message<T: CapabilityMessage>(&self) -> Result<Option<T>, ParseError> {
        if let Some(t) = T::body_ref(&self.body) {
            return Ok(Some(t.clone()));
        }
        self.read_as::<T>()
    }

    /// Like [`Envelope::message`], moving the body out instead of copying it (with the
    /// `$schema` as received); the message comes back, with the parse error if any, when it
    /// is not a `T` that fits.
    #[allow(clippy::result_large_err)] // the message handed back, unmoved
    pub(crate) fn take_message<T: CapabilityMessage>(
        mut self,
    ) -> Result<(T, String), (Self, Option<ParseError>)> {
        let placeholder = Body::Unknown {
            key: String::new(),
            body: Value::Null,
        };
        let body = std::mem::replace(&mut *self.body, placeholder);
        match T::from_body(body) {
            Ok(t) => Ok((t, self.schema)),
            Err(body) => {
                *self.body = body;
                match self.read_as::<T>() {
                    Ok(Some(t)) => Ok((t, self.schema)),
                    Ok(None) => Err((self, None)),
                    Err(e) => Err((self, Some(e))),
                }
            }
        }
    }

    /// The body read as `T` when its key and capability (same major version) are `T`'s:
    /// unknown bodies, and typed bodies of another Rust type than `T`.
    fn read_as<T: CapabilityMessage>(&self) -> Result<Option<T>, ParseError> {
        let want = T::capability();
        let fits = self.body.key() == T::KEY
            && self.id.as_ref().is_ok_and(|id| {
                id.same_capability(want) && id.version().major == want.version().major
            });
        if !fits {
            return Ok(None);
        }
        let read = match &*self.body {
            Body::Unknown { body, .. } => T::deserialize(body),
            typed => T::deserialize(typed.to_value()),
        };
        read.map(Some).map_err(|error| ParseError::Body {
            key: T::KEY.to_owned(),
            capability: want.aitp().map_or("custom", AitpCapability::slug),
            path: T::KEY.to_owned(),
            error,
        })
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
        if let Some(url) = self.body.aitp_capability().map(AitpCapability::url) {
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
        if self.nulls.is_empty() {
            self.body.serialize_entry(&mut map)?;
        } else {
            let mut body = self.body.to_value();
            self.nulls.restore(&mut body);
            map.serialize_entry(self.body.key(), &body)?;
        }
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
            body: Box::new(message.into_body()),
            extra: Map::new(),
            nulls: Nulls::default(),
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
