//! Executing runs in the background: queued → in_progress → completed / failed / cancelled,
//! with the v2 server-sent events when the client streams.

use std::{convert::Infallible, panic::AssertUnwindSafe, sync::atomic::Ordering};

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{FutureExt, Stream};
use tokio::sync::mpsc;

use super::App;
use crate::{
    agent::Turn,
    store::ThreadStore,
    thread::{
        Content, Message, MessageStatus, Principal, Role, Run, RunError, RunStatus, Thread,
        event::{Event, EventName, MessageDelta},
    },
};

type Events = mpsc::Sender<Event>;

async fn emit(events: &Option<Events>, event: Event) {
    if let Some(tx) = events {
        // A client that went away does not stop the run.
        let _ = tx.send(event).await;
    }
}

/// Runs the agent on `run` in the background.
pub(crate) fn spawn<S: ThreadStore>(
    app: App<S>,
    principal: Principal,
    thread: Thread,
    run: Run,
    events: Option<Events>,
) {
    // Registered before the task starts, so a cancel or a poll arriving at once is not lost.
    let _ = app.active(&run.id);
    let tasks = app.tasks.clone();
    tasks.spawn(execute(app, principal, thread, run, events));
}

/// Answers with the run's events as they happen, then `done`.
pub(crate) fn stream<S: ThreadStore>(
    app: App<S>,
    principal: Principal,
    thread: Thread,
    run: Run,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let (tx, rx) = mpsc::channel::<Event>(64);
    // `created` and `queued` are known now; the executor sends the rest.
    let _ = tx.try_send(Event::new(EventName::RunCreated, &run));
    let _ = tx.try_send(Event::new(EventName::RunQueued, &run));
    spawn(app, principal, thread, run, Some(tx));
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

async fn execute<S: ThreadStore>(
    app: App<S>,
    principal: Principal,
    thread: Thread,
    mut run: Run,
    events: Option<Events>,
) {
    let active = app.active(&run.id);
    let cancel = &active.cancel;
    let thread_id = thread.id.clone();
    let run_id = run.id.clone();

    if cancel.load(Ordering::SeqCst) {
        finish_cancelled(&app, &mut run, &events).await;
        app.forget_run(&run_id);
        return;
    }
    run.set_status(RunStatus::InProgress);
    if let Err(e) = app.store.start_run(run.clone()).await {
        tracing::error!(run = %run_id, error = %e, "could not start the run");
    }
    emit(&events, Event::new(EventName::RunInProgress, &run)).await;

    let outcome = match app.store.unanswered(&thread_id).await {
        Ok(messages) => {
            let answered_up_to = messages.last().map(|m| m.id.clone());
            let turn = Turn::new(thread, messages, principal).run_id(run_id.clone());
            // A panicking handler fails the run, not the server.
            let result = AssertUnwindSafe(app.agent.respond(turn))
                .catch_unwind()
                .await;
            match result {
                Ok(replies) => Ok((replies, answered_up_to)),
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".to_owned());
                    Err(RunError::server_error(format!("the agent failed: {what}")))
                }
            }
        }
        Err(e) => Err(RunError::server_error(format!(
            "could not read the thread: {e}"
        ))),
    };

    if cancel.load(Ordering::SeqCst) {
        finish_cancelled(&app, &mut run, &events).await;
        app.forget_run(&run_id);
        return;
    }

    match outcome {
        Ok((replies, answered_up_to)) => {
            let messages: Vec<Message> = replies
                .iter()
                .map(|r| {
                    let mut m = Message::new(
                        thread_id.clone(),
                        Role::Assistant,
                        vec![Content::text(r.to_text())],
                    );
                    m.assistant_id = Some(run.assistant_id.clone());
                    m.run_id = Some(run_id.clone());
                    m
                })
                .collect();
            keep_metadata(&app, &mut run).await;
            run.set_status(RunStatus::Completed);
            match app
                .store
                .finish_run(run.clone(), messages.clone(), answered_up_to)
                .await
            {
                Ok(()) => {
                    tracing::info!(thread = %thread_id, run = %run_id, replies = messages.len(), "run completed");
                    for m in &messages {
                        emit_message(&events, m).await;
                    }
                    emit(&events, Event::new(EventName::RunCompleted, &run)).await;
                }
                Err(e) => {
                    tracing::error!(run = %run_id, error = %e, "could not store the run's replies");
                    run.completed_at = None;
                    run.fail(RunError::server_error(format!(
                        "could not store the replies: {e}"
                    )));
                    let _ = app.store.update_run(run.clone()).await;
                    emit(&events, Event::new(EventName::RunFailed, &run)).await;
                }
            }
        }
        Err(error) => {
            tracing::warn!(thread = %thread_id, run = %run_id, error = %error.message, "run failed");
            keep_metadata(&app, &mut run).await;
            run.fail(error);
            if let Err(e) = app.store.finish_run(run.clone(), Vec::new(), None).await {
                tracing::error!(run = %run_id, error = %e, "could not store the failed run");
            }
            emit(&events, Event::new(EventName::RunFailed, &run)).await;
        }
    }
    emit(&events, Event::done()).await;
    app.forget_run(&run_id);
}

/// Takes the metadata a client set while the run worked (`POST …/runs/{id}`), so the run's
/// final state, written whole, does not undo it.
async fn keep_metadata<S: ThreadStore>(app: &App<S>, run: &mut Run) {
    if let Ok(Some(stored)) = app.store.run(&run.thread_id, &run.id).await {
        run.metadata = stored.metadata;
    }
}

async fn finish_cancelled<S: ThreadStore>(app: &App<S>, run: &mut Run, events: &Option<Events>) {
    keep_metadata(app, run).await;
    run.set_status(RunStatus::Cancelled);
    if let Err(e) = app.store.finish_run(run.clone(), Vec::new(), None).await {
        tracing::error!(run = %run.id, error = %e, "could not store the cancelled run");
    }
    emit(events, Event::new(EventName::RunCancelled, &*run)).await;
    emit(events, Event::done()).await;
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
