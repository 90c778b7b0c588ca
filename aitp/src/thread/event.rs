//! Streaming: the server-sent events of a run (`stream: true`).
//!
//! OpenAI's framing is `event: <name>\ndata: <json>\n\n`, ending with `event: done` and
//! `data: [DONE]`; strict clients accept exactly that. NEAR AI sent only `data:` lines whose
//! JSON is `{"event": name, "data": {...}}`, nested run payloads under `data.delta`, and
//! never closed the stream; [`Event::from_sse`] and [`Event::run`] read those too.
//!
//! ```
//! use aitp::thread::event::{Event, EventName, MessageDelta};
//! let e = Event::new(EventName::MessageDelta, &MessageDelta::text_chunk("msg_1", 0, "Hel"));
//! let frame = e.to_sse();
//! assert!(frame.starts_with("event: thread.message.delta\ndata: {"));
//! let data = frame.split("data: ").nth(1).unwrap().trim_end();
//! let back = Event::from_sse(Some("thread.message.delta"), data).unwrap();
//! assert_eq!(back.message_delta().expect("a message delta").expect("it parses").text(), "Hel");
//! assert_eq!(Event::done().to_sse(), "event: done\ndata: [DONE]\n\n");
//! ```

use serde::{Deserialize, Deserializer, Serialize, Serializer, ser::SerializeMap};
use serde_json::{Map, Value};

use super::{Content, Message, Role, Run, RunStatus, wire::write_extra};
use crate::OpenDeserialize;

wire_enum! {
    /// The name of a stream event (OpenAI Assistants v2).
    pub enum EventName {
        /// A thread was created (create-thread-and-run).
        ThreadCreated = "thread.created",
        /// A run was created.
        RunCreated = "thread.run.created",
        /// A run is queued.
        RunQueued = "thread.run.queued",
        /// A run started.
        RunInProgress = "thread.run.in_progress",
        /// A run waits for the client.
        RunRequiresAction = "thread.run.requires_action",
        /// A run completed.
        RunCompleted = "thread.run.completed",
        /// A run ended incomplete.
        RunIncomplete = "thread.run.incomplete",
        /// A run failed.
        RunFailed = "thread.run.failed",
        /// A run is being cancelled.
        RunCancelling = "thread.run.cancelling",
        /// A run was cancelled.
        RunCancelled = "thread.run.cancelled",
        /// A run expired.
        RunExpired = "thread.run.expired",
        /// A run step was created.
        RunStepCreated = "thread.run.step.created",
        /// A run step started.
        RunStepInProgress = "thread.run.step.in_progress",
        /// Part of a run step changed.
        RunStepDelta = "thread.run.step.delta",
        /// A run step completed.
        RunStepCompleted = "thread.run.step.completed",
        /// A run step failed.
        RunStepFailed = "thread.run.step.failed",
        /// A run step was cancelled.
        RunStepCancelled = "thread.run.step.cancelled",
        /// A run step expired.
        RunStepExpired = "thread.run.step.expired",
        /// A message was created.
        MessageCreated = "thread.message.created",
        /// A message is being written.
        MessageInProgress = "thread.message.in_progress",
        /// Part of a message was written ([`MessageDelta`]).
        MessageDelta = "thread.message.delta",
        /// A message is complete.
        MessageCompleted = "thread.message.completed",
        /// A message ended incomplete.
        MessageIncomplete = "thread.message.incomplete",
        /// An error; the stream ends.
        Error = "error",
        /// The end of the stream (`data: [DONE]`).
        Done = "done",
    }
}

impl EventName {
    /// The event announcing that a run reached `status` (`None` for statuses this crate does
    /// not know).
    pub fn for_run_status(status: &RunStatus) -> Option<Self> {
        Some(match status {
            RunStatus::Queued => Self::RunQueued,
            RunStatus::InProgress => Self::RunInProgress,
            RunStatus::RequiresAction => Self::RunRequiresAction,
            RunStatus::Cancelling => Self::RunCancelling,
            RunStatus::Cancelled => Self::RunCancelled,
            RunStatus::Failed => Self::RunFailed,
            RunStatus::Completed => Self::RunCompleted,
            RunStatus::Incomplete => Self::RunIncomplete,
            RunStatus::Expired => Self::RunExpired,
            RunStatus::Other(_) => return None,
        })
    }

    /// Whether this is a `thread.run.*` event carrying a run (not a step).
    pub fn is_run(&self) -> bool {
        self.as_str().starts_with("thread.run.") && !self.as_str().starts_with("thread.run.step.")
    }

    /// Whether the run's part of the stream is over after this event: a terminal or
    /// waiting run status, `error` or `done`. (NEAR AI never closed its streams; stop
    /// reading here.)
    pub fn ends_run(&self) -> bool {
        matches!(
            self,
            Self::RunCompleted
                | Self::RunIncomplete
                | Self::RunFailed
                | Self::RunCancelled
                | Self::RunExpired
                | Self::RunRequiresAction
                | Self::Error
                | Self::Done
        )
    }
}

