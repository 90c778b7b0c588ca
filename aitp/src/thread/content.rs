//! Message content: text (which carries capability messages), images, refusals.

use serde::{Deserialize, Deserializer, Serialize, Serializer, ser::SerializeMap};
use serde_json::{Map, Value};

use super::wire::write_extra;
use crate::capability::Envelope;

/// A text part: the text and OpenAI's annotations (file citations, file paths).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Text {
    /// The text. A capability message is this text, JSON-encoded.
    pub value: String,
    /// OpenAI annotations, kept as received (always written, `[]` when none).
    pub annotations: Vec<Value>,
    /// Fields of the `text` object OpenAI does not define, kept as received.
    pub extra: Map<String, Value>,
}

impl Text {
    /// A text with no annotations.
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            annotations: Vec::new(),
            extra: Map::new(),
        }
    }
}

/// An image stored as a file: `{"file_id", "detail"}`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ImageFile {
    /// The file id.
    pub file_id: String,
    /// `auto`, `low` or `high`.
    pub detail: Option<String>,
    /// Fields OpenAI does not define, kept as received.
    pub extra: Map<String, Value>,
}

/// An image by URL: `{"url", "detail"}`. The URL is data: never fetched by this crate.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ImageUrl {
    /// The URL.
    pub url: String,
    /// `auto`, `low` or `high`.
    pub detail: Option<String>,
    /// Fields OpenAI does not define, kept as received.
    pub extra: Map<String, Value>,
}

/// One part of a message's content.
///
/// Written in OpenAI's response shape: `{"type": "text", "text": {"value", "annotations"}}`,
/// `{"type": "image_file", "image_file": {...}}`, `{"type": "image_url", "image_url": {...}}`,
/// `{"type": "refusal", "refusal": "..."}`. Read from that shape, from the request shape
/// `{"type": "text", "text": "..."}` and from a bare string (the AITP spec's content is a
/// list of strings). Anything else is kept as [`Content::Other`], so reading never fails.
/// Keys of a part besides `type` and its body are not kept.
///
/// ```
/// use aitp::thread::Content;
/// for json in [r#""hi""#, r#"{"type": "text", "text": "hi"}"#,
///              r#"{"type": "text", "text": {"value": "hi", "annotations": []}}"#] {
///     let c: Content = serde_json::from_str(json).unwrap();
///     assert_eq!(c.as_text(), Some("hi"));
///     assert_eq!(serde_json::to_string(&c).unwrap(),
///                r#"{"type":"text","text":{"value":"hi","annotations":[]}}"#);
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Content {
    /// Text, including capability messages (JSON text).
    Text(Text),
    /// An image file.
    ImageFile(ImageFile),
    /// An image URL.
    ImageUrl(ImageUrl),
    /// A refusal by the model.
    Refusal(String),
    /// A part of a type this crate does not know, kept as received.
    Other(Value),
}

impl Content {
    /// A text part.
    pub fn text(value: impl Into<String>) -> Self {
        Self::Text(Text::new(value))
    }

    /// A text part carrying a capability message, JSON-encoded.
    pub fn aitp(message: &Envelope) -> Self {
        Self::text(message.to_json_string())
    }

    /// An image by URL.
    pub fn image_url(url: impl Into<String>) -> Self {
        Self::ImageUrl(ImageUrl {
            url: url.into(),
            ..ImageUrl::default()
        })
    }

    /// An image file.
    pub fn image_file(file_id: impl Into<String>) -> Self {
        Self::ImageFile(ImageFile {
            file_id: file_id.into(),
            ..ImageFile::default()
        })
    }

