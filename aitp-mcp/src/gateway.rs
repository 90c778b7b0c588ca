//! The MCP server: one tool that talks to the agent, and the loop that turns the agent's
//! requests into elicitations until it answers with something that is not a request.

use std::{borrow::Cow, fmt::Write as _, sync::Arc};

use aitp::{
    capability::{Body, ContentPart, Envelope, errors::ErrorReport, extract_text},
    thread::{CreateMessage, Message, Role},
};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ElicitRequestParams,
        ElicitationAction, ElicitationSchema, Implementation, ListToolsResult,
        PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig, Tool,
        ToolAnnotations,
    },
    service::{ElicitationMode, Peer, RequestContext},
};
use serde_json::{Map, Value, json};

use crate::{
    backend::{Backend, BackendError},
    payer::Payer,
    profile::AgentProfile,
    question::{Answer, Question},
};

/// The name of the tool that talks to the agent.
pub const TOOL: &str = "message_agent";

/// The most rounds (agent request → user answer) one tool call goes through before it hands
/// the open question back to the host: an agent that asks forever does not hold a call.
const MAX_ROUNDS: usize = 16;

/// How many times, in one call, a form is shown again because the answer did not fit.
const ELICIT_RETRIES: usize = 3;

/// An AITP agent served as an MCP server. Cheap to clone: every MCP session (each stdio
/// process, each streamable-HTTP session) gets a clone of the same gateway.
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    backend: Backend,
    profile: AgentProfile,
    payer: Payer,
}

impl Gateway {
    /// A gateway to the agent behind `backend`, paying accepted quotes as `payer`; asks the
    /// agent who it is (its declared actors) once, for the host's instructions.
    pub async fn new(backend: Backend, payer: Payer) -> Result<Self, BackendError> {
        let actors = backend.agent_actors().await?;
        let profile = AgentProfile::new(actors, backend.client().base_url());
        Ok(Self::with_profile(backend, profile, payer))
    }

    /// A gateway that describes the agent with `profile` (nothing is asked of the agent).
    pub fn with_profile(backend: Backend, profile: AgentProfile, payer: Payer) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend,
                profile,
                payer,
            }),
        }
    }

    /// What the host is told about the agent.
    pub fn profile(&self) -> &AgentProfile {
        &self.inner.profile
    }

    /// The tool: `text` to say something, `thread_id` to continue, `answer` to answer the
    /// agent's open question (the shape of an elicitation's content).
    pub fn tool(&self) -> Tool {
        let schema = json!({
            "type": "object",
            "properties": {
                "text": {
                    "type": "string",
                    "description": "What to say to the agent."
                },
                "thread_id": {
                    "type": "string",
                    "description": "The conversation to continue (the `thread_id` of an earlier result). Omit it to start a new one."
                },
                "answer": {
                    "type": "object",
                    "description": "The answer to the agent's open question (the `asks` of an earlier result), fitting its `answer_schema`. Needs `thread_id`."
                },
                "request_id": {
                    "type": "string",
                    "description": "Which question `answer` answers (`asks.id`); by default the agent's latest."
                }
            },
            "additionalProperties": false
        });
        let Value::Object(schema) = schema else {
            unreachable!("a JSON object literal")
        };
        Tool::new(TOOL, self.inner.profile.tool_description(), schema)
            .with_title(format!("Talk to {}", self.inner.profile.name()))
            .with_annotations(
                // It can pay (after the user accepts a quote), which cannot be undone.
                ToolAnnotations::new()
                    .read_only(false)
                    .destructive(true)
                    .idempotent(false)
                    .open_world(true),
            )
    }

    /// One call of the tool, its questions elicited through `peer` when it can show forms.
    pub async fn call(
        &self,
        arguments: Map<String, Value>,
        peer: Option<&Peer<RoleServer>>,
    ) -> CallToolResult {
        let request = match Request::parse(arguments) {
            Ok(r) => r,
            Err(e) => return tool_error(e, None),
        };
        let mut call = Call {
            gateway: self,
            peer: peer.filter(|p| {
                p.supported_elicitation_modes()
                    .contains(&ElicitationMode::Form)
            }),
            thread_id: String::new(),
            replies: Vec::new(),
            paid: Vec::new(),
        };
        match call.run(request).await {
            Ok(result) => result,
            Err(e) => {
                let thread = (!call.thread_id.is_empty()).then_some(call.thread_id.as_str());
                tool_error(e, thread)
            }
        }
    }
}