/// One server-sent event: a name and its JSON data.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The event name.
    pub name: EventName,
    /// The data (for `done`, the string `[DONE]`).
    pub data: Value,
}

impl Event {
    /// An event carrying `data` (a run, a message, a [`MessageDelta`], ...).
    pub fn new<T: Serialize>(name: EventName, data: &T) -> Self {
        Self {
            name,
            data: serde_json::to_value(data).unwrap_or(Value::Null),
        }
    }

    /// The event of `run` reaching its current status.
    pub fn run_status(run: &Run) -> Self {
        let name = EventName::for_run_status(&run.status)
            .unwrap_or_else(|| EventName::Other(format!("thread.run.{}", run.status)));
        Self::new(name, run)
    }

    /// The last event of a stream.
    pub fn done() -> Self {
        Self {
            name: EventName::Done,
            data: Value::String("[DONE]".to_owned()),
        }
    }

    /// An `error` event; its data is OpenAI's error object `{"code", "message", "param",
    /// "type"}`.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            name: EventName::Error,
            data: serde_json::json!({
                "code": null, "message": message.into(), "param": null, "type": "server_error"
            }),
        }
    }

    /// The event as an SSE frame, `event: <name>\ndata: <json>\n\n` (compact JSON has no
    /// newlines); `done` is `event: done\ndata: [DONE]\n\n`.
    pub fn to_sse(&self) -> String {
        let data = match (&self.name, &self.data) {
            (EventName::Done, _) => "[DONE]".to_owned(),
            (_, d) => serde_json::to_string(d).unwrap_or_else(|_| "null".to_owned()),
        };
        format!("event: {}\ndata: {}\n\n", self.name, data)
    }

    /// Reads an event from an SSE frame's `event` field (if any) and `data`.
    ///
    /// `data: [DONE]` is `done`. Without an `event` field, a data object
    /// `{"event": name, "data": ...}` (NEAR AI's framing) gives the name and data; other data
    /// is a `message` event (SSE's default name).
    pub fn from_sse(event: Option<&str>, data: &str) -> Result<Self, serde_json::Error> {
        if data.trim() == "[DONE]" {
            return Ok(Self::done());
        }
        let value: Value = serde_json::from_str(data)?;
        if let Some(name) = event {
            return Ok(Self {
                name: name.into(),
                data: value,
            });
        }
        match value {
            Value::Object(mut o)
                if o.get("event").is_some_and(Value::is_string) && o.contains_key("data") =>
            {
                let name = match o.remove("event") {
                    Some(Value::String(n)) => EventName::from(n),
                    _ => EventName::Other("message".to_owned()),
                };
                Ok(Self {
                    name,
                    data: o.remove("data").unwrap_or(Value::Null),
                })
            }
            other => Ok(Self {
                name: EventName::Other("message".to_owned()),
                data: other,
            }),
        }
    }

    /// The run of a `thread.run.*` event; NEAR AI's `{"delta": run}` nesting is unwrapped.
    pub fn run(&self) -> Option<Result<Run, serde_json::Error>> {
        if !self.name.is_run() {
            return None;
        }
        let data = match self.data.get("delta") {
            Some(d @ Value::Object(_))
                if self.data.get("object").and_then(Value::as_str) != Some("thread.run") =>
            {
                d
            }
            _ => &self.data,
        };
        Some(Run::deserialize(data))
    }

    /// The message of a `thread.message.created`, `.in_progress`, `.completed` or
    /// `.incomplete` event.
    pub fn message(&self) -> Option<Result<Message, serde_json::Error>> {
        matches!(
            self.name,
            EventName::MessageCreated
                | EventName::MessageInProgress
                | EventName::MessageCompleted
                | EventName::MessageIncomplete
        )
        .then(|| Message::deserialize(&self.data))
    }

    /// The delta of a `thread.message.delta` event.
    pub fn message_delta(&self) -> Option<Result<MessageDelta, serde_json::Error>> {
        (self.name == EventName::MessageDelta).then(|| MessageDelta::deserialize(&self.data))
    }
}

/// A part of a message being written: `{"id", "object": "thread.message.delta", "delta":
/// {"content": [{"index", "type": "text", "text": {"value", "annotations"}}]}}`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MessageDelta {
    /// The message id.
    pub id: String,
    /// What changed.
    pub delta: Delta,
    /// Fields OpenAI does not define, kept as received.
    pub extra: Map<String, Value>,
}

impl MessageDelta {
    /// A chunk of text for the part at `index` of message `id`.
    pub fn text_chunk(id: impl Into<String>, index: u64, chunk: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            delta: Delta {
                role: None,
                content: vec![ContentDelta {
                    index,
                    part: Content::text(chunk),
                }],
                extra: Map::new(),
            },
            extra: Map::new(),
        }
    }

    /// The text chunks of this delta, concatenated.
    pub fn text(&self) -> String {
        self.delta
            .content
            .iter()
            .filter_map(|c| c.part.as_text())
            .collect()
    }
}

