//! [`Executor`]: the one owner of a run's life in this server — starting it, executing the
//! agent on it, cancelling it, and holding polls until it ends.
//!
//! Every change of a run's status is a conditional [`Transition`] the store applies atomically
//! (with a completion's replies), so the executor and a cancel can race freely: whichever
//! transition the store applies first wins, and the other sees the status it lost to. A run
//! whose handler panics, whose replies cannot be stored, or whose task dies ends `failed` with
//! `last_error`. A process that dies leaves runs that, on a single-process store, the next
//! start fails ([`super::Server::recover`]). On a store several replicas share (see
//! [`crate::store::lease`]) the executor leases each run it executes, renews the leases while
//! it works ([`heartbeat`]), takes over the runs whose lease expired ([`take_over`]) and hears
//! other replicas' transitions ([`watch`]), which wake held polls and stop cancelled
//! handlers. No run is left non-terminal, so no thread is left refusing messages.

use std::{
    collections::HashMap,
    convert::Infallible,
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{FutureExt, Stream};
use tokio::sync::{Notify, mpsc};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{App, Shared};
use crate::{
    agent::{Reply, Turn},
    store::{Claimed, Renewal, RunChange, Started, StoreError, ThreadStore, Transition},
    thread::{
        Message, MessageStatus, Principal, Run, RunError, RunStatus, Thread,
        event::{Event, EventName, MessageDelta},
    },
};

type Events = mpsc::Sender<Event>;

/// A run this server is executing: how to stop it, and who waits for it to end.
struct Active {
    thread_id: String,
    cancel: CancellationToken,
    ended: Notify,
    /// Whether this replica holds the run's lease yet (from its start, or its takeover):
    /// only then does the heartbeat renew it (a lease not yet claimed is not lost).
    leased: AtomicBool,
    /// The run as this server stored it when it ended: what polls already held on it answer,
    /// without reading it back.
    last: Mutex<Option<Run>>,
}

impl Active {
    fn new(thread_id: &str, leased: bool) -> Self {
        Self {
            thread_id: thread_id.to_owned(),
            cancel: CancellationToken::new(),
            ended: Notify::new(),
            leased: AtomicBool::new(leased),
            last: Mutex::new(None),
        }
    }

    fn last(&self) -> std::sync::MutexGuard<'_, Option<Run>> {
        // One `Option` replaced whole: valid whatever a panicking holder did.
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the run's terminal state as stored (before the run is forgotten).
    fn ended_as(&self, run: &Run) {
        *self.last() = Some(run.clone());
    }
}

/// Where a run's execution begins.
enum Entry {
    /// A `queued` run: start it (which reads its thread and messages).
    Queued,
    /// A run started as it was created ([`ThreadStore::begin_run`]): execute it.
    Begun(Box<Started>),
    /// An `in_progress` run taken over from a replica that died, with its thread: call the
    /// handler again.
    Started(Thread),
    /// A `cancelling` run taken over: end it `cancelled`.
    Cancelling,
}

/// How often a poll held on a run another replica executes reads the store, in case the
/// announcement of its end is lost.
const HOLD_RECHECK: Duration = Duration::from_millis(100);

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
    /// Polls held on runs another replica executes, woken by the store's announcements.
    watchers: Mutex<HashMap<String, Arc<Notify>>>,
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

    fn watchers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        self.watchers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates `run` and starts it for this server ([`ThreadStore::begin_run`]): once this
    /// answers, the run is stored. A run that was stored but could not be started is ended
    /// `failed` before the error is answered.
    pub(crate) async fn begin<S: ThreadStore>(
        app: &App<S>,
        principal: &Principal,
        run: &Run,
    ) -> Result<Started, StoreError> {
        let limit = app.limits.run_messages.max(1);
        match app
            .store
            .begin_run(principal, run.clone(), &app.holder, limit)
            .await
        {
            Ok(started) => Ok(started),
            // Refused before anything was stored.
            Err(e @ (StoreError::Conflict(_) | StoreError::NotFound)) => Err(e),
            Err(e) => {
                // Stored but not started, or not stored at all: the run must not stay active.
                let error = RunError::server_error(format!("could not start the run: {e}"));
                let ended = app
                    .store
                    .transition_run(Transition::fail(run, error).by(&app.holder))
                    .await;
                if let Err(failed) = ended {
                    tracing::debug!(run = %run.id, error = %failed, "no run to fail after a failed start");
                }
                Err(e)
            }
        }
    }

    /// Executes in the background a run [`Executor::begin`] started.
    pub(crate) fn start<S: ThreadStore>(
        app: &App<S>,
        principal: Principal,
        started: Started,
        events: Option<Events>,
    ) {
        let run = started.run.clone();
        Self::spawn(app, principal, run, events, Entry::Begun(Box::new(started)));
    }

    /// Executes a run this replica took over from one whose lease expired.
    fn resume<S: ThreadStore>(app: &App<S>, claimed: Claimed) {
        let entry = match claimed.run.status {
            RunStatus::Queued => Entry::Queued,
            RunStatus::Cancelling => Entry::Cancelling,
            _ => Entry::Started(claimed.thread),
        };
        tracing::warn!(run = %claimed.run.id, status = claimed.run.status.as_str(), "taking over a run whose lease expired");
        Self::spawn(app, claimed.owner, claimed.run, None, entry);
    }

    fn spawn<S: ThreadStore>(
        app: &App<S>,
        principal: Principal,
        run: Run,
        events: Option<Events>,
        entry: Entry,
    ) {
        // Registered before the task starts, so a cancel or a poll arriving at once finds it.
        // A begun run, or one taken over, is leased already; a queued one once it starts.
        let active = Arc::new(Active::new(&run.thread_id, !matches!(entry, Entry::Queued)));
        app.executor
            .active()
            .insert(run.id.clone(), Arc::clone(&active));
        let app = Arc::clone(app);
        app.executor.tasks.spawn(execute(
            Arc::clone(&app),
            principal,
            run,
            events,
            active,
            entry,
        ));
    }

    /// Executes `run` in the background, answering with its server-sent events as they
    /// happen, then `done`.
    pub(crate) fn stream<S: ThreadStore>(
        app: &App<S>,
        principal: Principal,
        run: &Run,
        started: Started,
    ) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<S>> {
        let (tx, rx) = mpsc::channel::<Event>(64);
        // `created` and `queued` are known now; the executor sends the rest.
        let _ = tx.try_send(Event::new(EventName::RunCreated, run));
        let _ = tx.try_send(Event::new(EventName::RunQueued, run));
        Self::start(app, principal, started, Some(tx));
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

    /// The run, once it is terminal or after `hold` (whichever is first): clients that poll
    /// in a loop then ask once or twice per run. A run this server executes is answered as
    /// it ends; on a shared store, a run another replica executes is answered when the
    /// store announces its change, or at the latest [`HOLD_RECHECK`] after it (the store is
    /// read again that often, as announcements may be lost).
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
        if active.is_none() && !hold.is_zero() && app.store.is_shared() {
            return Self::hold_elsewhere(app, thread_id, run_id, hold).await;
        }
        if let Some(active) = active.filter(|a| a.thread_id == thread_id) {
            // Executed here: wait for its end, which answers with the run as it was stored,
            // so that a poll costs no read. A run that had already ended when the poll came
            // is read (it may have been changed since).
            let ended = active.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            let fresh = active.last().is_none();
            if fresh
                && app.executor.running(run_id).is_some()
                && tokio::time::timeout(hold, ended).await.is_ok()
            {
                let last = active.last().clone();
                if let Some(run) = last {
                    return Ok(Some(run));
                }
            }
            return app.store.run(thread_id, run_id).await;
        }
        let Some(run) = app.store.run(thread_id, run_id).await? else {
            return Ok(None);
        };
        Ok(Some(run))
    }

    /// [`Executor::hold`] of a run this server does not execute (another replica does, or
    /// nobody yet).
    async fn hold_elsewhere<S: ThreadStore>(
        app: &App<S>,
        thread_id: &str,
        run_id: &str,
        hold: Duration,
    ) -> Result<Option<Run>, StoreError> {
        let watcher = Watcher::new(&app.executor, run_id);
        let deadline = tokio::time::Instant::now() + hold;
        loop {
            let changed = watcher.notify.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let Some(run) = app.store.run(thread_id, run_id).await? else {
                return Ok(None);
            };
            let now = tokio::time::Instant::now();
            if run.status.is_terminal() || now >= deadline {
                return Ok(Some(run));
            }
            let wait = (deadline - now).min(HOLD_RECHECK);
            let _ = tokio::time::timeout(wait, changed).await;
        }
    }

    /// Gives up the leases of the runs this replica still executes, so that another replica
    /// (or this one, restarted) takes them over without waiting for the leases to expire:
    /// what a replica shutting down does once its grace period is over. The handlers go on
    /// until the process ends; the heartbeat stops renewing their leases, and a replica that
    /// takes a run over fences out this one's late transitions. Nothing on a store that is not
    /// shared. Answers how many leases were given up.
    pub(crate) async fn release<S: ThreadStore>(app: &App<S>) -> Result<usize, StoreError> {
        if !app.store.is_shared() {
            return Ok(0);
        }
        let runs: Vec<(String, String)> = app
            .executor
            .active()
            .iter()
            .filter(|(_, a)| a.leased.swap(false, Ordering::AcqRel))
            .map(|(run_id, a)| (a.thread_id.clone(), run_id.clone()))
            .collect();
        if runs.is_empty() {
            return Ok(0);
        }
        app.store.release_leases(&app.holder, &runs).await
    }

    /// A run changed (announced by the store): wake the polls held on it, and stop its
    /// handler if it is cancelling and this server executes it.
    fn changed(&self, change: &RunChange) {
        if change.status == RunStatus::Cancelling {
            if let Some(active) = self.running(&change.run_id) {
                active.cancel.cancel();
            }
        }
        if let Some(notify) = self.watchers().get(&change.run_id) {
            notify.notify_waiters();
        }
    }

    /// The run ended (its final state is stored, or cannot be): wake everyone holding a poll.
    fn forget(&self, run_id: &str) {
        if let Some(active) = self.active().remove(run_id) {
            active.ended.notify_waiters();
        }
    }
}

