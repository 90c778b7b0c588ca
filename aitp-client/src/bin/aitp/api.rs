//! Every call `aitp` makes into `aitp_client`, in one place (so changes to the library's verbs
//! touch this module only), with the failures turned into what a person can act on.

use std::time::Duration;

use aitp::{
    capability::Envelope,
    thread::{ListQuery, Message, Order, RunStatus, Thread, event::Event},
};
use aitp_client::{Client, Error, ThreadHandle, reqwest::StatusCode};
use futures_util::{StreamExt as _, TryStreamExt as _};

use crate::{CliResult, Exit, Failure, cli::Server};

/// The assistant id the client library sends when none is given.
const DEFAULT_ASSISTANT: &str = "aitp";

/// A client for `server`'s options.
pub(crate) fn connect(server: &Server) -> CliResult<Client> {
    let mut b = Client::builder(server.url.as_str())
        .actor(server.actor.as_str())
        .timeout(Duration::from_secs(server.timeout));
    if let Some(t) = &server.token {
        b = b.bearer(t.as_str());
    }
    if let Some(a) = &server.assistant {
        b = b.assistant_id(a.as_str());
    }
    Ok(b.build()?)
}

/// A client that will create runs: with no assistant id given, the one the server lists
/// (when it lists exactly one) is used, and said so.
pub(crate) async fn connect_to_run(server: &Server) -> CliResult<Client> {
    if server.assistant.is_some() {
        return connect(server);
    }
    let mut server = server.clone();
    if let Some(id) = sole_assistant(&server).await {
        eprintln!("Using assistant {id}, the one {} lists.", server.url);
        server.assistant = Some(id);
    }
    connect(&server)
}

/// A new thread declaring our actor.
pub(crate) async fn start(client: &Client) -> CliResult<ThreadHandle> {
    Ok(client.create_thread().await?)
}

/// The thread `id`, or [`Exit::NotFound`] saying it does not exist.
pub(crate) async fn open(client: &Client, id: &str) -> CliResult<ThreadHandle> {
    client
        .thread(id)
        .await
        .map(ThreadHandle::force)
        .map_err(|e| not_found(e, client, id))
}

/// The thread `id` as the server has it (checks that it exists).
pub(crate) async fn retrieve(client: &Client, id: &str) -> CliResult<Thread> {
    client
        .threads()
        .retrieve(id)
        .await
        .map_err(|e| not_found(e, client, id))
}

fn not_found(e: Error, client: &Client, id: &str) -> Failure {
    match e.status() {
        Some(StatusCode::NOT_FOUND) => Failure::new(
            Exit::NotFound,
            format!("{} has no thread {id:?}", client.base_url()),
        ),
        _ => e.into(),
    }
}

/// Every message of a thread, oldest first.
pub(crate) async fn messages(client: &Client, id: &str) -> CliResult<Vec<Message>> {
    Ok(client
        .messages(id)
        .list(ListQuery::new(ListQuery::MAX_LIMIT, Order::Asc))
        .try_collect()
        .await?)
}

/// Every thread the server lists, or [`Exit::Unsupported`] explaining that it has no listing.
pub(crate) async fn threads(client: &Client) -> CliResult<Vec<Thread>> {
    client
        .threads()
        .list(ListQuery::new(ListQuery::MAX_LIMIT, Order::Asc))
        .try_collect()
        .await
        .map_err(|e| match e.status() {
            Some(
                StatusCode::NOT_FOUND
                | StatusCode::METHOD_NOT_ALLOWED
                | StatusCode::NOT_IMPLEMENTED,
            ) => Failure::new(
                Exit::Unsupported,
                format!(
                    "{} has no thread listing (HTTP {}): the Threads API of OpenAI and most \
                     servers like it cannot list threads. Keep the thread ids `aitp chat` \
                     prints, and read one with `aitp messages URL THREAD`.",
                    client.base_url(),
                    e.status().map_or(0, |s| s.as_u16())
                ),
            ),
            _ => e.into(),
        })
}

/// Posts text.
pub(crate) async fn post_text(thread: &mut ThreadHandle, text: &str) -> CliResult {
    thread.post(text).await?;
    Ok(())
}

/// Posts a capability message (checked against what the thread's actors declared, unless the
/// handle was opened forced).
pub(crate) async fn post(thread: &mut ThreadHandle, message: &Envelope) -> CliResult {
    thread.post(message).await?;
    Ok(())
}

/// How a run is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    /// Streamed, falling back to polling on servers that do not stream.
    Stream,
    /// Polled.
    Poll,
}

