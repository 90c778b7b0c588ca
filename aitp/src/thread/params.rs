//! Request bodies: create a thread, a message, a run, or a thread and a run; modify a thread
//! or a message.
//!
//! Written as OpenAI clients send them (optional fields left out when unset); read from what
//! real clients send, unknown fields (NEAR AI's `delegate_execution`, the UI's
//! `agent_env_vars`) kept in `extra`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, de};
use serde_json::{Map, Number, Value};

use super::{Actor, Attachment, ContentInput, Message, Metadata, MetadataError, Role, Run, Thread};
use crate::{
    OpenDeserialize,
    capability::{CapabilityMessage, Envelope, ParseError, extract},
};

/// Why a request body is not acceptable, as OpenAI would answer with a 400.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// A message without content: an empty string or no parts.
    #[error("message content must not be empty")]
    EmptyContent,
    /// A role other than `user` or `assistant`.
    #[error("invalid role `{0}`: expected `user` or `assistant`")]
    Role(String),
    /// Metadata beyond OpenAI's limits.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The message at this index of `messages` or `additional_messages` is not acceptable.
    #[error("message {index}: {error}")]
    Message {
        /// Its index.
        index: usize,
        /// What is wrong with it.
        #[source]
        error: Box<ParamsError>,
    },
}

fn check_messages(messages: &[CreateMessage]) -> Result<(), ParamsError> {
    for (index, m) in messages.iter().enumerate() {
        m.check().map_err(|error| ParamsError::Message {
            index,
            error: Box::new(error),
        })?;
    }
    Ok(())
}

fn check_metadata(metadata: Option<&Metadata>) -> Result<(), ParamsError> {
    match metadata {
        Some(m) => Ok(m.check_limits()?),
        None => Ok(()),
    }
}

/// `POST /threads/{id}/messages`: a message to add.
///
/// Read also from a bare string (a user message: the AITP spec's `messages` is a list of
/// strings); a missing `role` reads as `user` (the thread's creator).
///
/// ```
/// use aitp::capability::{Envelope, decisions::Decision};
/// use aitp::thread::{CreateMessage, Role};
///
/// let hello = CreateMessage::user("I need socks");
/// assert_eq!(serde_json::to_string(&hello).unwrap(), r#"{"role":"user","content":"I need socks"}"#);
///
/// let read: CreateMessage = serde_json::from_str(
///     r#"{"role": "user", "content": [{"type": "text", "text": "hi"}], "attachments": null}"#,
/// ).unwrap();
/// assert!(read.check().is_ok());
/// let message = read.into_message("thread_1");
/// assert_eq!(message.text(), "hi");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CreateMessage {
    /// `user` or `assistant`.
    pub role: Role,
    /// A string or parts.
    pub content: ContentInput,
    /// Attached files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Attachment>>,
    /// Metadata (AITP's `actor` goes here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Fields OpenAI does not define (NEAR AI's `assistant_id`, `run_id`), kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CreateMessage {
    /// A message with `role` and `content`.
    pub fn new(role: Role, content: impl Into<ContentInput>) -> Self {
        Self {
            role,
            content: content.into(),
            attachments: None,
            metadata: None,
            extra: Map::new(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<ContentInput>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<ContentInput>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// A message carrying a capability message, as a JSON string.
    pub fn aitp(role: Role, message: &Envelope) -> Self {
        Self::new(role, message)
    }

    /// Sets a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata
            .get_or_insert_with(Metadata::new)
            .insert(key, value);
        self
    }

    /// Sets AITP's `metadata.actor`: which actor sends it.
    pub fn actor(self, actor: impl Into<String>) -> Self {
        self.metadata("actor", actor)
    }

    /// Attaches a file.
    pub fn attachment(mut self, attachment: Attachment) -> Self {
        self.attachments
            .get_or_insert_with(Vec::new)
            .push(attachment);
        self
    }

    /// Checks what OpenAI checks: the role is `user` or `assistant`, the content is not empty
    /// (OpenAI answers an empty string or an empty list of parts with a 400), the metadata
    /// is within limits.
    pub fn check(&self) -> Result<(), ParamsError> {
        if let Role::Other(r) = &self.role {
            return Err(ParamsError::Role(r.clone()));
        }
        if self.content.is_empty() {
            return Err(ParamsError::EmptyContent);
        }
        check_metadata(self.metadata.as_ref())
    }

    /// The message to store in `thread_id`: a new id, created now, `completed`, the content
    /// normalised ([`ContentInput::into_content`]). NEAR AI's `assistant_id` and `run_id`
    /// extras, when strings, fill the message's fields; other extras are not kept.
    pub fn into_message(self, thread_id: impl Into<String>) -> Message {
        let mut m = Message::new(thread_id, self.role, self.content.into_content());
        m.attachments = self.attachments.unwrap_or_default();
        m.metadata = self.metadata.unwrap_or_default();
        let extra_str = |k: &str| self.extra.get(k).and_then(Value::as_str).map(str::to_owned);
        m.assistant_id = extra_str("assistant_id");
        m.run_id = extra_str("run_id");
        m
    }
    /// The capability messages in its text parts, in order (as [`Message::capabilities`]
    /// reads them once stored): what a client checks against the thread's negotiation
    /// before sending.
    pub fn capabilities(&self) -> impl Iterator<Item = Result<Envelope, ParseError>> + '_ {
        let parts: Vec<&str> = match &self.content {
            ContentInput::Text(t) => vec![t.as_str()],
            ContentInput::Parts(p) => p.iter().filter_map(super::Content::as_text).collect(),
        };
        extract(parts)
    }
}