/// A poll held on a run another replica executes; unregistered when the last one ends.
struct Watcher<'a> {
    executor: &'a Executor,
    run_id: String,
    notify: Arc<Notify>,
}

impl<'a> Watcher<'a> {
    fn new(executor: &'a Executor, run_id: &str) -> Self {
        let notify = Arc::clone(executor.watchers().entry(run_id.to_owned()).or_default());
        Self {
            executor,
            run_id: run_id.to_owned(),
            notify,
        }
    }
}

impl Drop for Watcher<'_> {
    fn drop(&mut self) {
        let mut watchers = self.executor.watchers();
        // Only the map's and this one's: nobody else waits.
        if Arc::strong_count(&self.notify) <= 2 {
            watchers.remove(&self.run_id);
        }
    }
}

/// Starts what a replica on a shared store runs beside its requests: the heartbeat renewing
/// its leases, the takeover of expired ones, and the watch of other replicas' transitions.
/// Each stops once the server is gone. Nothing on a single-process store.
pub(crate) fn replicate<S: ThreadStore>(app: &App<S>) {
    if !app.store.is_shared() {
        return;
    }
    if tokio::runtime::Handle::try_current().is_err() {
        tracing::error!("the server was built outside a tokio runtime: its runs are not leased");
        return;
    }
    let weak = Arc::downgrade(app);
    tokio::spawn(heartbeat(weak.clone()));
    tokio::spawn(take_over(weak.clone()));
    tokio::spawn(watch(weak));
}

