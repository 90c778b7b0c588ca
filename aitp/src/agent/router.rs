//! The router: handlers keyed by (capability, major version, message key), a text handler, a
//! fallback, and the policy for capability messages nobody handles.

use std::{collections::HashMap, fmt, sync::Arc};

use super::{BoxFuture, Handler, Reply, ThreadCtx, Turn};
use crate::{
    capability::{
        CapabilityId, CapabilityMessage, ContentPart, Envelope, ParseError,
        errors::{ErrorCode, ErrorReport},
        extract_text,
    },
    thread::Principal,
};

/// An error of a [`Forward`] implementation (for instance the remote agent is down).
pub type ForwardError = Box<dyn std::error::Error + Send + Sync>;

/// Passes capability messages this agent does not handle to someone who does (another agent),
/// and relays the answers. AITP's "accept, reject, or pass along".
pub trait Forward: Send + Sync + 'static {
    /// Forwards `message`; the returned replies are posted in the thread.
    fn forward(
        &self,
        cx: ThreadCtx,
        message: Envelope,
    ) -> BoxFuture<'static, Result<Vec<Reply>, ForwardError>>;
}

/// What to do with a capability message no handler takes.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Unsupported {
    /// Reply with an `unsupported_capability` [`ErrorReport`] naming the capability (default).
    #[default]
    Reply,
    /// Say nothing.
    Ignore,
    /// Pass it to a [`Forward`] implementation.
    Forward(Arc<dyn Forward>),
}

impl fmt::Debug for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reply => f.write_str("Reply"),
            Self::Ignore => f.write_str("Ignore"),
            Self::Forward(_) => f.write_str("Forward(..)"),
        }
    }
}

/// An agent a transport can serve: its identity, the capabilities it declares, and how it
/// answers a turn. [`Router`] is the implementation you build.
pub trait Agent: Send + Sync + 'static {
    /// The actor id the agent adds to threads' `metadata.actors`.
    fn actor_id(&self) -> &str;
    /// The capabilities the agent declares.
    fn capabilities(&self) -> Vec<CapabilityId>;
    /// Answers the new messages of a turn.
    fn respond(&self, turn: Turn) -> BoxFuture<'_, Vec<Reply>>;
}

impl<A: Agent + ?Sized> Agent for Arc<A> {
    fn actor_id(&self) -> &str {
        (**self).actor_id()
    }
    fn capabilities(&self) -> Vec<CapabilityId> {
        (**self).capabilities()
    }
    fn respond(&self, turn: Turn) -> BoxFuture<'_, Vec<Reply>> {
        (**self).respond(turn)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RouteKey {
    capability: String,
    major: u64,
    key: String,
}

type Erased<S, T> = Arc<dyn Fn(ThreadCtx, &S, T) -> BoxFuture<'static, Vec<Reply>> + Send + Sync>;

struct Route<S> {
    id: CapabilityId,
    call: Erased<S, Envelope>,
}

/// Routes a turn's messages to handlers.
///
/// Build it with [`Router::new`] (no state) or [`Router::with_state`], then register handlers.
/// The capabilities it declares are those of its handlers, plus any [`Router::declare`]s.
pub struct Router<S = ()> {
    state: S,
    actor_id: String,
    routes: HashMap<RouteKey, Route<S>>,
    text: Option<Erased<S, String>>,
    fallback: Option<Erased<S, Envelope>>,
    unsupported: Unsupported,
    declared: Vec<CapabilityId>,
    validate: bool,
    #[cfg(feature = "signing")]
    payments: Option<super::PaymentDesk>,
}

impl Router<()> {
    /// An empty router without state.
    pub fn new() -> Self {
        Self::with_state(())
    }
}

impl Default for Router<()> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<String> = self
            .routes
            .keys()
            .map(|k| format!("{}@{}:{}", k.capability, k.major, k.key))
            .collect();
        keys.sort();
        f.debug_struct("Router")
            .field("actor_id", &self.actor_id)
            .field("routes", &keys)
            .field("text", &self.text.is_some())
            .field("fallback", &self.fallback.is_some())
            .field("unsupported", &self.unsupported)
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync + 'static> Router<S> {
    /// An empty router whose handlers can extract [`State<S>`](super::State).
    pub fn with_state(state: S) -> Self {
        Self {
            state,
            actor_id: "aitp-rs-agent".to_owned(),
            routes: HashMap::new(),
            text: None,
            fallback: None,
            unsupported: Unsupported::Reply,
            declared: Vec::new(),
            validate: true,
            #[cfg(feature = "signing")]
            payments: None,
        }
    }

    /// Sets the actor id the agent uses in threads (default `aitp-rs-agent`).
    pub fn actor_id(mut self, id: impl Into<String>) -> Self {
        self.actor_id = id.into();
        self
    }