/// The tool's arguments.
#[derive(Debug)]
struct Request {
    text: Option<String>,
    thread_id: Option<String>,
    answer: Option<Map<String, Value>>,
    request_id: Option<String>,
}

impl Request {
    fn parse(mut args: Map<String, Value>) -> Result<Self, String> {
        let mut string = |name: &str| -> Result<Option<String>, String> {
            match args.remove(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(format!("`{name}` must be a string, not {other}")),
            }
        };
        let text = string("text")?.filter(|t| !t.trim().is_empty());
        let thread_id = string("thread_id")?.filter(|t| !t.is_empty());
        let request_id = string("request_id")?;
        let answer = match args.remove("answer") {
            None | Some(Value::Null) => None,
            Some(Value::Object(o)) => Some(o),
            Some(other) => return Err(format!("`answer` must be an object, not {other}")),
        };
        if let Some(unknown) = args.keys().next() {
            return Err(format!(
                "unknown argument `{unknown}`; the tool takes text, thread_id, answer, request_id"
            ));
        }
        match (&text, &answer, &thread_id) {
            (None, None, _) => Err(
                "give `text` to say something, or `answer` (with `thread_id`) to answer the agent"
                    .into(),
            ),
            (Some(_), Some(_), _) => Err("give either `text` or `answer`, not both".into()),
            (_, Some(_), None) => Err("`answer` needs the `thread_id` of the conversation".into()),
            _ => Ok(Self {
                text,
                thread_id,
                answer,
                request_id,
            }),
        }
    }
}

/// Why a call failed: each becomes an MCP tool error (`isError`) with the cause.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error(transparent)]
    Backend(Box<BackendError>),
    #[error("the agent sent a malformed capability message: {0}")]
    Malformed(String),
    #[error("{0}")]
    Usage(String),
}

impl From<BackendError> for CallError {
    fn from(e: BackendError) -> Self {
        Self::Backend(Box::new(e))
    }
}

/// The state of one tool call.
struct Call<'a> {
    gateway: &'a Gateway,
    peer: Option<&'a Peer<RoleServer>>,
    thread_id: String,
    /// What the agent said during this call, in order.
    replies: Vec<Value>,
    /// The payments sent during this call.
    paid: Vec<Value>,
}

/// How a call ends (when it does not fail).
enum Outcome {
    /// The agent answered with something that is not a request.
    Answered,
    /// The agent waits for an answer the user has not given here.
    Asks {
        question: Question,
        note: Option<String>,
    },
    /// The user declined the agent's question (a quote: nothing paid).
    Declined(Question),
}