    /// The text of a text part.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(&t.value),
            _ => None,
        }
    }

    /// Reads a part from any of the shapes peers send; never fails.
    pub fn from_value(value: Value) -> Self {
        let mut map = match value {
            Value::String(s) => return Self::text(s),
            Value::Object(map) => map,
            other => return Self::Other(other),
        };
        let kind = match map.get("type") {
            Some(Value::String(t)) => t.clone(),
            // No type: a part that has a text is text.
            None if map.contains_key("text") => "text".to_owned(),
            _ => return Self::Other(Value::Object(map)),
        };
        let body = map.get(kind.as_str());
        match (kind.as_str(), body) {
            ("text", Some(Value::String(_))) => match map.remove("text") {
                Some(Value::String(s)) => Self::text(s),
                _ => unreachable_other(map),
            },
            ("text", Some(Value::Object(_))) => match map.remove("text") {
                Some(Value::Object(mut t)) => {
                    let value = take_string(&mut t, "value").unwrap_or_default();
                    let annotations = match t.remove("annotations") {
                        Some(Value::Array(a)) => a,
                        Some(Value::Null) | None => Vec::new(),
                        Some(other) => {
                            t.insert("annotations".to_owned(), other);
                            Vec::new()
                        }
                    };
                    Self::Text(Text {
                        value,
                        annotations,
                        extra: t,
                    })
                }
                _ => unreachable_other(map),
            },
            ("image_file", Some(Value::Object(_))) => match map.remove("image_file") {
                Some(Value::Object(mut b)) => Self::ImageFile(ImageFile {
                    file_id: take_string(&mut b, "file_id").unwrap_or_default(),
                    detail: take_string(&mut b, "detail"),
                    extra: b,
                }),
                _ => unreachable_other(map),
            },
            ("image_url", Some(Value::Object(_))) => match map.remove("image_url") {
                Some(Value::Object(mut b)) => Self::ImageUrl(ImageUrl {
                    url: take_string(&mut b, "url").unwrap_or_default(),
                    detail: take_string(&mut b, "detail"),
                    extra: b,
                }),
                _ => unreachable_other(map),
            },
            ("refusal", Some(Value::String(_))) => match map.remove("refusal") {
                Some(Value::String(s)) => Self::Refusal(s),
                _ => unreachable_other(map),
            },
            _ => Self::Other(Value::Object(map)),
        }
    }

    /// Writes the part in OpenAI's request shape (text as a plain string), as
    /// `POST /threads/{id}/messages` expects it.
    pub(crate) fn serialize_param<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(t) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("type", "text")?;
                m.serialize_entry("text", &t.value)?;
                m.end()
            }
            other => other.serialize(s),
        }
    }
}

/// After a type check on the borrowed body, taking it cannot give another type; keep the part
/// as received anyway rather than panic.
fn unreachable_other(map: Map<String, Value>) -> Content {
    Content::Other(Value::Object(map))
}

fn take_string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.remove(key) {
        Some(Value::String(s)) => Some(s),
        Some(Value::Null) | None => None,
        Some(other) => {
            // Not a string: keep it where it was, untouched.
            map.insert(key.to_owned(), other);
            None
        }
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2 + self.extra.len()))?;
        m.serialize_entry("value", &self.value)?;
        m.serialize_entry("annotations", &self.annotations)?;
        write_extra(&mut m, &self.extra, &["value", "annotations"])?;
        m.end()
    }
}

impl Serialize for ImageFile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("file_id", &self.file_id)?;
        if let Some(d) = &self.detail {
            m.serialize_entry("detail", d)?;
        }
        write_extra(&mut m, &self.extra, &["file_id", "detail"])?;
        m.end()
    }
}

impl Serialize for ImageUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("url", &self.url)?;
        if let Some(d) = &self.detail {
            m.serialize_entry("detail", d)?;
        }
        write_extra(&mut m, &self.extra, &["url", "detail"])?;
        m.end()
    }
}

fn part<S: Serializer, B: Serialize + ?Sized>(
    s: S,
    kind: &str,
    body: &B,
) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(2))?;
    m.serialize_entry("type", kind)?;
    m.serialize_entry(kind, body)?;
    m.end()
}

impl Serialize for Content {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(t) => part(s, "text", t),
            Self::ImageFile(i) => part(s, "image_file", i),
            Self::ImageUrl(i) => part(s, "image_url", i),
            Self::Refusal(r) => part(s, "refusal", r),
            Self::Other(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Self::from_value)
    }
}

impl From<&str> for Content {
    fn from(s: &str) -> Self {
        Self::text(s)
    }
}

impl From<String> for Content {
    fn from(s: String) -> Self {
        Self::text(s)
    }
}

impl From<&Envelope> for Content {
    fn from(m: &Envelope) -> Self {
        Self::aitp(m)
    }
}

/// A whole `content` field as peers send it: a string, a list of parts (bare strings, request
/// or response parts), a single part object, or `null`.
pub(crate) fn content_from_value(value: Value) -> Vec<Content> {
    match value {
        Value::Null => Vec::new(),
        Value::String(s) => vec![Content::text(s)],
        Value::Array(parts) => parts.into_iter().map(Content::from_value).collect(),
        other => vec![Content::from_value(other)],
    }
}

/// The tolerant reader of a message's `content` field, for wire structs.
pub(crate) struct ContentList(pub(crate) Vec<Content>);

impl<'de> Deserialize<'de> for ContentList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|v| ContentList(content_from_value(v)))
    }
}

