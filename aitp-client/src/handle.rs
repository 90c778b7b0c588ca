//! Conversations: a thread with negotiated capabilities, runs to wait for or stream, and
//! replies matched to the requests they answer.

use std::{collections::HashSet, time::Instant};

use aitp::{
    capability::{Body, CapabilityMessage, Envelope, Negotiated, errors::ErrorReport},
    thread::{
        Actor, CreateMessage, CreateRun, CreateThread, ListQuery, Message, Order, Run, RunStatus,
        Thread,
    },
};
use futures_util::{TryStreamExt, future::BoxFuture};

use crate::{Client, Error, Result, sse::EventStream};

impl Client {
    /// Creates a thread declaring our actor and capabilities in `metadata.actors`, and reads
    /// back the actors the agent added (so capabilities can be negotiated).
    pub async fn create_thread(&self) -> Result<ThreadHandle> {
        let request = CreateThread::with_actors(std::slice::from_ref(&self.inner.actor));
        let thread = self.threads().create(&request).await?;
        Ok(ThreadHandle::new(self.clone(), thread))
    }

    /// A handle on an existing thread (retrieved, so its actors are known).
    pub async fn thread(&self, id: &str) -> Result<ThreadHandle> {
        let thread = self.threads().retrieve(id).await?;
        let mut handle = ThreadHandle::new(self.clone(), thread);
        handle.catch_up().await?;
        Ok(handle)
    }
}

/// A conversation with an agent in one thread.
///
/// Knows the thread's actors and what they all support ([`ThreadHandle::negotiated`]), and
/// which messages it has seen. Five verbs, one meaning each:
///
/// - [`post`](ThreadHandle::post) a message (text, typed, an envelope), checked against the
///   negotiation;
/// - [`run`](ThreadHandle::run) the agent: await it for its new messages, or stream it;
/// - [`ask`](ThreadHandle::ask): post, run, and the new messages, in one call;
/// - [`expect`](ThreadHandle::expect): post a request and get its typed, correlated reply;
/// - [`new_messages`](ThreadHandle::new_messages): what arrived that was not returned yet.
///
/// ```no_run
/// # async fn demo(mut thread: aitp_client::ThreadHandle) -> aitp_client::Result<()> {
/// use aitp::capability::decisions::{Decision, RequestDecision};
/// for reply in thread.ask("I need socks").await? {
///     println!("{}", reply.text());
/// }
/// let size: Decision = thread.expect(RequestDecision::radio("size", ["S", "M"]).build()).await?;
/// # let _ = size; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ThreadHandle {
    client: Client,
    thread: Thread,
    actors: Vec<Actor>,
    negotiated: Negotiated,
    force: bool,
    assistant_id: String,
    cursor: Option<String>,
    seen: HashSet<String>,
}

impl ThreadHandle {
    fn new(client: Client, thread: Thread) -> Self {
        let actors = thread.actors().unwrap_or_default();
        // Negotiation needs a peer: a thread where only we declared ourselves (servers that
        // do not speak AITP) agrees on nothing.
        let ours = &client.inner.actor.id;
        let negotiated = if actors.iter().any(|a| &a.id != ours) {
            let decls: Vec<_> = actors.iter().map(|a| a.capabilities.as_slice()).collect();
            Negotiated::from_declarations(decls)
        } else {
            Negotiated::default()
        };
        let assistant_id = client.inner.assistant_id.clone();
        Self {
            client,
            thread,
            actors,
            negotiated,
            force: false,
            assistant_id,
            cursor: None,
            seen: HashSet::new(),
        }
    }

    /// The thread id.
    pub fn id(&self) -> &str {
        &self.thread.id
    }