/// Runs the agent and returns the thread's new messages. With [`Follow::Stream`], `on_event`
/// sees each event as it comes; a server that does not stream is polled instead (a run it
/// started anyway is waited for, not started twice).
pub(crate) async fn run(
    thread: &mut ThreadHandle,
    follow: Follow,
    mut on_event: impl FnMut(&Event),
) -> CliResult<Vec<Message>> {
    if follow == Follow::Stream {
        // Servers that cannot list runs are not asked again: without the list, a run they
        // started instead of streaming cannot be found, and a new one is started.
        let before = latest_run(thread).await.ok().flatten();
        match stream_run(thread, &mut on_event).await {
            Ok(()) => return replies(thread).await,
            Err(Streamed::Failed(e)) => return Err(run_failure(e, thread)),
            Err(Streamed::Broken { error, run }) => {
                tracing::debug!(%error, "the stream broke; polling the run");
                wait_for_run(thread, run.0, run.1).await?;
                return replies(thread).await;
            }
            Err(Streamed::NotStreaming(e)) => {
                tracing::debug!(error = %e, "the server did not stream; polling");
                if let Some(run) = latest_run(thread).await.ok().flatten() {
                    if Some(&run.0) != before.as_ref().map(|r| &r.0) {
                        wait_for_run(thread, run.0, run.1).await?;
                        return replies(thread).await;
                    }
                }
            }
        }
    }
    match thread.run().await {
        Ok(m) => Ok(m),
        Err(e) => Err(run_failure(e, thread)),
    }
}

enum Streamed {
    /// The server answered, but not with a stream (or the stream broke before any event).
    NotStreaming(Error),
    /// The stream broke after naming its run: the run goes on, and can be polled.
    Broken {
        error: Error,
        run: (String, RunStatus),
    },
    /// The run failed.
    Failed(Error),
}

async fn stream_run(
    thread: &mut ThreadHandle,
    on_event: &mut impl FnMut(&Event),
) -> Result<(), Streamed> {
    let mut events = thread.run().stream().await.map_err(|e| match e {
        Error::Api { .. } => Streamed::Failed(e),
        e => Streamed::NotStreaming(e),
    })?;
    let mut run: Option<(String, RunStatus)> = None;
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => {
                on_event(&event);
                if let Some(Ok(r)) = event.run() {
                    if event.name.ends_run() && r.status != RunStatus::Completed {
                        return Err(Streamed::Failed(Error::RunNotCompleted(Box::new(r))));
                    }
                    run = Some((r.id, r.status));
                }
            }
            Err(error) => {
                return Err(match run {
                    Some(run) => Streamed::Broken { error, run },
                    None => Streamed::NotStreaming(error),
                });
            }
        }
    }
    Ok(())
}

/// The id and status of the thread's newest run.
async fn latest_run(thread: &ThreadHandle) -> CliResult<Option<(String, RunStatus)>> {
    let mut runs = Box::pin(
        thread
            .client()
            .runs(thread.id())
            .list(ListQuery::new(1, Order::Desc)),
    );
    Ok(runs.try_next().await?.map(|r| (r.id, r.status)))
}

/// Polls run `id` until it ends, with the client's wait policy.
async fn wait_for_run(thread: &ThreadHandle, id: String, mut status: RunStatus) -> CliResult {
    let policy = thread.client().wait_policy().clone();
    let mut interval = policy.initial_interval;
    let started = std::time::Instant::now();
    while !status.is_terminal() && status != RunStatus::RequiresAction {
        if started.elapsed() > policy.run_timeout {
            return Err(Failure::new(
                Exit::Failure,
                format!("run {id} did not end within {:?}", policy.run_timeout),
            ));
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(policy.max_interval);
        status = thread
            .client()
            .runs(thread.id())
            .retrieve(&id)
            .await?
            .status;
    }
    if status == RunStatus::Completed {
        Ok(())
    } else {
        Err(Failure::new(
            Exit::Failure,
            format!("run {id} ended {status}"),
        ))
    }
}

async fn replies(thread: &mut ThreadHandle) -> CliResult<Vec<Message>> {
    Ok(thread.new_messages().await?)
}

/// A run that could not start because the server has no assistant of that id says which to
/// pass.
fn run_failure(e: Error, thread: &ThreadHandle) -> Failure {
    let assistant = thread.client().assistant_id();
    if e.status() == Some(StatusCode::NOT_FOUND) && assistant == DEFAULT_ASSISTANT {
        return Failure::new(
            Exit::Unsupported,
            format!(
                "{e}\n{} needs an assistant id: pass --assistant ID (or set AITP_ASSISTANT); \
                 none was given, so `{DEFAULT_ASSISTANT}` was tried",
                thread.client().base_url()
            ),
        );
    }
    e.into()
}

/// The assistant the server names, when it lists exactly one (`GET /assistants`, which
/// OpenAI-style servers serve); `None` when it lists none, several, or cannot list.
async fn sole_assistant(server: &Server) -> Option<String> {
    let url = format!("{}/assistants", server.url.trim_end_matches('/'));
    let mut request = aitp_client::reqwest::Client::new()
        .get(url)
        .header("OpenAI-Beta", "assistants=v2")
        .timeout(Duration::from_secs(server.timeout));
    if let Some(t) = &server.token {
        request = request.bearer_auth(t);
    }
    let body: serde_json::Value = request.send().await.ok()?.json().await.ok()?;
    let list = body.get("data").unwrap_or(&body).as_array()?;
    match list.as_slice() {
        [one] => one.get("id")?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// Starts a streamed run on `thread` and hands each event to `on_event`.
pub(crate) async fn stream_events(
    client: &Client,
    thread: &str,
    mut on_event: impl FnMut(&Event) -> CliResult,
) -> CliResult {
    let mut handle = open(client, thread).await?;
    let mut events = handle
        .run()
        .stream()
        .await
        .map_err(|e| run_failure(e, &handle))?;
    while let Some(event) = events.next().await {
        on_event(&event?)?;
    }
    Ok(())
}