    /// Registers the handler of message type `T` (the handler's last argument). A second
    /// handler for the same type replaces the first.
    pub fn handler<T, A, H>(mut self, handler: H) -> Self
    where
        T: CapabilityMessage,
        H: Handler<T, A, S>,
    {
        let id = T::capability().clone();
        let key = RouteKey {
            capability: id.name(),
            major: id.version().major,
            key: T::KEY.to_owned(),
        };
        let validate = self.validate;
        let call: Erased<S, Envelope> = Arc::new(move |cx: ThreadCtx, state: &S, m: Envelope| {
            // Moved out of the envelope, not copied: this is the path of every message.
            let (typed, schema) = match m.take_message::<T>() {
                Ok(taken) => taken,
                Err((m, Some(e))) => return ready(vec![invalid_reply(&cx, &m, &e)]),
                Err((m, None)) => return ready(vec![unsupported_reply(&cx, &m)]),
            };
            if validate {
                if let Err(errors) = typed.validate() {
                    let report = ErrorReport::invalid(&errors)
                        .capability(schema)
                        .key(T::KEY)
                        .message_id(cx.message().id.clone());
                    return ready(vec![Reply::error(report)]);
                }
            }
            handler.call(cx, state, typed)
        });
        self.routes.insert(key, Route { id, call });
        self
    }

    /// Registers the text handler (last argument `String`), called for each text part that is
    /// not a capability message.
    pub fn on_text<A, H>(mut self, handler: H) -> Self
    where
        H: Handler<String, A, S>,
    {
        self.text = Some(Arc::new(move |cx, state: &S, text| {
            handler.call(cx, state, text)
        }));
        self
    }

    /// Registers the fallback handler (last argument [`Envelope`]), called for capability
    /// messages no other handler takes, before the [`Unsupported`] policy.
    pub fn fallback<A, H>(mut self, handler: H) -> Self
    where
        H: Handler<Envelope, A, S>,
    {
        self.fallback = Some(Arc::new(move |cx, state: &S, m| handler.call(cx, state, m)));
        self
    }

    /// Sets what happens to capability messages nobody handles.
    pub fn unsupported(mut self, policy: Unsupported) -> Self {
        self.unsupported = policy;
        self
    }

    /// Passes capability messages nobody handles to `forward` (and declares nothing for them:
    /// add [`Router::declare`] for the capabilities you pass through).
    pub fn forward_to(self, forward: impl Forward) -> Self {
        self.unsupported(Unsupported::Forward(Arc::new(forward)))
    }

    /// Declares a capability without a handler (for instance one passed through).
    pub fn declare(mut self, id: CapabilityId) -> Self {
        if !self.declared.contains(&id) {
            self.declared.push(id);
        }
        self
    }

    /// Whether handlers get only messages that pass their schema's validation (default `true`);
    /// invalid ones are answered with an `invalid_message` report naming the fields. Applies to
    /// handlers registered after this call.
    pub fn validate_incoming(mut self, validate: bool) -> Self {
        self.validate = validate;
        self
    }

    /// Puts every AITP-01 `payment` through `desk`'s [`PaymentGate`](crate::sign::PaymentGate)
    /// before any handler sees it: the payment handler (or the fallback) is called only for
    /// a payment of a quote this agent sent in the thread, unexpired, whose signatures all
    /// verify and which the payment matches exactly; anything else is answered with a signed
    /// refusal naming the failed check. A payment seen before gets its confirmation again
    /// without a second call, and the confirmation the handler returns is signed by the gate.
    /// An agent with neither a `Payment` handler nor a fallback leaves payments to its
    /// [`Unsupported`] policy, ungated (a forwarder passes them on to their merchant). See
    /// [`payments`](super::payments) for the checks, their order and their errors.
    #[cfg(feature = "signing")]
    pub fn payment_gate(mut self, desk: super::PaymentDesk) -> Self {
        self.payments = Some(desk);
        self
    }