    /// The thread as the server returned it.
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The thread's actors (ours and the agent's, when it declares itself).
    pub fn actors(&self) -> &[Actor] {
        &self.actors
    }

    /// The capabilities every actor declared, at the versions to send.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// Whether every actor supports messages of type `T`.
    pub fn supports<T: CapabilityMessage>(&self) -> bool {
        self.negotiated.supports::<T>()
    }

    /// Sends capability messages even when the thread's actors did not all declare them
    /// (servers that declare nothing, such as plain OpenAI-style ones).
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    /// Creates runs with `assistant_id` (default: the client's).
    pub fn assistant(mut self, assistant_id: impl Into<String>) -> Self {
        self.assistant_id = assistant_id.into();
        self
    }

    /// Marks every message now in the thread as seen.
    pub async fn catch_up(&mut self) -> Result<()> {
        let all: Vec<Message> = self
            .client
            .messages(&self.thread.id)
            .list(ListQuery::new(ListQuery::MAX_LIMIT, Order::Asc))
            .try_collect()
            .await?;
        for m in all {
            self.mark_seen(&m);
        }
        Ok(())
    }

    fn mark_seen(&mut self, m: &Message) {
        self.seen.insert(m.id.clone());
        self.cursor = Some(m.id.clone());
    }

    /// Posts a message: text, a typed capability message, an [`Envelope`], or a whole
    /// [`CreateMessage`] (attachments, metadata), sent as the user and as our actor.
    ///
    /// Every capability message in it must be one all the thread's actors declared
    /// ([`ThreadHandle::negotiated`]), else [`Error::NotNegotiated`] and nothing is sent; a
    /// malformed one is [`Error::Capability`]. AITP error reports are always allowed. A
    /// [`ThreadHandle::force`]d handle sends without these checks (for servers that declare
    /// nothing, and for tests of what a peer does with a wrong message).
    pub async fn post(&mut self, message: impl Into<CreateMessage>) -> Result<Message> {
        let request = message.into();
        if !self.force {
            for envelope in request.capabilities() {
                let envelope = envelope?;
                if envelope.message::<ErrorReport>().is_none() {
                    self.check(&envelope)?;
                }
            }
        }
        let request = request.actor(self.client.inner.actor.id.clone());
        let message = self
            .client
            .messages(&self.thread.id)
            .create(&request)
            .await?;
        self.mark_seen(&message);
        Ok(message)
    }

    fn check(&self, message: &Envelope) -> Result<()> {
        let agreed = message
            .capability_id()
            .ok()
            .and_then(|id| self.negotiated.get(&id).map(|a| (id, a)))
            .is_some_and(|(id, a)| a.version().major == id.version().major);
        if agreed {
            return Ok(());
        }
        Err(Error::NotNegotiated {
            capability: message.schema().to_owned(),
            key: message.key().to_owned(),
            negotiated: self
                .negotiated
                .iter()
                .map(|c| c.url())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Runs the agent on what was posted. Await it for the agent's new messages once the run
    /// completed ([`Error::RunNotCompleted`] if it did not); [`PendingRun::stream`] it for its
    /// events as they come; [`PendingRun::start`] it for a [`RunHandle`] to wait for or
    /// cancel yourself.
    pub fn run(&mut self) -> PendingRun<'_> {
        PendingRun { thread: self }
    }

    async fn start_run(&self) -> Result<RunHandle> {
        let run = self
            .client
            .runs(&self.thread.id)
            .create(&CreateRun::new(self.assistant_id.clone()))
            .await?;
        Ok(RunHandle {
            client: self.client.clone(),
            run,
        })
    }

    /// Posts `message`, runs the agent, and returns its new messages: one turn of the
    /// conversation ([`ThreadHandle::post`] then [`ThreadHandle::run`]).
    pub async fn ask(&mut self, message: impl Into<CreateMessage>) -> Result<Vec<Message>> {
        self.post(message).await?;
        self.run().await
    }

    /// The messages posted since the last call (or since the last message sent), oldest
    /// first: what the agent said that this handle has not returned yet.
    pub async fn new_messages(&mut self) -> Result<Vec<Message>> {
        let mut query = ListQuery::new(ListQuery::MAX_LIMIT, Order::Asc);
        if let Some(c) = &self.cursor {
            query = query.after(c.clone());
        }
        let page: Vec<Message> = self
            .client
            .messages(&self.thread.id)
            .list(query)
            .try_collect()
            .await?;
        let mut new = Vec::new();
        for m in page {
            if !self.seen.contains(&m.id) {
                self.mark_seen(&m);
                new.push(m);
            }
        }
        Ok(new)
    }

    /// Posts `request`, runs the agent, and returns the reply of type `R` that answers it
    /// (matched by [`correlation_id`]): a `request_decision` is answered by a `decision`, a
    /// `request_data` by `data`, a `payment` for a quote by a `payment_confirmation`. An AITP
    /// error report posted after the request (about it, or naming no message) is
    /// [`Error::Peer`]. Polls the thread until the wait policy's idle timeout passes without
    /// new messages.
    pub async fn expect<R: CapabilityMessage>(
        &mut self,
        request: impl Into<Envelope>,
    ) -> Result<R> {
        let request = request.into();
        let id = correlation_id(&request).ok_or_else(|| {
            Error::Config(format!(
                "`{}` messages carry no id a reply could refer to",
                request.key()
            ))
        })?;
        let sent = self.post(&request).await?;
        self.start_run().await?.wait_completed().await?;
        self.reply_to::<R>(&id, &sent.id).await
    }

    async fn reply_to<R: CapabilityMessage>(&mut self, id: &str, message_id: &str) -> Result<R> {
        let policy = self.client.inner.wait.clone();
        let mut interval = policy.initial_interval;
        let mut last_news = Instant::now();
        loop {
            let new = self.new_messages().await?;
            if !new.is_empty() {
                last_news = Instant::now();
            }
            for m in &new {
                for envelope in m.capabilities().filter_map(|c| c.ok()) {
                    if let Some(Ok(report)) = envelope.message::<ErrorReport>() {
                        // After our request: a report about it, or about nothing in particular
                        // (handlers' errors often name no message), answers it.
                        let about_ours = report.message_id.is_none()
                            || report.message_id.as_deref() == Some(message_id);
                        if about_ours {
                            return Err(Error::Peer(Box::new(report)));
                        }
                    }
                    if envelope.key() == R::KEY && correlation_id(&envelope).as_deref() == Some(id)
                    {
                        if let Some(typed) = envelope.message::<R>() {
                            return Ok(typed?);
                        }
                    }
                }
            }
            if last_news.elapsed() > policy.idle_timeout {
                return Err(Error::WaitTimeout {
                    what: format!("a `{}` answering {id}", R::KEY),
                    after: policy.idle_timeout,
                });
            }
            tokio::time::sleep(interval).await;
            interval = policy.next(interval);
        }
    }
}

/// A run about to be created on a thread ([`ThreadHandle::run`]). Nothing is sent until it is
/// awaited, streamed or started.
#[must_use = "a run is created only when awaited, streamed or started"]
#[derive(Debug)]
pub struct PendingRun<'a> {
    thread: &'a mut ThreadHandle,
}

