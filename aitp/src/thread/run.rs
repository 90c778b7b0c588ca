//! `thread.run`: one invocation of the agent on a thread.

use serde::{Deserialize, Deserializer, Serialize, Serializer, ser::SerializeMap};
use serde_json::{Map, Number, Value};

use super::{
    IncompleteDetails, Metadata,
    ids::{new_run_id, unix_now},
    metadata::metadata_or_alias,
    wire::{Timestamp, write_extra},
};
use crate::OpenDeserialize;

wire_enum! {
    /// The status of a run.
    ///
    /// `queued` → `in_progress` → `completed`, or `requires_action` (the agent waits for the
    /// client), `failed` (see `last_error`), `cancelling` → `cancelled`, `incomplete`,
    /// `expired`.
    #[derive(Default)]
    pub enum RunStatus {
        /// Created, not started.
        #[default]
        Queued = "queued",
        /// The agent is working.
        InProgress = "in_progress",
        /// The agent waits for the client (tool outputs, or in AITP an answer in the thread).
        RequiresAction = "requires_action",
        /// Being cancelled.
        Cancelling = "cancelling",
        /// Cancelled.
        Cancelled = "cancelled",
        /// Failed; `last_error` says why.
        Failed = "failed",
        /// Done.
        Completed = "completed",
        /// Ended early (a token limit).
        Incomplete = "incomplete",
        /// Took too long.
        Expired = "expired",
    }
}

impl RunStatus {
    /// Whether the run is over and will not change again: `cancelled`, `failed`,
    /// `completed`, `incomplete` or `expired`. (`requires_action` is not terminal, but a
    /// client polling for the agent's answer stops there too.)
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Cancelled | Self::Failed | Self::Completed | Self::Incomplete | Self::Expired
        )
    }
}

/// Why a run failed: `{"code", "message"}`.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize)]
#[non_exhaustive]
pub struct RunError {
    /// OpenAI's codes: `server_error`, `rate_limit_exceeded`, `invalid_prompt`.
    #[serde(default)]
    pub code: String,
    /// A human-readable description.
    #[serde(default)]
    pub message: String,
    /// Fields OpenAI does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RunError {
    /// An error with a code and a message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// A `server_error`: the agent failed.
    pub fn server_error(message: impl Into<String>) -> Self {
        Self::new("server_error", message)
    }
}

/// Tokens used by a run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, OpenDeserialize)]
#[non_exhaustive]
pub struct Usage {
    /// Completion tokens.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Both.
    #[serde(default)]
    pub total_tokens: u64,
    /// Fields OpenAI does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A run (`thread.run`): one invocation of the agent on a thread.
///
/// Written with exactly the fields of OpenAI's v2 `Run` (27 of them, `null` when unset,
/// `tools: []`), integer timestamps, `object: "thread.run"`. `temperature` and `top_p` are
/// floats in OpenAI; they are kept as exact JSON numbers. Fields that model an LLM
/// (`tools`, `tool_choice`, `response_format`, ...) are kept as received.
///
/// ```
/// use aitp::thread::{Run, RunError, RunStatus};
/// let mut run = Run::new("thread_1", "shop");
/// assert_eq!(run.status, RunStatus::Queued);
/// run.set_status(RunStatus::InProgress);
/// run.fail(RunError::server_error("boom"));
/// assert!(run.status.is_terminal() && run.failed_at.is_some() && run.started_at.is_some());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Run {
    /// `run_` + 24 hex digits when minted here.
    pub id: String,
    /// The assistant (agent) that runs.
    pub assistant_id: String,
    /// The thread it runs on.
    pub thread_id: String,
    /// Its status.
    pub status: RunStatus,
    /// Unix seconds.
    pub created_at: i64,
    /// When it started.
    pub started_at: Option<i64>,
    /// When it completed.
    pub completed_at: Option<i64>,
    /// When it was cancelled.
    pub cancelled_at: Option<i64>,
    /// When it failed.
    pub failed_at: Option<i64>,
    /// When it will expire.
    pub expires_at: Option<i64>,
    /// Why it failed.
    pub last_error: Option<RunError>,
    /// The model (`""` when there is none).
    pub model: String,
    /// The instructions (`""` when there are none).
    pub instructions: String,
    /// The tools, as received.
    pub tools: Vec<Value>,
    /// Metadata.
    pub metadata: Metadata,
    /// Why it is incomplete.
    pub incomplete_details: Option<IncompleteDetails>,
    /// Tokens used.
    pub usage: Option<Usage>,
    /// Sampling temperature, exact.
    pub temperature: Option<Number>,
    /// Nucleus sampling, exact.
    pub top_p: Option<Number>,
    /// Prompt token limit.
    pub max_prompt_tokens: Option<u64>,
    /// Completion token limit.
    pub max_completion_tokens: Option<u64>,
    /// As received (`{"type": "auto", "last_messages": null}` in a new run).
    pub truncation_strategy: Option<Value>,
    /// As received (`"auto"` or an object).
    pub response_format: Option<Value>,
    /// As received (`"auto"`, `"none"`, `"required"` or an object; `"auto"` in a new run).
    pub tool_choice: Option<Value>,
    /// Whether tools may be called in parallel.
    pub parallel_tool_calls: bool,
    /// What the client must do (OpenAI tool calls), as received.
    pub required_action: Option<Value>,
    /// Fields OpenAI does not define, kept as received.
    pub extra: Map<String, Value>,
}

