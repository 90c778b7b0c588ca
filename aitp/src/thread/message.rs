//! `thread.message`: one message of a thread.

use serde::{Deserialize, Deserializer, Serialize, Serializer, ser::SerializeMap};
use serde_json::{Map, Value};

use super::{
    Content, Metadata,
    content::ContentList,
    ids::{new_message_id, unix_now},
    metadata::metadata_or_alias,
    wire::{Timestamp, write_extra},
};
use crate::{
    OpenDeserialize,
    capability::{CapabilityMessage, Envelope, ParseError, extract},
};

wire_enum! {
    /// Who wrote a message.
    ///
    /// In AITP, `user` is always the thread's creator (even when it is an agent) and
    /// `assistant` any other respondent; `metadata.actor` says which actor exactly
    /// ([`Message::actor`]).
    pub enum Role {
        /// The thread's creator.
        User = "user",
        /// Any other respondent.
        Assistant = "assistant",
    }
}

wire_enum! {
    /// The status of a message (`completed` when absent).
    #[derive(Default)]
    pub enum MessageStatus {
        /// Still being written (streaming).
        InProgress = "in_progress",
        /// Cut short; see `incomplete_details`.
        Incomplete = "incomplete",
        /// Complete.
        #[default]
        Completed = "completed",
    }
}

/// Why a message or run is incomplete: `{"reason": "..."}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, OpenDeserialize)]
#[non_exhaustive]
pub struct IncompleteDetails {
    /// Messages: `content_filter`, `max_tokens`, `run_cancelled`, `run_expired`,
    /// `run_failed`. Runs: `max_completion_tokens`, `max_prompt_tokens`.
    pub reason: Option<String>,
    /// Fields OpenAI does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl IncompleteDetails {
    /// Details with a reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: Some(reason.into()),
            extra: Map::new(),
        }
    }
}

/// A file attached to a message, and the tools it is for.
#[derive(Debug, Clone, PartialEq, Default, Serialize, OpenDeserialize)]
#[non_exhaustive]
pub struct Attachment {
    /// The file id.
    #[serde(default)]
    pub file_id: String,
    /// The tools (`{"type": "code_interpreter"}`, `{"type": "file_search"}`), as received.
    #[serde(default)]
    pub tools: Vec<Value>,
    /// Fields OpenAI does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Attachment {
    /// An attachment for no particular tool.
    pub fn new(file_id: impl Into<String>) -> Self {
        Self {
            file_id: file_id.into(),
            ..Self::default()
        }
    }
}

/// A message of a thread (`thread.message`).
///
/// Written with exactly the fields of OpenAI's v2 `Message` (`object: "thread.message"`,
/// `null` for unset optional fields, `attachments: []`, `metadata: {}`). Read tolerantly:
/// messages in the AITP spec's shape (content as bare strings, no id, no role, no
/// timestamps) parse with empty ids, timestamp 0 and, without a role, `Role::Other("")`.
///
/// Capability messages travel as JSON text in text parts: [`Message::capability`] finds the
/// first one of a type, [`Message::capabilities`] iterates over all of them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Message {
    /// `msg_` + 24 hex digits when minted here; any string when read.
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The thread it belongs to.
    pub thread_id: String,
    /// Who wrote it.
    pub role: Role,
    /// The parts, in order.
    pub content: Vec<Content>,
    /// The assistant that wrote it, if any.
    pub assistant_id: Option<String>,
    /// The run that wrote it, if any.
    pub run_id: Option<String>,
    /// Attached files.
    pub attachments: Vec<Attachment>,
    /// Metadata; AITP's `actor` (who sent it) lives here.
    pub metadata: Metadata,
    /// Its status.
    pub status: MessageStatus,
    /// When it was completed (unix seconds).
    pub completed_at: Option<i64>,
    /// When it was marked incomplete (unix seconds).
    pub incomplete_at: Option<i64>,
    /// Why it is incomplete.
    pub incomplete_details: Option<IncompleteDetails>,
    /// Fields OpenAI does not define (such as v1's `file_ids`), kept as received.
    pub extra: Map<String, Value>,
}