/// The `content` of a message being created: a plain string or a list of parts.
///
/// Written as OpenAI's request expects it: a string, or parts in the request shape
/// (`{"type": "text", "text": "..."}`). Read from a string, a list of parts in any shape
/// (including the AITP spec's bare strings), a single part, or `null` (no parts).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ContentInput {
    /// A plain string: one text part.
    Text(String),
    /// A list of parts.
    Parts(Vec<Content>),
}

impl ContentInput {
    /// Whether there is no content at all: an empty string or no parts. OpenAI answers such a
    /// request with a 400; [`crate::thread::CreateMessage::check`] reports it.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Text(s) => s.is_empty(),
            Self::Parts(p) => p.is_empty(),
        }
    }

    /// The content as stored in a message: a string becomes one text part (as OpenAI stores
    /// it), parts are kept in order.
    pub fn into_content(self) -> Vec<Content> {
        match self {
            Self::Text(s) => vec![Content::text(s)],
            Self::Parts(p) => p,
        }
    }
}

impl Default for ContentInput {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

impl From<&str> for ContentInput {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for ContentInput {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<Vec<Content>> for ContentInput {
    fn from(parts: Vec<Content>) -> Self {
        Self::Parts(parts)
    }
}

impl From<&Envelope> for ContentInput {
    fn from(m: &Envelope) -> Self {
        Self::Text(m.to_json_string())
    }
}

impl Serialize for ContentInput {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Param<'a>(&'a Content);
        impl Serialize for Param<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize_param(s)
            }
        }
        match self {
            Self::Text(t) => s.serialize_str(t),
            Self::Parts(parts) => s.collect_seq(parts.iter().map(Param)),
        }
    }
}

impl<'de> Deserialize<'de> for ContentInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Self::Text(s),
            other => Self::Parts(content_from_value(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_input_shape() {
        let c = content_from_value(json!([
            "bare",
            {"type": "text", "text": "param"},
            {"type": "text", "text": {"value": "response", "annotations": [{"type": "file_path"}], "x": 1}},
            {"type": "image_url", "image_url": {"url": "https://e.example/i.png", "detail": "low"}},
            {"type": "image_file", "image_file": {"file_id": "file_1"}},
            {"type": "refusal", "refusal": "no"},
            {"type": "video", "video": {"url": "v"}},
            {"type": "text", "text": 5},
            7
        ]));
        assert_eq!(c[0].as_text(), Some("bare"));
        assert_eq!(c[1].as_text(), Some("param"));
        assert!(matches!(&c[2], Content::Text(t) if t.annotations.len() == 1 && t.extra["x"] == 1));
        assert!(matches!(&c[3], Content::ImageUrl(i) if i.detail.as_deref() == Some("low")));
        assert!(matches!(&c[4], Content::ImageFile(i) if i.file_id == "file_1"));
        assert_eq!(c[5], Content::Refusal("no".into()));
        assert!(matches!(&c[6], Content::Other(_)));
        assert!(matches!(&c[7], Content::Other(_)));
        assert_eq!(c[8], Content::Other(json!(7)));
        assert_eq!(content_from_value(json!("s")), vec![Content::text("s")]);
        assert!(content_from_value(Value::Null).is_empty());
    }

    #[test]
    fn response_shape_round_trips() {
        let parts = json!([
            {"type": "text", "text": {"value": "v", "annotations": [], "extra": true}},
            {"type": "image_file", "image_file": {"file_id": "f", "detail": "auto"}},
            {"type": "image_url", "image_url": {"url": "u"}},
            {"type": "refusal", "refusal": "r"},
            {"type": "audio", "audio": {"id": 1.50}}
        ]);
        let c = content_from_value(parts.clone());
        assert_eq!(serde_json::to_value(&c).unwrap(), parts);
    }

    #[test]
    fn input_writes_request_shape() {
        let i = ContentInput::Parts(vec![Content::text("a"), Content::image_url("u")]);
        assert_eq!(
            serde_json::to_value(&i).unwrap(),
            json!([{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "u"}}])
        );
        assert_eq!(
            serde_json::to_value(ContentInput::from("s")).unwrap(),
            json!("s")
        );
        let read: ContentInput = serde_json::from_value(json!(["a", "b"])).unwrap();
        assert_eq!(
            read.into_content(),
            vec![Content::text("a"), Content::text("b")]
        );
        assert!(ContentInput::from("").is_empty());
        assert_eq!(
            ContentInput::from("").into_content(),
            vec![Content::text("")]
        );
    }
}