/// The changed fields of a [`MessageDelta`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, OpenDeserialize)]
#[non_exhaustive]
pub struct Delta {
    /// The role, on the first delta.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Content chunks.
    #[serde(default)]
    pub content: Vec<ContentDelta>,
    /// Fields OpenAI does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A chunk of one content part: the part's index and the chunk, shaped like a part.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ContentDelta {
    /// The index of the part in the message's content.
    pub index: u64,
    /// The chunk (for text, the text to append).
    pub part: Content,
}

impl Serialize for ContentDelta {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match serde_json::to_value(&self.part) {
            Ok(Value::Object(fields)) => {
                let mut m = s.serialize_map(Some(1 + fields.len()))?;
                m.serialize_entry("index", &self.index)?;
                write_extra(&mut m, &fields, &["index"])?;
                m.end()
            }
            _ => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("index", &self.index)?;
                m.serialize_entry("value", &self.part)?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for ContentDelta {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut v = Value::deserialize(d)?;
        let index = v
            .as_object_mut()
            .and_then(|o| o.remove("index"))
            .and_then(|i| i.as_u64())
            .unwrap_or(0);
        Ok(Self {
            index,
            part: Content::from_value(v),
        })
    }
}

const DELTA_FIELDS: [&str; 3] = ["id", "object", "delta"];

impl Serialize for MessageDelta {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(DELTA_FIELDS.len() + self.extra.len()))?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("object", "thread.message.delta")?;
        m.serialize_entry("delta", &self.delta)?;
        write_extra(&mut m, &self.extra, &DELTA_FIELDS)?;
        m.end()
    }
}

#[derive(OpenDeserialize)]
struct MessageDeltaWire {
    id: Option<String>,
    object: Option<Value>,
    delta: Option<Delta>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for MessageDelta {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = MessageDeltaWire::deserialize(d)?;
        let _ = w.object;
        Ok(Self {
            id: w.id.unwrap_or_default(),
            delta: w.delta.unwrap_or_default(),
            extra: w.extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn delta_wire_shape() {
        let d = MessageDelta::text_chunk("msg_1", 0, "Hi");
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"id": "msg_1", "object": "thread.message.delta", "delta": {"content": [
                {"index": 0, "type": "text", "text": {"value": "Hi", "annotations": []}}]}})
        );
        // NEAR AI: no annotations, wrapped in {event, data}.
        let e = Event::from_sse(
            None,
            r#"{"event":"thread.message.delta","data":{"id":"m","object":"thread.message.delta","delta":{"content":[{"index":0,"type":"text","text":{"value":"chunk"}}]}}}"#,
        )
        .unwrap();
        assert_eq!(e.name, EventName::MessageDelta);
        assert_eq!(
            e.message_delta()
                .expect("a message delta")
                .expect("it parses")
                .text(),
            "chunk"
        );
    }

    #[test]
    fn run_events() {
        let mut run = Run::new("thread_1", "a");
        run.set_status(RunStatus::Completed);
        let e = Event::run_status(&run);
        assert_eq!(e.name, EventName::RunCompleted);
        assert!(e.name.ends_run() && e.name.is_run());
        assert_eq!(e.run().expect("a run event").expect("its run parses"), run);
        // NEAR AI nests the run under `delta`.
        let near = Event::from_sse(
            None,
            &json!({"event": "thread.run.completed", "data": {"id": null,
                "object": "thread.run.completed", "delta": serde_json::to_value(&run).unwrap()}})
            .to_string(),
        )
        .unwrap();
        assert_eq!(
            near.run().expect("a run event").expect("its run parses"),
            run
        );
        assert!(!EventName::RunStepCreated.is_run());
        assert!(Event::done().run().is_none());
    }

    #[test]
    fn sse_frames() {
        let e = Event::from_sse(Some("thread.run.created"), "{\"id\":\"run_1\"}").unwrap();
        assert_eq!(
            e.to_sse(),
            "event: thread.run.created\ndata: {\"id\":\"run_1\"}\n\n"
        );
        assert_eq!(
            Event::from_sse(None, "[DONE]").unwrap().name,
            EventName::Done
        );
        assert_eq!(
            Event::from_sse(None, "{\"x\":1}").unwrap().name,
            EventName::Other("message".into())
        );
        assert!(Event::from_sse(None, "not json").is_err());
        assert_eq!(
            EventName::from("thread.run.step.delta"),
            EventName::RunStepDelta
        );
        assert_eq!(
            EventName::for_run_status(&RunStatus::RequiresAction),
            Some(EventName::RunRequiresAction)
        );
        let err = Event::error("boom");
        assert_eq!(err.data["message"], "boom");
    }
}
