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
}

impl Forwarder {
    /// A forwarder to the agent `client` talks to.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            threads: Arc::default(),
        }
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
    /// agent and returns its answers as replies.
    pub async fn relay(&self, local_id: &str, message: &Envelope) -> Result<Vec<Reply>> {
        let remote = self.remote(local_id).await?;
        let mut remote = remote.lock().await;
        Ok(to_replies(&remote.ask(message).await?))
    }

    /// Passes text on, runs the remote agent and returns its answers as replies.
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
            this.relay(cx.thread_id(), &message)
                .await
                .map_err(|e| Box::new(e) as ForwardError)
        })
    }
}