impl Run {
    /// A queued run with a new id, created now.
    pub fn new(thread_id: impl Into<String>, assistant_id: impl Into<String>) -> Self {
        Self {
            id: new_run_id(),
            assistant_id: assistant_id.into(),
            thread_id: thread_id.into(),
            status: RunStatus::Queued,
            created_at: unix_now(),
            started_at: None,
            completed_at: None,
            cancelled_at: None,
            failed_at: None,
            expires_at: None,
            last_error: None,
            model: String::new(),
            instructions: String::new(),
            tools: Vec::new(),
            metadata: Metadata::new(),
            incomplete_details: None,
            usage: None,
            temperature: None,
            top_p: None,
            max_prompt_tokens: None,
            max_completion_tokens: None,
            // What OpenAI writes when the request names none (its document describes objects
            // here, and strict clients type them).
            truncation_strategy: Some(serde_json::json!({"type": "auto", "last_messages": null})),
            response_format: None,
            tool_choice: Some(Value::from("auto")),
            parallel_tool_calls: true,
            required_action: None,
            extra: Map::new(),
        }
    }

    /// Moves to `status` now, stamping the matching timestamp (`started_at` for
    /// `in_progress`, `completed_at`, `cancelled_at`, `failed_at`) if not already set.
    pub fn set_status(&mut self, status: RunStatus) {
        let now = unix_now();
        let stamp = match status {
            RunStatus::InProgress => Some(&mut self.started_at),
            RunStatus::Completed => Some(&mut self.completed_at),
            RunStatus::Cancelled => Some(&mut self.cancelled_at),
            RunStatus::Failed => Some(&mut self.failed_at),
            _ => None,
        };
        if let Some(slot) = stamp {
            slot.get_or_insert(now);
        }
        self.status = status;
    }

    /// Ends the run `failed` with `error`.
    pub fn fail(&mut self, error: RunError) {
        self.last_error = Some(error);
        self.set_status(RunStatus::Failed);
    }
}

const RUN_FIELDS: [&str; 27] = [
    "id",
    "object",
    "created_at",
    "assistant_id",
    "thread_id",
    "status",
    "started_at",
    "expires_at",
    "cancelled_at",
    "failed_at",
    "completed_at",
    "last_error",
    "model",
    "instructions",
    "tools",
    "metadata",
    "incomplete_details",
    "usage",
    "temperature",
    "top_p",
    "max_prompt_tokens",
    "max_completion_tokens",
    "truncation_strategy",
    "response_format",
    "tool_choice",
    "parallel_tool_calls",
    "required_action",
];