    /// The capabilities the agent declares: those of its handlers and its declarations.
    pub fn capabilities(&self) -> Vec<CapabilityId> {
        let mut out: Vec<CapabilityId> = Vec::new();
        let mut ids: Vec<&CapabilityId> = self.routes.values().map(|r| &r.id).collect();
        ids.sort();
        for id in ids.into_iter().chain(self.declared.iter()) {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
        out
    }

    /// The route for a capability message: exact (capability, major, key) first; a message
    /// whose body is already typed (a built-in message of another major, such as the docs'
    /// `v0.1.0`) goes to the same capability and key at any major.
    fn route_for(&self, m: &Envelope) -> Option<&Route<S>> {
        let id = m.body_capability()?;
        let exact = RouteKey {
            capability: id.name(),
            major: id.version().major,
            key: m.key().to_owned(),
        };
        self.routes.get(&exact).or_else(|| {
            m.body().aitp_capability()?;
            self.routes
                .iter()
                .find(|(k, _)| k.capability == exact.capability && k.key == exact.key)
                .map(|(_, r)| r)
        })
    }

    async fn handle_message(&self, cx: ThreadCtx, m: Envelope) -> Vec<Reply> {
        // Gated: payments a handler of this agent takes. Payments nobody here handles go to
        // the `Unsupported` policy untouched (a forwarder passes them on to their merchant).
        #[cfg(feature = "signing")]
        if let Some(desk) = self
            .payments
            .as_ref()
            .filter(|_| self.fallback.is_some() || self.route_for(&m).is_some())
        {
            use crate::capability::payments::Payment;
            if let Ok(Some(payment)) = m.message::<Payment>() {
                return desk.take(cx, payment, |cx| self.route_message(cx, m)).await;
            }
        }
        self.route_message(cx, m).await
    }

    async fn route_message(&self, cx: ThreadCtx, m: Envelope) -> Vec<Reply> {
        if let Some(route) = self.route_for(&m) {
            return (route.call)(cx, &self.state, m).await;
        }
        if let Some(fallback) = &self.fallback {
            return fallback(cx, &self.state, m).await;
        }
        match &self.unsupported {
            Unsupported::Reply => vec![unsupported_reply(&cx, &m)],
            Unsupported::Ignore => Vec::new(),
            Unsupported::Forward(f) => match f.forward(cx.clone(), m.clone()).await {
                Ok(replies) => replies,
                Err(e) => vec![Reply::error(
                    ErrorReport::new(
                        ErrorCode::HandlerError,
                        format!("could not pass the message on: {e}"),
                    )
                    .capability(m.schema())
                    .key(m.key())
                    .message_id(cx.message().id.clone()),
                )],
            },
        }
    }

    /// Answers every new message of `turn`, in order.
    pub async fn dispatch(&self, turn: Turn) -> Vec<Reply> {
        let Turn {
            thread,
            messages,
            principal,
            run_id,
            history,
        } = turn;
        #[cfg(feature = "signing")]
        let thread_id = thread.id.clone();
        let mut replies = Vec::new();
        for message in messages {
            let parts: Vec<String> = message.text_parts().map(str::to_owned).collect();
            let cx = ThreadCtx::new(thread.clone(), message, principal.clone(), run_id.clone())
                .with_history(history.clone());
            for part in &parts {
                match extract_text(part) {
                    ContentPart::Aitp(m) => {
                        replies.extend(self.handle_message(cx.clone(), m).await)
                    }
                    ContentPart::Invalid { error, .. } => {
                        replies.push(Reply::error(parse_error_report(&cx, &error)))
                    }
                    ContentPart::Text(t) => {
                        if let Some(text) = &self.text {
                            replies.extend(text(cx.clone(), &self.state, t.to_owned()).await);
                        }
                    }
                }
            }
        }
        #[cfg(feature = "signing")]
        // With a history the desk reads offers from the thread: no record needed.
        if let (Some(desk), None) = (&self.payments, &history) {
            desk.record(&thread_id, &replies);
        }
        replies
    }

    /// Answers one message in an otherwise empty thread context (handy in tests).
    pub async fn dispatch_one(
        &self,
        thread: crate::thread::Thread,
        message: crate::thread::Message,
    ) -> Vec<Reply> {
        self.dispatch(Turn::new(thread, vec![message], Principal::anonymous()))
            .await
    }
}

impl<S: Send + Sync + 'static> Agent for Router<S> {
    fn actor_id(&self) -> &str {
        &self.actor_id
    }
    fn capabilities(&self) -> Vec<CapabilityId> {
        Router::capabilities(self)
    }
    fn respond(&self, turn: Turn) -> BoxFuture<'_, Vec<Reply>> {
        Box::pin(self.dispatch(turn))
    }
}

fn ready(replies: Vec<Reply>) -> BoxFuture<'static, Vec<Reply>> {
    Box::pin(std::future::ready(replies))
}

fn unsupported_reply(cx: &ThreadCtx, m: &Envelope) -> Reply {
    let what = match m.capability_id() {
        Ok(id) => id.name(),
        Err(_) => m.schema().to_owned(),
    };
    Reply::error(
        ErrorReport::new(
            ErrorCode::UnsupportedCapability,
            format!(
                "this agent does not handle `{}` messages of {what}",
                m.key()
            ),
        )
        .capability(m.schema())
        .key(m.key())
        .message_id(cx.message().id.clone()),
    )
}

fn invalid_reply(cx: &ThreadCtx, m: &Envelope, e: &ParseError) -> Reply {
    Reply::error(
        ErrorReport::new(ErrorCode::InvalidMessage, e.to_string())
            .capability(m.schema())
            .key(m.key())
            .message_id(cx.message().id.clone()),
    )
}

fn parse_error_report(cx: &ThreadCtx, e: &ParseError) -> ErrorReport {
    let mut r = ErrorReport::new(ErrorCode::InvalidMessage, e.to_string())
        .message_id(cx.message().id.clone());
    if let ParseError::Body {
        key, path, error, ..
    } = e
    {
        r = r.key(key.clone());
        r.details.push(
            serde_json::from_value(serde_json::json!({"path": path, "message": error.to_string()}))
                .expect("detail shape"),
        );
    }
    r
}
