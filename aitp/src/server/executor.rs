//! [`Executor`]: the one owner of a run's life in this server — starting it, executing the
//! agent on it, cancelling it, and holding polls until it ends.
//!
//! Every change of a run's status is a conditional [`Transition`] the store applies atomically
//! (with a completion's replies), so the executor and a cancel can race freely: whichever
//! transition the store applies first wins, and the other sees the status it lost to. A run
//! whose handler panics, whose replies cannot be stored, or whose task dies ends `failed` with
//! `last_error`; a process that dies leaves runs the next start fails
//! ([`super::Server::recover`]). No run is left non-terminal, so no thread is left refusing
//! messages.

use std::{
    collections::HashMap,
    convert::Infallible,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{FutureExt, Stream};
use tokio::sync::{Notify, mpsc};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::App;
use crate::{
    agent::{Reply, Turn},
    store::{StoreError, ThreadStore, Transition},
    thread::{
        Message, MessageStatus, Principal, Run, RunError, RunStatus, Thread,
        event::{Event, EventName, MessageDelta},
    },
};

type Events = mpsc::Sender<Event>;

/// A run this server is executing: how to stop it, and who waits for it to end.
#[derive(Default)]
struct Active {
    cancel: CancellationToken,
    ended: Notify,
}

/// Why a cancel was refused.
pub(crate) enum CancelError {
    /// No such run on the thread.
    NotFound,
    /// The run is past cancelling (terminal, or already `cancelling`): its status.
    NotActive(RunStatus),
    /// The store failed.
    Store(StoreError),
}

/// Owns the runs this server executes (see the module docs).
#[derive(Default)]
pub(crate) struct Executor {
    active: Mutex<HashMap<String, Arc<Active>>>,
    tasks: TaskTracker,
}

impl Executor {
    /// The tasks executing runs, to wait for at shutdown.
    pub(crate) fn tasks(&self) -> TaskTracker {
        self.tasks.clone()
    }

    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Active>>> {
        // The map is valid whatever a panicking holder did: each change is one insert/remove.
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn running(&self, run_id: &str) -> Option<Arc<Active>> {
        self.active().get(run_id).cloned()
    }

    /// Executes the (stored, `queued`) `run` in the background.
    pub(crate) fn start<S: ThreadStore>(
        app: &App<S>,
        principal: Principal,
        thread: Thread,
        run: Run,
        events: Option<Events>,
    ) {
        // Registered before the task starts, so a cancel or a poll arriving at once finds it.
        let active = Arc::new(Active::default());
        app.executor
            .active()
            .insert(run.id.clone(), Arc::clone(&active));
        let app = Arc::clone(app);
        app.executor.tasks.spawn(execute(
            Arc::clone(&app),
            principal,
            thread,
            run,
            events,
            active,
        ));
    }

    /// Executes `run` in the background, answering with its server-sent events as they
    /// happen, then `done`.
    pub(crate) fn stream<S: ThreadStore>(
        app: &App<S>,
        principal: Principal,
        thread: Thread,
        run: Run,
    ) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<S>> {
        let (tx, rx) = mpsc::channel::<Event>(64);
        // `created` and `queued` are known now; the executor sends the rest.
        let _ = tx.try_send(Event::new(EventName::RunCreated, &run));
        let _ = tx.try_send(Event::new(EventName::RunQueued, &run));
        Self::start(app, principal, thread, run, Some(tx));
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            let event = rx.recv().await?;
            let sse = match event.name {
                EventName::Done => SseEvent::default().event("done").data("[DONE]"),
                ref name => SseEvent::default()
                    .event(name.to_string())
                    .data(serde_json::to_string(&event.data).unwrap_or_else(|_| "null".into())),
            };
            Some((Ok::<_, Infallible>(sse), rx))
        });
        Sse::new(stream).keep_alive(KeepAlive::default())
    }

    /// Asks the run to stop: stores `cancelling` if the run is `queued` or `in_progress`
    /// (conditionally, so a run that finished meanwhile is left as it is), then tells its
    /// execution, which ends it `cancelled` without replies unless it already completed.
    pub(crate) async fn cancel<S: ThreadStore>(
        app: &App<S>,
        thread_id: &str,
        run_id: &str,
    ) -> Result<Run, CancelError> {
        let run = app
            .store
            .run(thread_id, run_id)
            .await
            .map_err(CancelError::Store)?
            .ok_or(CancelError::NotFound)?;
        let cancelling = match app
            .store
            .transition_run(Transition::request_cancel(&run))
            .await
        {
            Ok(done) => done.run,
            Err(StoreError::RunState(status)) => return Err(CancelError::NotActive(status)),
            Err(StoreError::NotFound) => return Err(CancelError::NotFound),
            Err(e) => return Err(CancelError::Store(e)),
        };
        if let Some(active) = app.executor.running(run_id) {
            active.cancel.cancel();
        }
        Ok(cancelling)
    }

    /// The run, once it is terminal or after `hold` (whichever is first) if this server is
    /// executing it: clients that poll in a loop then ask once or twice per run.
    pub(crate) async fn hold<S: ThreadStore>(
        app: &App<S>,
        thread_id: &str,
        run_id: &str,
        hold: Duration,
    ) -> Result<Option<Run>, StoreError> {
        // Registered before the status is read, so an end in between is not missed.
        let active = (!hold.is_zero())
            .then(|| app.executor.running(run_id))
            .flatten();
        let ended = active.as_ref().map(|a| a.ended.notified());
        let Some(run) = app.store.run(thread_id, run_id).await? else {
            return Ok(None);
        };
        let Some(ended) = ended.filter(|_| !run.status.is_terminal()) else {
            return Ok(Some(run));
        };
        tokio::pin!(ended);
        ended.as_mut().enable();
        if app.executor.running(run_id).is_some()
            && tokio::time::timeout(hold, ended).await.is_err()
        {
            return Ok(Some(run));
        }
        app.store.run(thread_id, run_id).await
    }

    /// The run ended (its final state is stored, or cannot be): wake everyone holding a poll.
    fn forget(&self, run_id: &str) {
        if let Some(active) = self.active().remove(run_id) {
            active.ended.notify_waiters();
        }
    }
}

