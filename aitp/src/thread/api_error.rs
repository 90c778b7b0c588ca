//! The error body of the Threads API, `{"error": {"message", "type", "param", "code"}}`: what
//! the server writes with every error status and what the client reads from any server.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, ser::SerializeMap};
use serde_json::{Map, Value};

use super::wire::write_extra;

/// An error as OpenAI's API answers it (the HTTP status travels beside it, not in it).
///
/// Written strictly: `{"error": {"message", "type", "param", "code"}}`, every field present
/// (`null` when unset), so openai-python and openai-node raise their typed errors. Read
/// tolerantly from what servers really answer: that shape with fields missing or extra (kept
/// in `extra`), `{"error": "text"}`, FastAPI's `{"detail": …}` and a bare
/// `{"message": …}`; a numeric `code` reads as its digits.
///
/// ```
/// use aitp::thread::ApiError;
/// let e = ApiError::new("invalid_request_error", "No thread found.").code("not_found");
/// assert_eq!(serde_json::to_string(&e).unwrap(),
///     r#"{"error":{"message":"No thread found.","type":"invalid_request_error","param":null,"code":"not_found"}}"#);
/// let read: ApiError = serde_json::from_str(r#"{"detail": "Not Found"}"#).unwrap();
/// assert_eq!(read.message, "Not Found");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ApiError {
    /// What went wrong, for people.
    pub message: String,
    /// OpenAI's error type (`invalid_request_error`, `authentication_error`, `server_error`…);
    /// empty when the server sent none.
    pub kind: String,
    /// The request parameter at fault.
    pub param: Option<String>,
    /// A machine-readable code (`not_found`, `invalid_api_key`…).
    pub code: Option<String>,
    /// Fields of the error object OpenAI does not define, kept as received.
    pub extra: Map<String, Value>,
}

impl ApiError {
    /// An error of OpenAI's type `kind` with a message for the caller.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: kind.into(),
            ..Self::default()
        }
    }

    /// Sets the machine-readable code.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the offending parameter.
    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Reads an error body; `None` when it is none of the shapes read (an HTML page, plain
    /// text, JSON of another shape).
    pub fn parse(body: &str) -> Option<Self> {
        serde_json::from_str(body).ok()
    }

    fn from_object(object: &Map<String, Value>) -> Self {
        let text = |k: &str| match object.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let extra = object
            .iter()
            .filter(|(k, _)| !FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Self {
            message: text("message").unwrap_or_default(),
            kind: text("type").unwrap_or_default(),
            param: text("param"),
            code: text("code"),
            extra,
        }
    }
}

const FIELDS: [&str; 4] = ["message", "type", "param", "code"];

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// The inner `error` object, written in OpenAI's field order.
struct Inner<'a>(&'a ApiError);

impl Serialize for Inner<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut m = s.serialize_map(Some(FIELDS.len() + e.extra.len()))?;
        m.serialize_entry("message", &e.message)?;
        m.serialize_entry("type", &e.kind)?;
        m.serialize_entry("param", &e.param)?;
        m.serialize_entry("code", &e.code)?;
        write_extra(&mut m, &e.extra, &FIELDS)?;
        m.end()
    }
}

impl Serialize for ApiError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("error", &Inner(self))?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for ApiError {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Map::<String, Value>::deserialize(d)?;
        let message_only = |m: String| Self {
            message: m,
            ..Self::default()
        };
        match (value.get("error"), value.get("detail")) {
            (Some(Value::Object(e)), _) => Ok(Self::from_object(e)),
            (Some(Value::String(s)), _) => Ok(message_only(s.clone())),
            (_, Some(Value::String(s))) => Ok(message_only(s.clone())),
            (_, Some(detail)) => Ok(message_only(detail.to_string())),
            _ if value.contains_key("message") => Ok(Self::from_object(&value)),
            _ => Err(serde::de::Error::custom(
                "not an error body: no `error`, `detail` or `message`",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_what_servers_answer() {
        let full = json!({"error": {"message": "m", "type": "t", "param": "limit",
                                    "code": "c", "trace": 1}});
        let e: ApiError = serde_json::from_value(full.clone()).unwrap();
        assert_eq!((e.kind.as_str(), e.param.as_deref()), ("t", Some("limit")));
        assert_eq!(serde_json::to_value(&e).unwrap(), full);

        let numeric: ApiError = serde_json::from_value(json!({"error": {"code": 429}})).unwrap();
        assert_eq!(numeric.code.as_deref(), Some("429"));
        assert_eq!(numeric.message, "");

        let bare: ApiError = serde_json::from_value(json!({"message": "x"})).unwrap();
        assert_eq!(bare.message, "x");
        let text: ApiError = serde_json::from_value(json!({"error": "y"})).unwrap();
        assert_eq!(text.message, "y");
        let detail: ApiError =
            serde_json::from_value(json!({"detail": [{"loc": ["body"]}]})).unwrap();
        assert!(detail.message.contains("loc"));

        assert!(ApiError::parse("Bad Gateway").is_none());
        assert!(ApiError::parse(r#"{"id": "thread_1"}"#).is_none());
    }
}