/// Every third of the lease time, renews the leases of the runs this replica executes;
/// stops a handler whose run is cancelling (a cancel accepted by another replica whose
/// announcement was lost) or whose lease was taken over.
async fn heartbeat<S: ThreadStore>(app: Weak<Shared<S>>) {
    loop {
        let Some(every) = app.upgrade().map(|a| a.holder.ttl / 3) else {
            return;
        };
        tokio::time::sleep(every).await;
        let Some(app) = app.upgrade() else {
            return;
        };
        let runs: Vec<(String, String)> = app
            .executor
            .active()
            .iter()
            .filter(|(_, a)| a.leased.load(Ordering::Acquire))
            .map(|(run_id, a)| (a.thread_id.clone(), run_id.clone()))
            .collect();
        if runs.is_empty() {
            continue;
        }
        match app.store.renew_leases(&app.holder, &runs).await {
            Ok(renewals) => {
                for ((_, run_id), renewal) in runs.iter().zip(renewals) {
                    let stop = match renewal {
                        Renewal::Held(status) => status == RunStatus::Cancelling,
                        Renewal::Lost => {
                            tracing::warn!(run = %run_id, "lost the run's lease; stopping it here");
                            true
                        }
                    };
                    if stop {
                        if let Some(active) = app.executor.running(run_id) {
                            active.cancel.cancel();
                        }
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "could not renew the run leases"),
        }
    }
}

/// At start and then every half lease time, takes over (and executes) the runs whose lease
/// expired: those of replicas that died.
async fn take_over<S: ThreadStore>(app: Weak<Shared<S>>) {
    loop {
        let Some(strong) = app.upgrade() else {
            return;
        };
        let every = strong.holder.ttl / 2;
        match strong.store.take_over_runs(&strong.holder, 32).await {
            Ok(claimed) => {
                let full = claimed.len() == 32;
                for run in claimed {
                    Executor::resume(&strong, run);
                }
                if full {
                    // More may be waiting: go on at once.
                    continue;
                }
            }
            Err(e) => tracing::error!(error = %e, "could not take over expired runs"),
        }
        drop(strong);
        tokio::time::sleep(every).await;
    }
}

/// Asks the store for other replicas' transitions, until the server is gone.
async fn watch<S: ThreadStore>(app: Weak<Shared<S>>) {
    let Some(strong) = app.upgrade() else {
        return;
    };
    let on_change = Box::new(move |change: RunChange| match app.upgrade() {
        Some(app) => {
            app.executor.changed(&change);
            true
        }
        None => false,
    });
    if let Err(e) = strong.store.watch_runs(on_change).await {
        tracing::error!(error = %e, "cannot hear other replicas' run changes; held polls read the store instead");
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
    run: Run,
    events: Option<Events>,
    active: Arc<Active>,
    entry: Entry,
) {
    let _forget = Forget {
        app: Arc::clone(&app),
        run_id: run.id.clone(),
    };
    let outcome = AssertUnwindSafe(drive(&app, principal, &run, &events, &active, entry))
        .catch_unwind()
        .await;
    if let Err(panic) = outcome {
        // Something below the handler panicked (the store, an event): the run still ends.
        let error = RunError::server_error(format!("the run failed: {}", panic_text(&*panic)));
        let failed = fail(&app, &run, error, &active).await;
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
    run: &Run,
    events: &Option<Events>,
    active: &Active,
    entry: Entry,
) {
    let thread_id = run.thread_id.clone();
    let limit = app.limits.run_messages.max(1);
    // A new run's start reads its thread and messages with it; a run taken over reads its
    // messages below.
    let start = match entry {
        Entry::Queued => app
            .store
            .start_run(&principal, Transition::start(run).by(&app.holder), limit)
            .await
            .map(|s| (s.run, s.thread, Some(s.messages))),
        Entry::Begun(started) => {
            let Started {
                run,
                thread,
                messages,
                ..
            } = *started;
            Ok((run, thread, Some(messages)))
        }
        Entry::Started(thread) => Ok((run.clone(), thread, None)),
        Entry::Cancelling => Err(StoreError::RunState(RunStatus::Cancelling)),
    };
    let (started, thread, read) = match start {
        Ok(started) => {
            active.leased.store(true, Ordering::Release);
            started
        }
        Err(StoreError::RunState(RunStatus::Cancelling)) => {
            return end_cancelled(app, run, events, active).await;
        }
        Err(StoreError::LeaseLost) => {
            tracing::info!(run = %run.id, "another replica took the run before it started here");
            return;
        }
        Err(StoreError::RunState(status)) => {
            // Ended by someone else (another executor, a recovery): nothing left to do.
            tracing::warn!(run = %run.id, status = status.as_str(), "run not queued at start");
            return;
        }
        Err(e) => {
            let error = RunError::server_error(format!("could not start the run: {e}"));
            let failed = fail(app, run, error, active).await;
            return emit(events, Event::new(EventName::RunFailed, &failed)).await;
        }
    };
    emit(events, Event::new(EventName::RunInProgress, &started)).await;

    let respond = async {
        let messages = match read {
            Some(messages) => messages,
            None => match app.store.unanswered(&thread_id, limit).await {
                Ok(messages) => messages,
                Err(e) => {
                    return Outcome::Failed(RunError::server_error(format!(
                        "could not read the thread: {e}"
                    )));
                }
            },
        };
        // A bounded batch: the oldest first, the rest wait for the next run.
        let mut messages = messages;
        messages.truncate(limit);
        let answered_up_to = messages.last().map(|m| m.id.clone());
        let turn = Turn::new(thread, messages, principal)
            .run_id(run.id.clone())
            .history(super::history::StoreHistory::of(app, &thread_id));
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
            let completion =
                Transition::complete(&started, messages, answered_up_to).by(&app.holder);
            match app.store.transition_run(completion).await {
                Ok(done) => {
                    active.ended_as(&done.run);
                    tracing::info!(thread = %thread_id, run = %run.id, replies = done.replies.len(), "run completed");
                    for m in &done.replies {
                        emit_message(events, m).await;
                    }
                    emit(events, Event::new(EventName::RunCompleted, &done.run)).await;
                }
                // A cancel was stored first: it wins, and the replies are dropped.
                Err(StoreError::RunState(RunStatus::Cancelling)) => {
                    end_cancelled(app, run, events, active).await;
                }
                Err(StoreError::RunState(status)) => {
                    tracing::warn!(run = %run.id, status = status.as_str(), "run ended elsewhere");
                }
                Err(StoreError::LeaseLost) => {
                    tracing::warn!(run = %run.id, "another replica took the run over: its replies here are dropped");
                }
                Err(e) => {
                    tracing::error!(run = %run.id, error = %e, "could not store the run's replies");
                    let error = RunError::server_error(format!("could not store the replies: {e}"));
                    let failed = fail(app, run, error, active).await;
                    emit(events, Event::new(EventName::RunFailed, &failed)).await;
                }
            }
        }
        Outcome::Failed(error) => {
            tracing::warn!(thread = %thread_id, run = %run.id, error = %error.message, "run failed");
            let failed = fail(app, run, error, active).await;
            emit(events, Event::new(EventName::RunFailed, &failed)).await;
        }
        Outcome::Cancelled => end_cancelled(app, run, events, active).await,
    }
}

/// `cancelling → cancelled`, then the events that say so.
async fn end_cancelled<S: ThreadStore>(
    app: &App<S>,
    run: &Run,
    events: &Option<Events>,
    active: &Active,
) {
    match app
        .store
        .transition_run(Transition::cancelled(run).by(&app.holder))
        .await
    {
        Ok(done) => {
            active.ended_as(&done.run);
            emit(events, Event::new(EventName::RunCancelled, &done.run)).await;
        }
        // Not this replica's to end any more (lost to a takeover, or ended meanwhile).
        Err(StoreError::LeaseLost) => {}
        Err(StoreError::RunState(status)) if status.is_terminal() => {}
        Err(e) => {
            tracing::error!(run = %run.id, error = %e, "could not store the cancelled run");
            let error = RunError::server_error(format!("could not store the cancel: {e}"));
            let failed = fail(app, run, error, active).await;
            emit(events, Event::new(EventName::RunFailed, &failed)).await;
        }
    }
}

/// Ends the run `failed` with `error`, trying a few times: a run left active would block its
/// thread until the next restart. Answers the run as it ended (as stored when it is).
async fn fail<S: ThreadStore>(app: &App<S>, run: &Run, error: RunError, active: &Active) -> Run {
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=5 {
        match app
            .store
            .transition_run(Transition::fail(run, error.clone()).by(&app.holder))
            .await
        {
            Ok(done) => {
                active.ended_as(&done.run);
                return done.run;
            }
            // Already terminal (whatever ended it stands), or another replica's now.
            Err(StoreError::RunState(_) | StoreError::NotFound | StoreError::LeaseLost) => break,
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
