//! `/v1/threads/{id}/runs` and `/v1/threads/runs`: create (polled or streamed), list,
//! retrieve, modify, cancel; a run's steps; tool outputs (which no AITP run asks for).

use axum::{
    Json,
    extract::{Path, State},
    response::{IntoResponse, Response},
};

use super::{
    App, HttpError,
    body::{Caller, JsonBody, ListParams},
    checks::{check_message, check_metadata, check_owner},
    executor::{CancelError, Executor},
    threads::create_thread,
};
use crate::{
    store::{StoreError, ThreadStore},
    thread::{CreateRun, CreateThreadAndRun, List, ListQuery, ModifyRun, Run, RunStep},
};

/// Creates and starts a run on `thread_id`, which the caller owns (checked before).
async fn start_run<S: ThreadStore>(
    app: App<S>,
    caller: Caller,
    thread_id: String,
    req: CreateRun,
) -> Result<Response, HttpError> {
    req.check()
        .map_err(|e| HttpError::bad_request(e.to_string()))?;
    let extra_messages = req.additional_messages.clone().unwrap_or_default();
    if extra_messages.len() > app.limits.messages {
        return Err(HttpError::bad_request(format!(
            "Too many additional messages: at most {}.",
            app.limits.messages
        ))
        .param("additional_messages"));
    }
    let mut messages = Vec::with_capacity(extra_messages.len());
    for m in extra_messages {
        let m = m.into_message(thread_id.clone());
        check_message(&app, &m)?;
        messages.push(m);
    }
    if !messages.is_empty() {
        app.store.append_messages(&thread_id, messages).await?;
    }
    // A server hosting one agent accepts any assistant id: the endpoint is the agent.
    let run = req.to_run(thread_id.clone(), app.agent.actor_id());
    let started = Executor::begin(&app, &caller.0, &run)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => HttpError::bad_request(format!(
                "Thread {thread_id} already has an active run; wait for it to finish or cancel it."
            ))
            .code("run_active"),
            other => other.into(),
        })?;
    tracing::debug!(thread = %thread_id, run = %run.id, "run created");
    // The run is answered as created (`queued`); it started meanwhile.
    if req.is_stream() {
        Ok(Executor::stream(&app, caller.0, &run, started).into_response())
    } else {
        Executor::start(&app, caller.0, started, None);
        Ok(Json(run).into_response())
    }
}

pub(crate) async fn create<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path(thread_id): Path<String>,
    JsonBody(req): JsonBody<CreateRun>,
) -> Result<Response, HttpError> {
    check_owner(&app, &caller, &thread_id).await?;
    start_run(app, caller, thread_id, req).await
}

pub(crate) async fn create_thread_and_run<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    JsonBody(req): JsonBody<CreateThreadAndRun>,
) -> Result<Response, HttpError> {
    req.check()
        .map_err(|e| HttpError::bad_request(e.to_string()))?;
    let (thread_req, run_req) = req.into_parts();
    let thread = create_thread(&app, &caller, thread_req).await?;
    start_run(app, caller, thread.id, run_req).await
}

pub(crate) async fn list<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path(thread_id): Path<String>,
    ListParams(query): ListParams,
) -> Result<Json<List<Run>>, HttpError> {
    check_owner(&app, &caller, &thread_id).await?;
    let page = app.store.list_runs(&thread_id, &query).await?;
    Ok(Json(List::new(page.data, page.has_more)))
}

pub(crate) async fn retrieve<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path((thread_id, run_id)): Path<(String, String)>,
) -> Result<Json<Run>, HttpError> {
    check_owner(&app, &caller, &thread_id).await?;
    Executor::hold(&app, &thread_id, &run_id, app.limits.poll_hold)
        .await?
        .map(Json)
        .ok_or_else(|| HttpError::not_found("run", &run_id))
}

pub(crate) async fn cancel<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path((thread_id, run_id)): Path<(String, String)>,
) -> Result<Json<Run>, HttpError> {
    check_owner(&app, &caller, &thread_id).await?;
    match Executor::cancel(&app, &thread_id, &run_id).await {
        Ok(run) => Ok(Json(run)),
        Err(CancelError::NotFound) => Err(HttpError::not_found("run", &run_id)),
        // OpenAI's answer to a cancel of a run that is over; nothing is changed.
        Err(CancelError::NotActive(status)) => Err(HttpError::bad_request(format!(
            "Cannot cancel run with status '{}'.",
            status.as_str()
        ))
        .code("run_not_active")),
        Err(CancelError::Store(e)) => Err(e.into()),
    }
}

pub(crate) async fn modify<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path((thread_id, run_id)): Path<(String, String)>,
    JsonBody(req): JsonBody<ModifyRun>,
) -> Result<Json<Run>, HttpError> {
    check_owner(&app, &caller, &thread_id).await?;
    let updated = match req.metadata {
        Some(metadata) => {
            check_metadata(&metadata)?;
            app.store
                .set_run_metadata(&thread_id, &run_id, metadata)
                .await?
        }
        None => app.store.run(&thread_id, &run_id).await?,
    };
    updated
        .map(Json)
        .ok_or_else(|| HttpError::not_found("run", &run_id))
}

async fn owned_run<S: ThreadStore>(
    app: &App<S>,
    caller: &Caller,
    thread_id: &str,
    run_id: &str,
) -> Result<Run, HttpError> {
    check_owner(app, caller, thread_id).await?;
    app.store
        .run(thread_id, run_id)
        .await?
        .ok_or_else(|| HttpError::not_found("run", run_id))
}

/// The run's steps: one `message_creation` step per message it posted, paged like them (a
/// step's id is its message's, so cursors carry over).
pub(crate) async fn list_steps<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path((thread_id, run_id)): Path<(String, String)>,
    ListParams(query): ListParams,
) -> Result<Json<List<RunStep>>, HttpError> {
    let run = owned_run(&app, &caller, &thread_id, &run_id).await?;
    let mut messages = ListQuery::new(query.limit, query.order).run_id(run.id.clone());
    messages.after = query.after.as_deref().map(RunStep::message_id_of);
    messages.before = query.before.as_deref().map(RunStep::message_id_of);
    let page = app.store.list_messages(&thread_id, &messages).await?;
    let steps = page
        .data
        .iter()
        .map(|m| RunStep::message_creation(&run, m))
        .collect();
    Ok(Json(List::new(steps, page.has_more)))
}

pub(crate) async fn retrieve_step<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path((thread_id, run_id, step_id)): Path<(String, String, String)>,
) -> Result<Json<RunStep>, HttpError> {
    let run = owned_run(&app, &caller, &thread_id, &run_id).await?;
    app.store
        .message(&thread_id, &RunStep::message_id_of(&step_id))
        .await?
        .filter(|m| m.run_id.as_deref() == Some(run.id.as_str()))
        .map(|m| Json(RunStep::message_creation(&run, &m)))
        .ok_or_else(|| HttpError::not_found("run step", &step_id))
}

/// Tool outputs answer a run in `requires_action`; an AITP agent answers in messages and its
/// runs never wait for tools, so this is OpenAI's 400 for a run in another status.
pub(crate) async fn submit_tool_outputs<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path((thread_id, run_id)): Path<(String, String)>,
    JsonBody(_outputs): JsonBody<serde_json::Value>,
) -> Result<Json<Run>, HttpError> {
    let run = owned_run(&app, &caller, &thread_id, &run_id).await?;
    Err(HttpError::bad_request(format!(
        "Runs in status \"{}\" do not accept tool outputs.",
        run.status.as_str()
    )))
}
