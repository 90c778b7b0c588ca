//! Passthrough: an agent hands what it does not handle to another agent, through the client.

use std::{collections::HashMap, sync::Arc};

use aitp::{
    agent::{BoxFuture, Forward, ForwardError, Reply, ThreadCtx},
    capability::{ContentPart, Envelope, extract_text},
    thread::Message,
};
use tokio::sync::Mutex;

use crate::{Client, Result, ThreadHandle};

/// Forwards capability messages (and, with [`Forwarder::relay_text`], text) to a remote agent
/// and relays its answers, keeping one remote thread per local thread.
///
/// Plug it into a router with `Router::forward_to(forwarder)`: messages the local agent has
/// no handler for go to the remote agent; its replies are posted in the local thread as they
/// are (capability messages unchanged, so signatures still verify).
///
/// With `Forwarder::affiliate` (feature `signing`), the agent passes the remote agent's
/// quotes on as an affiliate instead: each `quote` (or `wrapped_quote`) is checked and
/// wrapped, and the payer's `payment` of it goes back to the remote agent unchanged (see
/// `Affiliation`). Use [`Forwarder::forward_text`] for text then, so
/// quotes that answer text are wrapped too.
///
/// ```
/// use aitp::agent::Router;
/// use aitp_client::{Client, Forwarder};
/// let shop = Client::builder("http://127.0.0.1:8081/v1").actor("my-assistant").build().unwrap();
/// let assistant = Router::new().actor_id("my-assistant").forward_to(Forwarder::new(shop));
/// # let _ = assistant;
/// ```
#[derive(Debug, Clone)]
pub struct Forwarder {
    client: Client,
    threads: Arc<Mutex<HashMap<String, Arc<Mutex<ThreadHandle>>>>>,
    #[cfg(feature = "signing")]
    affiliation: Option<Arc<crate::Affiliation>>,
}

impl Forwarder {
    /// A forwarder to the agent `client` talks to.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            threads: Arc::default(),
            #[cfg(feature = "signing")]
            affiliation: None,
        }
    }

    /// Passes the remote agent's quotes on as the affiliate `affiliation`: in the replies of
    /// [`Forwarder::forward_message`] (and so of `Router::forward_to`) and
    /// [`Forwarder::forward_text`], every `quote` or `wrapped_quote` is verified and wrapped
    /// (one that does not verify becomes an `error` message). [`Forwarder::relay`] and
    /// [`Forwarder::relay_text`] still relay unchanged.
    ///
    /// Build the client with the affiliate id as its actor (`Client::builder(..).actor(id)`):
    /// a merchant addresses its quote (`next_recipient`) to the agent that asked for it, and
    /// the affiliation wraps only quotes addressed to it, so that a quote stripped of our
    /// wrapper further on is refused by the payer (see `aitp::sign::verify_chain`).
    #[cfg(feature = "signing")]
    pub fn affiliate(mut self, affiliation: crate::Affiliation) -> Self {
        self.affiliation = Some(Arc::new(affiliation));
        self
    }

    /// Passes `message` on and returns the remote agent's answers, quotes wrapped when this
    /// forwarder is an affiliate (`Forwarder::affiliate`). What `Router::forward_to` calls.
    pub async fn forward_message(&self, cx: &ThreadCtx, message: &Envelope) -> Result<Vec<Reply>> {
        let replies = self.relay(cx.thread_id(), message).await?;
        Ok(self.pass_on(cx, replies).await)
    }

    /// Passes text on and returns the remote agent's answers, quotes wrapped when this
    /// forwarder is an affiliate (`Forwarder::affiliate`).
    pub async fn forward_text(&self, cx: &ThreadCtx, text: &str) -> Result<Vec<Reply>> {
        let replies = self.relay_text(cx.thread_id(), text).await?;
        Ok(self.pass_on(cx, replies).await)
    }

    #[cfg(feature = "signing")]
    async fn pass_on(&self, cx: &ThreadCtx, replies: Vec<Reply>) -> Vec<Reply> {
        match &self.affiliation {
            Some(a) => {
                let next = a.next_recipient(cx, &self.client.actor().id);
                a.pass_on(&next, replies).await
            }
            None => replies,
        }
    }

    #[cfg(not(feature = "signing"))]
    async fn pass_on(&self, _cx: &ThreadCtx, replies: Vec<Reply>) -> Vec<Reply> {
        replies
    }

    /// The remote thread of local thread `local_id` (created on first use).
    async fn remote(&self, local_id: &str) -> Result<Arc<Mutex<ThreadHandle>>> {
        let mut threads = self.threads.lock().await;
        if let Some(t) = threads.get(local_id) {
            return Ok(t.clone());
        }
        let handle = Arc::new(Mutex::new(self.client.create_thread().await?));
        threads.insert(local_id.to_owned(), handle.clone());
        Ok(handle)
    }

    /// The id of the remote thread of local thread `local_id`, if there is one.
    pub async fn remote_thread_id(&self, local_id: &str) -> Option<String> {
        let threads = self.threads.lock().await;
        let t = threads.get(local_id)?;
        Some(t.lock().await.id().to_owned())
    }

    /// Passes `message` on (checked against the remote thread's negotiation), runs the remote
    /// agent and returns its answers as replies, unchanged (not wrapped, even for an
    /// affiliate (`Forwarder::affiliate`): see [`Forwarder::forward_message`]).
    pub async fn relay(&self, local_id: &str, message: &Envelope) -> Result<Vec<Reply>> {
        let remote = self.remote(local_id).await?;
        let mut remote = remote.lock().await;
        Ok(to_replies(&remote.ask(message).await?))
    }

    /// Passes text on, runs the remote agent and returns its answers as replies, unchanged
    /// (see [`Forwarder::forward_text`]).
    pub async fn relay_text(&self, local_id: &str, text: &str) -> Result<Vec<Reply>> {
        let remote = self.remote(local_id).await?;
        let mut remote = remote.lock().await;
        Ok(to_replies(&remote.ask(text).await?))
    }
}

/// The text parts of the remote agent's messages as replies: capability messages as
/// [`Reply::Message`], the rest as [`Reply::Text`].
pub fn to_replies(messages: &[Message]) -> Vec<Reply> {
    messages
        .iter()
        .filter(|m| m.role == aitp::thread::Role::Assistant)
        .flat_map(|m| m.text_parts().map(str::to_owned).collect::<Vec<_>>())
        .map(|part| match extract_text(&part) {
            ContentPart::Aitp(m) => Reply::Message(m),
            _ => Reply::Text(part),
        })
        .collect()
}

impl Forward for Forwarder {
    fn forward(
        &self,
        cx: ThreadCtx,
        message: Envelope,
    ) -> BoxFuture<'static, Result<Vec<Reply>, ForwardError>> {
        let this = self.clone();
        Box::pin(async move {
            this.forward_message(&cx, &message)
                .await
                .map_err(|e| Box::new(e) as ForwardError)
        })
    }
}
