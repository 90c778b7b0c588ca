//! What a handler knows about the turn it is answering.

use std::{
    fmt,
    sync::{Arc, OnceLock},
};

use super::ThreadHistory;
use crate::{
    capability::Negotiated,
    thread::{Actor, Message, Principal, Thread},
};

/// One turn: the thread and the messages the agent has not answered yet, oldest first.
#[derive(Clone)]
#[non_exhaustive]
pub struct Turn {
    /// The thread, with its metadata (actors and their capabilities).
    pub thread: Thread,
    /// The new messages to answer.
    pub messages: Vec<Message>,
    /// Who asked.
    pub principal: Principal,
    /// The run this turn belongs to, when a transport runs the agent in runs.
    pub run_id: Option<String>,
    /// The thread's stored messages, when the transport can read them (the server can):
    /// where the payment desk finds the offers a payment pays.
    pub history: Option<Arc<dyn ThreadHistory>>,
}

impl fmt::Debug for Turn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Turn")
            .field("thread", &self.thread)
            .field("messages", &self.messages)
            .field("principal", &self.principal)
            .field("run_id", &self.run_id)
            .field("history", &self.history.is_some())
            .finish()
    }
}

impl Turn {
    /// A turn answering `messages` in `thread` for `principal`.
    pub fn new(thread: Thread, messages: Vec<Message>, principal: Principal) -> Self {
        Self {
            thread,
            messages,
            principal,
            run_id: None,
            history: None,
        }
    }

    /// Sets the run id.
    pub fn run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// Gives the turn a view of the thread's stored messages.
    pub fn history(mut self, history: Arc<dyn ThreadHistory>) -> Self {
        self.history = Some(history);
        self
    }
}

/// The context of the message being handled: thread, message, actors, negotiated capabilities,
/// principal. Cheap to clone.
#[derive(Clone)]
pub struct ThreadCtx {
    inner: Arc<Inner>,
}

struct Inner {
    thread: Thread,
    message: Message,
    principal: Principal,
    run_id: Option<String>,
    history: Option<Arc<dyn ThreadHistory>>,
    // Read from the metadata on first use: most handlers never ask.
    actors: OnceLock<Vec<Actor>>,
    negotiated: OnceLock<Negotiated>,
    /// What the payment gate verified about the payment being handled.
    #[cfg(feature = "signing")]
    admitted: Option<super::Admitted>,
}

impl ThreadCtx {
    /// The context of `message` in `thread`. Actors and negotiated capabilities are read from
    /// the thread's metadata.
    pub fn new(
        thread: Thread,
        message: Message,
        principal: Principal,
        run_id: Option<String>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                thread,
                message,
                principal,
                run_id,
                history: None,
                actors: OnceLock::new(),
                negotiated: OnceLock::new(),
                #[cfg(feature = "signing")]
                admitted: None,
            }),
        }
    }

    /// The same context, with a view of the thread's stored messages (of the [`Turn`]).
    pub(super) fn with_history(mut self, history: Option<Arc<dyn ThreadHistory>>) -> Self {
        if history.is_some() {
            if let Some(inner) = Arc::get_mut(&mut self.inner) {
                inner.history = history;
            }
        }
        self
    }

    /// The thread's stored messages, newest first, when the transport provides them (the
    /// server does): for handlers that look back further than the message they answer.
    pub fn history(&self) -> Option<&dyn ThreadHistory> {
        self.inner.history.as_deref()
    }

    /// The same context, for a payment the gate admitted.
    #[cfg(feature = "signing")]
    pub(super) fn with_admitted(&self, admitted: super::Admitted) -> Self {
        let i = &self.inner;
        Self {
            inner: Arc::new(Inner {
                thread: i.thread.clone(),
                message: i.message.clone(),
                principal: i.principal.clone(),
                run_id: i.run_id.clone(),
                history: i.history.clone(),
                actors: i.actors.clone(),
                negotiated: i.negotiated.clone(),
                admitted: Some(admitted),
            }),
        }
    }

    /// What the router's [`PaymentDesk`](super::PaymentDesk) verified about the payment
    /// being handled; `None` outside a gated payment handler.
    #[cfg(feature = "signing")]
    pub fn admitted(&self) -> Option<&super::Admitted> {
        self.inner.admitted.as_ref()
    }

    /// The thread id.
    pub fn thread_id(&self) -> &str {
        &self.inner.thread.id
    }

    /// The thread.
    pub fn thread(&self) -> &Thread {
        &self.inner.thread
    }

    /// The message being handled.
    pub fn message(&self) -> &Message {
        &self.inner.message
    }

    /// The actors of the thread, with their declared capabilities.
    pub fn actors(&self) -> &[Actor] {
        self.inner
            .actors
            .get_or_init(|| self.inner.thread.metadata.actors().unwrap_or_default())
    }

    /// The capabilities every actor of the thread supports, at the version to send.
    pub fn negotiated(&self) -> &Negotiated {
        self.inner.negotiated.get_or_init(|| {
            let decls: Vec<_> = self
                .actors()
                .iter()
                .map(|a| a.capabilities.as_slice())
                .collect();
            Negotiated::from_declarations(decls)
        })
    }

    /// Who is talking to the agent.
    pub fn principal(&self) -> &Principal {
        &self.inner.principal
    }

    /// The run being executed, if any.
    pub fn run_id(&self) -> Option<&str> {
        self.inner.run_id.as_deref()
    }
}

impl fmt::Debug for ThreadCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadCtx")
            .field("thread_id", &self.thread_id())
            .field("message_id", &self.inner.message.id)
            .field("principal", &self.inner.principal)
            .field("run_id", &self.inner.run_id)
            .finish_non_exhaustive()
    }
}
