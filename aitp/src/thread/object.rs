//! `thread` and the deletion receipt.

use serde::{Deserialize, Deserializer, Serialize, Serializer, ser::SerializeMap};
use serde_json::{Map, Value};

use super::{
    Actor, Metadata, MetadataError,
    ids::{new_thread_id, unix_now},
    metadata::metadata_or_alias,
    wire::{Timestamp, write_extra},
};
use crate::OpenDeserialize;

/// A thread (`thread`).
///
/// Written with exactly the fields of OpenAI's v2 `Thread`: `id`, `object: "thread"`,
/// `created_at` (integer), `metadata` (strings), `tool_resources` (`null` when unset). Read
/// tolerantly: a float or missing `created_at`, no `object`, `metadata` in the AITP spec's
/// shape. The spec's embedded `messages` (OpenAI threads have none) stays in `extra`.
///
/// ```
/// use aitp::thread::{Actor, Thread};
/// let mut t = Thread::new();
/// t.metadata.set_actors(&[Actor::all_v1("me.near")]);
/// let v = serde_json::to_value(&t).unwrap();
/// assert_eq!(v["object"], "thread");
/// assert!(v["metadata"]["actors"].is_string());
/// assert_eq!(v["tool_resources"], serde_json::Value::Null);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Thread {
    /// `thread_` + 24 hex digits when minted here; any string when read.
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Metadata; AITP declares the actors here ([`Thread::actors`]).
    pub metadata: Metadata,
    /// OpenAI tool resources, as received.
    pub tool_resources: Option<Value>,
    /// Fields OpenAI does not define, kept as received.
    pub extra: Map<String, Value>,
}

impl Thread {
    /// An empty thread with a new id, created now.
    pub fn new() -> Self {
        Self::with_metadata(Metadata::new())
    }

    /// A thread with a new id, created now, with `metadata`.
    pub fn with_metadata(metadata: Metadata) -> Self {
        Self {
            id: new_thread_id(),
            created_at: unix_now(),
            metadata,
            tool_resources: None,
            extra: Map::new(),
        }
    }

    /// The actors declared in `metadata.actors`.
    pub fn actors(&self) -> Result<Vec<Actor>, MetadataError> {
        self.metadata.actors()
    }
}

impl Default for Thread {
    fn default() -> Self {
        Self::new()
    }
}

const THREAD_FIELDS: [&str; 5] = ["id", "object", "created_at", "metadata", "tool_resources"];

impl Serialize for Thread {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(THREAD_FIELDS.len() + self.extra.len()))?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("object", "thread")?;
        m.serialize_entry("created_at", &self.created_at)?;
        m.serialize_entry("metadata", &self.metadata)?;
        m.serialize_entry("tool_resources", &self.tool_resources)?;
        write_extra(&mut m, &self.extra, &THREAD_FIELDS)?;
        m.end()
    }
}

#[derive(OpenDeserialize)]
struct ThreadWire {
    id: Option<String>,
    object: Option<Value>,
    created_at: Option<Timestamp>,
    metadata: Option<Metadata>,
    tool_resources: Option<Value>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for Thread {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut w = ThreadWire::deserialize(d)?;
        let _ = w.object;
        Ok(Self {
            id: w.id.unwrap_or_default(),
            created_at: w.created_at.map_or(0, |t| t.0),
            metadata: metadata_or_alias(w.metadata, &mut w.extra),
            tool_resources: w.tool_resources,
            extra: w.extra,
        })
    }
}

/// The answer to a deletion: `{"id", "object": "thread.deleted", "deleted": true}`.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize)]
#[non_exhaustive]
pub struct Deleted {
    /// The id of what was deleted.
    #[serde(default)]
    pub id: String,
    /// `thread.deleted`, `thread.message.deleted`, ...
    #[serde(default)]
    pub object: String,
    /// Whether it was deleted.
    #[serde(default)]
    pub deleted: bool,
    /// Fields OpenAI does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Deleted {
    /// A deleted thread.
    pub fn thread(id: impl Into<String>) -> Self {
        Self::new(id, "thread.deleted")
    }