impl Serialize for Run {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(RUN_FIELDS.len() + self.extra.len()))?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("object", "thread.run")?;
        m.serialize_entry("created_at", &self.created_at)?;
        m.serialize_entry("assistant_id", &self.assistant_id)?;
        m.serialize_entry("thread_id", &self.thread_id)?;
        m.serialize_entry("status", &self.status)?;
        m.serialize_entry("started_at", &self.started_at)?;
        m.serialize_entry("expires_at", &self.expires_at)?;
        m.serialize_entry("cancelled_at", &self.cancelled_at)?;
        m.serialize_entry("failed_at", &self.failed_at)?;
        m.serialize_entry("completed_at", &self.completed_at)?;
        m.serialize_entry("last_error", &self.last_error)?;
        m.serialize_entry("model", &self.model)?;
        m.serialize_entry("instructions", &self.instructions)?;
        m.serialize_entry("tools", &self.tools)?;
        m.serialize_entry("metadata", &self.metadata)?;
        m.serialize_entry("incomplete_details", &self.incomplete_details)?;
        m.serialize_entry("usage", &self.usage)?;
        m.serialize_entry("temperature", &self.temperature)?;
        m.serialize_entry("top_p", &self.top_p)?;
        m.serialize_entry("max_prompt_tokens", &self.max_prompt_tokens)?;
        m.serialize_entry("max_completion_tokens", &self.max_completion_tokens)?;
        m.serialize_entry("truncation_strategy", &self.truncation_strategy)?;
        m.serialize_entry("response_format", &self.response_format)?;
        m.serialize_entry("tool_choice", &self.tool_choice)?;
        m.serialize_entry("parallel_tool_calls", &self.parallel_tool_calls)?;
        m.serialize_entry("required_action", &self.required_action)?;
        write_extra(&mut m, &self.extra, &RUN_FIELDS)?;
        m.end()
    }
}

