//! `thread.run.step`: what a run did. An AITP agent's runs only post messages, so each run has
//! one `message_creation` step per message it posted.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Message, MessageStatus, Metadata, Run, RunError, Usage};
use crate::OpenDeserialize;

/// A run step, as OpenAI writes it (every field present, `null` when unset).
///
/// [`RunStep::message_creation`] derives the step of a message a run posted; its id is the
/// message's with `step_` for `msg_` ([`RunStep::message_id_of`] goes back), so steps need no
/// storage of their own.
///
/// ```
/// use aitp::thread::{Content, Message, Role, Run, RunStep};
/// let run = Run::new("thread_1", "shop");
/// let mut reply = Message::new("thread_1", Role::Assistant, vec![Content::text("hi")]);
/// reply.run_id = Some(run.id.clone());
/// let step = RunStep::message_creation(&run, &reply);
/// assert_eq!(RunStep::message_id_of(&step.id), reply.id);
/// let v = serde_json::to_value(&step).unwrap();
/// assert_eq!(v["step_details"]["message_creation"]["message_id"], reply.id.as_str());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize)]
#[non_exhaustive]
pub struct RunStep {
    /// `step_` + 24 hex digits.
    #[serde(default)]
    pub id: String,
    /// `thread.run.step`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: i64,
    /// The assistant (agent) of the run.
    #[serde(default)]
    pub assistant_id: String,
    /// The thread.
    #[serde(default)]
    pub thread_id: String,
    /// The run.
    #[serde(default)]
    pub run_id: String,
    /// `message_creation` or `tool_calls`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// `in_progress`, `cancelled`, `failed`, `completed` or `expired`.
    #[serde(default)]
    pub status: String,
    /// `{"type": "message_creation", "message_creation": {"message_id"}}`, as received.
    #[serde(default)]
    pub step_details: Value,
    /// Why it failed.
    #[serde(default)]
    pub last_error: Option<RunError>,
    /// When it expired.
    #[serde(default)]
    pub expired_at: Option<i64>,
    /// When it was cancelled.
    #[serde(default)]
    pub cancelled_at: Option<i64>,
    /// When it failed.
    #[serde(default)]
    pub failed_at: Option<i64>,
    /// When it completed.
    #[serde(default)]
    pub completed_at: Option<i64>,
    /// Metadata.
    #[serde(default)]
    pub metadata: Metadata,
    /// Tokens used (`null`: an AITP agent's steps use none it counts).
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Fields OpenAI does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RunStep {
    /// The step of `run` that posted `message`.
    pub fn message_creation(run: &Run, message: &Message) -> Self {
        let done = message.status == MessageStatus::Completed;
        Self {
            id: Self::id_of(&message.id),
            object: "thread.run.step".to_owned(),
            created_at: message.created_at,
            assistant_id: run.assistant_id.clone(),
            thread_id: message.thread_id.clone(),
            run_id: run.id.clone(),
            kind: "message_creation".to_owned(),
            status: if done { "completed" } else { "in_progress" }.to_owned(),
            step_details: json!({
                "type": "message_creation",
                "message_creation": {"message_id": message.id},
            }),
            last_error: None,
            expired_at: None,
            cancelled_at: None,
            failed_at: None,
            completed_at: done.then(|| message.completed_at.unwrap_or(message.created_at)),
            metadata: Metadata::new(),
            usage: None,
            extra: Map::new(),
        }
    }

    /// The id of the step that posted message `message_id`.
    pub fn id_of(message_id: &str) -> String {
        format!(
            "step_{}",
            message_id.strip_prefix("msg_").unwrap_or(message_id)
        )
    }

    /// The id of the message the step `step_id` posted (the inverse of [`RunStep::id_of`]).
    pub fn message_id_of(step_id: &str) -> String {
        format!("msg_{}", step_id.strip_prefix("step_").unwrap_or(step_id))
    }
}
