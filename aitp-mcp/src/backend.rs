//! The AITP agent behind the gateway: a remote AITP-T01 endpoint reached with
//! [`aitp_client`], or an in-process [`aitp::agent::Router`] served on a loopback port so
//! that both take the same, real, HTTP path.
//!
//! Only the client's resource API is used here (threads, messages, runs): one run is
//! created, polled to its end, and the messages posted after ours are the agent's answer.

use std::time::Duration;

use aitp::{
    agent::Agent,
    server::Server,
    store::MemoryStore,
    thread::{
        Actor, CreateMessage, CreateRun, CreateThread, Message, Role, Run, RunStatus, Thread,
    },
};
use aitp_client::{
    Client,
    aitp::thread::{ListQuery, Order},
};
use futures_util::TryStreamExt as _;
use tokio::sync::oneshot;

/// Why a turn with the agent failed; each becomes an MCP tool error naming the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The endpoint could not be reached or answered with an error.
    #[error("the agent at {url} could not be reached: {source}")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// What the client saw.
        #[source]
        source: aitp_client::Error,
    },
    /// The endpoint refused the request (auth, limits) or answered not as AITP-T01 says.
    #[error("the agent at {url} failed the request: {source}")]
    Api {
        /// The endpoint.
        url: String,
        /// What the client saw.
        #[source]
        source: aitp_client::Error,
    },
    /// The agent's run ended without completing.
    #[error("the agent's run {run} ended {status}{}", .error.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    RunFailed {
        /// The run id.
        run: String,
        /// How it ended.
        status: String,
        /// The run's `last_error`.
        error: Option<String>,
    },
    /// The conversation to continue does not exist (or is not ours to read).
    #[error("the agent at {url} has no thread {thread} (or it is not ours)")]
    NoThread {
        /// The endpoint.
        url: String,
        /// The thread id asked for.
        thread: String,
    },
    /// The agent did not finish within the gateway's run timeout.
    #[error("the agent did not answer within {after:?} (run {run} is still {status})")]
    Timeout {
        /// The run id.
        run: String,
        /// Its last status.
        status: String,
        /// The timeout.
        after: Duration,
    },
}

/// Stops the in-process agent's server when the backend is dropped.
#[derive(Debug)]
struct LoopbackServer {
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The agent the gateway talks to.
#[derive(Debug)]
pub struct Backend {
    client: Client,
    run_timeout: Duration,
    local: Option<(Vec<Actor>, LoopbackServer)>,
}

impl Backend {
    /// A remote agent reached with `client` (its base URL, auth and actor).
    pub fn remote(client: Client) -> Self {
        Self {
            client,
            run_timeout: Duration::from_secs(120),
            local: None,
        }
    }