/// Forgets the run however its task ends (a panic included).
struct Forget<S: ThreadStore> {
    app: App<S>,
    run_id: String,
}

impl<S: ThreadStore> Drop for Forget<S> {
    fn drop(&mut self) {
        self.app.executor.forget(&self.run_id);
    }
}

async fn emit(events: &Option<Events>, event: Event) {
    if let Some(tx) = events {
        // A client that went away does not stop the run.
        let _ = tx.send(event).await;
    }
}

async fn execute<S: ThreadStore>(
    app: App<S>,
    principal: Principal,
    thread: Thread,
    run: Run,
    events: Option<Events>,
    active: Arc<Active>,
) {
    let _forget = Forget {
        app: Arc::clone(&app),
        run_id: run.id.clone(),
    };
    let outcome = AssertUnwindSafe(drive(&app, principal, thread, &run, &events, &active))
        .catch_unwind()
        .await;
    if let Err(panic) = outcome {
        // Something below the handler panicked (the store, an event): the run still ends.
        let error = RunError::server_error(format!("the run failed: {}", panic_text(&*panic)));
        let failed = fail(&app, &run, error).await;
        emit(&events, Event::new(EventName::RunFailed, &failed)).await;
    }
    emit(&events, Event::done()).await;
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

/// What the agent made of the run.
enum Outcome {
    Replies(Vec<Reply>, Option<String>),
    Failed(RunError),
    Cancelled,
}

async fn drive<S: ThreadStore>(
    app: &App<S>,
    principal: Principal,
    thread: Thread,
    run: &Run,
    events: &Option<Events>,
    active: &Active,
) {
    let thread_id = thread.id.clone();
    let started = match app.store.transition_run(Transition::start(run)).await {
        Ok(done) => done.run,
        Err(StoreError::RunState(RunStatus::Cancelling)) => {
            return end_cancelled(app, run, events).await;
        }
        Err(StoreError::RunState(status)) => {
            // Ended by someone else (another executor, a recovery): nothing left to do.
            tracing::warn!(run = %run.id, status = status.as_str(), "run not queued at start");
            return;
        }
        Err(e) => {
            let error = RunError::server_error(format!("could not start the run: {e}"));
            let failed = fail(app, run, error).await;
            return emit(events, Event::new(EventName::RunFailed, &failed)).await;
        }
    };
    emit(events, Event::new(EventName::RunInProgress, &started)).await;

    let respond = async {
        let messages = match app
            .store
            .unanswered(&thread_id, app.limits.run_messages.max(1))
            .await
        {
            Ok(messages) => messages,
            Err(e) => {
                return Outcome::Failed(RunError::server_error(format!(
                    "could not read the thread: {e}"
                )));
            }
        };
        // A bounded batch: the oldest first, the rest wait for the next run.
        let mut messages = messages;
        messages.truncate(app.limits.run_messages.max(1));
        let answered_up_to = messages.last().map(|m| m.id.clone());
        let turn = Turn::new(thread, messages, principal).run_id(run.id.clone());
        // A panicking handler fails the run, not the server.
        match AssertUnwindSafe(app.agent.respond(turn))
            .catch_unwind()
            .await
        {
            Ok(replies) => Outcome::Replies(replies, answered_up_to),
            Err(panic) => Outcome::Failed(RunError::server_error(format!(
                "the agent failed: {}",
                panic_text(&*panic)
            ))),
        }
    };
    // A cancel stops the handler where it is: its replies would be thrown away anyway.
    let outcome = tokio::select! {
        biased;
        () = active.cancel.cancelled() => Outcome::Cancelled,
        outcome = respond => outcome,
    };

    match outcome {
        Outcome::Replies(replies, answered_up_to) => {
            let messages: Vec<Message> = replies
                .into_iter()
                .map(|r| r.into_message(&started))
                .collect();
            let completion = Transition::complete(&started, messages, answered_up_to);
            match app.store.transition_run(completion).await {
                Ok(done) => {
                    tracing::info!(thread = %thread_id, run = %run.id, replies = done.replies.len(), "run completed");
                    for m in &done.replies {
                        emit_message(events, m).await;
                    }
                    emit(events, Event::new(EventName::RunCompleted, &done.run)).await;
                }
                // A cancel was stored first: it wins, and the replies are dropped.
                Err(StoreError::RunState(RunStatus::Cancelling)) => {
                    end_cancelled(app, run, events).await;
                }
                Err(StoreError::RunState(status)) => {
                    tracing::warn!(run = %run.id, status = status.as_str(), "run ended elsewhere");
                }
                Err(e) => {
                    tracing::error!(run = %run.id, error = %e, "could not store the run's replies");
                    let error = RunError::server_error(format!("could not store the replies: {e}"));
                    let failed = fail(app, run, error).await;
                    emit(events, Event::new(EventName::RunFailed, &failed)).await;
                }
            }
        }
        Outcome::Failed(error) => {
            tracing::warn!(thread = %thread_id, run = %run.id, error = %error.message, "run failed");
            let failed = fail(app, run, error).await;
            emit(events, Event::new(EventName::RunFailed, &failed)).await;
        }
        Outcome::Cancelled => end_cancelled(app, run, events).await,
    }
}

/// `cancelling → cancelled`, then the events that say so.
async fn end_cancelled<S: ThreadStore>(app: &App<S>, run: &Run, events: &Option<Events>) {
    match app.store.transition_run(Transition::cancelled(run)).await {
        Ok(done) => emit(events, Event::new(EventName::RunCancelled, &done.run)).await,
        Err(e) => {
            tracing::error!(run = %run.id, error = %e, "could not store the cancelled run");
            let error = RunError::server_error(format!("could not store the cancel: {e}"));
            let failed = fail(app, run, error).await;
            emit(events, Event::new(EventName::RunFailed, &failed)).await;
        }
    }
}

/// Ends the run `failed` with `error`, trying a few times: a run left active would block its
/// thread until the next restart. Answers the run as it ended (as stored when it is).
async fn fail<S: ThreadStore>(app: &App<S>, run: &Run, error: RunError) -> Run {
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=5 {
        match app
            .store
            .transition_run(Transition::fail(run, error.clone()))
            .await
        {
            Ok(done) => return done.run,
            // Already terminal: whatever ended it stands.
            Err(StoreError::RunState(_) | StoreError::NotFound) => break,
            Err(e) => {
                tracing::error!(run = %run.id, attempt, error = %e, "could not store the failed run");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
    match app.store.run(&run.thread_id, &run.id).await {
        Ok(Some(stored)) => stored,
        _ => {
            let mut failed = run.clone();
            failed.fail(error);
            failed
        }
    }
}

/// The v2 events of one reply: created and in_progress (empty, in progress), one delta with the
/// whole text, completed (the full message).
async fn emit_message(events: &Option<Events>, m: &Message) {
    if events.is_none() {
        return;
    }
    let mut pending = m.clone();
    pending.status = MessageStatus::InProgress;
    pending.content = Vec::new();
    pending.completed_at = None;
    emit(events, Event::new(EventName::MessageCreated, &pending)).await;
    emit(events, Event::new(EventName::MessageInProgress, &pending)).await;
    emit(
        events,
        Event::new(
            EventName::MessageDelta,
            &MessageDelta::text_chunk(m.id.clone(), 0, m.text()),
        ),
    )
    .await;
    emit(events, Event::new(EventName::MessageCompleted, m)).await;
}