impl PendingRun<'_> {
    /// Creates the run (polled) and returns its handle, to wait for or cancel.
    pub async fn start(self) -> Result<RunHandle> {
        self.thread.start_run().await
    }

    /// Creates the run streamed: its events as they come. The messages it posts are not
    /// marked seen, so [`ThreadHandle::new_messages`] still returns them.
    pub async fn stream(self) -> Result<EventStream> {
        self.thread
            .client
            .runs(&self.thread.thread.id)
            .create_stream(&CreateRun::new(self.thread.assistant_id.clone()))
            .await
    }
}

impl<'a> IntoFuture for PendingRun<'a> {
    type Output = Result<Vec<Message>>;
    type IntoFuture = BoxFuture<'a, Result<Vec<Message>>>;

    /// Creates the run, waits for it to complete, and returns the agent's new messages.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.thread.start_run().await?.wait_completed().await?;
            self.thread.new_messages().await
        })
    }
}

/// The id that ties a capability message to its request or its reply:
/// `request_decision.id` ↔ `decision.request_decision_id`, `request_data.id` ↔
/// `data.request_data_id`, and the `quote_id` shared by a quote, its payment and the payment's
/// confirmation.
///
/// ```
/// use aitp::capability::{Envelope, decisions::RequestDecision};
/// use aitp_client::correlation_id;
/// let ask = RequestDecision::radio("size", ["S", "M"]).build();
/// let answer = ask.choose(["M"]);
/// assert_eq!(correlation_id(&Envelope::from(ask)).as_deref(), Some("size"));
/// assert_eq!(correlation_id(&Envelope::from(answer)).as_deref(), Some("size"));
/// ```
pub fn correlation_id(message: &Envelope) -> Option<String> {
    match message.body() {
        Body::RequestDecision(r) => r.id.clone(),
        Body::Decision(d) => d.request_decision_id.clone(),
        Body::RequestData(r) => Some(r.id.clone()),
        Body::Data(d) => d.request_data_id.clone(),
        Body::Quote(q) => Some(q.quote_id.clone()),
        Body::Payment(p) => Some(p.quote_id.clone()),
        Body::PaymentConfirmation(c) => Some(c.quote_id.clone()),
        _ => None,
    }
}

/// A run: refresh it, wait for it, cancel it.
#[derive(Debug, Clone)]
pub struct RunHandle {
    client: Client,
    run: Run,
}

impl RunHandle {
    /// The run id.
    pub fn id(&self) -> &str {
        &self.run.id
    }

    /// The run as last read.
    pub fn run(&self) -> &Run {
        &self.run
    }

    /// Reads the run again.
    pub async fn refresh(&mut self) -> Result<&Run> {
        self.run = self
            .client
            .runs(&self.run.thread_id)
            .retrieve(&self.run.id)
            .await?;
        Ok(&self.run)
    }

    /// Polls (with backoff) until the run ends or waits for the client (`requires_action`);
    /// gives up after the wait policy's run timeout.
    pub async fn wait(&mut self) -> Result<Run> {
        let policy = self.client.inner.wait.clone();
        let start = Instant::now();
        let mut interval = policy.initial_interval;
        loop {
            if self.run.status.is_terminal() || self.run.status == RunStatus::RequiresAction {
                return Ok(self.run.clone());
            }
            if start.elapsed() > policy.run_timeout {
                return Err(Error::WaitTimeout {
                    what: format!(
                        "run {} to end (last status {})",
                        self.run.id, self.run.status
                    ),
                    after: policy.run_timeout,
                });
            }
            tokio::time::sleep(interval).await;
            interval = policy.next(interval);
            self.refresh().await?;
        }
    }

    /// [`RunHandle::wait`], then an [`Error::RunNotCompleted`] unless the run completed.
    pub async fn wait_completed(&mut self) -> Result<Run> {
        let run = self.wait().await?;
        if run.status == RunStatus::Completed {
            Ok(run)
        } else {
            Err(Error::RunNotCompleted(Box::new(run)))
        }
    }

    /// Asks the server to cancel the run.
    pub async fn cancel(&mut self) -> Result<&Run> {
        self.run = self
            .client
            .runs(&self.run.thread_id)
            .cancel(&self.run.id)
            .await?;
        Ok(&self.run)
    }
}