    /// A deleted message.
    pub fn message(id: impl Into<String>) -> Self {
        Self::new(id, "thread.message.deleted")
    }

    fn new(id: impl Into<String>, object: &str) -> Self {
        Self {
            id: id.into(),
            object: object.to_owned(),
            deleted: true,
            extra: Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        capability::AitpCapability,
        thread::{
            Message,
            test_support::{keys, vector},
        },
    };
    use serde_json::json;

    /// The NEAR AI / openai 1.84 thread of the digest, §6.3.
    const NEAR_THREAD: &str = r#"{"id":"thread_0123456789abcdef01234567","created_at":1740000000,
 "metadata":{"actors":"[{\"id\": \"alice.near\", \"client_id\": \"app.near.ai\", \"capabilities\": [\"https://aitp.dev/v1/data/schema.json\", \"https://aitp.dev/v1/decisions/schema.json\", \"https://aitp.dev/v1/payments/schema.json\"]}]",
             "owner_id":"alice.near"},
 "object":"thread","tool_resources":null}"#;

    #[test]
    fn near_ai_thread_parses_and_round_trips() {
        let t: Thread = serde_json::from_str(NEAR_THREAD).unwrap();
        let actors = t.actors().unwrap();
        assert_eq!(actors[0].id, "alice.near");
        assert_eq!(actors[0].client_id.as_deref(), Some("app.near.ai"));
        let caps: Vec<_> = actors[0]
            .capability_ids()
            .iter()
            .map(|c| c.aitp().unwrap())
            .collect();
        assert_eq!(
            caps,
            [
                AitpCapability::DataRequest,
                AitpCapability::Decisions,
                AitpCapability::Transactions
            ]
        );
        let near: Value = serde_json::from_str(NEAR_THREAD).unwrap();
        assert_eq!(serde_json::to_value(&t).unwrap(), near);
    }

    #[test]
    fn our_thread_has_exactly_openais_fields() {
        let near: Value = serde_json::from_str(NEAR_THREAD).unwrap();
        let ours = serde_json::to_value(Thread::new()).unwrap();
        assert_eq!(keys(&ours), keys(&near));
        assert!(ours["created_at"].is_i64());
        assert_eq!(ours["metadata"], json!({}));
        assert!(ours["id"].as_str().unwrap().starts_with("thread_"));
    }