impl Call<'_> {
    fn backend(&self) -> &Backend {
        &self.gateway.inner.backend
    }

    fn agent(&self) -> String {
        self.gateway.inner.profile.name()
    }

    async fn run(&mut self, request: Request) -> Result<CallToolResult, CallError> {
        self.thread_id = match &request.thread_id {
            Some(id) => self.backend().thread(id).await?.id,
            None => self.backend().open().await?.id,
        };
        let mut next = match (request.text, request.answer) {
            (Some(text), _) => CreateMessage::user(text),
            (None, Some(answer)) => {
                let question = self.open_question(request.request_id.as_deref()).await?;
                match question.answer(&answer) {
                    Ok(a) => match self.reply_for(&question, a).await? {
                        Some(m) => m,
                        None => return Ok(self.finish(Outcome::Declined(question))),
                    },
                    Err(bad) => {
                        return Ok(self.finish(Outcome::Asks {
                            question,
                            note: Some(bad.to_string()),
                        }));
                    }
                }
            }
            (None, None) => unreachable!("Request::parse demands text or answer"),
        };
        let mut retries = 0;
        for _ in 0..MAX_ROUNDS {
            let messages = self.backend().turn(&self.thread_id, next).await?;
            let Some(question) = self.take(&messages)? else {
                return Ok(self.finish(Outcome::Answered));
            };
            let Some(peer) = self.peer else {
                return Ok(self.finish(Outcome::Asks {
                    question,
                    note: None,
                }));
            };
            let schema = match question.schema() {
                Ok(s) => s,
                Err(why) => {
                    return Ok(self.finish(Outcome::Asks {
                        question,
                        note: Some(format!("This cannot be shown as a form: {why}.")),
                    }));
                }
            };
            // The user's answer; an answer that does not fit is shown back with what is
            // wrong, a few times, before the question goes back to the host.
            let mut problem: Option<String> = None;
            let answer = loop {
                let mut message = question.message(&self.agent());
                if let Some(p) = &problem {
                    message = format!("{p}. Please try again.\n\n{message}");
                }
                let result = match elicit(peer, message, schema.clone()).await {
                    Ok(r) => r,
                    Err(why) => {
                        return Ok(self.finish(Outcome::Asks {
                            question,
                            note: Some(format!("The host could not show the question: {why}.")),
                        }));
                    }
                };
                let content = match (result.action, result.content) {
                    (ElicitationAction::Accept, Some(Value::Object(c))) => c,
                    (ElicitationAction::Accept, _) if matches!(question, Question::Quote(_)) => {
                        // Accepting a quote form without content is not consent to pay.
                        return Ok(self.finish(Outcome::Declined(question)));
                    }
                    (ElicitationAction::Accept, _) => Map::new(),
                    _ => return Ok(self.finish(Outcome::Declined(question))),
                };
                match question.answer(&content) {
                    Ok(answer) => break answer,
                    Err(bad) if retries < ELICIT_RETRIES => {
                        retries += 1;
                        problem = Some(bad.to_string());
                    }
                    Err(bad) => {
                        return Ok(self.finish(Outcome::Asks {
                            question,
                            note: Some(bad.to_string()),
                        }));
                    }
                }
            };
            next = match self.reply_for(&question, answer).await? {
                Some(m) => m,
                None => return Ok(self.finish(Outcome::Declined(question))),
            };
        }
        // Still asking after MAX_ROUNDS: hand the latest question to the host.
        let question = self.open_question(None).await?;
        Ok(self.finish(Outcome::Asks {
            question,
            note: Some(format!(
                "The agent kept asking ({MAX_ROUNDS} rounds in one call); answer to go on."
            )),
        }))
    }

    /// Records the agent's messages; returns its first question. A malformed capability
    /// message fails the call.
    fn take(&mut self, messages: &[Message]) -> Result<Option<Question>, CallError> {
        let mut question = None;
        for m in messages {
            for part in m.text_parts() {
                match extract_text(part) {
                    ContentPart::Aitp(envelope) => {
                        if question.is_none() {
                            question = Question::from_envelope(&envelope);
                        }
                        self.replies.push(json!({"aitp": envelope.to_value()}));
                    }
                    ContentPart::Text(t) => self.replies.push(json!({"text": t})),
                    ContentPart::Invalid { text, error } => {
                        return Err(CallError::Malformed(format!(
                            "{error} (in message {} of thread {}: {})",
                            m.id,
                            self.thread_id,
                            snippet(text)
                        )));
                    }
                    // Kinds of content a later SDK tells apart: kept as text.
                    _ => self.replies.push(json!({"text": part})),
                }
            }
        }
        Ok(question)
    }

    /// The agent's latest question in the thread (the one with `request_id`, when given).
    async fn open_question(&self, request_id: Option<&str>) -> Result<Question, CallError> {
        let history = self.backend().history(&self.thread_id).await?;
        let found = history
            .iter()
            .rev()
            .filter(|m| m.role == Role::Assistant)
            .flat_map(|m| {
                m.capabilities()
                    .filter_map(Result::ok)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
            })
            .filter_map(|e| Question::from_envelope(&e))
            .find(|q| request_id.is_none() || q.id() == request_id);
        found.ok_or_else(|| {
            CallError::Usage(match request_id {
                Some(id) => format!("the agent asked nothing with the id {id:?} in this thread"),
                None => "the agent has asked nothing in this thread to answer".into(),
            })
        })
    }

    /// The message answering `question`, or `None` when nothing is to be sent (a declined
    /// quote). Paying signs with the configured payer.
    async fn reply_for(
        &mut self,
        question: &Question,
        answer: Answer,
    ) -> Result<Option<CreateMessage>, CallError> {
        let envelope = match (question, answer) {
            (_, Answer::Reply(e)) => e,
            (_, Answer::DeclineQuote) => return Ok(None),
            (Question::Quote(q), Answer::Pay { option, method }) => {
                let o = &q.payment_options[option];
                let m = &o.payment_methods[method];
                let payment = self
                    .gateway
                    .inner
                    .payer
                    .pay(q, o, m)
                    .await
                    .map_err(|e| CallError::Usage(e.to_string()))?;
                self.paid.push(json!({
                    "quote_id": q.quote_id,
                    "amount": o.amount.as_ref().map(ToString::to_string),
                    "currency": o.currency,
                    "token": m.token,
                    "recipient": m.recipient,
                    "payer": payment.payer_id,
                }));
                Envelope::from(payment)
            }
            (_, Answer::Pay { .. }) => {
                return Err(CallError::Usage("only a quote can be paid".into()));
            }
        };
        Ok(Some(CreateMessage::aitp(Role::User, &envelope)))
    }

    /// The tool's result: the transcript as text and as structured content.
    fn finish(&self, outcome: Outcome) -> CallToolResult {
        let agent = self.agent();
        let mut text = String::new();
        for r in &self.replies {
            if let Some(t) = r.get("text").and_then(Value::as_str) {
                let _ = writeln!(text, "{agent}: {t}");
            } else if let Some(Ok(e)) = r.get("aitp").map(Envelope::from_value) {
                let _ = writeln!(text, "{agent}: {}", summary(&e));
            }
        }
        for p in &self.paid {
            let _ = writeln!(
                text,
                "Paid {} {} ({}) to {} for quote {}.",
                p["amount"].as_str().unwrap_or("?"),
                p["currency"].as_str().unwrap_or("?"),
                p["token"].as_str().unwrap_or("?"),
                p["recipient"].as_str().unwrap_or("?"),
                p["quote_id"].as_str().unwrap_or("?"),
            );
        }
        let mut structured = json!({
            "thread_id": self.thread_id,
            "replies": self.replies,
            "paid": self.paid,
        });
        match outcome {
            Outcome::Answered => structured["status"] = json!("answered"),
            Outcome::Asks { question, note } => {
                structured["status"] = json!("asks");
                let mut asks = question.describe(&agent);
                let _ = writeln!(text, "\nThe agent asks: {}", question.message(&agent));
                if let Some(n) = note {
                    let _ = writeln!(text, "{n}");
                    asks["note"] = json!(n);
                }
                let _ = write!(
                    text,
                    "To answer, call `{TOOL}` with thread_id {:?} and `answer`",
                    self.thread_id
                );
                match asks.get("answer_schema") {
                    Some(s) => {
                        let _ = write!(text, " fitting this schema: {s}");
                    }
                    None => {
                        let _ = write!(
                            text,
                            " holding the values the agent asks for (see `asks.request`)"
                        );
                    }
                }
                text.push('\n');
                structured["asks"] = asks;
            }
            Outcome::Declined(question) => {
                structured["status"] = json!("declined");
                if let Question::Quote(q) = &question {
                    let _ = writeln!(text, "\nDeclined quote {}: nothing was paid.", q.quote_id);
                } else {
                    let _ = writeln!(
                        text,
                        "\nDeclined; the agent still waits for an answer to its {}.",
                        question.key()
                    );
                    structured["asks"] = question.describe(&agent);
                }
                structured["declined"] = json!({"key": question.key(), "id": question.id()});
            }
        }
        let _ = write!(text, "\n(thread {})", self.thread_id);
        let mut result = CallToolResult::structured(structured);
        result.content = vec![ContentBlock::text(text)];
        result
    }
}