#[derive(OpenDeserialize)]
struct RunWire {
    id: Option<String>,
    object: Option<Value>,
    created_at: Option<Timestamp>,
    assistant_id: Option<String>,
    thread_id: Option<String>,
    status: Option<RunStatus>,
    started_at: Option<Timestamp>,
    expires_at: Option<Timestamp>,
    cancelled_at: Option<Timestamp>,
    failed_at: Option<Timestamp>,
    completed_at: Option<Timestamp>,
    last_error: Option<RunError>,
    model: Option<String>,
    instructions: Option<String>,
    tools: Option<Vec<Value>>,
    metadata: Option<Metadata>,
    incomplete_details: Option<IncompleteDetails>,
    usage: Option<Usage>,
    temperature: Option<Number>,
    top_p: Option<Number>,
    #[serde(deserialize_with = "super::wire::opt_count")]
    max_prompt_tokens: Option<u64>,
    #[serde(deserialize_with = "super::wire::opt_count")]
    max_completion_tokens: Option<u64>,
    truncation_strategy: Option<Value>,
    response_format: Option<Value>,
    tool_choice: Option<Value>,
    parallel_tool_calls: Option<bool>,
    required_action: Option<Value>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for Run {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut w = RunWire::deserialize(d)?;
        let _ = w.object;
        let time = |t: Option<Timestamp>| t.map(|t| t.0);
        Ok(Self {
            id: w.id.unwrap_or_default(),
            assistant_id: w.assistant_id.unwrap_or_default(),
            thread_id: w.thread_id.unwrap_or_default(),
            status: w.status.unwrap_or_default(),
            created_at: w.created_at.map_or(0, |t| t.0),
            started_at: time(w.started_at),
            completed_at: time(w.completed_at),
            cancelled_at: time(w.cancelled_at),
            failed_at: time(w.failed_at),
            expires_at: time(w.expires_at),
            last_error: w.last_error,
            model: w.model.unwrap_or_default(),
            instructions: w.instructions.unwrap_or_default(),
            tools: w.tools.unwrap_or_default(),
            metadata: metadata_or_alias(w.metadata, &mut w.extra),
            incomplete_details: w.incomplete_details,
            usage: w.usage,
            temperature: w.temperature,
            top_p: w.top_p,
            max_prompt_tokens: w.max_prompt_tokens,
            max_completion_tokens: w.max_completion_tokens,
            truncation_strategy: w.truncation_strategy,
            response_format: w.response_format,
            tool_choice: w.tool_choice,
            parallel_tool_calls: w.parallel_tool_calls.unwrap_or(true),
            required_action: w.required_action,
            extra: w.extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::test_support::keys;
    use serde_json::json;

    /// The NEAR AI / openai 1.84 run of the digest, §6.3.
    const NEAR_RUN: &str = r#"{"id":"run_0123456789abcdef01234567","assistant_id":"alice.near/agent/0.0.1","cancelled_at":null,"completed_at":null,
 "created_at":1740000000,"expires_at":null,"failed_at":null,"incomplete_details":null,"instructions":"","last_error":null,
 "max_completion_tokens":null,"max_prompt_tokens":null,"metadata":null,"model":"","object":"thread.run",
 "parallel_tool_calls":false,"required_action":null,"response_format":null,"started_at":null,"status":"queued",
 "thread_id":"thread_0123456789abcdef01234567","tool_choice":null,"tools":[],"truncation_strategy":null,"usage":null,
 "temperature":null,"top_p":null}"#;

    #[test]
    fn near_ai_run_parses_and_writes_openai_field_set() {
        let r: Run = serde_json::from_str(NEAR_RUN).unwrap();
        assert_eq!(r.status, RunStatus::Queued);
        assert!(!r.parallel_tool_calls);
        assert_eq!(r.assistant_id, "alice.near/agent/0.0.1");
        let near: Value = serde_json::from_str(NEAR_RUN).unwrap();
        let written = serde_json::to_value(&r).unwrap();
        assert_eq!(keys(&written), keys(&near));
        let mut expected = near.clone();
        expected["metadata"] = json!({});
        assert_eq!(written, expected);

        let mut fresh = Run::new("thread_1", "agent");
        fresh.set_status(RunStatus::Completed);
        let fresh = serde_json::to_value(&fresh).unwrap();
        assert_eq!(keys(&fresh), keys(&near));
        assert!(fresh["created_at"].is_i64() && fresh["completed_at"].is_i64());
        assert_eq!(fresh["object"], "thread.run");
        assert_eq!(fresh["last_error"], Value::Null);
        assert_eq!(fresh["usage"], Value::Null);
        assert_eq!(fresh["tools"], json!([]));
        assert_eq!(fresh["tool_choice"], "auto");
        assert_eq!(
            fresh["truncation_strategy"],
            json!({"type": "auto", "last_messages": null})
        );
    }

    #[test]
    fn exact_floats_and_errors_and_unknown_fields() {
        let text = r#"{"id": "run_1", "object": "thread.run", "created_at": 1740000000.9,
            "status": "failed", "temperature": 0.70, "top_p": 1.0,
            "last_error": {"code": "server_error", "message": "boom"},
            "usage": {"completion_tokens": 1, "prompt_tokens": 2, "total_tokens": 3},
            "delegate_execution": false, "status_detail": {"x": 1}}"#;
        let r: Run = serde_json::from_str(text).unwrap();
        assert_eq!(r.created_at, 1_740_000_000);
        assert_eq!(r.last_error.as_ref().unwrap().code, "server_error");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["temperature"].to_string(), "0.70");
        assert_eq!(v["top_p"].to_string(), "1.0");
        assert_eq!(v["delegate_execution"], false);
        assert_eq!(v["status_detail"], json!({"x": 1}));
        assert_eq!(v["usage"]["total_tokens"], 3);
        assert_eq!(v["created_at"], 1_740_000_000);
    }

    #[test]
    fn statuses() {
        let terminal: Vec<RunStatus> = [
            "queued",
            "in_progress",
            "requires_action",
            "cancelling",
            "cancelled",
            "failed",
            "completed",
            "incomplete",
            "expired",
            "paused",
        ]
        .into_iter()
        .map(RunStatus::from)
        .filter(RunStatus::is_terminal)
        .collect();
        assert_eq!(terminal.len(), 5);
        assert_eq!(RunStatus::from("paused"), RunStatus::Other("paused".into()));
        assert_eq!(
            serde_json::to_string(&RunStatus::RequiresAction).unwrap(),
            "\"requires_action\""
        );
    }
}