/// Text is a user message of that text.
impl From<&str> for CreateMessage {
    fn from(text: &str) -> Self {
        Self::user(text)
    }
}

/// Text is a user message of that text.
impl From<String> for CreateMessage {
    fn from(text: String) -> Self {
        Self::user(text)
    }
}

/// An envelope is a user message carrying it.
impl From<Envelope> for CreateMessage {
    fn from(message: Envelope) -> Self {
        Self::aitp(Role::User, &message)
    }
}

/// An envelope is a user message carrying it.
impl From<&Envelope> for CreateMessage {
    fn from(message: &Envelope) -> Self {
        Self::aitp(Role::User, message)
    }
}

/// A typed capability message is a user message carrying its envelope.
impl<T: CapabilityMessage> From<T> for CreateMessage {
    fn from(message: T) -> Self {
        Self::from(Envelope::from(message))
    }
}

#[derive(OpenDeserialize)]
struct CreateMessageWire {
    role: Option<Role>,
    content: Option<ContentInput>,
    attachments: Option<Vec<Attachment>>,
    metadata: Option<Metadata>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for CreateMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = CreateMessage;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a message object or a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CreateMessage, E> {
                Ok(CreateMessage::user(v))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<CreateMessage, E> {
                Ok(CreateMessage::user(v))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<CreateMessage, A::Error> {
                let w = CreateMessageWire::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(CreateMessage {
                    role: w.role.unwrap_or(Role::User),
                    content: w.content.unwrap_or_default(),
                    attachments: w.attachments,
                    metadata: w.metadata,
                    extra: w.extra,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `POST /threads`: a thread to create, with its actors in `metadata.actors`.
///
/// `messages` is read from OpenAI's message objects and from the AITP spec's list of strings
/// (user messages). NEAR AI ignored `messages`; our server adds them.
///
/// ```
/// use aitp::thread::{Actor, CreateMessage, CreateThread};
/// let req = CreateThread::with_actors(&[Actor::all_v1("me.near").client_id("my-app")])
///     .message(CreateMessage::user("hello"));
/// let v = serde_json::to_value(&req).unwrap();
/// assert!(v["metadata"]["actors"].is_string());
///
/// let spec: CreateThread = serde_json::from_str(r#"{"messages": ["hi"], "metadata": {}}"#).unwrap();
/// let (thread, messages) = spec.into_thread();
/// assert!(thread.id.starts_with("thread_"));
/// assert_eq!(messages[0].clone().into_message(&thread.id).text(), "hi");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct CreateThread {
    /// Messages to start the thread with.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<CreateMessage>,
    /// Metadata; AITP's actors go in `actors`.
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    /// OpenAI tool resources, as received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_resources: Option<Value>,
    /// Fields OpenAI does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CreateThread {
    /// An empty request.
    pub fn new() -> Self {
        Self::default()
    }

    /// A request declaring `actors`.
    pub fn with_actors(actors: &[Actor]) -> Self {
        let mut t = Self::default();
        t.metadata.set_actors(actors);
        t
    }

    /// Adds a message.
    pub fn message(mut self, message: CreateMessage) -> Self {
        self.messages.push(message);
        self
    }

    /// Sets a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key, value);
        self
    }

    /// The actors declared in `metadata.actors`.
    pub fn actors(&self) -> Result<Vec<Actor>, MetadataError> {
        self.metadata.actors()
    }

    /// Checks metadata limits ([`Metadata::check_limits`]) and every message.
    pub fn check(&self) -> Result<(), ParamsError> {
        self.metadata.check_limits()?;
        check_messages(&self.messages)
    }

    /// The thread to store (a new id, created now) and the messages to add to it.
    pub fn into_thread(self) -> (Thread, Vec<CreateMessage>) {
        let mut thread = Thread::with_metadata(self.metadata);
        thread.tool_resources = self.tool_resources;
        (thread, self.messages)
    }
}

#[derive(OpenDeserialize)]
struct CreateThreadWire {
    messages: Option<Vec<CreateMessage>>,
    metadata: Option<Metadata>,
    tool_resources: Option<Value>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for CreateThread {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = CreateThreadWire::deserialize(d)?;
        Ok(Self {
            messages: w.messages.unwrap_or_default(),
            metadata: w.metadata.unwrap_or_default(),
            tool_resources: w.tool_resources,
            extra: w.extra,
        })
    }
}

/// `POST /threads/{id}`: new metadata (replacing the old) or tool resources.
#[derive(Debug, Clone, PartialEq, Default, Serialize, OpenDeserialize)]
#[non_exhaustive]
pub struct ModifyThread {
    /// The new metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// The new tool resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_resources: Option<Value>,
    /// Fields OpenAI does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /threads/{id}/messages/{id}` (NEAR AI: `PATCH`): new metadata.
#[derive(Debug, Clone, PartialEq, Default, Serialize, OpenDeserialize)]
#[non_exhaustive]
pub struct ModifyMessage {
    /// The new metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Fields OpenAI does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /threads/{id}/runs/{run_id}`: new metadata for a run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, OpenDeserialize)]
#[non_exhaustive]
pub struct ModifyRun {
    /// The new metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Fields OpenAI does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /threads/{id}/runs`: run the agent on a thread.
///
/// `assistant_id` is required by OpenAI but optional here: an AITP server usually hosts one
/// agent. `stream: true` asks for server-sent events instead of the run object.
///
/// ```
/// use aitp::thread::CreateRun;
/// let req: CreateRun = serde_json::from_str(
///     r#"{"assistant_id": "shop", "stream": true, "delegate_execution": false, "temperature": 0.7}"#,
/// ).unwrap();
/// assert!(req.is_stream());
/// assert_eq!(req.extra["delegate_execution"], false);
/// let run = req.to_run("thread_1", "default-agent");
/// assert_eq!(run.assistant_id, "shop");
/// assert_eq!(run.temperature.unwrap().to_string(), "0.7");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, OpenDeserialize)]
#[non_exhaustive]
pub struct CreateRun {
    /// The assistant (agent) to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assistant_id: Option<String>,
    /// Answer with server-sent events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// The model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Instructions replacing the assistant's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Instructions appended to the assistant's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_instructions: Option<String>,
    /// Messages added to the thread before the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_messages: Option<Vec<CreateMessage>>,
    /// Tools, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// Metadata of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Sampling temperature, exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    /// Nucleus sampling, exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    /// Prompt token limit (read also from an integral float such as `1062.0`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::wire::opt_count"
    )]
    pub max_prompt_tokens: Option<u64>,
    /// Completion token limit (read also from an integral float).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::wire::opt_count"
    )]
    pub max_completion_tokens: Option<u64>,
    /// As sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncation_strategy: Option<Value>,
    /// As sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// As sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// As sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// Fields OpenAI does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CreateRun {
    /// A run of `assistant_id`.
    pub fn new(assistant_id: impl Into<String>) -> Self {
        Self {
            assistant_id: Some(assistant_id.into()),
            ..Self::default()
        }
    }

    /// Asks for server-sent events.
    pub fn streaming(mut self) -> Self {
        self.stream = Some(true);
        self
    }

    /// Whether server-sent events are asked for.
    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }

    /// Checks metadata limits and the additional messages.
    pub fn check(&self) -> Result<(), ParamsError> {
        check_metadata(self.metadata.as_ref())?;
        check_messages(self.additional_messages.as_deref().unwrap_or_default())
    }

    /// The queued run this request creates on `thread_id` (`default_assistant_id` when the
    /// request names none). `additional_instructions` are appended to `instructions`; the
    /// additional messages are for the caller to add to the thread.
    pub fn to_run(&self, thread_id: impl Into<String>, default_assistant_id: &str) -> Run {
        let assistant = self.assistant_id.as_deref().unwrap_or(default_assistant_id);
        let mut run = Run::new(thread_id, assistant);
        run.model = self.model.clone().unwrap_or_default();
        run.instructions = match (&self.instructions, &self.additional_instructions) {
            (Some(i), Some(a)) if !i.is_empty() => format!("{i}\n{a}"),
            (_, Some(a)) => a.clone(),
            (Some(i), None) => i.clone(),
            (None, None) => String::new(),
        };
        run.tools = self.tools.clone().unwrap_or_default();
        run.metadata = self.metadata.clone().unwrap_or_default();
        run.temperature = self.temperature.clone();
        run.top_p = self.top_p.clone();
        run.max_prompt_tokens = self.max_prompt_tokens;
        run.max_completion_tokens = self.max_completion_tokens;
        if let Some(t) = &self.truncation_strategy {
            run.truncation_strategy = Some(t.clone());
        }
        if let Some(t) = &self.tool_choice {
            run.tool_choice = Some(t.clone());
        }
        run.response_format = self.response_format.clone();
        run.parallel_tool_calls = self.parallel_tool_calls.unwrap_or(true);
        run
    }
}

/// `POST /threads/runs`: create a thread and run the agent on it in one request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, OpenDeserialize)]
#[non_exhaustive]
pub struct CreateThreadAndRun {
    /// The assistant (agent) to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assistant_id: Option<String>,
    /// The thread to create (an empty one when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<CreateThread>,
    /// Answer with server-sent events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// The model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Instructions replacing the assistant's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Tools, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// OpenAI tool resources, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_resources: Option<Value>,
    /// Metadata of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Sampling temperature, exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    /// Nucleus sampling, exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    /// Prompt token limit (read also from an integral float such as `1062.0`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::wire::opt_count"
    )]
    pub max_prompt_tokens: Option<u64>,
    /// Completion token limit (read also from an integral float).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::wire::opt_count"
    )]
    pub max_completion_tokens: Option<u64>,
    /// As sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncation_strategy: Option<Value>,
    /// As sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// As sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// As sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// Fields OpenAI does not define, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CreateThreadAndRun {
    /// Checks the thread and the run metadata.
    pub fn check(&self) -> Result<(), ParamsError> {
        if let Some(t) = &self.thread {
            t.check()?;
        }
        check_metadata(self.metadata.as_ref())
    }

    /// Splits the request into the thread to create and the run to start on it
    /// (`tool_resources` go to the thread when it has none).
    pub fn into_parts(self) -> (CreateThread, CreateRun) {
        let mut thread = self.thread.unwrap_or_default();
        if thread.tool_resources.is_none() {
            thread.tool_resources = self.tool_resources;
        }
        let run = CreateRun {
            assistant_id: self.assistant_id,
            stream: self.stream,
            model: self.model,
            instructions: self.instructions,
            additional_instructions: None,
            additional_messages: None,
            tools: self.tools,
            metadata: self.metadata,
            temperature: self.temperature,
            top_p: self.top_p,
            max_prompt_tokens: self.max_prompt_tokens,
            max_completion_tokens: self.max_completion_tokens,
            truncation_strategy: self.truncation_strategy,
            tool_choice: self.tool_choice,
            parallel_tool_calls: self.parallel_tool_calls,
            response_format: self.response_format,
            extra: self.extra,
        };
        (thread, run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        capability::decisions::RequestDecision,
        thread::{Content, test_support::vector},
    };
    use serde_json::json;

    #[test]
    fn create_message_reads_real_client_bodies() {
        // openai-python / openai-node
        let m: CreateMessage =
            serde_json::from_value(json!({"content": "hi", "role": "user"})).unwrap();
        assert_eq!(m, CreateMessage::user("hi"));
        // NEAR AI UI and agents
        let m: CreateMessage = serde_json::from_value(json!({
            "content": "{}", "role": "assistant", "attachments": null,
            "assistant_id": "a.near/agent/1", "run_id": "run_1"
        }))
        .unwrap();
        assert!(m.check().is_ok());
        let stored = m.into_message("thread_1");
        assert_eq!(stored.assistant_id.as_deref(), Some("a.near/agent/1"));
        assert_eq!(stored.run_id.as_deref(), Some("run_1"));
        assert!(stored.extra.is_empty());
        // Response-shaped parts and bare strings
        let m: CreateMessage = serde_json::from_value(json!({
            "role": "user",
            "content": ["a", {"type": "text", "text": {"value": "b", "annotations": []}}]
        }))
        .unwrap();
        assert_eq!(m.into_message("t").text(), "a\nb");
    }

    #[test]
    fn spec_vector_create_message() {
        let m: CreateMessage =
            serde_json::from_value(vector("t01-examples-create-an-aitp-message.json")).unwrap();
        assert_eq!(m.role, Role::Assistant);
        assert_eq!(m.extra["thread_id"], "thread_travel-agent-1");
        let stored = m.into_message("thread_travel-agent-1");
        assert_eq!(stored.actor(), Some("hub.near.ai/travel-agent/0.1.0"));
        assert!(matches!(
            stored.capability::<RequestDecision>(),
            Ok(Some(_))
        ));
    }

    #[test]
    fn create_message_writes_request_shape() {
        let rd = RequestDecision::radio("x", ["a"]).build();
        let m = CreateMessage::aitp(Role::Assistant, &Envelope::from(rd)).actor("shop");
        let v = serde_json::to_value(&m).unwrap();
        assert!(v["content"].is_string());
        assert_eq!(v["metadata"], json!({"actor": "shop"}));
        let parts = CreateMessage::user(vec![Content::text("a"), Content::image_file("f")]);
        assert_eq!(
            serde_json::to_value(&parts).unwrap(),
            json!({"role": "user", "content": [
                {"type": "text", "text": "a"},
                {"type": "image_file", "image_file": {"file_id": "f"}}
            ]})
        );
    }

    #[test]
    fn checks_like_openai() {
        assert!(matches!(
            CreateMessage::user("").check(),
            Err(ParamsError::EmptyContent)
        ));
        assert!(matches!(
            CreateMessage::user(Vec::<Content>::new()).check(),
            Err(ParamsError::EmptyContent)
        ));
        assert!(matches!(
            CreateMessage::new(Role::from("system"), "x").check(),
            Err(ParamsError::Role(r)) if r == "system"
        ));
        let bad = CreateThread::new()
            .message(CreateMessage::user("ok"))
            .message(CreateMessage::user(""));
        let err = bad.check().unwrap_err();
        assert!(err.to_string().starts_with("message 1:"), "{err}");
    }

    #[test]
    fn create_thread_forms() {
        let t: CreateThread = serde_json::from_value(json!({
            "messages": ["I need to book a flight", {"role": "assistant", "content": "Where to?"}],
            "metadata": {"actors": [{"id": "me", "capabilities": ["https://aitp.dev/v1/data/schema.json"]}]},
            "tool_resources": null
        }))
        .unwrap();
        assert_eq!(
            t.messages[0],
            CreateMessage::user("I need to book a flight")
        );
        assert_eq!(t.messages[1].role, Role::Assistant);
        assert_eq!(t.actors().unwrap()[0].id, "me");
        assert!(t.tool_resources.is_none());
        let t: CreateThread = serde_json::from_value(json!({"messages": null})).unwrap();
        assert!(t.messages.is_empty());
        assert_eq!(
            serde_json::to_value(CreateThread::new()).unwrap(),
            json!({})
        );
    }

    #[test]
    fn create_run_and_thread_and_run() {
        let r: CreateRun = serde_json::from_value(json!({
            "assistant_id": "alice.near/agent/latest", "stream": false, "thread_id": "t",
            "agent_env_vars": {}, "instructions": "Be brief.", "additional_instructions": "Use metric.",
            "additional_messages": [{"role": "user", "content": "more"}], "top_p": 1.0
        }))
        .unwrap();
        assert!(!r.is_stream());
        assert_eq!(r.extra.len(), 2);
        assert!(r.check().is_ok());
        let run = r.to_run("thread_1", "unused");
        assert_eq!(run.instructions, "Be brief.\nUse metric.");
        assert_eq!(run.top_p.unwrap().to_string(), "1.0");
        let spec_server: CreateRun = serde_json::from_value(json!({})).unwrap();
        assert_eq!(
            spec_server.to_run("t", "the-agent").assistant_id,
            "the-agent"
        );
        assert_eq!(
            serde_json::to_value(CreateRun::new("a").streaming()).unwrap(),
            json!({"assistant_id": "a", "stream": true})
        );

        let tr: CreateThreadAndRun = serde_json::from_value(json!({
            "assistant_id": "a", "thread": {"messages": [{"role": "user", "content": "hi"}]},
            "stream": true, "x": 1
        }))
        .unwrap();
        assert!(tr.check().is_ok());
        let (thread, run) = tr.into_parts();
        assert_eq!(thread.messages.len(), 1);
        assert!(run.is_stream());
        assert_eq!(run.extra["x"], 1);
    }

    #[test]
    fn modify() {
        let m: ModifyThread =
            serde_json::from_value(json!({"metadata": {"topic": "socks", "n": 1}})).unwrap();
        assert_eq!(m.metadata.unwrap().get("n"), Some("1"));
        let m: ModifyMessage = serde_json::from_value(json!({})).unwrap();
        assert!(m.metadata.is_none());
    }
}