    #[test]
    fn tolerant_reading() {
        let t: Thread = serde_json::from_value(
            json!({"id": "t", "created_at": 1740000000.5, "metadata": null}),
        )
        .unwrap();
        assert_eq!(t.created_at, 1_740_000_000);
        assert!(t.metadata.is_empty());
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["object"], "thread");
        assert_eq!(v["created_at"], 1_740_000_000);
    }

    #[test]
    fn spec_vectors_threads() {
        for name in [
            "t01-examples-create-thread.json",
            "t01-examples-get-thread-that-has-several-messages.json",
        ] {
            let t: Thread = serde_json::from_value(vector(name)).unwrap();
            assert_eq!(t.id, "thread_travel-agent-1");
            assert_eq!(t.metadata.get("parent_id"), Some("thread_7518075837403837"));
            let actors = t.actors().unwrap();
            assert_eq!(actors.len(), 2);
            assert_eq!(actors[0].id, "root.near");
            assert_eq!(
                actors[0].capabilities[1].url(),
                "https://aitp.dev/v1/requests.schema.json"
            );
            assert_eq!(actors[1].capabilities.len(), 1);
        }
        let t: Thread = serde_json::from_value(vector(
            "t01-examples-get-thread-that-has-several-messages.json",
        ))
        .unwrap();
        let messages: Vec<Message> = serde_json::from_value(t.extra["messages"].clone()).unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0].text(), "I'd like to buy some socks");
        assert_eq!(messages[1].actor(), Some("hub.near.ai/travel-agent/0.1.0"));
        assert_eq!(messages[1].capabilities().count(), 1);
        // The third is a legacy Transactions quote (read tolerantly; validation would object).
        let quote = messages[2]
            .capability::<crate::capability::transactions::Quote>()
            .unwrap()
            .unwrap();
        assert_eq!(quote.quote_id, "quote_1234");
    }

    #[test]
    fn spec_thread_with_array_actors_and_null_parent() {
        let t: Thread = serde_json::from_value(json!({
            "id": "thread_abc123",
            "metadata": {"parent_id": null, "actors": [
                {"id": "user-agent.near", "capabilities": [
                    {"schema": "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json"}]}
            ]}
        }))
        .unwrap();
        assert_eq!(t.metadata.get("parent_id"), None);
        assert_eq!(
            t.actors().unwrap()[0].capability_ids()[0].aitp(),
            Some(AitpCapability::Payments)
        );
        assert!(serde_json::to_value(&t).unwrap()["metadata"]["actors"].is_string());
    }

    /// A thread as open-assistant-api (SQLModel, FastAPI) answers `GET /threads/{id}`: its
    /// `metadata` column is written `metadata_`, ids are ObjectIds and times float seconds.
    const OPEN_ASSISTANT_API_THREAD: &str = r#"{"id":"6655c0e3d4b3f2a1c8e9b7a0","created_at":1716895971.412,
 "updated_at":null,"object":"thread","tool_resources":null,
 "metadata_":{"actors":"[{\"id\": \"shop.example\", \"capabilities\": [\"https://aitp.dev/v1/decisions/schema.json\"]}, {\"id\": \"me.near\", \"capabilities\": []}]"}}"#;

    #[test]
    fn metadata_underscore_is_read_as_metadata() {
        let t: Thread = serde_json::from_str(OPEN_ASSISTANT_API_THREAD).unwrap();
        let actors = t.actors().unwrap();
        assert_eq!(actors.len(), 2);
        assert_eq!(actors[0].id, "shop.example");
        assert_eq!(
            actors[0].capability_ids()[0].aitp(),
            Some(AitpCapability::Decisions)
        );
        assert_eq!(t.created_at, 1_716_895_971);
        assert!(!t.extra.contains_key("metadata_"), "{:?}", t.extra);
        assert!(t.extra.contains_key("updated_at"));
        let v = serde_json::to_value(&t).unwrap();
        assert!(v["metadata"]["actors"].is_string());

        // `metadata` wins when both are there; a `metadata_` that is not metadata stays as is.
        let both: Thread = serde_json::from_value(
            json!({"id": "t", "metadata": {"a": "1"}, "metadata_": {"a": "2"}}),
        )
        .unwrap();
        assert_eq!(both.metadata.get("a"), Some("1"));
        assert_eq!(both.extra["metadata_"], json!({"a": "2"}));
        let odd: Thread =
            serde_json::from_value(json!({"id": "t", "metadata_": "not a map"})).unwrap();
        assert!(odd.metadata.is_empty());
        assert_eq!(odd.extra["metadata_"], "not a map");
    }

    #[test]
    fn message_metadata_underscore_names_the_actor() {
        let m: Message = serde_json::from_value(json!({
            "id": "6655c0e3d4b3f2a1c8e9b7a1", "object": "thread.message", "role": "assistant",
            "thread_id": "6655c0e3d4b3f2a1c8e9b7a0", "created_at": 1716895972.0,
            "content": [{"type": "text", "text": {"value": "hi", "annotations": []}}],
            "file_ids": null, "attachments": null, "assistant_id": null, "run_id": null,
            "metadata_": {"actor": "shop.example"}, "updated_at": null
        }))
        .unwrap();
        assert_eq!(m.actor(), Some("shop.example"));
    }

    #[test]
    fn deleted() {
        let d = Deleted::thread("thread_1");
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"id": "thread_1", "object": "thread.deleted", "deleted": true})
        );
        let r: Deleted = serde_json::from_str(r#"{"id": "m", "deleted": true}"#).unwrap();
        assert!(r.deleted);
    }
}