impl Message {
    /// A completed message with a new id, created now.
    pub fn new(thread_id: impl Into<String>, role: Role, content: Vec<Content>) -> Self {
        Self {
            id: new_message_id(),
            created_at: unix_now(),
            thread_id: thread_id.into(),
            role,
            content,
            assistant_id: None,
            run_id: None,
            attachments: Vec::new(),
            metadata: Metadata::new(),
            status: MessageStatus::Completed,
            completed_at: None,
            incomplete_at: None,
            incomplete_details: None,
            extra: Map::new(),
        }
    }

    /// The text of its text parts, in order.
    pub fn text_parts(&self) -> impl Iterator<Item = &str> + '_ {
        self.content.iter().filter_map(Content::as_text)
    }

    /// The text of its text parts, joined with newlines (as NEAR AI agents read messages).
    pub fn text(&self) -> String {
        self.text_parts().collect::<Vec<_>>().join("\n")
    }

    /// The capability messages in its text parts, in order; parts that are AITP messages of a
    /// known type but malformed come out as errors. Text that is not an AITP message
    /// (including other JSON) is skipped.
    pub fn capabilities(&self) -> impl Iterator<Item = Result<Envelope, ParseError>> + '_ {
        extract(self.text_parts())
    }

    /// The first capability message of type `T` in its text parts.
    ///
    /// `Ok(None)` when there is none; `Err` when the first part that is a `T` by key and
    /// capability does not fit `T`.
    pub fn capability<T: CapabilityMessage>(&self) -> Result<Option<T>, ParseError> {
        let ours = T::capability().aitp().map(|c| c.slug());
        for m in self.capabilities() {
            match m {
                Ok(m) => {
                    if let Some(t) = m.message::<T>()? {
                        return Ok(Some(t));
                    }
                }
                Err(e) => {
                    if let ParseError::Body {
                        key, capability, ..
                    } = &e
                    {
                        if key == T::KEY && ours == Some(*capability) {
                            return Err(e);
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// The AITP actor that sent it (`metadata.actor`), if set.
    pub fn actor(&self) -> Option<&str> {
        self.metadata.get("actor")
    }
}

const MESSAGE_FIELDS: [&str; 14] = [
    "id",
    "object",
    "created_at",
    "thread_id",
    "role",
    "content",
    "assistant_id",
    "run_id",
    "attachments",
    "metadata",
    "status",
    "completed_at",
    "incomplete_at",
    "incomplete_details",
];

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(MESSAGE_FIELDS.len() + self.extra.len()))?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("object", "thread.message")?;
        m.serialize_entry("created_at", &self.created_at)?;
        m.serialize_entry("thread_id", &self.thread_id)?;
        m.serialize_entry("role", &self.role)?;
        m.serialize_entry("content", &self.content)?;
        m.serialize_entry("assistant_id", &self.assistant_id)?;
        m.serialize_entry("run_id", &self.run_id)?;
        m.serialize_entry("attachments", &self.attachments)?;
        m.serialize_entry("metadata", &self.metadata)?;
        m.serialize_entry("status", &self.status)?;
        m.serialize_entry("completed_at", &self.completed_at)?;
        m.serialize_entry("incomplete_at", &self.incomplete_at)?;
        m.serialize_entry("incomplete_details", &self.incomplete_details)?;
        write_extra(&mut m, &self.extra, &MESSAGE_FIELDS)?;
        m.end()
    }
}

#[derive(OpenDeserialize)]
struct MessageWire {
    id: Option<String>,
    object: Option<Value>,
    created_at: Option<Timestamp>,
    thread_id: Option<String>,
    role: Option<Role>,
    content: Option<ContentList>,
    assistant_id: Option<String>,
    run_id: Option<String>,
    attachments: Option<Vec<Attachment>>,
    metadata: Option<Metadata>,
    status: Option<MessageStatus>,
    completed_at: Option<Timestamp>,
    incomplete_at: Option<Timestamp>,
    incomplete_details: Option<IncompleteDetails>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut w = MessageWire::deserialize(d)?;
        let _ = w.object;
        Ok(Self {
            id: w.id.unwrap_or_default(),
            created_at: w.created_at.map_or(0, |t| t.0),
            thread_id: w.thread_id.unwrap_or_default(),
            role: w.role.unwrap_or_else(|| Role::Other(String::new())),
            content: w.content.map(|c| c.0).unwrap_or_default(),
            assistant_id: w.assistant_id,
            run_id: w.run_id,
            attachments: w.attachments.unwrap_or_default(),
            metadata: metadata_or_alias(w.metadata, &mut w.extra),
            status: w.status.unwrap_or_default(),
            completed_at: w.completed_at.map(|t| t.0),
            incomplete_at: w.incomplete_at.map(|t| t.0),
            incomplete_details: w.incomplete_details,
            extra: w.extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::{Body, decisions::RequestDecision};
    use crate::thread::test_support::{keys, vector};
    use serde_json::json;

    /// The NEAR AI / openai 1.84 message of the digest, §6.3.
    const NEAR_MESSAGE: &str = r#"{"id":"msg_0123456789abcdef01234567","assistant_id":"alice.near/agent/0.0.1","attachments":null,"completed_at":null,
 "content":[{"text":{"annotations":[],"value":"{\"$schema\": \"https://aitp.dev/v1/decisions/schema.json\", \"request_decision\": {\"id\": \"x\", \"options\": [{\"id\": \"a\"}]}}"},"type":"text"}],
 "created_at":1740000001,"incomplete_at":null,"incomplete_details":null,"metadata":null,"object":"thread.message",
 "role":"assistant","run_id":"run_0123456789abcdef01234567","status":"completed","thread_id":"thread_0123456789abcdef01234567"}"#;

    #[test]
    fn near_ai_message_parses_and_writes_openai_field_set() {
        let m: Message = serde_json::from_str(NEAR_MESSAGE).unwrap();
        assert_eq!(m.role, Role::Assistant);
        assert_eq!(m.created_at, 1_740_000_001);
        assert!(m.attachments.is_empty());
        let rd = m
            .capability::<RequestDecision>()
            .expect("the content parses")
            .expect("it is a request_decision");
        assert_eq!(rd.id.as_deref(), Some("x"));

        let written = serde_json::to_value(&m).unwrap();
        let near: Value = serde_json::from_str(NEAR_MESSAGE).unwrap();
        assert_eq!(keys(&written), keys(&near));
        assert_eq!(written["attachments"], json!([]));
        assert_eq!(written["metadata"], json!({}));
        assert!(written["created_at"].is_i64());

        let fresh = serde_json::to_value(Message::new("thread_1", Role::User, vec![])).unwrap();
        assert_eq!(keys(&fresh), keys(&near));
        assert!(fresh["created_at"].is_i64());
        assert_eq!(fresh["object"], "thread.message");
        assert_eq!(fresh["completed_at"], Value::Null);
    }

    #[test]
    fn tolerant_reading() {
        let m: Message = serde_json::from_value(json!({
            "created_at": 1740000001.25,
            "content": "plain",
            "role": "user",
            "attachments": null,
            "metadata": {"actor": "me.near", "parent_id": null}
        }))
        .unwrap();
        assert_eq!(m.created_at, 1_740_000_001);
        assert_eq!(m.text(), "plain");
        assert_eq!(m.actor(), Some("me.near"));
        assert_eq!(m.status, MessageStatus::Completed);
        assert!(m.id.is_empty());
    }

    #[test]
    fn lossless_unknown_fields() {
        let text = r#"{
            "id": "msg_1", "object": "thread.message", "created_at": 1, "thread_id": "thread_1",
            "role": "user",
            "content": [{"type": "text", "text": {"value": "hi", "annotations": []}}],
            "assistant_id": null, "run_id": null,
            "attachments": [{"file_id": "f", "tools": [{"type": "file_search"}], "note": 1}],
            "metadata": {"k": "v"}, "status": "in_progress", "completed_at": null,
            "incomplete_at": null, "incomplete_details": {"reason": "max_tokens", "why": 1.50},
            "file_ids": ["f"], "near": {"exact": 12345678901234567890123.000}
        }"#;
        let v: Value = serde_json::from_str(text).unwrap();
        let m: Message = serde_json::from_str(text).unwrap();
        assert_eq!(m.status, MessageStatus::InProgress);
        assert_eq!(serde_json::to_value(&m).unwrap(), v);
    }

    #[test]
    fn capability_among_parts_with_whitespace() {
        let rd = RequestDecision::radio("size", ["S", "M"]).build();
        let json = format!("\n  {}  \n", Envelope::from(rd.clone()).to_json_string());
        let m = Message::new(
            "thread_1",
            Role::Assistant,
            vec![
                Content::text("Here are your options:"),
                Content::text(r#"{"just": "json", "$schema": 3}"#),
                Content::image_url("https://e.example/socks.png"),
                Content::text(json),
                Content::text("{not json"),
            ],
        );
        assert_eq!(
            m.capability::<RequestDecision>()
                .expect("the content parses")
                .expect("it is a request_decision"),
            rd
        );
        assert!(matches!(
            m.capability::<crate::capability::decisions::Decision>(),
            Ok(None)
        ));
        assert_eq!(m.capabilities().count(), 1);
        assert_eq!(m.text_parts().count(), 4);
        assert!(m.text().starts_with("Here are your options:\n{\"just\""));
    }

    #[test]
    fn malformed_capability_is_an_error_not_text() {
        let m = Message::new(
            "t",
            Role::User,
            vec![Content::text(
                r#"{"$schema": "https://aitp.dev/v1/decisions/schema.json", "request_decision": {"options": "nope"}}"#,
            )],
        );
        assert!(m.capability::<RequestDecision>().is_err());
        assert!(matches!(
            m.capability::<crate::capability::decisions::Decision>(),
            Ok(None)
        ));
    }

    #[test]
    fn spec_vector_message_with_bare_string_content() {
        let v = vector("t01-examples-create-an-aitp-message.json");
        let m: Message = serde_json::from_value(v).unwrap();
        assert_eq!(m.role, Role::Assistant);
        assert_eq!(m.thread_id, "thread_travel-agent-1");
        assert_eq!(m.actor(), Some("hub.near.ai/travel-agent/0.1.0"));
        let rd = m
            .capability::<RequestDecision>()
            .expect("the content parses")
            .expect("it is a request_decision");
        assert_eq!(rd.options.len(), 2);
    }

    #[test]
    fn spec_vector_invalid_json_stays_text() {
        let v = vector("t01-capabilities-for-example.json");
        let messages: Vec<Message> = serde_json::from_value(v["messages"].clone()).unwrap();
        let m = &messages[0];
        assert_eq!(m.content.len(), 1);
        assert!(m.text().contains("request_payment"));
        assert_eq!(m.capabilities().count(), 0);
    }

    #[test]
    fn aitp_content_round_trips_through_the_wire() {
        let msg = Envelope::parse(
            r#"{"$schema": "https://loyalty.example/v1.0.0/schema.json", "redeem": {"points": 10}}"#,
        )
        .unwrap();
        let m = Message::new("t", Role::User, vec![Content::aitp(&msg)]);
        let back: Message = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        let found = back
            .capabilities()
            .next()
            .expect("one capability message")
            .expect("it parses");
        assert!(matches!(found.body(), Body::Unknown { key, .. } if key == "redeem"));
        assert_eq!(back, m);
    }
}