    /// Serves `agent` (such as an [`aitp::agent::Router`]) on a free loopback port, in
    /// memory, stopped with the backend, and talks to it over HTTP like to any remote agent.
    pub async fn in_process(agent: impl Agent) -> std::io::Result<Self> {
        let mut actor = Actor::new(agent.actor_id().to_owned());
        actor.capabilities = agent.capabilities().into_iter().map(Into::into).collect();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = Server::new(agent, MemoryStore::new());
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = server.serve_with(listener, shutdown).await {
                tracing::error!(error = %e, "the in-process agent's server stopped");
            }
        });
        let client = Client::builder(format!("http://{addr}/v1"))
            .actor("aitp-mcp")
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self {
            client,
            run_timeout: Duration::from_secs(120),
            local: Some((vec![actor], LoopbackServer { stop: Some(stop) })),
        })
    }

    /// Gives up on a run after `timeout` (default two minutes).
    pub fn run_timeout(mut self, timeout: Duration) -> Self {
        self.run_timeout = timeout;
        self
    }

    /// The client (its base URL and actor).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The agent's actors, as declared: the router's own for an in-process agent; for a
    /// remote one, the actors the agent adds to a new thread's `metadata.actors`.
    pub async fn agent_actors(&self) -> Result<Vec<Actor>, BackendError> {
        if let Some((actors, _)) = &self.local {
            return Ok(actors.clone());
        }
        let thread = self.open().await?;
        let ours = &self.client.actor().id;
        Ok(thread
            .actors()
            .unwrap_or_default()
            .into_iter()
            .filter(|a| &a.id != ours)
            .collect())
    }

    fn classify(&self, source: aitp_client::Error) -> BackendError {
        let url = self.client.base_url().to_owned();
        match &source {
            aitp_client::Error::Connect { .. }
            | aitp_client::Error::Timeout { .. }
            | aitp_client::Error::Transport { .. } => BackendError::Unreachable { url, source },
            _ => BackendError::Api { url, source },
        }
    }

    /// Opens a new thread declaring our actor.
    pub async fn open(&self) -> Result<Thread, BackendError> {
        let request = CreateThread::with_actors(std::slice::from_ref(self.client.actor()));
        self.client
            .threads()
            .create(&request)
            .await
            .map_err(|e| self.classify(e))
    }

    /// Checks that `thread_id` exists (and is ours to read).
    pub async fn thread(&self, thread_id: &str) -> Result<Thread, BackendError> {
        self.client
            .threads()
            .retrieve(thread_id)
            .await
            .map_err(|e| match e.status() {
                Some(s) if s == aitp_client::reqwest::StatusCode::NOT_FOUND => {
                    BackendError::NoThread {
                        url: self.client.base_url().to_owned(),
                        thread: thread_id.to_owned(),
                    }
                }
                _ => self.classify(e),
            })
    }

    /// Every message of the thread, oldest first.
    pub async fn history(&self, thread_id: &str) -> Result<Vec<Message>, BackendError> {
        self.client
            .messages(thread_id)
            .list(ListQuery::new(100, Order::Asc))
            .try_collect()
            .await
            .map_err(|e| self.classify(e))
    }

    /// Posts `message` as our actor, runs the agent to the end, and returns what the agent
    /// posted after it.
    pub async fn turn(
        &self,
        thread_id: &str,
        message: CreateMessage,
    ) -> Result<Vec<Message>, BackendError> {
        let message = message.actor(self.client.actor().id.clone());
        let posted = self
            .client
            .messages(thread_id)
            .create(&message)
            .await
            .map_err(|e| self.classify(e))?;
        let run = self
            .client
            .runs(thread_id)
            .create(&CreateRun::new(self.client.assistant_id().to_owned()))
            .await
            .map_err(|e| self.classify(e))?;
        let run = self.finish(thread_id, run).await?;
        if run.status != RunStatus::Completed && run.status != RunStatus::RequiresAction {
            return Err(BackendError::RunFailed {
                run: run.id,
                status: run.status.to_string(),
                error: run.last_error.map(|e| e.message),
            });
        }
        let after: Vec<Message> = self
            .client
            .messages(thread_id)
            .list(ListQuery::new(100, Order::Asc).after(posted.id.clone()))
            .try_collect()
            .await
            .map_err(|e| self.classify(e))?;
        Ok(after
            .into_iter()
            .filter(|m| m.role == Role::Assistant)
            .collect())
    }

    /// Polls `run` until it ends (or waits for us), backing off from 10 ms to half a second.
    async fn finish(&self, thread_id: &str, mut run: Run) -> Result<Run, BackendError> {
        let deadline = tokio::time::Instant::now() + self.run_timeout;
        let mut interval = Duration::from_millis(10);
        while !run.status.is_terminal() && run.status != RunStatus::RequiresAction {
            if tokio::time::Instant::now() + interval > deadline {
                return Err(BackendError::Timeout {
                    run: run.id,
                    status: run.status.to_string(),
                    after: self.run_timeout,
                });
            }
            tokio::time::sleep(interval).await;
            interval = (interval * 2).min(Duration::from_millis(500));
            run = self
                .client
                .runs(thread_id)
                .retrieve(&run.id)
                .await
                .map_err(|e| self.classify(e))?;
        }
        Ok(run)
    }
}