async fn elicit(
    peer: &Peer<RoleServer>,
    message: String,
    schema: Value,
) -> Result<rmcp::model::ElicitResult, String> {
    let Value::Object(schema) = schema else {
        return Err("the schema is not an object".into());
    };
    let requested_schema =
        ElicitationSchema::from_json_schema(schema).map_err(|e| e.to_string())?;
    peer.create_elicitation(ElicitRequestParams::FormElicitationParams {
        meta: None,
        message,
        requested_schema,
    })
    .await
    .map_err(|e| e.to_string())
}

/// A tool error: the cause, and the thread when there is one to continue.
fn tool_error(cause: impl std::fmt::Display, thread_id: Option<&str>) -> CallToolResult {
    let mut text = cause.to_string();
    if let Some(t) = thread_id {
        let _ = write!(text, " (thread {t})");
    }
    let mut result = CallToolResult::structured_error(
        json!({"error": cause.to_string(), "thread_id": thread_id}),
    );
    result.content = vec![ContentBlock::text(text)];
    result
}

/// One line about a capability message for people.
fn summary(e: &Envelope) -> String {
    match e.body() {
        Body::RequestDecision(r) => format!(
            "[request_decision {}] {}",
            r.id.as_deref().unwrap_or("-"),
            r.title.as_deref().unwrap_or("")
        ),
        Body::RequestData(r) => format!("[request_data {}] {}", r.id, r.description),
        Body::Quote(q) => format!("[quote {}] {}", q.quote_id, q.description),
        Body::PaymentConfirmation(c) => {
            let mut s = format!(
                "[payment_confirmation {}] {}",
                c.quote_id,
                c.result.as_str()
            );
            if let Some(m) = &c.message {
                let _ = write!(s, ": {m}");
            }
            for d in c.details.iter().flatten() {
                let value = serde_json::to_value(&d.value).unwrap_or(Value::Null);
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                let _ = write!(s, "; {}: {value}", d.label);
            }
            s
        }
        _ => match e.message::<ErrorReport>() {
            Ok(Some(r)) => format!("[error {}] {}", r.code.as_str(), r.message),
            _ => format!("[{}] {}", e.key(), e.to_json_string()),
        },
    }
}

fn snippet(text: &str) -> String {
    let s: String = text.chars().take(200).collect();
    if s.len() < text.len() { s + "…" } else { s }
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("aitp-mcp", env!("CARGO_PKG_VERSION")))
            .with_instructions(self.inner.profile.instructions(TOOL))
    }

    /// Up to 2025-11-25: the versions with server-to-client elicitation requests, which is
    /// how the agent's questions reach the user in the middle of a call.
    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![self.tool()]))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        (name == TOOL).then(|| self.tool())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name != TOOL {
            return Err(ErrorData::invalid_params(
                format!("no tool {:?}; the tool is {TOOL}", request.name),
                None,
            ));
        }
        let arguments = request.arguments.unwrap_or_default();
        Ok(self.call(arguments, Some(&context.peer)).await.into())
    }
}
